//! The disk: a full one at boot still serves residents (a real 2 MiB tmpfs, filled), and
//! a synced callback number is gone from every file of the store (a byte search).

use crate::common::{self, click_label};

use slint::{ComponentHandle, Model};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::config::Config;
use civic_kiosk::store::Store;
use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;

/// A terminal whose data dir is a full 2 MiB tmpfs: the catalogue was cached there from
/// the in-process back office first, then the disk was filled.
struct FullDisk {
    config_path: PathBuf,
    config: Arc<Config>,
    data: PathBuf,
    bo: common::InProcessBackoffice,
    rt: tokio::runtime::Runtime,
    // Dropped last: unmounted after everything that may hold a file on it.
    _disk: common::Tmpfs,
    _dir: tempfile::TempDir,
}

fn full_disk() -> FullDisk {
    let dir = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let shipped = common::shipped_config_value();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&shipped.backoffice.token, &shipped.terminal.id)),
    ));
    let text = common::shipped_config().replace(
        "\nurl = \"embedded\"\n",
        &format!(
            "\nurl = \"{}\"\npublic_key = \"{}\"\n",
            bo.url,
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                bo.key.as_bytes()
            )
        ),
    );
    let config_path = common::config_in(dir.path(), &text);
    let config = Arc::new(civic_kiosk::config::load(&config_path).unwrap());
    let data = config.data_dir();
    let disk = common::Tmpfs::mount(&data);

    // Seed: the catalogue cached on the tmpfs, as a terminal that ran before has it.
    let store = Arc::new(Mutex::new(Store::open_in(&data).unwrap()));
    let client = bo.client(&config.backoffice.token);
    rt.block_on(civic_kiosk::catalog::sync::sync_once(&client, &store))
        .unwrap();
    drop(store); // a clean close: no -wal left
    disk.fill();
    FullDisk {
        config_path,
        config,
        data,
        bo,
        rt,
        _disk: disk,
        _dir: dir,
    }
}

