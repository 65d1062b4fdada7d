//! Headless UI test of the 好差评 flow (its own process: the Slint testing backend and the
//! logger are initialised once per process). The logger runs at trace level into a file,
//! and the callback number must not appear in it.

use crate::common::{self, click_label};

use slint::{ComponentHandle, Model};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::api::{Rating, RatingLevel};
use civic_kiosk::config::Config;
use civic_kiosk::logging::{self, LogSettings};
use civic_kiosk::store::Store;
use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;

const PHONE: &str = "13912345678";

/// Whether a button with this label is shown and enabled.
fn enabled(h: &Headless, label: &str) -> bool {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, label)
        .filter(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
        .any(|e| e.accessible_enabled() == Some(true))
}

/// In 长者模式 every button of the page lies inside the window (nothing clipped or pushed
/// off screen) and is at least the large touch target tall. `CIVIC_KIOSK_SHOTS=DIR` also
/// writes the screen as a PNG there, to look at.
fn check_large_layout(h: &Headless, name: &str) {
    let theme = h.window.global::<Theme>();
    theme.set_large(true);
    let target = theme.get_touch_target();
    let mut buttons = 0;
    for e in i_slint_backend_testing::ElementHandle::find_by_element_type_name(&h.window, "KButton")
    {
        let (p, s) = (e.absolute_position(), e.size());
        let label = e.accessible_label().unwrap_or_default();
        assert!(
            p.x >= 0.0 && p.y >= 0.0 && p.x + s.width <= 1080.5 && p.y + s.height <= 1920.5,
            "{name}: button {label:?} at {p:?} size {s:?} is off screen"
        );
        assert!(
            s.height + 0.5 >= target && s.width + 0.5 >= target,
            "{name}: button {label:?} is {s:?}, below the {target} px touch target"
        );
        buttons += 1;
    }
    assert!(buttons > 0, "{name}: no buttons found");
    if let Ok(dir) = std::env::var("CIVIC_KIOSK_SHOTS") {
        h.save_png(&std::path::Path::new(&dir).join(format!("{name}.png")))
            .unwrap();
    }
    theme.set_large(false);
}

