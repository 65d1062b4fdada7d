//! The terminal as a service: systemd notifications from the UI event loop (a fake
//! NOTIFY_SOCKET), the freeze failpoint, `set-pin` over a pipe, and the packaging files.

mod common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_civic-kiosk");

/// Kills the terminal when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `civic-kiosk run --headless` with systemd's variables pointing at `socket`.
fn start(dir: &Path, socket: &str, failpoint: Option<&str>) -> Running {
    let config = common::config_in(dir, &common::shipped_config());
    let mut cmd = Command::new(BIN);
    cmd.args(["--config"])
        .arg(&config)
        .args(["run", "--headless"])
        .env("NOTIFY_SOCKET", socket)
        // 400 ms: a ping every 200 ms.
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .env_remove("CIVIC_KIOSK_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(f) = failpoint {
        cmd.env("CIVIC_KIOSK_FAILPOINT", f);
    }
    Running(cmd.spawn().unwrap())
}

/// Messages received until `until`, each with the time it arrived.
fn receive(rx: &UnixDatagram, until: Instant) -> Vec<(Instant, String)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let now = Instant::now();
        if now >= until {
            return got;
        }
        rx.set_read_timeout(Some(until - now)).unwrap();
        match rx.recv(&mut buf) {
            Ok(n) => got.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            )),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return got;
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

/// Waits for READY=1 (the first message); returns when it came.
fn wait_ready(rx: &UnixDatagram, app: &mut Running) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut buf = [0u8; 512];
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    loop {
        assert!(Instant::now() < deadline, "no READY=1 within 90 s");
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("the terminal exited before READY: {status}");
        }
        if let Ok(n) = rx.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert!(
                msg.lines().next() == Some("READY=1"),
                "the first message is READY=1, got {msg:?}"
            );
            assert!(msg.contains("STATUS="), "{msg:?}");
            return Instant::now();
        }
    }
}

#[test]
fn ready_then_watchdog_pings_and_a_frozen_ui_stops_them() {
    // A path socket, a healthy UI: READY, then pings every 200 ms.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    let mut app = start(dir.path(), sock.to_str().unwrap(), None);
    let ready = wait_ready(&rx, &mut app);
    let got = receive(&rx, ready + Duration::from_millis(1500));
    let pings = got.iter().filter(|(_, m)| m == "WATCHDOG=1").count();
    assert!(pings >= 3, "pings in 1.5 s: {got:?}");
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the terminal keeps running"
    );
    drop(app);

    // An abstract socket (`@name`), and the UI thread hangs 1.5 s after start: the pings stop,
    // the process stays (hung, for systemd to kill).
    use std::os::linux::net::SocketAddrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = format!("civic-kiosk-notify-{}", std::process::id());
    let rx = UnixDatagram::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap(),
    )
    .unwrap();
    let mut app = start(
        dir.path(),
        &format!("@{name}"),
        Some("freeze-event-loop:1.5"),
    );
    let ready = wait_ready(&rx, &mut app);
    let got = receive(&rx, ready + Duration::from_secs(5));
    let pings: Vec<Instant> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 2, "pings before the freeze: {got:?}");
    let last = *pings.last().unwrap();
    assert!(
        last < ready + Duration::from_millis(2500),
        "pings went on after the freeze: last {:?} after READY",
        last - ready
    );
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "a frozen UI does not exit by itself; systemd kills it"
    );
}

