//! Identity at the terminal without the UI: the reader task (`civic_kiosk::devices`)
//! against the simulated GA/T 467 reader on a pty (`gat467-sim`, which shares no code with
//! the terminal's codec), into the core's `flow::Terminal`; the serial scanner on a pty;
//! `identity test`, `diagnose` and the keypad rule on the CLI.

use std::path::Path;
use std::time::Duration;

use civic_kiosk::devices::Devices;
use civic_kiosk::flow::{
    self, Effect, EndReason, Event, IdentityEvent, NavEvent, Notice, Page, ReaderProblem, Terminal,
};
use gat467_sim::{Sim, SimCard, SimFault};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common;

const NAME: &str = "王秀英";
const ID: &str = "310105195001011231";

fn reader_config(uri: &str) -> civic_kiosk::config::Config {
    let mut c = common::shipped_config_value();
    c.identity.reader = uri.to_string();
    c.identity.keypad = None;
    c
}

/// The next event within `secs`, if any.
fn next(
    rt: &tokio::runtime::Runtime,
    rx: &mut UnboundedReceiver<IdentityEvent>,
    secs: u64,
) -> Option<IdentityEvent> {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(secs), rx.recv()).await })
        .ok()
        .flatten()
}

/// The next event that is not a recovery notice.
fn next_news(
    rt: &tokio::runtime::Runtime,
    rx: &mut UnboundedReceiver<IdentityEvent>,
    secs: u64,
) -> Option<IdentityEvent> {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        match next(rt, rx, 1) {
            Some(IdentityEvent::ReaderRecovered) | None => continue,
            e => return e,
        }
    }
    None
}

fn now(secs: u64) -> flow::Moment {
    flow::Moment {
        monotonic: Duration::from_secs(secs),
        wall: chrono::Utc::now(),
    }
}

fn terminal() -> Terminal {
    Terminal::new(flow::Settings::default(), Duration::ZERO)
}

fn effects(cmds: &[flow::Command]) -> Vec<Effect> {
    cmds.iter().map(|c| c.effect.clone()).collect()
}

#[test]
fn a_card_left_on_the_reader_starts_no_new_session_until_placed_again() {
    let rt = common::runtime();
    let sim = Sim::start(None).unwrap();
    let (devices, rx) = Devices::start(&reader_config(&sim.url()), rt.handle());
    let mut rx = rx.expect("a reader runs");
    let mut t = terminal();

    sim.place(SimCard::demo());
    let ev = next_news(&rt, &mut rx, 5).expect("the card is read");
    assert!(matches!(&ev, IdentityEvent::CardRead(c) if c.id.expose_id_number() == ID));
    t.handle(Event::Identity(ev), now(1));
    assert_eq!(t.session().page(), Page::Home, "the card woke the terminal");
    assert_eq!(
        t.session().resident().map(|r| r.masked_name.as_str()),
        Some("王*英")
    );
    // The card page looks the resident up at once: nothing typed.
    let fx = t.handle(Event::Nav(NavEvent::Go(Page::OfflineCode)), now(2));
    assert!(
        matches!(&effects(&fx)[..], [Effect::LookupResident(id)] if id.expose_id_number() == ID),
        "{fx:?}"
    );

    // The resident walks away; the session ends; the card stays on the reader.
    t.end_now(EndReason::Idle, now(100));
    assert_eq!(t.session().page(), Page::Attract);
    assert!(
        t.session().resident().is_none(),
        "the resident went with the session"
    );
    assert!(t.reader().card_present);
    assert_eq!(
        next_news(&rt, &mut rx, 3),
        None,
        "a card left on the reader is not read again"
    );
    assert_eq!(t.session().page(), Page::Attract, "no new session");
    let reads = sim.counts().reads;

    // Taken away and placed again: a new session.
    sim.remove();
    let lifted = next_news(&rt, &mut rx, 5).expect("the card is lifted");
    assert_eq!(lifted, IdentityEvent::CardLifted);
    t.handle(Event::Identity(lifted), now(101));
    assert!(!t.reader().card_present);
    sim.place(SimCard::demo());
    let ev = next_news(&rt, &mut rx, 5).expect("read again");
    assert!(matches!(ev, IdentityEvent::CardRead(_)));
    t.handle(Event::Identity(ev), now(102));
    assert_eq!(t.session().page(), Page::Home);
    assert_eq!(sim.counts().reads, reads + 1);
    assert!(
        sim.protocol_errors().is_empty(),
        "{:?}",
        sim.protocol_errors()
    );
    drop(devices);
}