#[test]
fn a_full_disk_at_boot_still_serves_residents() {
    // Slint's platform: a process of its own.
    if !common::in_own_process("disk::a_full_disk_at_boot_still_serves_residents") {
        return;
    }
    init_headless(true);
    let fd = full_disk();
    let data = fd.data.display().to_string();

    // ---- boot as `run` does: the store opens (read-only), the cached catalogue loads
    assert!(
        Store::open_in(&fd.data).is_err(),
        "the disk is really full: read-write cannot open"
    );
    let store = Arc::new(Mutex::new(civic_kiosk::app::open_store(&fd.data).unwrap()));
    let why = store.lock().unwrap().read_only().map(str::to_string);
    assert!(
        why.as_deref().is_some_and(|w| w.contains("disk is full")),
        "{why:?}"
    );
    let (catalog, meta) = civic_kiosk::catalog::sync::load_cached(&store)
        .unwrap()
        .expect("the cached catalogue is read from the full disk");
    let items = catalog.data.items.len();
    assert!(items > 0);
    let h = Headless::with_options(
        fd.config.clone(),
        HeadlessOptions {
            catalog: Some(Arc::new(catalog)),
            client: Some(fd.bo.client(&fd.config.backoffice.token)),
            store: Some(store.clone()),
            ..Default::default()
        },
    )
    .unwrap();

    // ---- the status bar says the disk is full; the maintenance line names it and the fix
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<StatusAdapter>()
            .get_disk_full()),
        "the status bar shows the full disk"
    );
    let detail = h
        .window
        .global::<StatusAdapter>()
        .get_disk_detail()
        .to_string();
    assert!(
        detail.contains(&format!("free space on {data}")),
        "the technician's line names the disk and the fix: {detail}"
    );
    h.window.global::<SessionAdapter>().invoke_wake();
    let shown = |l: &str| {
        i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, l).count() > 0
    };
    assert!(shown("存储空间已满"), "the status bar's words");

    // ---- search works, from the catalogue read off the full disk
    click_label(&h, "搜索事项");
    assert_eq!(h.window.global::<SessionAdapter>().get_page(), Page::Search);
    for k in ["j", "z", "z"] {
        click_label(&h, k);
    }
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<CatalogAdapter>().get_results().row_count() > 0
    }));
    let first = h
        .window
        .global::<CatalogAdapter>()
        .get_results()
        .row_data(0)
        .unwrap();
    assert!(first.name.starts_with("居住证"), "{}", first.name);

    // ---- a rating is refused plainly, and does not count as given
    click_label(&h, "首页");
    click_label(&h, "好差评");
    let r = || h.window.global::<RatingAdapter>();
    assert_eq!(r().get_step(), RatingStep::Level);
    click_label(&h, "满意");
    click_label(&h, "提交评价");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| !matches!(
            w.global::<RatingAdapter>().get_step(),
            RatingStep::Saving | RatingStep::Level
        )),
        "step {:?}",
        r().get_step()
    );
    assert_eq!(r().get_step(), RatingStep::DiskFull);
    assert!(
        shown("存储空间已满，暂时无法保存评价"),
        "the resident is told plainly"
    );
    assert_eq!(
        civic_kiosk::ratings::counts(&store.lock().unwrap())
            .unwrap()
            .pending,
        0,
        "nothing was stored"
    );
    click_label(&h, "返回首页");
    click_label(&h, "好差评");
    assert_eq!(
        r().get_step(),
        RatingStep::Level,
        "一事一评: a refused rating was not given, so the service can be rated later"
    );
    // In English, the same refusal in English only.
    click_label(&h, "满意");
    click_label(&h, "language");
    assert!(h.window.global::<SessionAdapter>().get_english());
    click_label(&h, "Submit rating");
    assert!(h.pump_until(
        Duration::from_secs(10),
        |w| w.global::<RatingAdapter>().get_step() == RatingStep::DiskFull
    ));
    assert!(
        shown("The terminal's storage is full: your rating cannot be saved for now"),
        "the English refusal"
    );
    assert!(!shown("存储空间已满，暂时无法保存评价"), "not mixed");

    // ---- diagnose names the disk and the fix, and advises no restore
    let checks = fd.rt.block_on(civic_kiosk::diagnose::run(&fd.config));
    let disk = checks.iter().find(|c| c.part == "disk").unwrap();
    assert!(!disk.ok, "{disk:?}");
    assert!(disk.detail.contains(&data), "{disk:?}");
    assert!(
        disk.fix
            .as_deref()
            .is_some_and(|f| f.starts_with(&format!("free space on {data}"))),
        "{disk:?}"
    );
    let st = checks.iter().find(|c| c.part == "store").unwrap();
    assert!(st.detail.contains("integrity check ok"), "{st:?}");
    for c in &checks {
        assert!(
            !c.fix.as_deref().unwrap_or("").contains("from a backup"),
            "no restore for an intact store: {c:?}"
        );
    }

    // ---- status: the cached catalogue as it is; the store and disk not "ok"
    let report = fd
        .rt
        .block_on(civic_kiosk::status::report(&fd.config, &fd.config_path));
    assert_eq!(
        report.catalogue.version.as_deref(),
        Some(meta.version.as_str())
    );
    assert!(!report.store.writable, "{:?}", report.store);
    let data_disk = report
        .disks
        .iter()
        .find(|d| d.holds.starts_with("data"))
        .unwrap();
    assert!(data_disk.disk.full, "{data_disk:?}");
    let human = report.human();
    assert!(human.contains("READ-ONLY"), "{human}");
    assert!(!human.contains("none cached yet"), "{human}");
    drop(h);
}