fn set_pin(config: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("set-pin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn set_pin_writes_argon2_hashes_and_audits_never_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    let (code, out, err) = set_pin(&config, &[], "739155\n739155\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("technician"), "{out}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "480213\n480214\n");
    assert_eq!(code, 1);
    assert!(err.contains("differ"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "123456\n123456\n");
    assert_eq!(code, 1);
    assert!(err.contains("too easy"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "48021\n48021\n");
    assert_eq!(code, 1);
    assert!(err.contains("6 to 8 digits"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "王丽"], "480213\n480213\n");
    assert_eq!(code, 1);
    assert!(err.contains("not a personal name"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "739155\n739155\n");
    assert_eq!(code, 1, "the technician's PIN");
    assert!(err.contains("someone else"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "480213\n480213\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "");
    assert_eq!(code, 1, "no input");
    assert!(err.contains("no PIN given"), "{err}");
    let (code, out, _) = set_pin(&config, &["--list"], "");
    assert_eq!(code, 0);
    assert!(out.contains("technician PIN: set"), "{out}");
    assert!(out.contains("staff S1024"), "{out}");

    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let tail = store.audit_tail(50).unwrap();
    let set: Vec<_> = tail.iter().filter(|e| e.kind == "pin_set").collect();
    assert_eq!(set.len(), 2, "{tail:?}");
    assert!(
        set.iter()
            .all(|e| e.actor.as_deref().is_some_and(|a| a.starts_with("cli:")))
    );
    drop(store);
    // Neither PIN is anywhere in the store's files; argon2id hashes are.
    let mut bytes = Vec::new();
    for e in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("kiosk.sqlite"))
        {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("$argon2id$v=19$"));
    assert!(!text.contains("739155") && !text.contains("480213"));

    let (code, out, err) = set_pin(&config, &["--staff", "S1024", "--remove"], "");
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024", "--remove"], "");
    assert_eq!(code, 1);
    assert!(err.contains("no PIN is set"), "{err}");
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn packaging_unit_config_and_deb_metadata_agree() {
    let unit = read("packaging/civic-kiosk.service");
    let key = |k: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(key("Type"), ["notify"]);
    assert_eq!(key("NotifyAccess"), ["main"]);
    assert_eq!(key("Restart"), ["always"]);
    assert_eq!(
        key("RestartPreventExitStatus"),
        [civic_kiosk::EXIT_TECHNICIAN.to_string()]
    );
    let watchdog: u64 = key("WatchdogSec")[0].parse().unwrap();
    assert!((10..=120).contains(&watchdog));
    assert_eq!(
        key("ExecStart"),
        ["/usr/bin/civic-kiosk --config /etc/civic-kiosk/kiosk.toml run"]
    );

    // The packaged config: installed paths, and check-config names exactly what a
    // technician must fill in.
    let dir = tempfile::tempdir().unwrap();
    let packaged = read("packaging/kiosk.toml");
    assert!(packaged.contains("data_dir = \"/var/lib/civic-kiosk\""));
    assert!(packaged.contains("dir = \"/var/log/civic-kiosk\""));
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, &packaged).unwrap();
    let out = Command::new(BIN)
        .args(["check-config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let mut fields: Vec<&str> = err.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "backoffice.public_key",
            "backoffice.token",
            "location.centre",
            "terminal.id",
            "terminal.name"
        ],
        "{err}"
    );
    // Filled in, it is valid.
    let filled = packaged
        .replace("\nid = \"\"", "\nid = \"CN-TSL-009\"")
        .replace("\nname = \"\"", "\nname = \"9号机\"")
        .replace(
            "\ncentre = \"\"",
            "\ncentre = \"天山路街道社区事务受理服务中心\"",
        )
        .replace("\ntoken = \"\"", "\ntoken = \"t-009\"")
        .replace(
            "# public_key = \"…44 characters of base64…\"",
            "public_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
        );
    std::fs::write(&path, &filled).unwrap();
    let out = Command::new(BIN)
        .args(["check-config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The .deb metadata ships these files; each exists.
    let cargo: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &cargo["package"]["metadata"]["deb"];
    for asset in deb["assets"].as_array().unwrap() {
        let src = asset[0].as_str().unwrap();
        if !src.starts_with("target/") {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(src).exists(),
                "{src}"
            );
        }
    }
    assert_eq!(
        deb["conf-files"].as_array().unwrap()[0].as_str(),
        Some("/etc/civic-kiosk/kiosk.toml")
    );
    for script in ["postinst", "postrm"] {
        let text = read(&format!("packaging/debian/{script}"));
        assert!(text.contains("#DEBHELPER#"), "{script}");
    }
    assert!(
        read("packaging/debian/postinst").contains("/var/lib/civic-kiosk /var/log/civic-kiosk")
    );
}