fn stored_ratings(data: &std::path::Path) -> Vec<Rating> {
    let conn = rusqlite::Connection::open(data.join("kiosk.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT body FROM ratings ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| serde_json::from_str(&b.unwrap()).unwrap())
        .collect()
}

#[test]
fn rating_flow_headless() {
    // Sets the global logger and Slint's platform: in a process of its own.
    if !common::in_own_process("ui_rating::rating_flow_headless") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    assert!(logging::init(&LogSettings {
        dir: Some(logs.clone()),
        level: log::LevelFilter::Trace,
        max_file_bytes: 64 << 20,
        keep_files: 2,
        stderr: false,
    }));
    init_headless(true);

    let config_path = common::config_in(dir.path(), &common::shipped_config());
    let config: Arc<Config> = Arc::new(civic_kiosk::config::load(&config_path).unwrap());
    let data = config.data_dir();
    let store = Arc::new(Mutex::new(Store::open_in(&data).unwrap()));
    let catalog = Arc::new(civic_kiosk::catalog::Catalog::new(
        civic_contract::catalogue::demo().unwrap(),
    ));
    let h = Headless::with_options(
        config.clone(),
        HeadlessOptions {
            catalog: Some(catalog.clone()),
            store: Some(store.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let r = || h.window.global::<RatingAdapter>();
    let page = || h.window.global::<SessionAdapter>().get_page();

    // ---- from home: nothing is preselected, nothing can be submitted yet
    h.window.global::<SessionAdapter>().invoke_wake();
    click_label(&h, "好差评");
    assert_eq!(page(), Page::Rating);
    assert_eq!(r().get_level(), 0, "no level preselected");
    assert_eq!(r().get_step(), RatingStep::Level);
    assert_eq!(
        r().get_service_kind(),
        RatedService::Terminal,
        "from home, the terminal's service"
    );
    assert!(
        !enabled(&h, "提交评价"),
        "submit is disabled until a level is chosen"
    );
    click_label(&h, "首页");

    // ---- from an item: 1 star, a reason, a callback with consent
    let item = catalog
        .data
        .items
        .iter()
        .find(|i| i.name.contains("居住证"))
        .unwrap()
        .clone();
    h.controller.open_item(&item.code);
    click_label(&h, "评价此事项");
    assert_eq!(page(), Page::Rating);
    assert_eq!(r().get_service_kind(), RatedService::Item);
    assert_eq!(r().get_service_name(), item.name.as_str());
    assert_eq!(r().get_level(), 0, "no level preselected");
    assert!(
        r().get_reasons().iter().all(|t| !t.chosen),
        "no reason preselected"
    );
    assert!(!r().get_callback(), "no callback preselected");

    check_large_layout(&h, "rating-levels");
    click_label(&h, "非常不满意");
    assert_eq!(r().get_level(), 1);
    click_label(&h, "下一步");
    assert_eq!(
        r().get_step(),
        RatingStep::Reasons,
        "a 差评 asks for reasons"
    );
    let offered: Vec<String> = r()
        .get_reasons()
        .iter()
        .map(|t| t.text.to_string())
        .collect();
    assert_eq!(
        offered, config.ratings.reasons,
        "reason tags come from the config"
    );
    // No reason chosen: refused with its message, nothing stored.
    click_label(&h, "提交评价");
    assert_eq!(r().get_error(), RatingError::NoReason);
    assert_eq!(r().get_step(), RatingStep::Reasons);
    assert!(stored_ratings(&data).is_empty());

    click_label(&h, "等候时间长");
    assert!(
        r().get_reasons()
            .iter()
            .any(|t| t.text == "等候时间长" && t.chosen)
    );
    click_label(&h, "需要工作人员回访我");
    assert!(r().get_callback());
    check_large_layout(&h, "rating-reasons");
    click_label(&h, "下一步");
    assert_eq!(
        r().get_step(),
        RatingStep::Phone,
        "consent given: the number"
    );
    check_large_layout(&h, "rating-phone");
    assert!(!enabled(&h, "提交评价"), "not before 11 digits");
    // The phone keypad has no X.
    click_label(&h, "1");
    assert!(!enabled(&h, "X"));
    for d in PHONE.chars().skip(1) {
        click_label(&h, &d.to_string());
    }
    assert_eq!(r().get_phone_entry(), PHONE);
    click_label(&h, "9"); // a 12th digit is not taken
    assert_eq!(r().get_phone_entry(), PHONE);
    click_label(&h, "提交评价");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| matches!(
            w.global::<RatingAdapter>().get_step(),
            RatingStep::Thanks | RatingStep::AlreadyRated | RatingStep::NotSaved
        )),
        "step {:?}",
        r().get_step()
    );
    assert_eq!(r().get_step(), RatingStep::Thanks, "thank-you screen");

    // ---- the stored rating carries what the resident chose
    let stored = stored_ratings(&data);
    assert_eq!(stored.len(), 1);
    let rating = &stored[0];
    assert_eq!(rating.level, RatingLevel::VeryDissatisfied);
    assert_eq!(rating.item_code, item.code);
    assert_eq!(rating.terminal_id, config.terminal.id);
    assert_eq!(rating.reasons, vec!["等候时间长".to_string()]);
    let cb = rating.callback.as_ref().expect("callback stored");
    assert!(cb.consent);
    assert_eq!(cb.phone.expose_phone_number(), PHONE);
    assert_eq!(rating.id.get_version_num(), 7);
    let counts = civic_kiosk::ratings::counts(&store.lock().unwrap()).unwrap();
    assert_eq!(counts.pending, 1, "in the outbox, waiting for upload");

    // ---- one rating per service session
    click_label(&h, "返回首页");
    h.controller.open_item(&item.code);
    click_label(&h, "评价此事项");
    assert_eq!(
        r().get_step(),
        RatingStep::AlreadyRated,
        "already rated in this session"
    );
    assert_eq!(stored_ratings(&data).len(), 1);

    // ---- a good rating: no reasons, stored at once
    click_label(&h, "首页");
    click_label(&h, "好差评");
    assert_eq!(r().get_level(), 0);
    click_label(&h, "满意");
    click_label(&h, "提交评价");
    assert!(h.pump_until(
        Duration::from_secs(10),
        |w| w.global::<RatingAdapter>().get_step() == RatingStep::Thanks
    ));
    let stored = stored_ratings(&data);
    assert_eq!(stored.len(), 2);
    let good = stored
        .iter()
        .find(|s| s.level == RatingLevel::Satisfied)
        .unwrap();
    assert!(good.reasons.is_empty() && good.callback.is_none());
    assert_eq!(good.item_code, civic_kiosk::ratings::TERMINAL_SERVICE);

    // ---- a session wipe forgets the draft and the "already rated" marks
    h.controller.wipe_session();
    assert_eq!(page(), Page::Attract);
    assert_eq!(r().get_level(), 0);
    assert_eq!(r().get_phone_entry(), "");

    // ---- the number never reached the log, though the log ran at trace
    log::logger().flush();
    let mut text = String::new();
    for e in std::fs::read_dir(&logs).unwrap() {
        text.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
    }
    assert!(
        text.contains("callback requested"),
        "the trace log captured the rating flow"
    );
    assert!(!text.contains(PHONE), "the callback number is in the log");
    assert!(
        !text.contains(&PHONE[3..]),
        "part of the callback number is in the log"
    );
}
