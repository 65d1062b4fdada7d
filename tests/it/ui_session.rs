//! One whole resident session, headless, then the idle timeout: afterwards every public
//! property of every Slint global (listed by build.rs from the .slint sources with Slint's
//! compiler, not by hand) equals its value at a fresh start, and no value the resident
//! typed or was shown is left anywhere in them.

use crate::common;

use slint::ComponentHandle;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::catalog::Catalog;
use civic_kiosk::pin::{self, Holder, StaffId};
use civic_kiosk::store::Store;
use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::walk::global_properties;
use civic_kiosk::ui::*;
use common::click_label;

const ID: &str = "310105195001011231";
const PHONE: &str = "13912345678";
const STAFF: &str = "S1024";
const STAFF_PIN: &str = "480213";
const QUERY: &str = "jzz";

fn wait(h: &Headless, what: &str, done: impl Fn(&MainWindow) -> bool) {
    assert!(h.pump_until(Duration::from_secs(10), done), "{what}");
}

/// Properties that belong to the terminal, not to a resident: they may change while a
/// session runs, whoever stands there. Each is checked for what it may hold instead.
fn terminal_state(name: &str, value: &str) -> bool {
    match name {
        // The status bar's clock (HH:MM, local time).
        "StatusAdapter.clock" => {
            let v = value.trim_matches('"');
            v.len() == 5 && v.as_bytes()[2] == b':'
        }
        _ => false,
    }
}

