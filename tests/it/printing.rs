//! Printing 离线码 cards to an ESC/POS printer on TCP: a scripted printer that answers
//! DLE EOT from its state (paper, cover) and records every job's bytes, and the reference
//! back office issuing real signed codes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::api::{IssueCodeRequest, IssuedCode};
use civic_kiosk::backoffice::Client;
use civic_kiosk::config::QrMode;
use civic_kiosk::identity::IdNumber;
use civic_kiosk::offline_code::{CardError, card_document, verify_issued};
use civic_kiosk::print::escpos;
use civic_kiosk::print::job::{EscposTcp, JobState, run_job};

/// Quick polls: these tests wait for recovery, not for the cost of a hold (held.rs).
const FAST: civic_kiosk::print::job::Waits = civic_kiosk::print::job::Waits {
    poll: Duration::from_millis(50),
    poll_max: Duration::from_millis(50),
    give_up: Duration::from_secs(120),
};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

use crate::common;

use common::{
    InProcessBackoffice as Backoffice, OK, Sim, backoffice_child, card_config, offline_code,
    start_backoffice, start_printer,
};

async fn issue(bo: &Backoffice, id: &str) -> IssuedCode {
    let client = bo.client("demo-token-CN-TSL-001");
    let req = IssueCodeRequest {
        id_number: IdNumber::parse(id).unwrap(),
        reissue: false,
        request_id: uuid::Uuid::now_v7(),
        staff: None,
    };
    client.issue_code(&req).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_prints_on_escpos_and_is_held_while_paper_is_out() {
    let dir = tempfile::tempdir().unwrap();
    let bo = start_backoffice(&dir.path().join("bo.sqlite"), false, None).await;
    let today = chrono::Local::now().date_naive();
    let issued = issue(&bo, "310105195001011231").await;
    verify_issued(&issued, &bo.key, today).expect("a genuine code verifies");
    let bytes = escpos::encode(
        &card_document(&issued, "天山路街道社区事务受理服务中心"),
        QrMode::Native,
    )
    .unwrap();

    let sim = Arc::new(Mutex::new(Sim {
        dle: [OK, OK, OK],
        jobs: Vec::new(),
        ..Default::default()
    }));
    let port = start_printer(sim.clone()).await;
    let printer = EscposTcp {
        host: "127.0.0.1".into(),
        port,
        timeout: Duration::from_secs(2),
    };
    let (_never, no_cancel) = tokio::sync::watch::channel(false);

    // Ready: the card prints, and the bytes are right.
    let state = run_job(&printer, &bytes, no_cancel.clone(), &FAST, |_| {}).await;
    assert!(matches!(state, JobState::Printed(_)), "{state:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = sim.lock().unwrap().jobs[0].clone();
    let (title, _, _) = encoding_rs::GB18030.encode("上海市离线码");
    let at = find(&job, &title).expect("title in GB18030");
    assert_eq!(
        &job[at - 2..at],
        &[0x1C, 0x26],
        "Chinese mode (FS &) before Chinese text"
    );
    let header = [
        0x1D,
        0x28,
        0x6B,
        ((issued.qr.len() + 3) & 0xFF) as u8,
        ((issued.qr.len() + 3) >> 8) as u8,
        0x31,
        0x50,
        0x30,
    ];
    let q = find(&job, &header).expect("GS ( k store") + header.len();
    assert_eq!(
        &job[q..q + issued.qr.len()],
        issued.qr.as_bytes(),
        "the QR holds exactly the signed string"
    );
    let name_line = format!("姓名 {}", issued.masked_name);
    let (masked, _, _) = encoding_rs::GB18030.encode(&name_line);
    assert!(find(&job, &masked).is_some());
    assert!(
        find(&job, "310105195001011231".as_bytes()).is_none(),
        "no full ID on the card"
    );
    assert!(job.ends_with(&[0x1D, 0x56, 0x42, 0x03]), "cut at the end");

    // Paper out: the job is held with the technician's detail, nothing prints; after
    // recovery it prints.
    sim.lock().unwrap().dle = [OK, OK | 0x20, OK | 0x60];
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
    let p2 = printer.clone();
    let b2 = bytes.clone();
    let c2 = no_cancel.clone();
    let task = tokio::spawn(async move {
        run_job(&p2, &b2, c2, &FAST, move |s| {
            let _ = held_tx.send(s.clone());
        })
        .await
    });
    match held_rx.recv().await.unwrap() {
        JobState::Held(status) => {
            assert!(status.paper_end);
            assert_eq!(status.state_name(), "paper_out");
            assert!(status.technician_detail().contains("DLE EOT 2 bit 5"));
        }
        other => panic!("expected held, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        1,
        "nothing printed while paper is out"
    );
    sim.lock().unwrap().dle = [OK, OK, OK];
    let done = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(done, JobState::Printed(_)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.lock().unwrap().jobs.len(), 2);

    // Cover open, then the session is wiped: the job is cancelled and never prints.
    sim.lock().unwrap().dle = [OK, OK | 0x04, OK];
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
    let p3 = printer.clone();
    let b3 = bytes.clone();
    let task = tokio::spawn(async move {
        run_job(&p3, &b3, cancel_rx, &FAST, move |s| {
            let _ = held_tx.send(s.clone());
        })
        .await
    });
    assert!(matches!(held_rx.recv().await.unwrap(), JobState::Held(s) if s.cover_open));
    cancel_tx.send(true).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done, JobState::Cancelled);
    sim.lock().unwrap().dle = [OK, OK, OK];
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        2,
        "a cancelled card never prints"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_code_is_refused_before_printing() {
    let dir = tempfile::tempdir().unwrap();
    let bo = start_backoffice(&dir.path().join("tamper.sqlite"), true, None).await;
    let issued = issue(&bo, "310105201209097896").await;
    let refused = verify_issued(&issued, &bo.key, chrono::Local::now().date_naive());
    assert!(
        matches!(
            refused,
            Err(CardError::Code(
                civic_kiosk::api::offline_code::CodeError::BadSignature
            ))
        ),
        "{refused:?}"
    );
}

#[test]
fn assisted_issuance_prints_a_card_pdf_whose_qr_is_the_signed_code() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bo, url, key) = backoffice_child(dir.path(), &[]);
    let config = card_config(dir.path(), &url, &key);
    let out = offline_code(&config, "310105195001011231");
    // One card per person per terminal per day, unless it is a reissue.
    let again = offline_code(&config, "310105195001011231");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already printed here today"));
    let _ = bo.kill();
    // The issuance is audited by card id only: no ID number, masked or not.
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let audit = store.audit_tail(10).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].kind, "offline_code_issued");
    assert!(audit[0].detail.contains("card C") && audit[0].detail.ends_with(": printed"));
    assert!(!audit[0].detail.contains("***"), "{audit:?}");
    assert!(!audit[0].detail.contains("310105195001011231"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("王*英") && !stdout.contains("王秀英"),
        "{stdout}"
    );
    let pdf = std::fs::read_dir(dir.path().join("cards"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // Card size: 85.6 × 54 mm = 242.65 × 153.07 pt.
    let info = std::process::Command::new(common::tool("pdfinfo", "poppler-utils"))
        .arg(&pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.contains("Page size:       242.6") && info.contains("x 153.07"),
        "{info}"
    );

    // Render as a printer would and scan the QR code.
    let code = common::scan_pdf_qr(&pdf, dir.path(), 200);
    assert!(code.starts_with("CK2."), "scanned {code:?}");
    let key = civic_kiosk::api::offline_code::parse_public_key(&key).unwrap();
    let payload =
        civic_kiosk::api::offline_code::verify(&code, &key).expect("the scanned code verifies");
    assert_eq!(payload.mid, "310***********1231");
    assert_eq!(
        payload.mn.as_deref(),
        Some("王*英"),
        "the masked name is signed"
    );
    assert!(
        pdf.file_name()
            .unwrap()
            .to_string_lossy()
            .contains(&payload.card)
    );
}

#[test]
fn a_tampered_code_prints_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bo, url, key) = backoffice_child(dir.path(), &["--tamper-signature"]);
    let config = card_config(dir.path(), &url, &key);
    let out = offline_code(&config, "310105195001011231");
    let _ = bo.kill();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("nothing printed"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("cards").exists()
            || std::fs::read_dir(dir.path().join("cards"))
                .unwrap()
                .next()
                .is_none()
    );
}

