//! The terminal as a service: systemd notifications from the UI event loop (a fake
//! NOTIFY_SOCKET), the freeze failpoint, `set-pin` over a pipe, and the packaging files.

use crate::common;

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
    let args: Vec<&str> = std::iter::once("set-pin")
        .chain(args.iter().copied())
        .collect();
    let out = common::kiosk_stdin(config, &args, stdin);
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

/// Waits up to `secs` for `path` to hold every one of `needles`; answers its text.
fn wait_for_log(path: &Path, needles: &[&str], secs: u64, app: &mut Running) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if needles.iter().all(|n| text.contains(n)) {
            return text;
        }
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("the terminal exited ({status}); log:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "not all of {needles:?} in {} within {secs} s:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_panicking_worker_is_in_the_log_and_is_started_again() {
    // The heartbeat worker panics on its first beat (the failpoint's panic action, as a
    // bug would); the terminal keeps running, the panic is in kiosk.log with its thread
    // and place, and the worker runs again after its backoff.
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    let mut app = Running(
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["run", "--headless"])
            .env(
                civic_kiosk::failpoint::ENV,
                format!("{}@1:panic", civic_kiosk::failpoint::HEARTBEAT_BEAT),
            )
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let log = dir.path().join("logs/kiosk.log");
    let text = wait_for_log(
        &log,
        &[
            "panic in thread 'kiosk-core' at crates/kiosk-core/src/failpoint.rs:",
            "failpoint heartbeat-beat armed to panic",
            "worker heartbeat panicked",
            "worker heartbeat started again after a panic (restart 1)",
            // The restarted worker's first beat: it fetched the remote config.
            "remote config v0: no settings",
        ],
        90,
        &mut app,
    );
    let panic_line = text
        .lines()
        .find(|l| l.contains("panic in thread"))
        .unwrap();
    assert!(panic_line.contains(" ERROR "), "{panic_line}");
    let order: Vec<usize> = [
        "panic in thread",
        "worker heartbeat panicked",
        "started again after a panic",
        "remote config v0",
    ]
    .iter()
    .map(|n| text.find(n).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the terminal keeps running"
    );
}

/// The fields of one journal datagram (native protocol): `NAME=value` lines, or `NAME`,
/// a newline, a 64-bit little-endian length and that many bytes, then a newline.
fn journal_fields(mut d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(nl) = d.iter().position(|b| *b == b'\n') {
        let line = &d[..nl];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            out.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            ));
            d = &d[nl + 1..];
        } else {
            let rest = &d[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.push((
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(&rest[8..8 + len]).into_owned(),
            ));
            d = &rest[(8 + len + 1).min(rest.len())..];
        }
    }
    out
}

#[test]
fn under_systemd_the_log_goes_to_the_journal_with_priorities_and_not_to_the_file() {
    // No systemd here: this thread gets a mount namespace of its own with a tmpfs on
    // /run, binds /run/systemd/journal/socket there (the path the journal logger sends
    // to) and starts the terminal from it. The host's /run is not touched.
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .unwrap_or_else(|e| panic!("unshare(CLONE_NEWNS) needs root: {e}"));
    mount(
        Some("none"),
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("/ made private in this namespace");
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .expect("a tmpfs on /run in this namespace");
    std::fs::create_dir_all("/run/systemd/journal").unwrap();
    let journal = UnixDatagram::bind("/run/systemd/journal/socket").unwrap();
    // A name with a phone number written with dashes: the start-up line carries it.
    let text = common::shipped_config().replace(
        "\nname = \"天山路街道社区事务受理服务中心 1号机\"\n",
        "\nname = \"帮办 138-1234-5678\"\n",
    );
    assert!(text.contains("帮办 138-1234-5678"));
    let config = common::config_in(dir.path(), &text);
    // stderr is a file, and JOURNAL_STREAM names it, as systemd names the stream it gives.
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let mut app = Running(
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["run", "--headless"])
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
            .env_remove("RUST_BACKTRACE")
            .env(
                civic_kiosk::failpoint::ENV,
                format!("{}@1:panic", civic_kiosk::failpoint::HEARTBEAT_BEAT),
            )
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    journal
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let field = |r: &[(String, String)], name: &str| -> Option<String> {
        r.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    };
    while !records
        .iter()
        .any(|r| field(r, "MESSAGE").is_some_and(|m| m.contains("started again after a panic")))
    {
        assert!(
            Instant::now() < deadline,
            "no restart line in the journal within 90 s: {records:#?}"
        );
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("the terminal exited ({status}): {records:#?}");
        }
        if let Ok(n) = journal.recv(&mut buf) {
            records.push(journal_fields(&buf[..n]));
        }
    }
    drop(app);
    let starting = records
        .iter()
        .find(|r| field(r, "MESSAGE").is_some_and(|m| m.contains("starting as")))
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(
        field(starting, "PRIORITY").as_deref(),
        Some("5"),
        "info → notice"
    );
    let message = field(starting, "MESSAGE").unwrap();
    assert!(message.contains("138****5678"), "scrubbed: {message}");
    assert!(
        starting
            .iter()
            .all(|(_, v)| !v.contains("1234-5678") && !v.contains("12345678")),
        "{starting:?}"
    );
    assert_eq!(
        field(starting, "SYSLOG_IDENTIFIER").as_deref(),
        Some("civic-kiosk")
    );
    let panic = records
        .iter()
        .find(|r| {
            field(r, "MESSAGE").is_some_and(|m| m.starts_with("panic in thread 'kiosk-core'"))
        })
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(
        field(panic, "PRIORITY").as_deref(),
        Some("3"),
        "error → err"
    );
    let restarted = records
        .iter()
        .find(|r| field(r, "MESSAGE").is_some_and(|m| m.contains("started again")))
        .unwrap();
    assert_eq!(
        field(restarted, "PRIORITY").as_deref(),
        Some("4"),
        "warn → warning"
    );
    // Not written twice: no log file, nothing on stderr.
    assert!(
        !dir.path().join("logs/kiosk.log").exists(),
        "no kiosk.log under the journal"
    );
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!err.contains("starting as"), "the journal only: {err}");
}
