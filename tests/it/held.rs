//! What a held card job costs and how it ends, with the shipped waits (2 s, doubling to
//! 30 s): against CUPS's IPP Everywhere simulator (`ippeveprinter`) listing no card
//! size, against one killed mid-job, and against a scripted ESC/POS printer out of
//! paper. Each test counts requests or connections over a fixed window (< 60 a minute)
//! and checks what the CLI says; none asserts a duration. The card-size tests check what
//! the job actually sent, as ippeveprinter logged it, and the page size of the PDF it kept.

use std::time::Duration;

use crate::common::{self, IppEve, KioskChild, OK, Sim};

/// The back office child, killed when the test ends (also when it fails).
struct Bo(std::process::Child);
impl Drop for Bo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn backoffice(dir: &std::path::Path) -> (Bo, String, String) {
    let (child, url, key) = common::backoffice_child(dir, &[]);
    (Bo(child), url, key)
}

/// How long the cost of a held job is counted.
const WINDOW: Duration = Duration::from_secs(20);
/// Fewer than 60 a minute over the window.
const LIMIT: usize = (WINDOW.as_secs() as usize) * 60 / 60;
/// Long enough for any step of these tests to show (a readiness wait, not a measure).
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn on_ipp_without_card_media_the_card_is_refused_plainly_and_a_held_job_costs_little() {
    let test =
        "held::on_ipp_without_card_media_the_card_is_refused_plainly_and_a_held_job_costs_little";
    let dir = tempfile::tempdir().unwrap();
    // A stock IPP Everywhere printer: letter, legal, A4, envelopes; no card size.
    let Some(printer) = IppEve::start(test, dir.path(), &["-f", "application/pdf"]) else {
        return;
    };
    let (_bo, url, key) = backoffice(dir.path());
    let config = common::card_config_with_printer(dir.path(), &url, &key, &printer.uri());

    // `diagnose` and `status` name the refusal and what the printer lists.
    let out = common::kiosk(&config, &["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains("unsupported") && status.contains("打印机不支持卡片尺寸 85.6×54 mm："),
        "{status}"
    );
    assert!(
        status.contains("iso_a4_210x297mm"),
        "names what it lists: {status}"
    );
    let out = common::kiosk(&config, &["diagnose"]);
    let diagnose = String::from_utf8_lossy(&out.stdout);
    assert!(
        diagnose
            .lines()
            .any(|l| l.contains("printer card") && l.contains("打印机不支持卡片尺寸 85.6×54 mm：")),
        "{diagnose}"
    );

    let mut cli = KioskChild::spawn(
        &config,
        &["offline-code", "--id", "310105195001011231", "--yes"],
    );
    let line = cli.wait_line("打印机不支持卡片尺寸 85.6×54 mm：", PATIENCE);
    assert!(!line.contains("缺纸"), "never paper out: {line}");
    cli.wait_line("等待中… Ctrl+C 取消", PATIENCE);
    let before = printer.requests();
    std::thread::sleep(WINDOW);
    let held = printer.requests() - before;
    assert!(
        (1..LIMIT).contains(&held),
        "{held} IPP requests in {WINDOW:?} while held (the lifecycle polls, fewer than 60 a minute)"
    );
    let log = printer.log_text();
    assert!(
        !log.contains("operation-id=Print-Job"),
        "nothing is submitted to a printer that does not list the card"
    );

    // Ctrl+C cancels: non-zero, said plainly.
    cli.interrupt();
    let (code, _, err) = cli.finish();
    assert_eq!(code.code(), Some(130), "{err}");
    assert!(
        err.contains("Ctrl+C") && err.contains("nothing printed"),
        "{err}"
    );
}

/// The printed PDF's page size in points, from pdfinfo.
fn page_size_pt(pdf: &std::path::Path) -> (f64, f64) {
    let out = std::process::Command::new(common::tool("pdfinfo", "poppler-utils"))
        .arg(pdf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .unwrap_or_else(|| panic!("{text}"));
    let mut nums = line
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok());
    (nums.next().unwrap(), nums.next().unwrap())
}

#[test]
fn on_ipp_with_custom_sizes_the_card_prints_at_85_6_by_54_mm_sent_as_media_col() {
    let test = "held::on_ipp_with_custom_sizes_the_card_prints_at_85_6_by_54_mm_sent_as_media_col";
    let dir = tempfile::tempdir().unwrap();
    let attrs = dir.path().join("card.conf");
    std::fs::write(&attrs, common::CUSTOM_SIZES_ATTRS).unwrap();
    let Some(printer) = IppEve::start(test, dir.path(), &["-a", attrs.to_str().unwrap()]) else {
        return;
    };
    let (_bo, url, key) = backoffice(dir.path());
    let config = common::card_config_with_printer(dir.path(), &url, &key, &printer.uri());
    let out = common::kiosk(&config, &["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(!status.contains("打印机不支持"), "{status}");

    let out = common::offline_code(&config, "310105195209043689");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = printer.log_text();
    // The Print-Job as the printer logged it: the card's own size, as media-col.
    let job = log
        .split("operation-id=Print-Job")
        .nth(1)
        .expect("a Print-Job in the printer's log");
    let request = job.split("Response:").next().unwrap();
    assert!(
        request.contains("media-col (collection) {media-size={x-dimension=8560 y-dimension=5400}}"),
        "{request}"
    );
    assert!(!request.contains("Custom.85.6x54mm"), "{request}");
    // A whole card costs a handful of requests, not tens of thousands.
    let requests = printer.requests();
    assert!(requests < 30, "{requests} requests for one card");

    let pdf = std::fs::read_dir(&printer.spool)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "pdf"))
        .expect("the printer kept the card's PDF");
    let (w, h) = page_size_pt(&pdf);
    // 85.6 × 54 mm = 242.65 × 153.07 pt.
    assert!(
        (w - 242.65).abs() <= 1.0 && (h - 153.07).abs() <= 1.0,
        "{w} x {h} pt"
    );
}

#[test]
fn a_printer_killed_mid_job_costs_a_few_connections_a_minute_and_a_lost_job_fails_plainly() {
    let test = "held::a_printer_killed_mid_job_costs_a_few_connections_a_minute_and_a_lost_job_fails_plainly";
    let dir = tempfile::tempdir().unwrap();
    let attrs = dir.path().join("card.conf");
    std::fs::write(&attrs, common::CUSTOM_SIZES_ATTRS).unwrap();
    // A print command that never finishes: the job stays processing until the kill.
    let slow = dir.path().join("slow-print");
    // It ends when the printer is gone (a killed printer's child is not left behind).
    std::fs::write(
        &slow,
        "#!/bin/sh\nwhile kill -0 $PPID 2>/dev/null; do sleep 1; done\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let Some(mut printer) = IppEve::start(
        test,
        dir.path(),
        &["-a", attrs.to_str().unwrap(), "-c", slow.to_str().unwrap()],
    ) else {
        return;
    };
    let (proxy, connections) = common::counting_proxy(printer.port);
    let (_bo, url, key) = backoffice(dir.path());
    let uri = format!("ipp://127.0.0.1:{proxy}/ipp/print");
    let config = common::card_config_with_printer(dir.path(), &url, &key, &uri);

    let mut cli = KioskChild::spawn(
        &config,
        &["offline-code", "--id", "310105195001011231", "--yes"],
    );
    cli.wait_line("正在打印", PATIENCE);
    printer.kill();
    cli.wait_line("打印机无法连接，等待中… Ctrl+C 取消", PATIENCE);
    let before = connections.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(WINDOW);
    let held = connections.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(
        (1..LIMIT).contains(&held),
        "{held} connections in {WINDOW:?} to a dead printer"
    );

    // The printer comes back without the job: the job fails, and says why.
    printer.restart();
    let (code, out, err) = cli.finish();
    assert_eq!(code.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("no longer knows it") && err.contains("nothing is known to have printed"),
        "{err}"
    );
}

#[test]
fn on_escpos_with_paper_out_a_held_job_costs_a_few_connections_and_ends_at_wait_timeout() {
    let rt = common::runtime();
    let sim = std::sync::Arc::new(std::sync::Mutex::new(Sim {
        dle: [OK, OK | 0x20, OK | 0x60],
        ..Default::default()
    }));
    let port = rt.block_on(common::start_printer(sim.clone()));
    let dir = tempfile::tempdir().unwrap();
    let (_bo, url, key) = backoffice(dir.path());
    let uri = format!("escpos+tcp://127.0.0.1:{port}");
    let config = common::card_config_with_printer(dir.path(), &url, &key, &uri);

    let mut cli = KioskChild::spawn(
        &config,
        &[
            "offline-code",
            "--id",
            "310105195001011231",
            "--yes",
            "--wait-timeout",
            "30",
        ],
    );
    let line = cli.wait_line("打印机缺纸，等待中… Ctrl+C 取消", PATIENCE);
    assert!(line.contains("DLE EOT 2 bit 5"), "{line}");
    let before = sim.lock().unwrap().connections;
    std::thread::sleep(WINDOW);
    let held = sim.lock().unwrap().connections - before;
    assert!(
        (1..LIMIT).contains(&held),
        "{held} connections in {WINDOW:?} while paper is out"
    );
    // --wait-timeout: it gives up, non-zero, with the reason.
    let (code, out, err) = cli.finish();
    assert_eq!(code.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("gave up after waiting 30 s") && err.contains("paper_out"),
        "{err}"
    );
    assert!(sim.lock().unwrap().jobs.is_empty(), "nothing printed");
}
