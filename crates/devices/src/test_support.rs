//! Pseudo-terminals standing in for serial lines, and a receive-with-deadline helper.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

/// A pty pair: the test plays the device on `master`; `slave` stays open so the master
/// does not hang up when the driver closes its side; `path` is the slave's device.
pub(crate) struct Pty {
    pub(crate) master: File,
    pub(crate) slave: File,
    pub(crate) path: String,
}

pub(crate) fn pty() -> Pty {
    let p = nix::pty::openpty(None, None).expect("openpty");
    // Raw on the slave, as a serial port is: no echo, no CR/LF translation.
    let mut t = tcgetattr(&p.slave).expect("tcgetattr");
    cfmakeraw(&mut t);
    tcsetattr(&p.slave, SetArg::TCSANOW, &t).expect("tcsetattr");
    let path = std::fs::read_link(format!("/proc/self/fd/{}", p.slave.as_raw_fd()))
        .expect("slave path")
        .to_string_lossy()
        .into_owned();
    Pty {
        master: File::from(p.master),
        slave: File::from(p.slave),
        path,
    }
}

/// The next message within `d`, `None` if none came.
pub(crate) fn recv_within<T>(rx: &mut tokio::sync::mpsc::Receiver<T>, d: Duration) -> Option<T> {
    let deadline = Instant::now() + d;
    loop {
        if let Ok(m) = rx.try_recv() {
            return Some(m);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `f` holds, up to `d`.
pub(crate) fn wait_until(d: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}
