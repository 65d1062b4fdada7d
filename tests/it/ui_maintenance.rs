//! Headless UI test of the PIN pad, maintenance page and 帮办 mode (Slint testing backend,
//! mock time, a real local store and the reference back office). One test function: the
//! testing backend is initialised once per process.

use crate::common::{self, click_label};

use slint::{ComponentHandle, Model};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::config::{Config, ConfigHandle, Layers};
use civic_kiosk::pin::{self, Holder, StaffId};
use civic_kiosk::store::Store;
use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;

const TECH_PIN: &str = "739155";
const STAFF_PIN: &str = "480213";

/// The shipped config in `dir/etc/kiosk.toml` (its own folder, as /etc/civic-kiosk), with
/// the data, logs and card spool in `dir`; loaded with its layers.
fn config(dir: &Path) -> (Arc<Config>, ConfigHandle) {
    let text = common::shipped_config().replace(
        "uri = \"pdf://spool/card\"",
        &format!("uri = \"pdf://{}\"", dir.join("cards").display()),
    );
    let path = common::config_in(dir, &text);
    let etc = dir.join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::rename(&path, etc.join("kiosk.toml")).unwrap();
    let layers = Layers::load(&etc.join("kiosk.toml")).unwrap();
    let handle = ConfigHandle::new(layers).unwrap();
    (handle.current(), handle)
}

/// Makes a file or folder immutable (`chattr +i`) until dropped: unlike chmod, that stops
/// root too, so the test process (root here) really cannot write the config, as the
/// service user cannot on a terminal (`ProtectSystem=strict`, a root-owned /etc).
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: &[&Path]) -> Self {
        for p in paths {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .unwrap()
                .success();
            assert!(
                ok,
                "chattr +i {} (e2fsprogs, an ext4/xfs/btrfs folder, root)",
                p.display()
            );
        }
        Self(paths.iter().map(|p| p.to_path_buf()).collect())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(p)
                .status();
        }
    }
}

fn page(h: &Headless) -> Page {
    h.window.global::<SessionAdapter>().get_page()
}

fn tech(h: &Headless) -> TechnicianAdapter<'_> {
    h.window.global::<TechnicianAdapter>()
}

/// Types a PIN on the pad's keys and presses 确认; waits for the answer.
fn enter_pin(h: &Headless, digits: &str) {
    for d in digits.chars() {
        click_label(h, &d.to_string());
    }
    assert_eq!(tech(h).get_pin_length(), digits.len() as i32);
    click_label(h, "确认");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| {
            w.global::<TechnicianAdapter>().get_state() != PadState::Checking
        }),
        "the PIN check never answered"
    );
}

fn audits(store: &Mutex<Store>) -> Vec<civic_kiosk::api::AuditEntry> {
    let mut v = store.lock().unwrap().audit_tail(500).unwrap();
    v.reverse();
    v
}

fn headless(
    cfg: &Arc<Config>,
    store: &Arc<Mutex<Store>>,
    client: Option<civic_kiosk::backoffice::Client>,
    key: Option<ed25519_dalek::VerifyingKey>,
) -> Headless {
    headless_with(cfg, store, client, key, None)
}