fn client_for(bo: &Backoffice) -> Client {
    bo.client("demo-token-CN-TSL-001")
}

/// The issuance flow the CLI and the touch UI share, run directly: a tampered code is
/// refused (audited, nothing printed, not counted for the day), a good one prints, the
/// same person again the same day is refused before the back office is asked, a reissue
/// prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuance_flow_refuses_a_tampered_code_and_prints_once_a_day() {
    use civic_kiosk::issuance::{Deps, Failure, Issuance};
    let dir = tempfile::tempdir().unwrap();
    let good = start_backoffice(&dir.path().join("good.sqlite"), false, None).await;
    let tampered = start_backoffice(&dir.path().join("bad.sqlite"), true, None).await;
    let store: civic_kiosk::store::Shared = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap(),
    ));
    let deps = |bo: &Backoffice| Deps {
        client: client_for(bo),
        key: bo.key,
        store: Some(store.clone()),
    };
    let config = Arc::new(civic_kiosk::config::Config::default());
    let cards = dir.path().join("cards");
    let uri = civic_kiosk::print::uri::PrinterUri::Pdf { dir: cards.clone() };
    let id = IdNumber::parse("310105195001011231").unwrap();
    // As after reading the resident's ID card (a typed 补办 would need staff).
    let card = civic_kiosk::resident::IdSource::Card;
    let issue =
        |reissue: bool| Issuance::new(config.clone(), id.clone(), card, reissue, None).unwrap();

    let refused = issue(false).run(&deps(&tampered), &uri, None, |_| {}).await;
    assert!(matches!(refused, Err(Failure::BadCode(_))), "{refused:?}");
    assert!(!cards.exists(), "nothing printed");

    let printed = issue(false)
        .run(&deps(&good), &uri, None, |_| {})
        .await
        .unwrap();
    assert!(printed.place.starts_with("printed"), "{}", printed.place);
    assert_eq!(printed.issued.masked_id, "310***********1231");

    let again = issue(false).run(&deps(&good), &uri, None, |_| {}).await;
    assert_eq!(again.err(), Some(Failure::AlreadyToday));

    let reissued = issue(true)
        .run(&deps(&good), &uri, None, |_| {})
        .await
        .unwrap();
    assert_ne!(reissued.issued.card_id, printed.issued.card_id);
    assert_eq!(std::fs::read_dir(&cards).unwrap().count(), 2);

    let audit = civic_kiosk::store::lock(&store).audit_tail(10).unwrap();
    let results: Vec<&str> = audit
        .iter()
        .rev()
        .filter(|e| e.kind == "offline_code_issued")
        .map(|e| e.detail.rsplit(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        results,
        ["refused", "printed", "printed (reissue)"],
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .all(|e| !e.detail.contains("310105195001011231"))
    );
}

