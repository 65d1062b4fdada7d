#!/usr/bin/env python3
"""Launch a program under the current X display and measure it.

  uiprobe.py paint X Y RRGGBB -- CMD...   first paint: seconds from exec until pixel (X,Y)
                                           of the root window has colour RRGGBB; then PSS
                                           (MB, whole process tree) 3 s after that; kills it.
  uiprobe.py cpu SECONDS PID               CPU seconds (user+system, all threads) PID uses
                                           over SECONDS.

Needs python-xlib (pip install python-xlib). Prints one line of key=value figures.
"""
import os, signal, subprocess, sys, time

def pixel(disp, root, x, y):
    img = root.get_image(x, y, 1, 1, 2, 0xFFFFFFFF)  # ZPixmap
    b, g, r = img.data[0], img.data[1], img.data[2]
    return "%02x%02x%02x" % (r, g, b)

def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids

def pss_kb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

def cpu_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total

def main():
    mode = sys.argv[1]
    if mode == "cpu":
        secs, pid = float(sys.argv[2]), int(sys.argv[3])
        hz = os.sysconf("SC_CLK_TCK")
        t0 = cpu_ticks(pid)
        time.sleep(secs)
        used = (cpu_ticks(pid) - t0) / hz
        print(f"cpu_s={used:.2f} cpu_percent={100 * used / secs:.2f}")
        return
    from Xlib import display
    x, y, want = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].lower()
    cmd = sys.argv[sys.argv.index("--") + 1:]
    d = display.Display()
    root = d.screen().root
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    painted = None
    while time.monotonic() - start < 30:
        if pixel(d, root, x, y) == want:
            painted = time.monotonic() - start
            break
        if proc.poll() is not None:
            break
        time.sleep(0.002)
    pss = None
    if painted is not None:
        time.sleep(3)
        pss = pss_kb(proc.pid) / 1024
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Let the server repaint the root before the next run.
    time.sleep(0.5)
    if painted is None:
        print("paint_s=none pss_mb=none")
        sys.exit(1)
    print(f"paint_s={painted:.3f} pss_mb={pss:.1f}")

main()