/// The real binary on the same full disk: `run --headless` comes up (READY=1 over
/// NOTIFY_SOCKET) instead of exiting 2, `catalogue search` answers, `diagnose` and
/// `status` name the disk.
#[test]
fn the_binary_on_a_full_disk_starts_searches_and_names_the_disk() {
    use std::os::unix::net::UnixDatagram;
    let fd = full_disk();
    let data = fd.data.display().to_string();
    let sock = fd.config_path.with_file_name("notify.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut app = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
            .arg("--config")
            .arg(&fd.config_path)
            .args(["run", "--headless"])
            .env("NOTIFY_SOCKET", &sock)
            .env_remove("WATCHDOG_USEC")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut buf = [0u8; 512];
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            let _ = app.0.stderr.take().unwrap().read_to_string(&mut err);
            panic!("run exited on the full disk: {status}\n{err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no READY=1 within 90 s"
        );
        if let Ok(n) = rx.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().next() == Some("READY=1") {
                break;
            }
        }
    }
    drop(app);

    let out = common::kiosk(&fd.config_path, &["catalogue", "search", "居住证"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("居住证"),
        "{:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let out = common::kiosk(&fd.config_path, &["diagnose"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a full disk is a fault");
    assert!(text.contains(&format!("free space on {data}")), "{text}");
    assert!(!text.contains("from a backup"), "{text}");

    let out = common::kiosk(&fd.config_path, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("none cached yet"), "{text}");
    assert!(text.contains("disk full") && text.contains(&data), "{text}");
}

/// Every file of the store, read whole.
fn store_bytes(data: &Path) -> Vec<(String, Vec<u8>)> {
    ["kiosk.sqlite", "kiosk.sqlite-wal", "kiosk.sqlite-shm"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read(data.join(f)).unwrap_or_default(),
            )
        })
        .collect()
}

/// The encodings a number could be kept in: ASCII/UTF-8 (SQLite's text), UTF-16 LE and
/// BE (SQLite's other text encodings), and the digits as packed BCD.
fn encodings(phone: &str) -> Vec<(&'static str, Vec<u8>)> {
    let utf16le: Vec<u8> = phone.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = phone.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let digits: Vec<u8> = phone.bytes().map(|b| b - b'0').collect();
    let bcd: Vec<u8> = digits[..10].chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
    vec![
        ("ascii", phone.as_bytes().to_vec()),
        ("utf-16le", utf16le),
        ("utf-16be", utf16be),
        ("bcd", bcd),
    ]
}