/// A card config with `identity.keypad = "staff"` and staff S1024's PIN set.
fn staff_card_config(dir: &std::path::Path, url: &str, key: &str) -> std::path::PathBuf {
    let config = card_config(dir, url, key);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("keypad = \"open\"", "keypad = \"staff\"");
    assert!(text.contains("keypad = \"staff\""));
    std::fs::write(&config, text).unwrap();
    let set = common::kiosk_stdin(
        &config,
        &["set-pin", "--staff", "S1024"],
        "480213\n480213\n",
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    config
}

fn cards(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("cards")).map_or(0, |d| d.count())
}

#[test]
fn with_a_staff_keypad_the_cli_refuses_without_a_staff_member_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bo, url, key) = backoffice_child(dir.path(), &[]);
    let config = staff_card_config(dir.path(), &url, &key);
    let out = offline_code(&config, "310105195001011231");
    let _ = bo.kill();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("identity.keypad is \"staff\"")
            && stderr.contains("staff PIN")
            && stderr.contains("--staff ID"),
        "{stderr}"
    );
    assert_eq!(cards(dir.path()), 0, "nothing printed");
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let audit = store.audit_tail(10).unwrap();
    assert!(
        audit.iter().all(|e| e.kind != "offline_code_issued"),
        "{audit:?}"
    );
}

