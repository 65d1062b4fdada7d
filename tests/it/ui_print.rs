//! Headless UI walk of the 离线码 flow with the card printer out of paper: the resident
//! sees the held message, the card prints when paper is back; when the session is wiped
//! while the card is held, the job is cancelled, nothing prints, and it is audited. Its
//! own binary: the Slint testing backend is initialised once per process.

use crate::common::{self, click_label};

use slint::ComponentHandle;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;
use common::OK;

fn confirm_name(h: &Headless, id: &str) {
    click_label(h, "离线码打印");
    for d in id.chars() {
        click_label(h, &d.to_string());
    }
    click_label(h, "下一步");
    assert!(
        h.pump_until(Duration::from_secs(5), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::Confirm),
        "masked-name confirmation"
    );
}

/// As after the resident's ID card was read: 补办 and 挂失 need a card, not a number typed.
fn confirm_by_card(h: &Headless, id: &str) {
    h.controller.send(civic_kiosk::flow::Event::Identity(
        civic_kiosk::flow::IdentityEvent::CardRead(civic_kiosk::flow::CardRead {
            id: civic_kiosk::identity::IdNumber::parse(id).unwrap(),
            name: civic_kiosk::identity::PersonName::new("王秀英"),
            valid_until: None,
        }),
    ));
    click_label(h, "离线码打印");
    assert!(
        h.pump_until(Duration::from_secs(5), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::Confirm),
        "masked-name confirmation"
    );
    assert!(h.window.global::<OfflineCodeAdapter>().get_by_card());
}

fn start_card(h: &Headless, id: &str) {
    confirm_name(h, id);
    click_label(h, "是本人，打印卡片");
}