fn found(files: &[(String, Vec<u8>)], phone: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for (name, bytes) in files {
        for (enc, needle) in encodings(phone) {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                hits.push(format!("{name} ({enc})"));
            }
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_callback_number_is_gone_from_every_file() {
    use civic_kiosk::ratings::{self, Draft, sync};
    const PHONE: &str = "13912345678";
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::shipped_config_value();
    let bo = common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&shipped.backoffice.token, &shipped.terminal.id)),
    )
    .await;
    let data = dir.path().join("data");
    let store = Arc::new(Mutex::new(Store::open_in(&data).unwrap()));
    let reasons = shipped.ratings.reasons.clone();
    // Some ratings around it, as a day's outbox holds, then the one with a callback.
    {
        let mut s = store.lock().unwrap();
        for n in 0..20 {
            let r = Draft {
                item_code: format!("310105-JZZ-{n:03}"),
                level: Some(civic_kiosk::api::RatingLevel::Satisfied),
                ..Default::default()
            }
            .finish(&shipped.terminal.id, &reasons, chrono::Utc::now())
            .unwrap();
            ratings::record(&mut s, &r).unwrap();
        }
        let r = Draft {
            item_code: "310105-JZZ-001".into(),
            level: Some(civic_kiosk::api::RatingLevel::VeryDissatisfied),
            reasons: vec![reasons[0].clone()],
            callback_consent: true,
            phone: PHONE.into(),
            ..Default::default()
        }
        .finish(&shipped.terminal.id, &reasons, chrono::Utc::now())
        .unwrap();
        ratings::record(&mut s, &r).unwrap();
    }
    assert!(
        !found(&store_bytes(&data), PHONE).is_empty(),
        "before the sync the number is on disk (the search finds it)"
    );

    // A reader holding an older snapshot (a `status` run, say) keeps the first checkpoint
    // from finishing: the number is still in the -wal.
    let reader = rusqlite::Connection::open(data.join("kiosk.sqlite")).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM ratings", [], |r| r.get(0))
        .unwrap();

    let client = bo.client(&shipped.backoffice.token);
    let policy = sync::Policy::from_config(&shipped.ratings);
    let mut uploaded = 0;
    loop {
        match sync::round(&store, &client, &policy, true).await.unwrap() {
            sync::Round::Idle => break,
            sync::Round::Answered { stored, .. } => uploaded += stored,
            sync::Round::Failed { error, .. } => panic!("{error}"),
        }
    }
    assert_eq!(uploaded, 21);
    assert_eq!(ratings::counts(&store.lock().unwrap()).unwrap().pending, 0);
    assert!(
        store.lock().unwrap().scrub_due(),
        "the checkpoint was held up"
    );
    let held = found(&store_bytes(&data), PHONE);
    assert!(
        held.iter().any(|h| h.starts_with("kiosk.sqlite-wal")),
        "while the reader holds the -wal, the old frames are there: {held:?}"
    );

    // The reader ends; the worker's next turn (at most SCRUB_RETRY later) checkpoints.
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert_eq!(sync::SCRUB_RETRY, Duration::from_secs(30));
    let done = sync::scrub(&mut store.lock().unwrap()).unwrap();
    assert!(done);
    let left = found(&store_bytes(&data), PHONE);
    assert!(left.is_empty(), "the number is still at rest in {left:?}");
    // The store is alive and well, the rating kept without its number.
    let s = store.lock().unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert_eq!(ratings::counts(&s).unwrap().sent, 21);
    let wal = std::fs::metadata(data.join("kiosk.sqlite-wal")).unwrap();
    assert_eq!(wal.len(), 0, "the -wal was cut to nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_reader_the_number_leaves_at_the_sync_itself() {
    use civic_kiosk::ratings::{self, Draft, sync};
    const PHONE: &str = "13687654321";
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::shipped_config_value();
    let bo = common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&shipped.backoffice.token, &shipped.terminal.id)),
    )
    .await;
    let data = dir.path().join("data");
    let store = Arc::new(Mutex::new(Store::open_in(&data).unwrap()));
    let reasons = shipped.ratings.reasons.clone();
    let r = Draft {
        item_code: "310105-JZZ-001".into(),
        level: Some(civic_kiosk::api::RatingLevel::Dissatisfied),
        reasons: vec![reasons[0].clone()],
        callback_consent: true,
        phone: PHONE.into(),
        ..Default::default()
    }
    .finish(&shipped.terminal.id, &reasons, chrono::Utc::now())
    .unwrap();
    ratings::record(&mut store.lock().unwrap(), &r).unwrap();
    assert!(!found(&store_bytes(&data), PHONE).is_empty());
    let client = bo.client(&shipped.backoffice.token);
    let policy = sync::Policy::from_config(&shipped.ratings);
    let first = sync::round(&store, &client, &policy, true).await.unwrap();
    assert!(
        matches!(first, sync::Round::Answered { stored: 1, .. }),
        "{first:?}"
    );
    // No maintenance call: the sync itself took the number out of every file.
    assert!(!store.lock().unwrap().scrub_due());
    let left = found(&store_bytes(&data), PHONE);
    assert!(left.is_empty(), "the number is still at rest in {left:?}");
    drop(store);
    let conn = rusqlite::Connection::open(data.join("kiosk.sqlite")).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM ratings WHERE id = ?1",
            [r.id.to_string()],
            |row| row.get(0),
        )
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["callback"],
        serde_json::json!({"consent": true}),
        "the rating is kept, its consent without the number"
    );
}
