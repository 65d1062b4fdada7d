//! Printing over IPP to a real CUPS: a private `cupsd` (its own config dir, port, spool,
//! logs) with a cups-pdf queue writing into the test's folder. It never talks to a
//! system cupsd on port 631.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use civic_kiosk::print::ipp::{IppPrinter, Media};
use civic_kiosk::print::job::JobState;

const CUPSD: &str = "/usr/sbin/cupsd";
const LPADMIN: &str = "/usr/sbin/lpadmin";
const CUPS_PDF_BACKEND: &str = "/usr/lib/cups/backend/cups-pdf";
const CUPS_PDF_PPD: &str = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd";
/// cups-pdf reads `cups-pdf-<instance>.conf` from here for the device URI
/// `cups-pdf:/<instance>` (the folder is compiled in): the one file this test writes
/// outside its temp folder, under a name of its own, removed when the test ends.
const CUPS_PDF_CONF_DIR: &str = "/etc/cups";

/// A private cupsd; killed, and the cups-pdf instance config removed, when dropped.
struct Cups {
    child: Child,
    port: u16,
    instance_conf: PathBuf,
    out: PathBuf,
    log: PathBuf,
}

impl Drop for Cups {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.instance_conf);
    }
}

/// Why this machine cannot run the test, if it cannot.
fn missing() -> Option<String> {
    for p in [CUPSD, LPADMIN, CUPS_PDF_BACKEND, CUPS_PDF_PPD] {
        if !Path::new(p).exists() {
            return Some(format!(
                "{p} is missing (packages cups, printer-driver-cups-pdf; .ci/run installs them)"
            ));
        }
    }
    // The cups-pdf backend is 0700 root: cupsd runs it as root only when cupsd is root.
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("cupsd must run as root to start the cups-pdf backend".into());
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn start_cups(dir: &Path) -> Cups {
    // cupsd drops to user lp for filters and cups-pdf writes as an anonymous user:
    // both must reach the folders (tempfile makes them 0700).
    std::fs::create_dir_all(dir).unwrap();
    for d in dir.ancestors().take(2) {
        chmod(d, 0o755);
    }
    let root = dir.join("etc");
    let (spool, cache, state, log, out) = (
        dir.join("spool"),
        dir.join("cache"),
        dir.join("state"),
        dir.join("log"),
        dir.join("out"),
    );
    for d in [&root, &spool, &cache, &state, &log, &out] {
        std::fs::create_dir_all(d).unwrap();
        chmod(d, 0o755);
    }
    chmod(&out, 0o777);
    let port = free_port();
    std::fs::write(
        root.join("cupsd.conf"),
        format!(
            "Listen 127.0.0.1:{port}\nLogLevel info\nBrowsing Off\nWebInterface No\n\
             DefaultAuthType None\n\
             <Location />\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n\
             <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
        ),
    )
    .unwrap();
    // `Printcap` takes a path: cupsd 2.4.2-3+deb12u10 refuses the bare directive
    // ("Missing value for Printcap"). In the state dir, so the system's printcap is
    // never written.
    std::fs::write(
        root.join("cups-files.conf"),
        format!(
            "ServerRoot {root}\nRequestRoot {spool}\nTempDir {spool}\nCacheDir {cache}\n\
             StateDir {state}\nServerBin /usr/lib/cups\nDataDir /usr/share/cups\n\
             AccessLog {log}/access_log\nErrorLog {log}/error_log\nPageLog {log}/page_log\n\
             User lp\nGroup lp\nSystemGroup root\nPrintcap {state}/printcap\n",
            root = root.display(),
            spool = spool.display(),
            cache = cache.display(),
            state = state.display(),
            log = log.display(),
        ),
    )
    .unwrap();
    let instance = format!("civic-kiosk-test-{}-{port}", std::process::id());
    let instance_conf = Path::new(CUPS_PDF_CONF_DIR).join(format!("cups-pdf-{instance}.conf"));
    std::fs::write(
        &instance_conf,
        format!(
            "Out {out}\nAnonDirName {out}\nSpool {pdfspool}\nLog {log}\nAnonUMask 0022\n",
            out = out.display(),
            // Not inside RequestRoot: cupsd makes that 0710 root:lp, and cups-pdf's
            // Ghostscript runs as an anonymous user who must read its spool file.
            pdfspool = dir.join("cups-pdf-spool").display(),
            log = log.display(),
        ),
    )
    .unwrap();
    let child = Command::new(CUPSD)
        .arg("-f")
        .arg("-c")
        .arg(root.join("cupsd.conf"))
        .arg("-s")
        .arg(root.join("cups-files.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cups = Cups {
        child,
        port,
        instance_conf,
        out,
        log,
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "cupsd did not listen on {port}: {}",
            std::fs::read_to_string(cups.log.join("error_log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = Command::new(LPADMIN)
        .args([
            "-h",
            &format!("127.0.0.1:{port}"),
            "-p",
            "kioskpdf",
            "-E",
            "-v",
        ])
        .arg(format!("cups-pdf:/{instance}"))
        .arg("-P")
        .arg(CUPS_PDF_PPD)
        .output()
        .unwrap();
    assert!(
        admin.status.success(),
        "lpadmin: {}",
        String::from_utf8_lossy(&admin.stderr)
    );
    cups
}

impl Cups {
    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/printers/kioskpdf", self.port)
    }

    fn admin(&self, tool: &str) {
        let out = Command::new(tool)
            .args(["-h", &format!("127.0.0.1:{}", self.port), "kioskpdf"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pdfs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        v.sort();
        v
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(&self.log).unwrap().flatten() {
            all.push_str(&format!("== {}\n", e.path().display()));
            all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        all
    }
}

/// Page size in points from `pdfinfo`.
fn page_size(pdf: &Path) -> (f64, f64) {
    let info = Command::new(common::tool("pdfinfo", "poppler-utils"))
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let line = info
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .unwrap_or_else(|| panic!("no page size in {info}"));
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn wait_for_pdf(cups: &Cups, count: usize) -> PathBuf {
    let start = Instant::now();
    loop {
        let pdfs = cups.pdfs();
        if pdfs.len() >= count {
            // cups-pdf writes the file through Ghostscript: wait until it is whole.
            let p = pdfs[count - 1].clone();
            let done = std::fs::read(&p).is_ok_and(|b| b.windows(5).any(|w| w == b"%%EOF"));
            if done {
                return p;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no PDF from cups-pdf: {:?}\n{}",
            cups.pdfs(),
            cups.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_card_prints_over_ipp_on_cups_at_card_size() {
    if let Some(why) = missing() {
        common::cannot_run("CUPS integration test", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cups = start_cups(&dir.path().join("cups"));

    // The whole assisted-issuance path: the back office issues a signed code, the
    // terminal verifies it and prints the card over IPP; the job is followed to
    // "completed" before the command returns.
    let (mut bo, url, key) = common::backoffice_child(dir.path(), &[]);
    let config = common::card_config(dir.path(), &url, &key);
    let out = common::kiosk(
        &config,
        &[
            "offline-code",
            "--id",
            "310105195001011231",
            "--yes",
            "--printer",
            &cups.uri(),
        ],
    );
    let _ = bo.kill();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cups.logs()
    );
    assert!(stdout.contains(&cups.uri()), "{stdout}");
    let pdf = wait_for_pdf(&cups, 1);
    let (w, h) = page_size(&pdf);
    // 85.6 × 54 mm = 242.65 × 153.07 pt; cups-pdf rounds to whole points.
    assert!(
        (w - 242.65).abs() <= 1.0 && (h - 153.07).abs() <= 1.0,
        "{} is {w} x {h} pt, not card size\n{}",
        pdf.display(),
        cups.logs()
    );
    // The audit says printed, by card id: no ID number, masked or not.
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let audit = store.audit_tail(5).unwrap();
    assert!(
        audit.iter().any(|a| a.detail.contains("card C")
            && a.detail.ends_with(": printed")
            && !a.detail.contains("***")),
        "{audit:?}"
    );

    // A paused queue: the status says which reason, the job is held and nothing is
    // queued; the session ends, so it is cancelled and never prints. Resumed, a new job
    // prints.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let printer = IppPrinter::new(&cups.uri(), "T-TEST", Duration::from_secs(5)).unwrap();
        let ready = printer.status().await.unwrap();
        assert!(ready.can_print(), "{ready:?}");

        cups.admin("/usr/sbin/cupsdisable");
        let paused = printer.status().await.unwrap();
        assert!(!paused.can_print() && paused.stopped, "{paused:?}");
        assert!(paused.reasons.iter().any(|r| r == "paused"), "{paused:?}");
        assert!(paused.technician_detail().contains("paused"));

        let pdf =
            civic_kiosk::print::pdf::card_pdf(&sample_card(), "天山路街道社区事务受理服务中心")
                .unwrap();
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p2 = printer.clone();
        let pdf2 = pdf.clone();
        let job = tokio::spawn(async move {
            civic_kiosk::print::ipp::run_job(
                &p2,
                &pdf2,
                Media::Card,
                "held",
                cancel_rx,
                &civic_kiosk::print::job::Waits {
                    poll: Duration::from_millis(100),
                    poll_max: Duration::from_millis(100),
                    give_up: Duration::from_secs(120),
                },
                move |s| {
                    let _ = tx.send(s.clone());
                },
            )
            .await
        });
        match rx.recv().await.unwrap() {
            JobState::Held(s) => assert!(s.stopped, "{s:?}"),
            other => panic!("expected held, got {other:?}"),
        }
        cancel_tx.send(true).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(10), job)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done, JobState::Cancelled);

        cups.admin("/usr/sbin/cupsenable");
        let (_keep, no_cancel) = tokio::sync::watch::channel(false);
        let done = civic_kiosk::print::ipp::run_job(
            &printer,
            &pdf,
            Media::Card,
            "after-resume",
            no_cancel,
            &civic_kiosk::print::job::Waits {
                poll: Duration::from_millis(100),
                poll_max: Duration::from_millis(100),
                give_up: Duration::from_secs(120),
            },
            |_| {},
        )
        .await;
        assert!(matches!(done, JobState::Printed(_)), "{done:?}");
    });
    // Exactly two cards came out: the first and the one after resuming; the cancelled
    // job never reached the queue.
    let second = wait_for_pdf(&cups, 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cups.pdfs().len(), 2, "{:?}", cups.pdfs());
    let (w, h) = page_size(&second);
    assert!((w - 242.65).abs() <= 1.0 && (h - 153.07).abs() <= 1.0);
}

fn sample_card() -> civic_kiosk::api::IssuedCode {
    civic_kiosk::api::IssuedCode {
        card_id: "C0123456789ABCDEF".into(),
        qr: "CK1.e30.c2ln".into(),
        masked_name: "王*英".into(),
        masked_id: "310***********1231".into(),
        issued_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        expires_on: chrono::NaiveDate::from_ymd_opt(2027, 5, 24).unwrap(),
        voided_card: None,
    }
}