#[test]
fn held_card_shows_the_message_prints_on_recovery_and_is_cancelled_by_a_wipe() {
    // Slint's platform belongs to one thread of a process: a process of its own.
    if !common::in_own_process(
        "ui_print::held_card_shows_the_message_prints_on_recovery_and_is_cancelled_by_a_wipe",
    ) {
        return;
    }
    init_headless(true);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::shipped_config_value();
    // The card printer: scripted ESC/POS on TCP, out of paper.
    let counter = common::paper_out_counter(dir.path(), &mut cfg);
    let (bo, sim) = (&counter.bo, counter.sim.clone());
    let client = bo.client(&cfg.backoffice.token);
    let store = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap(),
    ));
    let h = Headless::with_options(
        Arc::new(cfg),
        HeadlessOptions {
            client: Some(client),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    h.window.global::<SessionAdapter>().invoke_wake();
    let o = || h.window.global::<OfflineCodeAdapter>();

    // Paper out: the card waits, and the resident is told plainly.
    start_card(&h, "310105195001011231");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<OfflineCodeAdapter>()
            .get_held()),
        "step {:?} failure {:?}",
        o().get_step(),
        o().get_failure()
    );
    assert!(
        common::shown(&h, "打印机缺纸，请联系工作人员"),
        "held message on screen"
    );
    assert_eq!(
        o().get_step(),
        CardStep::Printing,
        "still printing, not failed"
    );
    assert!(sim.lock().unwrap().jobs.is_empty(), "nothing printed yet");

    // Paper is back: the card prints, and the page says so.
    sim.lock().unwrap().dle = [OK, OK, OK];
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::TakeCard),
        "step {:?} failure {:?}",
        o().get_step(),
        o().get_failure()
    );
    assert!(!o().get_held());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sim.lock().unwrap().jobs.len(), 1, "one card printed");

    // Paper out again; another resident's card is held; the session is wiped (the
    // resident left): the job is cancelled, never prints, and the audit says so.
    click_label(&h, "继续办理");
    sim.lock().unwrap().dle = [OK, OK | 0x20, OK | 0x60];
    start_card(&h, "310105195209043689");
    assert!(h.pump_until(Duration::from_secs(10), |w| {
        w.global::<OfflineCodeAdapter>().get_held()
    }));
    h.controller.wipe_session();
    assert_eq!(
        h.window.global::<SessionAdapter>().get_page(),
        Page::Attract
    );
    let audited = |result: &str| {
        store
            .lock()
            .unwrap()
            .audit_tail(10)
            .unwrap()
            .iter()
            .any(|a| a.kind == "offline_code_issued" && a.detail.ends_with(result))
    };
    // Nobody holds the card that never printed: voided at the back office.
    assert!(
        h.pump_until(Duration::from_secs(10), |_| audited(": voided")),
        "{:?}",
        store.lock().unwrap().audit_tail(10)
    );
    // Paper back: still nothing prints for the person who has gone, and the next
    // resident sees no trace of the last one.
    sim.lock().unwrap().dle = [OK, OK, OK];
    std::thread::sleep(Duration::from_millis(2500));
    h.pump_until(Duration::from_millis(200), |_| false);
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        1,
        "the cancelled card never printed"
    );
    assert_eq!(o().get_step(), CardStep::Entry);
    assert!(!o().get_held());
    assert_eq!(o().get_masked_name(), "");
    let audit = store.lock().unwrap().audit_tail(10).unwrap();
    assert!(
        audit
            .iter()
            .all(|a| !a.detail.contains("310105195209043689")),
        "no full ID in the audit"
    );

    // 补办: the first resident has a valid card, so the choices are reissue or report
    // lost (no second ordinary card today). Reissue prints a new card and audits it.
    h.window.global::<SessionAdapter>().invoke_wake();
    confirm_by_card(&h, "310105195001011231");
    assert!(
        o().get_has_card(),
        "the back office knows the card printed above"
    );
    assert!(!common::shown(&h, "是本人，打印卡片") && common::shown(&h, "挂失旧卡"));
    click_label(&h, "补办新卡（旧卡作废）");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::TakeCard),
        "step {:?} failure {:?} {:?}",
        o().get_step(),
        o().get_failure(),
        o().get_reason()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        2,
        "the reissued card printed"
    );
    let audit = store.lock().unwrap().audit_tail(10).unwrap();
    assert!(
        audit.iter().any(|a| a.detail.contains("card C")
            && a.detail.ends_with("printed (reissue)")
            && !a.detail.contains("***")),
        "{audit:?}"
    );

    // 挂失: the new card is reported lost; the back office voids it, the audit says so.
    click_label(&h, "继续办理");
    confirm_by_card(&h, "310105195001011231");
    assert!(o().get_has_card());
    click_label(&h, "挂失旧卡");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::ReportedLost),
        "step {:?} failure {:?} {:?}",
        o().get_step(),
        o().get_failure(),
        o().get_reason()
    );
    assert!(common::shown(&h, "挂失成功，旧卡已作废"));
    let audit = store.lock().unwrap().audit_tail(10).unwrap();
    assert!(
        audit.iter().any(|a| a.kind == "offline_code_reported_lost"
            && a.detail.ends_with(": reported lost")
            && !a.detail.contains("***")
            && !a.detail.contains("310105195001011231")),
        "{audit:?}"
    );
    assert_eq!(
        sim.lock().unwrap().jobs.len(),
        2,
        "reporting lost prints nothing"
    );
    // With no valid card left, the next lookup (the card still identifies the resident
    // in this session: nothing to type) offers an ordinary card again.
    click_label(&h, "完成");
    click_label(&h, "离线码打印");
    assert!(h.pump_until(
        Duration::from_secs(5),
        |w| w.global::<OfflineCodeAdapter>().get_step() == CardStep::Confirm
    ));
    assert!(!o().get_has_card());
    assert!(common::shown(&h, "是本人，打印卡片"));
}

/// The status bar's printer state, as shown.
fn status_bar_says(h: &Headless, ready: bool) -> bool {
    h.window.global::<StatusAdapter>().get_printer_ready() == ready
        && common::shown(
            h,
            if ready {
                "打印机就绪"
            } else {
                "打印机暂停"
            },
        )
}