#[test]
fn a_staff_member_signs_in_with_their_pin_on_stdin_and_the_card_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bo, url, key) = backoffice_child(dir.path(), &[]);
    let config = staff_card_config(dir.path(), &url, &key);
    let out = common::kiosk_stdin(
        &config,
        &[
            "offline-code",
            "--id",
            "310105195001011231",
            "--yes",
            "--staff",
            "S1024",
        ],
        "480213\n",
    );
    let _ = bo.kill();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("printed"), "{stdout}");
    assert!(!stdout.contains("480213") && !stderr.contains("480213"));
    assert_eq!(cards(dir.path()), 1);
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let audit = store.audit_tail(10).unwrap();
    let entered = audit
        .iter()
        .find(|e| e.kind == "pin_entered")
        .expect("sign-in audited");
    assert_eq!(entered.actor.as_deref(), Some("staff:S1024"));
    let issued = audit
        .iter()
        .find(|e| e.kind == "offline_code_issued")
        .expect("issuance audited");
    assert_eq!(issued.actor.as_deref(), Some("staff:S1024"), "{audit:?}");
    assert!(issued.detail.contains("printed") && !issued.detail.contains("310105195001011231"));
    assert!(
        audit.iter().all(|e| !e.detail.contains("480213")),
        "no PIN in the audit"
    );
}

#[test]
fn a_wrong_staff_pin_is_refused_counted_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bo, url, key) = backoffice_child(dir.path(), &[]);
    let config = staff_card_config(dir.path(), &url, &key);
    let args = [
        "offline-code",
        "--id",
        "310105195001011231",
        "--yes",
        "--staff",
        "S1024",
    ];
    let out = common::kiosk_stdin(&config, &args, "111112\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrong staff PIN") && stderr.contains("4 tries left"),
        "{stderr}"
    );
    // No PIN at all (stdin closed): refused too.
    let none = common::kiosk_stdin(&config, &args, "");
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no PIN given"));
    let _ = bo.kill();
    assert_eq!(cards(dir.path()), 0, "nothing printed");
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let audit = store.audit_tail(10).unwrap();
    assert!(audit.iter().any(|e| e.kind == "pin_failed"), "{audit:?}");
    assert!(
        audit
            .iter()
            .all(|e| e.kind != "offline_code_issued" && e.kind != "pin_entered")
    );
}