#[test]
fn after_the_idle_timeout_every_global_property_is_as_at_a_fresh_start() {
    // Slint's platform belongs to one thread of a process: a process of its own.
    if !common::in_own_process(
        "ui_session::after_the_idle_timeout_every_global_property_is_as_at_a_fresh_start",
    ) {
        return;
    }
    init_headless(true);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::shipped_config_value();
    // The card printer is out of paper: the resident's card is held when they leave.
    let counter = common::paper_out_counter(dir.path(), &mut cfg);
    let (bo, sim) = (&counter.bo, counter.sim.clone());
    let idle = Duration::from_secs(cfg.display.idle_timeout_s as u64);
    let client = bo.client(&cfg.backoffice.token);
    let store = Arc::new(Mutex::new(
        Store::open_in(&dir.path().join("data")).unwrap(),
    ));
    let staff = StaffId::parse(STAFF).unwrap();
    pin::set(&store, &Holder::Staff(staff), STAFF_PIN, "test", None).unwrap();
    let h = Headless::with_options(
        Arc::new(cfg),
        HeadlessOptions {
            catalog: Some(Arc::new(Catalog::new(
                civic_contract::catalogue::demo().unwrap(),
            ))),
            client: Some(client),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    h.pump_until(Duration::from_millis(200), |_| false);
    let fresh = global_properties(&h.window);
    assert!(fresh.len() >= 70, "{} properties", fresh.len());

    // ---- the session: 帮办 signs in, the resident searches, browses 法人 items, asks for a
    // card (held: no paper), rates with a 差评 and a callback number, picks 长者模式 and
    // English.
    let s = || h.window.global::<SessionAdapter>();
    s().invoke_wake();
    s().invoke_hidden_gesture();
    for d in STAFF_PIN.chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "确认");
    wait(&h, "staff signed in", |w| {
        w.global::<SessionAdapter>().get_staff() == STAFF
    });

    click_label(&h, "搜索事项");
    for k in QUERY.chars() {
        click_label(&h, &k.to_string());
    }
    wait(&h, "search results", |w| {
        slint::Model::row_count(&w.global::<CatalogAdapter>().get_results()) > 0
    });
    click_label(&h, "首页");

    // 办事指南 for a company: 法人 and its first theme.
    click_label(&h, "办事指南");
    click_label(&h, "法人办事");
    wait(&h, "法人 themes", |w| {
        w.global::<CatalogAdapter>().get_audience() == Audience::Legal
    });
    click_label(&h, "首页");

    click_label(&h, "离线码打印");
    for d in ID.chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    wait(&h, "masked-name confirmation", |w| {
        w.global::<OfflineCodeAdapter>().get_step() == CardStep::Confirm
    });
    let masked_name = h.window.global::<OfflineCodeAdapter>().get_masked_name();
    assert!(!masked_name.is_empty());
    click_label(&h, "是本人，打印卡片");
    wait(&h, "card held: no paper", |w| {
        w.global::<OfflineCodeAdapter>().get_held()
    });
    click_label(&h, "首页");

    click_label(&h, "好差评");
    click_label(&h, "非常不满意");
    click_label(&h, "下一步");
    click_label(&h, "等候时间长");
    click_label(&h, "需要工作人员回访我");
    click_label(&h, "下一步");
    for d in PHONE.chars() {
        click_label(&h, &d.to_string());
    }
    assert_eq!(h.window.global::<RatingAdapter>().get_phone_entry(), PHONE);
    click_label(&h, "提交评价");
    wait(&h, "rating stored", |w| {
        w.global::<RatingAdapter>().get_step() == RatingStep::Thanks
    });
    click_label(&h, "返回首页");

    // 我的: a scanned 随申码 identifies the resident; their applications, a 快办 form
    // half filled (a telephone number typed), a certificate chosen; then they walk away.
    common::wedge(&h, "SSM:DEMO:WANGXIUYING");
    wait(&h, "code resolved", |w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    click_label(&h, "我的");
    wait(&h, "我的 ready", |w| {
        w.global::<MineAdapter>().get_ready()
    });
    click_label(&h, "办件进度");
    wait(&h, "applications", |w| {
        slint::Model::row_count(&w.global::<MineAdapter>().get_applications()) > 0
    });
    let case_no = slint::Model::row_data(&h.window.global::<MineAdapter>().get_applications(), 0)
        .unwrap()
        .case_no
        .to_string();
    click_label(&h, "返回我的");
    click_label(&h, "快办服务");
    wait(&h, "快办 items", |w| {
        w.global::<QuickAdapter>().get_step() == QuickStep::List
    });
    click_label(&h, "老年综合津贴申请");
    click_label(&h, "开始填写");
    h.window.global::<QuickAdapter>().invoke_choose(0);
    click_label(&h, "下一项");
    for d in "4321".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一项");
    for d in PHONE.chars() {
        click_label(&h, &d.to_string());
    }
    assert_eq!(h.window.global::<QuickAdapter>().get_field_value(), PHONE);
    click_label(&h, "首页");
    click_label(&h, "我的");
    click_label(&h, "证明打印");
    click_label(&h, "社会保险个人缴费记录");
    click_label(&h, "近36个月");
    assert!(h.window.global::<CertificateAdapter>().get_ready());
    s().invoke_toggle_large();
    s().invoke_toggle_language();
    assert!(s().get_english());

    // Something the resident did shows in the globals now (the walk sees it).
    let during = global_properties(&h.window);
    assert_ne!(
        fresh, during,
        "the session changed nothing the walk can see"
    );

    // ---- nobody touches anything: the timeout, then the countdown.
    i_slint_backend_testing::mock_elapsed_time(idle + Duration::from_secs(11));
    h.pump_until(Duration::from_millis(100), |_| false);
    assert_eq!(s().get_page(), Page::Attract, "the session ended");

    let after = global_properties(&h.window);
    assert_eq!(
        fresh.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        after.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    let changed: Vec<String> = fresh
        .iter()
        .zip(&after)
        .filter(|((name, a), (_, b))| a != b && !terminal_state(name, b))
        .map(|((name, a), (_, b))| format!("{name}: {a} at a fresh start, {b} after the session"))
        .collect();
    assert!(changed.is_empty(), "left over:\n{}", changed.join("\n"));
    let masked_id = format!("{}***********{}", &ID[..3], &ID[14..]);
    for (name, value) in &after {
        for secret in [
            ID,
            masked_id.as_str(),
            PHONE,
            STAFF,
            masked_name.as_str(),
            "王*英",
            case_no.as_str(),
            "老年综合津贴申请",
        ] {
            assert!(
                !value.contains(secret),
                "{name} still holds {secret:?}: {value}"
            );
        }
    }
    // Nor in the core: its session is a fresh start, and nothing of the resident's is in
    // what it holds (while the session ran, it was).
    assert!(
        h.controller.session_is_fresh(),
        "{}",
        h.controller.core_state()
    );
    let core = h.controller.core_state();
    for secret in [
        ID,
        masked_id.as_str(),
        PHONE,
        STAFF,
        masked_name.as_str(),
        QUERY,
        "王*英",
        case_no.as_str(),
    ] {
        assert!(
            !core.contains(secret),
            "the core still holds {secret:?}: {core}"
        );
    }
    // The held card was cancelled when the session ended, and never printed.
    std::thread::sleep(Duration::from_millis(300));
    h.pump_until(Duration::from_millis(100), |_| false);
    assert!(sim.lock().unwrap().jobs.is_empty(), "nothing printed");
}