#[test]
fn the_status_bar_shows_the_card_printer_not_ready_while_it_is_out_of_paper() {
    if !common::in_own_process(
        "ui_print::the_status_bar_shows_the_card_printer_not_ready_while_it_is_out_of_paper",
    ) {
        return;
    }
    init_headless(true);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::shipped_config_value();
    // Reachable (it accepts connections) and out of paper: not ready.
    let counter = common::paper_out_counter(dir.path(), &mut cfg);
    let client = counter.bo.client(&cfg.backoffice.token);
    let h = Headless::with_options(
        Arc::new(cfg),
        HeadlessOptions {
            client: Some(client.clone()),
            trusted_key: Some(counter.bo.key),
            ..Default::default()
        },
    )
    .unwrap();
    // Home shows the status bar.
    h.window.global::<SessionAdapter>().invoke_wake();
    h.spawn_health(Some(client), Duration::from_millis(200));
    assert!(
        h.pump_until(Duration::from_secs(10), |_| status_bar_says(&h, false)),
        "the status bar says 打印机暂停 while paper is out: ready {}",
        h.window.global::<StatusAdapter>().get_printer_ready()
    );
    counter.sim.lock().unwrap().dle = [OK, OK, OK];
    assert!(
        h.pump_until(Duration::from_secs(10), |_| status_bar_says(&h, true)),
        "and 打印机就绪 once paper is back"
    );
}

#[test]
fn a_card_printer_without_the_card_size_pauses_as_unsupported_not_paper_out() {
    let test = "ui_print::a_card_printer_without_the_card_size_pauses_as_unsupported_not_paper_out";
    if !common::in_own_process(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(printer) = common::IppEve::start(test, dir.path(), &["-f", "application/pdf"]) else {
        return;
    };
    init_headless(true);
    let mut cfg = common::shipped_config_value();
    let counter = common::paper_out_counter(dir.path(), &mut cfg);
    // The card printer: a stock IPP Everywhere printer, ready, listing no card size.
    cfg.printers.card.uri = printer.uri();
    let client = counter.bo.client(&cfg.backoffice.token);
    let h = Headless::with_options(
        Arc::new(cfg),
        HeadlessOptions {
            client: Some(client.clone()),
            trusted_key: Some(counter.bo.key),
            ..Default::default()
        },
    )
    .unwrap();
    h.window.global::<SessionAdapter>().invoke_wake();
    // The resident started before the terminal noticed: the job is held, and says why.
    start_card(&h, "310105195001011231");
    let o = || h.window.global::<OfflineCodeAdapter>();
    assert!(
        h.pump_until(Duration::from_secs(10), |w| w
            .global::<OfflineCodeAdapter>()
            .get_held_unsupported()),
        "step {:?} failure {:?}",
        o().get_step(),
        o().get_failure()
    );
    assert!(common::shown(&h, "暂停：打印机不支持，请联系工作人员"));
    assert!(
        !common::shown(&h, "打印机缺纸，请联系工作人员") && !o().get_held(),
        "never paper out"
    );
    assert_eq!(o().get_step(), CardStep::Printing, "held, not failed");
    assert!(
        !printer.log_text().contains("operation-id=Print-Job"),
        "nothing submitted"
    );
    // The status bar and the home tile say it too, and not as paper.
    h.spawn_health(Some(client), Duration::from_millis(200));
    assert!(
        h.pump_until(Duration::from_secs(10), |_| status_bar_says(&h, false)),
        "the status bar says 打印机暂停 for a card printer that cannot print cards: ready {}",
        h.window.global::<StatusAdapter>().get_printer_ready()
    );
    h.window.global::<SessionAdapter>().invoke_go(Page::Home);
    assert!(
        h.pump_until(Duration::from_secs(5), |_| common::shown(
            &h,
            "暂停：打印机不支持"
        )),
        "the home tile says 暂停：打印机不支持"
    );
    assert!(!common::shown(&h, "暂停：打印机缺纸或故障"));
}