/// `civic-kiosk print-test` with the shipped config moved into `dir`.
async fn print_test(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let config = common::config_in(dir, &common::shipped_config());
    let mut all = vec!["print-test".to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        common::kiosk(&config, &refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_test_page_on_a4_pdf_and_on_escpos_with_its_status() {
    let dir = tempfile::tempdir().unwrap();

    // A4 in the PDF spool: the page says which terminal and printer, and its QR scans.
    let spool = dir.path().join("spool");
    let uri = format!("pdf://{}", spool.display());
    let out = print_test(dir.path(), &["--role", "document", "--printer", &uri]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pdf = std::fs::read_dir(&spool)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(stdout.contains(&pdf.display().to_string()), "{stdout}");
    let info = std::process::Command::new(common::tool("pdfinfo", "poppler-utils"))
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("(A4)"), "{info}");
    let text = std::process::Command::new(common::tool("pdftotext", "poppler-utils"))
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for want in ["打印测试", "CN-TSL-001", &uri, "李*燊"] {
        assert!(text.contains(want), "{want:?} missing in {text}");
    }
    let scanned = common::scan_pdf_qr(&pdf, dir.path(), 150);
    assert!(
        scanned.starts_with("civic-kiosk print-test CN-TSL-001"),
        "{scanned}"
    );

    // ESC/POS on TCP, ready: the bytes are a test page (Chinese as GB18030 text, the rare
    // name characters as a raster image, a native QR code, a cut).
    let sim = Arc::new(Mutex::new(Sim {
        dle: [OK, OK, OK],
        jobs: Vec::new(),
        ..Default::default()
    }));
    let port = start_printer(sim.clone()).await;
    let uri = format!("escpos+tcp://127.0.0.1:{port}");
    let out = print_test(dir.path(), &["--printer", &uri]).await;
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("status after: ready"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = sim.lock().unwrap().jobs[0].clone();
    let (title, _, _) = encoding_rs::GB18030.encode("打印测试");
    assert!(find(&job, &title).is_some());
    assert!(
        find(&job, &[0x1D, 0x76, 0x30, 0x00]).is_some(),
        "李*燊 as GS v 0"
    );
    assert!(
        find(&job, b"civic-kiosk print-test CN-TSL-001").is_some(),
        "QR data"
    );
    assert!(job.ends_with(&[0x1D, 0x56, 0x42, 0x03]));

    // Paper out: exit 1 with the state and the bit, and nothing printed.
    sim.lock().unwrap().dle = [OK, OK | 0x20, OK | 0x60];
    let out = print_test(dir.path(), &["--printer", &uri]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not ready: paper_out") && stderr.contains("DLE EOT 2 bit 5"),
        "{stderr}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        1,
        "nothing printed on paper out"
    );

    // No printer at all: exit 1, says unreachable.
    drop(sim);
    let out = print_test(dir.path(), &["--printer", "escpos+tcp://127.0.0.1:1"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not reachable"));
}

/// A scripted ESC/POS printer on a pseudo-terminal: the kiosk opens the slave side as
/// its device file or serial port; a thread on the master side answers DLE EOT from
/// the state (or stays silent, like a USB printer-class device) and keeps every other byte.
struct PtyPrinter {
    path: std::path::PathBuf,
    state: Arc<Mutex<(Sim, bool)>>,
    _slave: std::fs::File,
}

fn pty_printer(silent: bool) -> PtyPrinter {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    // Raw mode on the line, as a printer port is: no echo, no line editing, no CR/LF
    // translation. It holds while this side stays open.
    let mut t = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t)
        .expect("tcsetattr");
    let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap();
    let (mut master, slave) = (
        std::fs::File::from(pty.master),
        std::fs::File::from(pty.slave),
    );
    let state = Arc::new(Mutex::new((
        Sim {
            dle: [OK, OK, OK],
            jobs: vec![Vec::new()],
            ..Default::default()
        },
        silent,
    )));
    let st = state.clone();
    std::thread::spawn(move || {
        let mut writer = master.try_clone().unwrap();
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match master.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let mut i = 0;
            while i < pending.len() {
                // GS v 0 image data is data, not commands: skip it whole.
                if pending[i..].starts_with(&[0x1D, 0x76, 0x30]) {
                    let Some(h) = pending.get(i..i + 8) else {
                        break;
                    };
                    let n = 8
                        + (h[4] as usize | (h[5] as usize) << 8)
                            * (h[6] as usize | (h[7] as usize) << 8);
                    if pending.len() < i + n {
                        break;
                    }
                    st.lock().unwrap().0.jobs[0].extend_from_slice(&pending[i..i + n]);
                    i += n;
                } else if pending[i] == 0x10 && pending.get(i + 1) == Some(&0x04) {
                    let Some(&q) = pending.get(i + 2) else { break };
                    let (answer, silent) = {
                        let s = st.lock().unwrap();
                        (
                            s.0.dle[if q == 1 {
                                0
                            } else if q == 2 {
                                1
                            } else {
                                2
                            }],
                            s.1,
                        )
                    };
                    if !silent {
                        let _ = writer.write_all(&[answer]);
                    }
                    i += 3;
                } else {
                    st.lock().unwrap().0.jobs[0].push(pending[i]);
                    i += 1;
                }
            }
            pending.drain(..i);
        }
    });
    PtyPrinter {
        path,
        state,
        _slave: slave,
    }
}

fn line_options() -> civic_kiosk::print::JobOptions {
    civic_kiosk::print::JobOptions {
        timeout: Duration::from_millis(300),
        waits: FAST,
        ..Default::default()
    }
}

fn test_job(title: &str) -> civic_kiosk::print::PrintJob {
    civic_kiosk::print::PrintJob {
        title: title.into(),
        document: civic_kiosk::print::document::Document::default()
            .title("上海市离线码")
            .centered("姓名 李*燊")
            .cut(),
        pdf: Box::new(|| Err("no PDF on a line printer".into())),
        media: civic_kiosk::print::ipp::Media::Card,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_file_and_serial_lines_print_hold_and_tell_unknown_status() {
    use civic_kiosk::print::uri::PrinterUri;
    for serial in [false, true] {
        let p = pty_printer(false);
        let uri = if serial {
            PrinterUri::EscposSerial {
                path: p.path.clone(),
                baud: 115200,
            }
        } else {
            PrinterUri::EscposDevice {
                path: p.path.clone(),
            }
        };
        let opts = line_options();
        let received = || p.state.lock().unwrap().0.jobs[0].clone();

        // Ready: status by DLE EOT on the same line, then the job's bytes.
        let s = civic_kiosk::print::status(&uri, &opts).await.unwrap();
        assert_eq!(s.state_name(), "ready", "{uri}: {s:?}");
        let (_keep, no_cancel) = tokio::sync::watch::channel(false);
        let out =
            civic_kiosk::print::run(&uri, test_job("a"), &opts, no_cancel.clone(), |_| {}).await;
        assert!(
            matches!(out.state, JobState::Printed(ref s) if !s.unknown),
            "{uri}: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (title, _, _) = encoding_rs::GB18030.encode("上海市离线码");
        assert!(find(&received(), &title).is_some(), "{uri}");
        assert!(
            find(&received(), &[0x1D, 0x76, 0x30, 0x00]).is_some(),
            "燊 as raster"
        );
        let printed = received().len();

        // Paper out: held with the bit, nothing written; the session ends: cancelled.
        p.state.lock().unwrap().0.dle = [OK, OK | 0x20, OK | 0x60];
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
        let u2 = uri.clone();
        let task = tokio::spawn(async move {
            civic_kiosk::print::run(&u2, test_job("b"), &line_options(), cancel_rx, move |s| {
                let _ = held_tx.send(s.clone());
            })
            .await
        });
        // Held with the bit (a status answer slow under load may first show as a retry).
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), held_rx.recv()).await {
                Ok(Some(JobState::Held(s))) => {
                    assert!(s.technician_detail().contains("DLE EOT 2 bit 5"), "{s:?}");
                    break;
                }
                Ok(Some(JobState::Retrying(r))) => seen.push(format!("{r:?}")),
                other => panic!("{uri}: expected held, got {other:?} after {seen:?}"),
            }
        }
        cancel_tx.send(true).unwrap();
        let out = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.state, JobState::Cancelled);
        p.state.lock().unwrap().0.dle = [OK, OK, OK];
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            received().len(),
            printed,
            "{uri}: nothing printed while held"
        );

        // A device that never answers DLE EOT: the job is written and the status is
        // reported as unknown, never as "ready".
        let silent = pty_printer(true);
        let uri = if serial {
            PrinterUri::EscposSerial {
                path: silent.path.clone(),
                baud: 9600,
            }
        } else {
            PrinterUri::EscposDevice {
                path: silent.path.clone(),
            }
        };
        let s = civic_kiosk::print::status(&uri, &opts).await.unwrap();
        assert_eq!(s.state_name(), "unknown");
        let out = civic_kiosk::print::run(&uri, test_job("c"), &opts, no_cancel, |_| {}).await;
        match out.state {
            JobState::Printed(s) => assert!(s.unknown, "{s:?}"),
            other => panic!("{uri}: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(find(&silent.state.lock().unwrap().0.jobs[0], &title).is_some());
    }
    // A device path that does not exist: unreachable, with the path.
    let gone = PrinterUri::EscposDevice {
        path: "/dev/civic-kiosk-no-such-printer".into(),
    };
    let e = civic_kiosk::print::status(&gone, &line_options())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("civic-kiosk-no-such-printer"), "{e}");
}

fn pdf_text(pdf: &std::path::Path) -> String {
    let out = std::process::Command::new(common::tool("pdftotext", "poppler-utils"))
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guide_and_a_bundle_list_print_as_a4_pdfs_naming_the_item() {
    use civic_kiosk::config::PrinterRole;
    let dir = tempfile::tempdir().unwrap();
    let catalogue = civic_contract::catalogue::demo().unwrap();
    let catalog = civic_kiosk::catalog::Catalog::new(catalogue.clone());
    let item = catalogue
        .items
        .iter()
        .find(|i| i.materials.len() >= 2)
        .unwrap();
    let uri = civic_kiosk::print::uri::PrinterUri::Pdf {
        dir: dir.path().join("docs"),
    };
    let (_keep, no_cancel) = tokio::sync::watch::channel(false);
    let opts = civic_kiosk::print::JobOptions::default();

    let doc = civic_kiosk::guide::item_document(item, "天山路街道社区事务受理服务中心");
    let job = civic_kiosk::guide::job(doc, "guide-item", PrinterRole::Document);
    let out = civic_kiosk::print::run(&uri, job, &opts, no_cancel.clone(), |_| {}).await;
    assert!(matches!(out.state, JobState::Printed(_)), "{out:?}");
    let pdf = std::path::PathBuf::from(&out.place);
    let info = std::process::Command::new(common::tool("pdfinfo", "poppler-utils"))
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("(A4)"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
    let text = pdf_text(&pdf);
    assert!(text.contains("办事指南"), "{text}");
    assert!(text.contains(&item.name), "{} missing in {text}", item.name);
    assert!(text.contains(&item.materials[1].name), "{text}");

    let bundle = &catalogue.bundles[0];
    let view = catalog.bundle(&bundle.code).unwrap();
    let doc = civic_kiosk::guide::bundle_document(&view, "天山路街道社区事务受理服务中心");
    let job = civic_kiosk::guide::job(doc, "guide-bundle", PrinterRole::Document);
    let out = civic_kiosk::print::run(&uri, job, &opts, no_cancel, |_| {}).await;
    let text = pdf_text(std::path::Path::new(&out.place));
    assert!(text.contains(&bundle.name), "{text}");
    for m in &view.materials {
        assert!(text.contains(&m.name), "{} missing in {text}", m.name);
    }

    // The shipped config has no ESC/POS receipt printer: guides go to the A4 printer.
    let cfg = civic_kiosk::config::load(&common::config_in(dir.path(), &common::shipped_config()))
        .unwrap();
    assert_eq!(
        civic_kiosk::guide::printer_for_guides(&cfg).0,
        PrinterRole::Document
    );
}