#[test]
fn an_expired_id_card_identifies_nobody_and_prints_nothing() {
    let rt = common::runtime();
    let sim = Sim::start(Some(SimCard::expired())).unwrap();
    let (_devices, rx) = Devices::start(&reader_config(&sim.url()), rt.handle());
    let mut rx = rx.unwrap();
    let mut t = terminal();
    let ev = next_news(&rt, &mut rx, 5).expect("read");
    t.handle(Event::Identity(ev), now(1));
    assert_eq!(t.session().identity().notice(), Some(Notice::IdExpired));
    assert!(t.session().resident().is_none());
    let fx = t.handle(Event::Nav(NavEvent::Go(Page::OfflineCode)), now(2));
    assert!(fx.is_empty(), "nothing looked up, nothing issued: {fx:?}");
    // A long-term (长期) card is never expired.
    sim.remove();
    next_news(&rt, &mut rx, 5);
    sim.place(SimCard::long_term());
    let ev = next_news(&rt, &mut rx, 5).expect("read");
    t.handle(Event::Identity(ev), now(3));
    assert!(t.session().resident().is_some());
}

#[test]
fn each_reader_fault_gets_its_message_and_reading_works_again_without_a_restart() {
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    // The configured path is a link, as udev makes one (/dev/idreader → ttyUSB0): the
    // reader can be unplugged and plugged back in at the same path.
    let link = dir.path().join("idreader");
    let sim = Sim::start(None).unwrap();
    std::os::unix::fs::symlink(sim.path(), &link).unwrap();
    let uri = format!("gat467+serial://{}?baud=115200", link.display());
    let (devices, rx) = Devices::start(&reader_config(&uri), rt.handle());
    let mut rx = rx.unwrap();
    let mut t = terminal();

    // Card absent: nothing at all happens.
    assert_eq!(next_news(&rt, &mut rx, 2), None);
    assert!(sim.counts().finds >= 2, "it polls: {:?}", sim.counts());

    // Card removed mid-read: the resident is asked to place it again; nothing is read.
    sim.set_fault(SimFault::RemoveDuringRead);
    sim.place(SimCard::demo());
    let ev = next_news(&rt, &mut rx, 5).expect("a fault");
    assert_eq!(ev, IdentityEvent::ReaderFailed(ReaderProblem::Moved));
    let fx = t.handle(Event::Identity(ev), now(1));
    assert!(fx.is_empty(), "nothing looked up or printed: {fx:?}");
    assert_eq!(
        t.session().identity().notice(),
        Some(Notice::Reader(ReaderProblem::Moved))
    );
    assert!(t.session().resident().is_none());
    sim.place(SimCard::demo());
    let ev = next_news(&rt, &mut rx, 5).expect("read after the fault");
    assert!(matches!(ev, IdentityEvent::CardRead(_)), "{ev:?}");
    sim.remove();
    assert_eq!(next_news(&rt, &mut rx, 5), Some(IdentityEvent::CardLifted));

    // A bad checksum on the line: the reader's fault, reported once, then it recovers.
    sim.set_fault(SimFault::BadChecksumOnce);
    let ev = next_news(&rt, &mut rx, 5).expect("a checksum fault");
    assert_eq!(ev, IdentityEvent::ReaderFailed(ReaderProblem::Unavailable));
    assert_eq!(next(&rt, &mut rx, 5), Some(IdentityEvent::ReaderRecovered));
    sim.place(SimCard::demo());
    assert!(matches!(
        next_news(&rt, &mut rx, 5),
        Some(IdentityEvent::CardRead(_))
    ));
    sim.remove();
    next_news(&rt, &mut rx, 5);

    // A status other than success: the SAM answers "select failed" once.
    sim.set_fault(SimFault::StatusOnce(0x60));
    let ev = next_news(&rt, &mut rx, 5).expect("a status fault");
    assert_eq!(ev, IdentityEvent::ReaderFailed(ReaderProblem::Unavailable));
    assert!(
        devices.reports()[0]
            .health
            .last_fault
            .as_deref()
            .is_some_and(|f| f.contains("60")),
        "{:?}",
        devices.reports()
    );

    // Silent: the terminal says the reader is unavailable; it recovers when it answers.
    sim.set_fault(SimFault::Silent);
    let ev = next_news(&rt, &mut rx, 5).expect("silence noticed");
    assert_eq!(ev, IdentityEvent::ReaderFailed(ReaderProblem::Unavailable));
    assert!(t.handle(Event::Identity(ev), now(2)).is_empty());
    assert!(t.reader().unavailable);
    assert_eq!(t.session().page(), Page::Home, "still the resident's page");
    sim.set_fault(SimFault::None);
    let ev = next(&rt, &mut rx, 5).expect("recovered");
    assert_eq!(ev, IdentityEvent::ReaderRecovered);
    t.handle(Event::Identity(ev), now(3));
    assert!(!t.reader().unavailable);

    // Unplugged: diagnose names the reader and the fix; plugged back in (a new device
    // at the same link), it reads again, no restart.
    sim.unplug();
    let ev = next_news(&rt, &mut rx, 5).expect("unplug noticed");
    assert_eq!(ev, IdentityEvent::ReaderFailed(ReaderProblem::Unavailable));
    // Gone as an unplugged device is: its node disappears once the reader thread has let
    // go of it (the event can come first).
    assert!(
        (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            !sim.path().exists()
        }),
        "{} still there",
        sim.path().display()
    );
    let cfg = diagnose_config(dir.path(), &uri);
    let out = common::kiosk(&cfg, &["diagnose"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("id card reader"))
        .unwrap_or_else(|| panic!("no reader line in:\n{text}"));
    assert!(line.contains(&link.display().to_string()), "{text}");
    assert!(text.contains("plug the ID card reader in"), "{text}");

    let sim2 = Sim::start(Some(SimCard::demo())).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(sim2.path(), &link).unwrap();
    let mut saw_read = false;
    for _ in 0..40 {
        match next(&rt, &mut rx, 2) {
            Some(IdentityEvent::CardRead(c)) => {
                assert_eq!(c.id.expose_id_number(), ID);
                saw_read = true;
                break;
            }
            Some(_) => {}
            None => {}
        }
    }
    assert!(saw_read, "reads again after being plugged back in");
    assert!(sim2.protocol_errors().is_empty());
    // While the terminal holds the reader, diagnose says so instead of probing it…
    let out = common::kiosk(&cfg, &["diagnose", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("in use by the running terminal"), "{text}");
    // … and once it let go, probes it.
    // (The reader thread lets go within one answer timeout of being told to stop.)
    drop(devices);
    let mut text = String::new();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(500));
        let out = common::kiosk(&cfg, &["diagnose", "--json"]);
        text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !text.contains("in use by the running terminal") {
            break;
        }
    }
    assert!(
        text.contains("answers (a card is on it)"),
        "diagnose sees the reader again: {text}"
    );
}