fn headless_with(
    cfg: &Arc<Config>,
    store: &Arc<Mutex<Store>>,
    client: Option<civic_kiosk::backoffice::Client>,
    key: Option<ed25519_dalek::VerifyingKey>,
    settings: Option<ConfigHandle>,
) -> Headless {
    Headless::with_options(
        cfg.clone(),
        HeadlessOptions {
            catalog: Some(Arc::new(civic_kiosk::catalog::Catalog::new(
                civic_contract::catalogue::demo().unwrap(),
            ))),
            client,
            trusted_key: key,
            store: Some(store.clone()),
            settings,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn pin_pad_maintenance_staff_and_lockout() {
    // Slint's platform belongs to one thread of a process: a process of its own.
    if !common::in_own_process("ui_maintenance::pin_pad_maintenance_staff_and_lockout") {
        return;
    }
    init_headless(true);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, handle) = config(dir.path());
    let spool = dir.path().join("cards");
    let store = Arc::new(Mutex::new(Store::open_in(&cfg.data_dir()).unwrap()));

    // ---- no PIN on this terminal: the pad says so, and nobody gets in
    let h = headless_with(&cfg, &store, None, None, Some(handle.clone()));
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    assert_eq!(page(&h), Page::Technician);
    enter_pin(&h, TECH_PIN);
    assert_eq!(tech(&h).get_state(), PadState::NoPin, "no PIN set");
    assert!(!tech(&h).get_unlocked());

    // PINs as `civic-kiosk set-pin` writes them.
    pin::set(&store, &Holder::Technician, TECH_PIN, "test", None).unwrap();
    let staff = StaffId::parse("S1024").unwrap();
    pin::set(
        &store,
        &Holder::Staff(staff.clone()),
        STAFF_PIN,
        "test",
        None,
    )
    .unwrap();

    // ---- the technician's PIN opens maintenance: terminal info, then leave
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    enter_pin(&h, TECH_PIN);
    assert!(tech(&h).get_unlocked(), "state {:?}", tech(&h).get_state());
    assert_eq!(page(&h), Page::Technician);
    assert_eq!(tech(&h).get_terminal_id(), cfg.terminal.id.as_str());
    assert_eq!(tech(&h).get_version(), env!("CARGO_PKG_VERSION"));
    assert!(
        common::shown(&h, "关闭终端程序"),
        "the maintenance page shows"
    );
    assert!(!common::shown(&h, "确认"), "the pad is gone");

    // ---- settings, with the config's folder and file read-only (for root too): the
    // maintenance page saves into the settings layer in the data dir.
    let file = cfg.base_dir.join("kiosk.toml");
    let settings_file = cfg.data_dir().join("settings.toml");
    let before = std::fs::read(&file).unwrap();
    let _readonly = Immutable::set(&[&file, &cfg.base_dir]);
    assert!(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .is_err()
            && std::fs::write(cfg.base_dir.join("probe"), b"").is_err(),
        "the config and its folder are not writable, even by root"
    );
    // ---- a bad value shows the validator's message and saves nothing
    let idle_row = tech(&h)
        .get_settings()
        .iter()
        .find(|r| r.key == "display.idle_timeout_s")
        .expect("the idle timeout is offered");
    assert_eq!(idle_row.value, "90");
    click_label(&h, "display.idle_timeout_s");
    assert_eq!(tech(&h).get_setting_key(), "display.idle_timeout_s");
    assert_eq!(tech(&h).get_setting_entry(), "90");
    click_label(&h, "清空 Clear");
    click_label(&h, "5");
    click_label(&h, "保存设置");
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<TechnicianAdapter>().get_setting_message() != ""
    }));
    let msg = tech(&h).get_setting_message().to_string();
    assert!(tech(&h).get_setting_refused(), "{msg}");
    assert!(
        msg.contains("display.idle_timeout_s") && msg.contains("at least 20"),
        "the validator's own message: {msg}"
    );
    assert!(msg.contains("nothing saved"), "{msg}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing saved");
    assert!(!settings_file.exists(), "nothing saved");
    assert!(!audits(&store).iter().any(|e| e.kind == "config_changed"));
    // ---- a good value: saved atomically in the settings layer, in force now, audited, shown
    click_label(&h, "清空 Clear");
    for d in ["1", "2", "0"] {
        click_label(&h, d);
    }
    click_label(&h, "保存设置");
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<TechnicianAdapter>().get_setting_key() == ""
    }));
    assert!(
        !tech(&h).get_setting_refused(),
        "{}",
        tech(&h).get_setting_message()
    );
    let msg = tech(&h).get_setting_message().to_string();
    assert!(
        msg.contains(&settings_file.display().to_string()) && msg.contains("in force now"),
        "says where it saved and that it applies: {msg}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the main file is untouched"
    );
    assert!(
        std::fs::read_to_string(&settings_file)
            .unwrap()
            .contains("idle_timeout_s = 120"),
        "saved in the settings layer"
    );
    assert_eq!(
        civic_kiosk::config::load(&file)
            .unwrap()
            .display
            .idle_timeout_s,
        120,
        "a restart keeps it"
    );
    assert_eq!(handle.current().display.idle_timeout_s, 120, "in force now");
    assert_eq!(
        h.config.borrow().display.idle_timeout_s,
        120,
        "the window has it"
    );
    let changed = audits(&store)
        .into_iter()
        .find(|e| e.kind == "config_changed")
        .expect("audited");
    assert!(
        changed.detail.contains("display.idle_timeout_s: 90 → 120")
            && changed.detail.contains("settings.toml"),
        "{changed:?}"
    );
    assert_eq!(changed.actor.as_deref(), Some("technician"));
    assert!(
        tech(&h)
            .get_settings()
            .iter()
            .any(|r| r.key == "display.idle_timeout_s" && r.value == "120")
    );
    // `status --json` names the layer the value comes from.
    let out = common::kiosk(&file, &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["origins"]["display.idle_timeout_s"],
        format!("settings ({})", settings_file.display()),
        "{status}"
    );
    assert_eq!(status["settings_path"], settings_file.display().to_string());
    click_label(&h, "退出维护模式");
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<SessionAdapter>().get_page() == Page::Attract
    }));
    assert!(!tech(&h).get_unlocked());
    // The new idle timeout is the one the running window uses: 100 s without a touch
    // would have ended a session under the old 90 s (+10 s countdown); under 120 s it has
    // not even begun the countdown.
    h.window.global::<SessionAdapter>().invoke_wake();
    assert_eq!(page(&h), Page::Home);
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(100));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(page(&h), Page::Home, "the 120 s timeout is in force");
    assert_eq!(h.window.global::<SessionAdapter>().get_countdown(), 0);
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(31));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(page(&h), Page::Attract, "and it still ends the session");
    drop(_readonly);
    let a = audits(&store);
    assert!(
        a.iter()
            .any(|e| e.kind == "pin_entered" && e.actor.as_deref() == Some("technician"))
    );
    assert!(a.iter().any(|e| e.kind == "maintenance_left"));
    assert!(
        a.iter().all(|e| !e.detail.contains(TECH_PIN)),
        "no PIN in the audit"
    );

    // ---- leaving by the bottom bar's 首页 closes maintenance too
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    enter_pin(&h, TECH_PIN);
    assert!(tech(&h).get_unlocked());
    click_label(&h, "首页");
    assert_eq!(page(&h), Page::Home);
    assert!(!tech(&h).get_unlocked());
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    assert!(
        !tech(&h).get_unlocked() && common::shown(&h, "确认"),
        "the pad again, not maintenance"
    );
    drop(h);

    // ---- 帮办: a staff PIN signs in; the card issued in that session names the staff member
    let server_rt = common::runtime();
    let bo = server_rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let client = bo.client(&cfg.backoffice.token);
    // A typed number needs a staff member signed in (identity.keypad = "staff").
    let mut strict = (*cfg).clone();
    strict.identity.keypad = Some(civic_kiosk::config::Keypad::Staff);
    let strict = Arc::new(strict);
    let h = headless(&strict, &store, Some(client), Some(bo.key));
    let s = h.window.global::<SessionAdapter>();
    s.invoke_wake();
    click_label(&h, "离线码打印");
    let o = h.window.global::<OfflineCodeAdapter>();
    assert_eq!(o.get_step(), CardStep::Entry);
    assert!(!o.get_keypad(), "no keypad without staff");
    assert!(common::shown(
        &h,
        "请扫描随申码；没有随身证件时，请点“呼叫工作人员”帮您办理"
    ));
    assert!(
        i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, "下一步")
            .next()
            .is_none(),
        "nothing to type with"
    );
    // Typed anyway (a keyboard, a stale tap): refused, nothing sent.
    for d in "310105195001011231".chars() {
        o.invoke_key(d.to_string().into());
    }
    o.invoke_submit();
    assert_eq!(
        (o.get_step(), o.get_failure()),
        (CardStep::Failed, CardFailure::StaffRequired),
        "refused without staff"
    );
    assert!(common::shown(
        &h,
        "本机打印卡片需要工作人员确认身份，请点“呼叫工作人员”"
    ));
    assert!(!spool.exists() || std::fs::read_dir(&spool).unwrap().count() == 0);
    assert!(
        !audits(&store)
            .iter()
            .any(|e| e.kind == "offline_code_issued")
    );
    click_label(&h, "返回首页");
    s.invoke_hidden_gesture();
    enter_pin(&h, STAFF_PIN);
    assert_eq!(page(&h), Page::Home, "state {:?}", tech(&h).get_state());
    assert_eq!(s.get_staff(), "S1024");
    assert_eq!(h.controller.staff(), Some(staff.clone()));
    assert!(common::shown(&h, "退出帮办"));
    assert!(!tech(&h).get_unlocked(), "a staff PIN opens no maintenance");
    click_label(&h, "离线码打印");
    for d in "310105195001011231".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<OfflineCodeAdapter>().get_step() == CardStep::Confirm
    }));
    click_label(&h, "是本人，打印卡片");
    assert!(h.pump_until(Duration::from_secs(10), |w| {
        matches!(
            w.global::<OfflineCodeAdapter>().get_step(),
            CardStep::TakeCard | CardStep::Failed | CardStep::ReportedLost
        )
    }));
    assert_eq!(
        h.window.global::<OfflineCodeAdapter>().get_step(),
        CardStep::TakeCard
    );
    assert!(h.pump_until(Duration::from_secs(5), |_| {
        audits(&store)
            .iter()
            .any(|e| e.kind == "offline_code_issued")
    }));
    let issued = audits(&store)
        .into_iter()
        .find(|e| e.kind == "offline_code_issued")
        .unwrap();
    assert_eq!(issued.actor.as_deref(), Some("staff:S1024"), "{issued:?}");
    assert!(issued.detail.contains("printed"), "{}", issued.detail);
    assert!(
        !issued.detail.contains("310105195001011231"),
        "no full ID number in the audit"
    );
    click_label(&h, "继续办理");
    click_label(&h, "退出帮办");
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<SessionAdapter>().get_page() == Page::Attract
    }));
    assert_eq!(s.get_staff(), "");
    assert_eq!(h.controller.staff(), None);
    // The session ends at once; its audit is written off the UI thread.
    assert!(h.pump_until(Duration::from_secs(5), |_| {
        audits(&store)
            .iter()
            .any(|e| e.kind == "staff_signed_out" && e.actor.as_deref() == Some("staff:S1024"))
    }));

    // ---- a staff session that goes idle ends, and the staff member with it
    s.invoke_hidden_gesture();
    enter_pin(&h, STAFF_PIN);
    assert_eq!(s.get_staff(), "S1024");
    let idle = cfg.display.idle_timeout_s as u64 + 11;
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(idle));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(page(&h), Page::Attract);
    assert_eq!(s.get_staff(), "");
    assert_eq!(h.controller.staff(), None);
    assert!(h.pump_until(Duration::from_secs(5), |_| {
        audits(&store)
            .iter()
            .any(|e| e.kind == "staff_signed_out" && e.detail.contains("idle"))
    }));

    // ---- maintenance left open closes on idle, audited
    s.invoke_hidden_gesture();
    enter_pin(&h, TECH_PIN);
    assert!(tech(&h).get_unlocked());
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(idle));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(page(&h), Page::Attract);
    assert!(!tech(&h).get_unlocked());
    assert!(h.pump_until(Duration::from_secs(5), |_| {
        audits(&store)
            .iter()
            .any(|e| e.kind == "maintenance_left" && e.detail.contains("idle"))
    }));

    // ---- the technician's exit: confirmed, audited, then the event loop ends
    s.invoke_hidden_gesture();
    enter_pin(&h, TECH_PIN);
    click_label(&h, "关闭终端程序");
    assert!(!h.controller.exit_requested(), "asks first");
    click_label(&h, "取消");
    assert!(common::shown(&h, "关闭终端程序"));
    click_label(&h, "关闭终端程序");
    click_label(&h, "确定关闭");
    assert!(h.controller.exit_requested());
    assert!(h.pump_until(Duration::from_secs(5), |_| {
        audits(&store).iter().any(|e| e.kind == "maintenance_exit")
    }));
    drop(h);

    // ---- five wrong PINs lock the pad; the right one is then refused too
    let h = headless(&cfg, &store, None, None);
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    for left in (1..=4).rev() {
        enter_pin(&h, "111112");
        assert_eq!(tech(&h).get_state(), PadState::Wrong);
        assert_eq!(tech(&h).get_attempts_left(), left);
    }
    enter_pin(&h, "111112");
    assert_eq!(tech(&h).get_state(), PadState::Locked, "locked");
    assert_eq!(tech(&h).get_minutes_left(), 5);
    enter_pin(&h, TECH_PIN);
    assert_eq!(
        tech(&h).get_state(),
        PadState::Locked,
        "the right PIN is not even checked"
    );
    assert!(!tech(&h).get_unlocked());
    drop(h);

    // ---- still locked after a restart (a new store connection, a new window)
    let reopened = Arc::new(Mutex::new(Store::open_in(&cfg.data_dir()).unwrap()));
    let h = headless(&cfg, &reopened, None, None);
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    assert!(
        h.pump_until(Duration::from_secs(5), |w| {
            w.global::<TechnicianAdapter>().get_state() == PadState::Locked
        }),
        "the pad says it is locked as soon as it opens"
    );
    assert!((4..=5).contains(&tech(&h).get_minutes_left()));
    enter_pin(&h, TECH_PIN);
    assert_eq!(tech(&h).get_state(), PadState::Locked);
    assert!(!tech(&h).get_unlocked());
    let a = audits(&reopened);
    assert_eq!(a.iter().filter(|e| e.kind == "pin_failed").count(), 5);
    assert!(a.iter().any(|e| e.kind == "pin_locked"));
    assert!(a.iter().filter(|e| e.kind == "pin_refused").count() >= 2);
    assert!(
        a.iter()
            .all(|e| !e.detail.contains(TECH_PIN) && !e.detail.contains("111112")),
        "no PIN in the audit"
    );
}

