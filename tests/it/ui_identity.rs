//! The resident identified at the headless touch screen: the simulated ID card reader
//! (`gat467-sim` on a pty, through the terminal's reader task), a keyboard-wedge scanner's
//! bursts, the reference back office in process, a PDF card printer.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;
use gat467_sim::{Sim, SimCard};
use slint::platform::WindowEvent;
use slint::{ComponentHandle, Model};

use crate::common::{self, click_label, wedge};

const NAME: &str = "王秀英";
const ID: &str = "310105195001011231";

fn ia(h: &Headless) -> IdentityAdapter<'_> {
    h.window.global::<IdentityAdapter>()
}

/// The QR code of the one card PDF in `spool`.
fn scan_card(spool: &Path, out: &Path) -> String {
    let pdf = std::fs::read_dir(spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pdf"))
        .expect("a card PDF");
    common::scan_pdf_qr(&pdf, out, 200)
}

#[test]
fn a_resident_identified_by_card_and_code_prints_and_checks_cards_with_nothing_typed() {
    // Slint's platform and the global logger belong to a process: one of its own.
    if !common::in_own_process(
        "ui_identity::a_resident_identified_by_card_and_code_prints_and_checks_cards_with_nothing_typed",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    common::log_everything_to(&logs);
    init_headless(true);
    let rt = common::runtime();
    let mut cfg = common::shipped_config_value();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let sim = Sim::start(None).unwrap();
    let spool = dir.path().join("cards");
    cfg.identity.reader = sim.url();
    cfg.identity.scanner = "keyboard".into();
    // With a reader the keypad defaults to staff only.
    cfg.identity.keypad = None;
    cfg.printers.card.uri = format!("pdf://{}", spool.display());
    cfg.storage.data_dir = dir.path().join("data");
    cfg.storage.runtime_dir = dir.path().join("run");
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    assert_eq!(cfg.keypad(), civic_kiosk::config::Keypad::Staff);
    let store = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&cfg.data_dir()).unwrap(),
    ));
    let (devices, identity) = civic_kiosk::devices::Devices::start(&cfg, rt.handle());
    let client = bo.client(&cfg.backoffice.token);
    let h = Headless::with_options(
        Arc::new(cfg),
        HeadlessOptions {
            client: Some(client.clone()),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            identity,
            ..Default::default()
        },
    )
    .unwrap();
    let s = || h.window.global::<SessionAdapter>();
    let o = || h.window.global::<OfflineCodeAdapter>();
    let wait = |what: &str, done: &dyn Fn(&MainWindow) -> bool| {
        assert!(
            h.pump_until(Duration::from_secs(10), done),
            "{what}: page {:?} step {:?} failure {:?} notice {:?}",
            s().get_page(),
            o().get_step(),
            o().get_failure(),
            ia(&h).get_notice()
        );
    };
    assert_eq!(s().get_page(), Page::Attract);
    assert!(ia(&h).get_reader());

    // The card on the reader wakes the terminal and names the resident (masked).
    sim.place(SimCard::demo());
    wait("card read", &|w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    assert_eq!(s().get_page(), Page::Home);
    assert!(common::shown(&h, "王*英，您好（已读取身份证）"));

    // 离线码: looked up at once, confirmed, printed. Nothing typed.
    click_label(&h, "离线码打印");
    wait("confirm", &|w| {
        w.global::<OfflineCodeAdapter>().get_step() == CardStep::Confirm
    });
    assert!(o().get_by_card());
    assert_eq!(o().get_masked_name(), "王*英");
    assert!(common::shown(&h, "已读取您的身份证"));
    click_label(&h, "是本人，打印卡片");
    wait("printed", &|w| {
        w.global::<OfflineCodeAdapter>().get_step() == CardStep::TakeCard
    });
    assert!(ia(&h).get_card_on_reader());
    assert!(common::shown(&h, "请取走您的卡片") && common::shown(&h, "请取走您的身份证"));
    let code = scan_card(&spool, dir.path());
    assert!(code.starts_with("CK2."), "scanned {code:?}");
    let payload = civic_kiosk::api::offline_code::verify(&code, &bo.key).expect("signed");
    assert_eq!(payload.mn.as_deref(), Some("王*英"));
    assert_eq!(payload.mid, "310***********1231");
    sim.remove();
    wait("card taken", &|w| {
        !w.global::<IdentityAdapter>().get_card_on_reader()
    });
    assert!(!common::shown(&h, "请取走您的身份证"));

    // 我的办件: the card opened a resident session at the back office; the applications
    // come with their statuses.
    let sessions = || -> i64 {
        let db = rusqlite::Connection::open(dir.path().join("bo.sqlite")).unwrap();
        db.query_row("SELECT count(*) FROM resident_sessions", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(sessions(), 1, "one resident session, for this resident");
    click_label(&h, "继续办理");
    click_label(&h, "我的");
    wait("我的 ready", &|w| w.global::<MineAdapter>().get_ready());
    click_label(&h, "办件进度");
    wait("applications", &|w| {
        w.global::<MineAdapter>().get_step() == MineStep::List
    });
    let apps = h.window.global::<MineAdapter>().get_applications();
    assert_eq!(apps.row_count(), 5, "the demo resident's five applications");
    let statuses: Vec<ApplicationStatus> = apps.iter().map(|a| a.status).collect();
    for s in [
        ApplicationStatus::Accepted,
        ApplicationStatus::Reviewing,
        ApplicationStatus::NeedsCorrection,
        ApplicationStatus::Completed,
        ApplicationStatus::Delivered,
    ] {
        assert!(statuses.contains(&s), "{s:?} in {statuses:?}");
    }
    let correction = apps
        .iter()
        .find(|a| a.status == ApplicationStatus::NeedsCorrection)
        .unwrap();
    assert!(!correction.missing.is_empty());
    assert!(common::shown(&h, "需补正材料"));
    assert!(common::shown(
        &h,
        &format!("需补正：{}", correction.missing)
    ));

    // An expired ID card: the plain message; nobody identified, nothing printed.
    h.controller.wipe_session();
    assert_eq!(
        ia(&h).get_resident_name(),
        "",
        "the resident went with the session"
    );
    assert_eq!(
        h.window
            .global::<MineAdapter>()
            .get_applications()
            .row_count(),
        0,
        "nor their applications"
    );
    assert!(
        h.pump_until(Duration::from_secs(5), |_| sessions() == 0),
        "the resident session is ended at the back office"
    );
    sim.place(SimCard::expired());
    wait("expired", &|w| {
        w.global::<IdentityAdapter>().get_notice() == IdentityNotice::IdExpired
    });
    assert!(common::shown(&h, "身份证已过期，请到窗口办理"));
    assert_eq!(ia(&h).get_resident_name(), "");
    click_label(&h, "知道了");
    click_label(&h, "离线码打印");
    assert_eq!(o().get_step(), CardStep::Entry);
    assert!(!o().get_keypad(), "typing needs staff here");
    assert!(common::shown(&h, "请将身份证放在读卡器上"));
    h.pump_until(Duration::from_millis(800), |_| false);
    assert_eq!(common::pdfs(&spool).len(), 1, "nothing more printed");
    sim.remove();
    wait("expired card taken", &|w| {
        !w.global::<IdentityAdapter>().get_card_on_reader()
    });
    h.controller.wipe_session();

    // A keyboard-wedge scanner with the search box open: nothing is typed into it, and
    // the 随申码 identifies the resident.
    s().invoke_wake();
    click_label(&h, "搜索事项");
    assert_eq!(s().get_page(), Page::Search);
    // A person typing on a keyboard (one key every 200 ms) is no scan.
    for c in "SSM:DEMO:WANGXIUYING".chars() {
        h.window.window().dispatch_event(WindowEvent::KeyPressed {
            text: c.to_string().into(),
        });
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(200));
    }
    let enter: slint::SharedString = slint::platform::Key::Return.into();
    h.window
        .window()
        .dispatch_event(WindowEvent::KeyPressed { text: enter });
    h.pump_until(Duration::from_millis(300), |_| false);
    assert_eq!(ia(&h).get_notice(), IdentityNotice::None);
    assert_eq!(ia(&h).get_resident_name(), "");
    wedge(&h, "SSM:DEMO:WANGXIUYING");
    wait("code resolved", &|w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    assert_eq!(
        h.window.global::<CatalogAdapter>().get_query(),
        "",
        "the search box stays empty"
    );
    assert_eq!(
        s().get_page(),
        Page::Search,
        "the resident stays where they were"
    );
    click_label(&h, "首页");
    assert!(common::shown(&h, "王*英，您好（已识别随申码）"));

    // Unknown and expired codes get their messages.
    wedge(&h, "SSM:DEMO:NOBODY");
    wait("unknown code", &|w| {
        w.global::<IdentityAdapter>().get_notice() == IdentityNotice::CodeNotFound
    });
    assert!(common::shown(&h, "未找到此码对应的信息，请确认后重新扫描"));
    click_label(&h, "知道了");
    wedge(&h, "SSM:DEMO:EXPIRED");
    wait("expired code", &|w| {
        w.global::<IdentityAdapter>().get_notice() == IdentityNotice::CodeExpired
    });
    assert!(common::shown(&h, "此码已过期，请刷新随申码后重新扫描"));
    click_label(&h, "知道了");

    // The printed card, scanned: valid until its last day; after 挂失, void.
    wedge(&h, &code);
    wait("card checked", &|w| {
        let a = w.global::<IdentityAdapter>();
        a.get_check_step() != CheckStep::Checking && a.get_check_step() != CheckStep::None
    });
    assert_eq!(s().get_page(), Page::CardCheck);
    assert_eq!(ia(&h).get_check_step(), CheckStep::Valid);
    let until = payload.exp.format("%Y-%m-%d").to_string();
    assert!(common::shown(&h, &format!("有效期至 {until}")), "{until}");
    rt.block_on(client.report_lost(&civic_kiosk::api::ReportLostRequest {
        id_number: civic_kiosk::identity::IdNumber::parse(ID).unwrap(),
    }))
    .unwrap();
    click_label(&h, "完成");
    wedge(&h, &code);
    wait("void", &|w| {
        w.global::<IdentityAdapter>().get_check_step() == CheckStep::Voided
    });
    assert!(ia(&h).get_check_lost());
    assert!(common::shown(&h, "已挂失，已失效"));
    // A forged card (another key's signature) is no card of ours.
    let forged = {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        civic_kiosk::api::offline_code::sign(&payload, &key)
    };
    click_label(&h, "完成");
    wedge(&h, &forged);
    wait("forged", &|w| {
        w.global::<IdentityAdapter>().get_check_step() == CheckStep::Forged
    });
    assert!(common::shown(&h, "此卡无效：无法验证，请联系工作人员"));

    // No full name or number anywhere on disk: not in the log, not in the store.
    drop(devices);
    h.controller.wipe_session();
    log::logger().flush();
    let log_bytes = common::all_bytes(&logs);
    assert!(
        common::contains(&log_bytes, "ID card read"),
        "the log has the reads"
    );
    for secret in [NAME, ID] {
        assert!(!common::contains(&log_bytes, secret), "{secret} in the log");
    }
    let store_bytes = common::all_bytes(&dir.path().join("data"));
    assert!(!store_bytes.is_empty());
    for secret in [NAME, ID] {
        assert!(
            !common::contains(&store_bytes, secret),
            "{secret} in the store"
        );
    }
    assert!(
        sim.protocol_errors().is_empty(),
        "{:?}",
        sim.protocol_errors()
    );
}