fn diagnose_config(dir: &Path, reader_uri: &str) -> std::path::PathBuf {
    let text =
        common::shipped_config().replace("reader = \"\"", &format!("reader = \"{reader_uri}\""));
    assert!(text.contains(reader_uri));
    common::config_in(dir, &text)
}

#[test]
fn identity_test_prints_the_masked_name_and_the_validity() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Some(SimCard::demo())).unwrap();
    let cfg = diagnose_config(dir.path(), &sim.url());
    let out = common::kiosk(&cfg, &["identity", "test", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["masked_name"], "王*英");
    assert_eq!(v["masked_id"], "310***********1231");
    assert_eq!(v["valid_until"], "2035-01-01");
    assert_eq!(v["expired"], false);
    assert_eq!(v["sam_status"], "00 00 90");
    assert!(v["timings_ms"]["read_ms"].is_u64(), "{v}");
    assert!(!stdout.contains(NAME) && !stdout.contains(ID), "{stdout}");

    // status says which reader and what the keypad rule resolves to (staff: a reader).
    let out = common::kiosk(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["identity"]["reader"], sim.url());
    assert_eq!(
        v["identity"]["keypad"], "open",
        "the shipped demo config says open"
    );
    let human = common::kiosk(&cfg, &["status"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("keypad open"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    // An expired card says so; no card within the wait is the exact fault, exit 1.
    sim.place(SimCard::expired());
    let out = common::kiosk(&cfg, &["identity", "test", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["valid_until"].as_str(), v["expired"].as_bool()),
        (Some("2025-01-01"), Some(true))
    );
    sim.remove();
    let out = common::kiosk(&cfg, &["identity", "test", "--wait", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no card on the reader"), "{stderr}");
    sim.unplug();
    let out = common::kiosk(&cfg, &["identity", "test", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["fault"].as_str().is_some_and(|f| f.contains("unplugged")),
        "{v}"
    );
}

#[test]
fn a_serial_scanner_on_a_pty_sends_each_line_as_a_scan() {
    use std::io::Write;
    let rt = common::runtime();
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut t = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
    let path = nix::unistd::ttyname(&pty.slave).unwrap();
    let mut c = common::shipped_config_value();
    c.identity.scanner = format!("serial://{}?baud=9600", path.display());
    let (_devices, rx) = Devices::start(&c, rt.handle());
    let mut rx = rx.expect("a scanner runs");
    std::thread::sleep(Duration::from_millis(500));
    let mut master = std::fs::File::from(pty.master);
    master.write_all(b"SSM:DEMO:WANGXIUYING\r\n").unwrap();
    master.write_all(b"CK2.e30.c2ln\n").unwrap();
    assert_eq!(
        next(&rt, &mut rx, 5),
        Some(IdentityEvent::Scanned("SSM:DEMO:WANGXIUYING".into()))
    );
    assert_eq!(
        next(&rt, &mut rx, 5),
        Some(IdentityEvent::Scanned("CK2.e30.c2ln".into()))
    );
    // diagnose: held by the terminal, then free and opening, then gone.
    let dir = tempfile::tempdir().unwrap();
    let serial = format!("serial://{}?baud=9600", path.display());
    let text = common::shipped_config()
        .replace("scanner = \"keyboard\"", &format!("scanner = \"{serial}\""));
    assert!(text.contains(&serial));
    let cfg = common::config_in(dir.path(), &text);
    let scanner_line = |cfg: &Path| {
        let out = common::kiosk(cfg, &["diagnose"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("code scanner"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(scanner_line(&cfg).contains("in use by the running terminal"));
    drop(_devices);
    assert!(
        (0..20).any(|_| {
            std::thread::sleep(Duration::from_millis(250));
            scanner_line(&cfg).contains("opens")
        }),
        "{}",
        scanner_line(&cfg)
    );
    drop(master);
    drop(pty.slave);
    let line = scanner_line(&cfg);
    assert!(line.contains("unplugged or cannot be opened"), "{line}");
}

#[test]
fn typed_numbers_follow_identity_keypad_on_the_cli_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, key) = common::backoffice_child(dir.path(), &[]);
    let cfg = common::card_config(dir.path(), &url, &key);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("keypad = \"open\"", "keypad = \"staff\"");
    std::fs::write(&cfg, &text).unwrap();
    let out = common::offline_code(&cfg, ID);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("identity.keypad is \"staff\"") && stderr.contains("--staff"),
        "{stderr}"
    );
    // 补办 by a typed number needs staff even with an open keypad.
    std::fs::write(
        &cfg,
        text.replace("keypad = \"staff\"", "keypad = \"open\""),
    )
    .unwrap();
    let out = common::kiosk(&cfg, &["offline-code", "--id", ID, "--yes", "--reissue"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("补办 and 挂失 with a typed ID number"),
        "{stderr}"
    );
    // The deprecated key still means staff, and check-config says what replaces it.
    let old = text.replace("keypad = \"staff\"\n", "").replace(
        "[heartbeat]",
        "[offline_code]\nrequire_staff = true\n\n[heartbeat]",
    );
    std::fs::write(&cfg, &old).unwrap();
    let out = common::kiosk(&cfg, &["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "warning: offline_code.require_staff: is deprecated; use identity.keypad = \"staff\""
        ),
        "{stdout}"
    );
    let out = common::offline_code(&cfg, ID);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("identity.keypad is \"staff\""));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_heartbeat_reports_the_reader_and_its_last_fault() {
    use civic_kiosk::config::{ConfigHandle, Layers};
    use std::sync::{Arc, Mutex};
    let rt = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        None,
    ));
    let sim = Sim::start(Some(SimCard::demo())).unwrap();
    let path = diagnose_config(dir.path(), &sim.url());
    let text = std::fs::read_to_string(&path).unwrap();
    let layers = Layers::from_parts(&path, &text, Vec::<(String, String)>::new()).unwrap();
    let handle = ConfigHandle::new(layers).unwrap();
    let config = handle.current();
    let (devices, rx) = Devices::start(&config, rt.handle());
    let mut rx = rx.unwrap();
    assert!(matches!(
        next_news(&rt, &mut rx, 5),
        Some(IdentityEvent::CardRead(_))
    ));
    sim.unplug();
    assert!(next_news(&rt, &mut rx, 5).is_some());
    let store = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&config.data_dir()).unwrap(),
    ));
    let devices = Arc::new(devices);
    let d = devices.clone();
    let mut heart = civic_kiosk::heartbeat::Heart::new(
        common::client(&bo.url, &config.backoffice.token),
        store,
        handle.clone(),
    )
    .with_devices(Arc::new(move || d.states()));
    rt.block_on(heart.beat()).unwrap();
    let admin = common::client(&bo.url, &bo.admin_token);
    let me = rt
        .block_on(admin.terminals())
        .unwrap()
        .into_iter()
        .find(|t| t.terminal_id == config.terminal.id)
        .unwrap();
    let hb = me.last_heartbeat_body.unwrap();
    let [reader] = &hb.devices[..] else {
        panic!("one device: {:?}", hb.devices)
    };
    assert_eq!(reader.kind, civic_kiosk::api::DeviceKind::IdReader);
    assert_eq!(reader.uri, sim.url());
    assert_eq!(reader.state, "fault");
    assert!(
        reader
            .last_fault
            .as_deref()
            .is_some_and(|f| f.contains("unplugged")),
        "{reader:?}"
    );
    let body = serde_json::to_string(&hb).unwrap();
    assert!(
        !body.contains(ID) && !body.contains(NAME),
        "no resident in the heartbeat"
    );
}