/// Runs a tool by its button on the maintenance page; waits for its report.
fn run_tool(h: &Headless, name: &str) -> (bool, Vec<String>) {
    click_label(h, name);
    assert_eq!(tech(h).get_tool(), name);
    assert!(
        h.pump_until(Duration::from_secs(30), |w| {
            !w.global::<TechnicianAdapter>().get_tool_running()
        }),
        "{name} never answered"
    );
    let lines: Vec<String> = tech(h)
        .get_tool_lines()
        .iter()
        .map(|l| l.to_string())
        .collect();
    // What the page shows is what the report holds.
    for l in &lines {
        assert!(
            common::texts(h).contains(l),
            "{name}: {l:?} is not on the page"
        );
    }
    (tech(h).get_tool_ok(), lines)
}

#[test]
fn the_maintenance_tools_print_sync_refresh_and_show_the_audit_and_log() {
    let test =
        "ui_maintenance::the_maintenance_tools_print_sync_refresh_and_show_the_audit_and_log";
    if !common::in_own_process(test) {
        return;
    }
    init_headless(true);
    // The terminal's logger, as `run` installs it (the log view reads what it wrote).
    civic_kiosk::logging::init(&civic_kiosk::logging::LogSettings {
        dir: None,
        level: log::LevelFilter::Info,
        max_file_bytes: 1 << 20,
        keep_files: 1,
        stderr: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _handle) = config(dir.path());
    let mut cfg = (*cfg).clone();
    let rt = common::runtime();
    let _enter = rt.enter();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let sim = Arc::new(Mutex::new(common::Sim {
        dle: [common::OK; 3],
        ..Default::default()
    }));
    let port = rt.block_on(common::start_printer(sim.clone()));
    cfg.printers.receipt.uri = format!("escpos+tcp://127.0.0.1:{port}");
    let cfg = Arc::new(cfg);
    let store = Arc::new(Mutex::new(Store::open_in(&cfg.data_dir()).unwrap()));
    pin::set(&store, &Holder::Technician, TECH_PIN, "test", None).unwrap();

    // A rating waiting in the outbox (the back office was down when it was given).
    let rating = civic_kiosk::api::Rating {
        id: uuid::Uuid::now_v7(),
        terminal_id: cfg.terminal.id.clone(),
        item_code: "310105-GA-0001".into(),
        case_number: None,
        channel: civic_kiosk::api::Channel::SelfServiceTerminal,
        level: civic_kiosk::api::RatingLevel::try_from(2u8).unwrap(),
        reasons: vec!["等候时间长".into()],
        comment: None,
        rated_at: chrono::Utc::now(),
        callback: None,
        staff: None,
    };
    civic_kiosk::ratings::record(&mut store.lock().unwrap(), &rating).unwrap();
    // An audit entry and a log line that name a resident: neither may show them.
    store
        .lock()
        .unwrap()
        .audit(
            "offline_code_issued",
            "lookup for 310105194506150021 refused: not eligible",
            None,
        )
        .unwrap();
    log::warn!("a resident (13812345678) asked for help at the counter");

    let h = Headless::with_options(
        cfg.clone(),
        HeadlessOptions {
            client: Some(bo.client(&cfg.backoffice.token)),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            catalogue_worker: true,
            ..Default::default()
        },
    )
    .unwrap();
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    enter_pin(&h, TECH_PIN);
    assert!(tech(&h).get_unlocked());
    let printers: Vec<_> = tech(&h).get_printers().iter().collect();
    assert_eq!(printers.len(), 3, "card, receipt and document");
    assert!(
        printers
            .iter()
            .any(|p| p.role == "receipt" && p.uri == format!("escpos+tcp://127.0.0.1:{port}")),
        "{printers:?}"
    );

    // ---- a test print on the scripted ESC/POS printer: ready, then out of paper
    let (ok, lines) = run_tool(&h, "test-print:receipt");
    assert!(ok, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("status before: ready")),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().starts_with("printed"), "{lines:?}");
    assert_eq!(sim.lock().unwrap().jobs.len(), 1, "one test page printed");
    assert!(common::contains(
        &sim.lock().unwrap().jobs[0],
        &cfg.terminal.id
    ));
    sim.lock().unwrap().dle = [common::OK, common::OK | 0x20, common::OK | 0x60];
    let (ok, lines) = run_tool(&h, "test-print:receipt");
    assert!(!ok, "{lines:?}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("printer not ready: paper_out"),
        "says why: {lines:?}"
    );
    assert!(common::shown(
        &h,
        "测试打印 Test print (凭条打印机 receipt)：未完成"
    ));
    assert_eq!(sim.lock().unwrap().jobs.len(), 1, "nothing more printed");

    // ---- sync now drains the pending rating to the back office
    let (ok, lines) = run_tool(&h, "sync");
    assert!(ok, "{lines:?}");
    assert_eq!(lines[0], "ratings: 1 pending, 0 sent, 0 dead");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("all ratings uploaded: 1 sent"),
        "{lines:?}"
    );
    let stats: civic_kiosk::api::RatingStats = rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{}api/v1/admin/terminals/{}/ratings/stats",
                bo.url, cfg.terminal.id
            ))
            .bearer_auth(&bo.admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!((stats.total, stats.per_level["2"]), (1, 1), "{stats:?}");

    // ---- refresh fetches the catalogue version the district published since
    let old = civic_contract::catalogue::demo().unwrap();
    assert!(
        h.pump_until(Duration::from_secs(20), |_| {
            store
                .lock()
                .unwrap()
                .cached_catalogue()
                .unwrap()
                .is_some_and(|c| c.version == old.version)
        }),
        "the worker's first sync stored the served catalogue"
    );
    let mut new = old.clone();
    new.version = format!("{}-2", old.version);
    bo.state.publish_catalogue(new.clone()).unwrap();
    let (ok, lines) = run_tool(&h, "refresh-catalogue");
    assert!(ok, "{lines:?}");
    assert_eq!(
        lines,
        vec![format!(
            "catalogue {}: updated, {} items stored locally",
            new.version,
            new.items.len()
        )]
    );
    let cached = store.lock().unwrap().cached_catalogue().unwrap().unwrap();
    assert_eq!(cached.version, new.version);
    // Again: nothing new, and it says so.
    let (ok, lines) = run_tool(&h, "refresh-catalogue");
    assert!(
        ok && lines[0].starts_with("catalogue unchanged"),
        "{lines:?}"
    );

    // ---- the audit: the PIN entry and the refusal, the ID masked
    let (ok, lines) = run_tool(&h, "audit");
    assert!(ok, "{lines:?}");
    let all = lines.join("\n");
    assert!(all.contains("pin_entered"), "{all}");
    assert!(all.contains("310***********0021"), "{all}");
    assert!(!all.contains("310105194506150021"), "{all}");

    // ---- the recent log: what the terminal logged, scrubbed
    let (ok, lines) = run_tool(&h, "log");
    assert!(ok, "{lines:?}");
    let all = lines.join("\n");
    assert!(all.contains("maintenance mode entered"), "{all}");
    assert!(all.contains("138****5678"), "{all}");
    assert!(!all.contains("13812345678"), "{all}");
    assert!(!all.contains("310105194506150021"), "{all}");

    // ---- leaving drops the last report; the next technician starts clean
    click_label(&h, "退出维护模式");
    h.window.global::<SessionAdapter>().invoke_hidden_gesture();
    assert_eq!(tech(&h).get_tool(), "");
    assert_eq!(tech(&h).get_tool_lines().row_count(), 0);
}
