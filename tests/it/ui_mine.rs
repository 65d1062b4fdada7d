//! 我的 at the headless touch screen, as a resident walks it: the ID card on the simulated
//! reader (`gat467-sim` on a pty), the reference back office in process (here losing the
//! first reply of the 快办 submission), A4 documents to `pdf://`, and the ratings of each
//! 办件 in the local store. Then the faults: the back office down, the document printer
//! out of paper (a scripted ESC/POS printer).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::ui::snapshot::{Headless, HeadlessOptions, init_headless};
use civic_kiosk::ui::*;
use gat467_sim::{Sim, SimCard};
use slint::{ComponentHandle, Model};

use crate::common::{self, OK, click_label};

const ID: &str = "310105195001011231";
const PHONE: &str = "13800138000";
const QUICK_PATH: &str = "/api/v1/residents/me/quick-items/senior-allowance";

/// Whether a button labelled `label` is on screen and can be tapped (a button says
/// whether it is enabled; the text inside it does not).
fn enabled(h: &Headless, label: &str) -> bool {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, label)
        .any(|e| e.accessible_enabled() == Some(true))
}

fn page(h: &Headless) -> Page {
    h.window.global::<SessionAdapter>().get_page()
}

fn wait(h: &Headless, what: &str, done: &dyn Fn(&MainWindow) -> bool) {
    assert!(
        h.pump_until(Duration::from_secs(15), done),
        "{what}: page {:?}, quick {:?} ({:?}), certificate {:?}, finish {:?}, rating {:?}",
        page(h),
        h.window.global::<QuickAdapter>().get_step(),
        h.window.global::<QuickAdapter>().get_failure(),
        h.window.global::<CertificateAdapter>().get_step(),
        h.window.global::<FinishAdapter>().get_step(),
        h.window.global::<RatingAdapter>().get_step(),
    );
}

fn pdftotext(pdf: &Path) -> String {
    let out = std::process::Command::new(common::tool("pdftotext", "poppler-utils"))
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rates the 办件 the end of a task opened (by itself) with 非常满意; returns to the choice.
fn rate_case(h: &Headless, case_no: &str) {
    // The result holds, then the rating opens by itself.
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(9));
    wait(h, "the rating opens by itself", &|w| {
        w.global::<SessionAdapter>().get_page() == Page::Rating
    });
    let r = h.window.global::<RatingAdapter>();
    assert_eq!(r.get_service_kind(), RatedService::Case);
    assert_eq!(r.get_case_no(), case_no);
    assert_eq!(r.get_level(), 0, "nothing preselected");
    assert!(common::shown(h, "跳过评价"), "the rating may be skipped");
    click_label(h, "非常满意");
    click_label(h, "提交评价");
    wait(h, "rating saved", &|w| {
        w.global::<RatingAdapter>().get_step() == RatingStep::Thanks
    });
    click_label(h, "下一步");
    wait(h, "the choice", &|w| {
        w.global::<FinishAdapter>().get_step() == FinishStep::Choice
    });
}

/// The ratings of `case_no` in the local store, as stored (JSON).
fn stored_ratings(store: &Arc<Mutex<civic_kiosk::store::Store>>, case_no: &str) -> Vec<String> {
    let path = store.lock().unwrap().path().to_path_buf();
    let db = rusqlite::Connection::open(path).unwrap();
    let mut q = db
        .prepare("SELECT body FROM ratings WHERE case_number = ?1")
        .unwrap();
    q.query_map([case_no], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

#[test]
fn a_resident_prints_a_certificate_submits_a_quick_item_and_rates_each_case() {
    if !common::in_own_process(
        "ui_mine::a_resident_prints_a_certificate_submits_a_quick_item_and_rates_each_case",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    common::log_everything_to(&logs);
    init_headless(true);
    let rt = common::runtime();
    let mut cfg = common::shipped_config_value();
    let bo_db = dir.path().join("bo.sqlite");
    // The back office loses exactly the first reply of the 快办 submission.
    let bo = rt.block_on(common::start_backoffice_with(
        &bo_db,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
        |o| {
            o.faults.lose_reply_first = 1;
            o.faults.fault_path = Some(QUICK_PATH.into());
        },
    ));
    let sim = Sim::start(None).unwrap();
    let docs = dir.path().join("docs");
    cfg.identity.reader = sim.url();
    cfg.printers.document.uri = format!("pdf://{}", docs.display());
    cfg.printers.card.uri = format!("pdf://{}", dir.path().join("cards").display());
    cfg.storage.data_dir = dir.path().join("data");
    cfg.storage.runtime_dir = dir.path().join("run");
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let store = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&cfg.data_dir()).unwrap(),
    ));
    let (_devices, identity) = civic_kiosk::devices::Devices::start(&cfg, rt.handle());
    let client = bo.client(&cfg.backoffice.token);
    let h = Headless::with_options(
        Arc::new(cfg.clone()),
        HeadlessOptions {
            client: Some(client.clone()),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            identity,
            ..Default::default()
        },
    )
    .unwrap();
    let bo_count = |sql: &str| -> i64 {
        let db = rusqlite::Connection::open(&bo_db).unwrap();
        db.query_row(sql, [ID], |r| r.get(0)).unwrap()
    };
    let apps_before = bo_count("SELECT count(*) FROM applications WHERE id_number = ?1");

    // The card wakes the terminal; 我的 opens once the resident session is open.
    sim.place(SimCard::demo());
    wait(&h, "card read", &|w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    click_label(&h, "我的");
    wait(&h, "我的 ready", &|w| {
        w.global::<MineAdapter>().get_ready()
    });
    assert_eq!(page(&h), Page::Mine);

    // ---- 办件进度: the demo resident's applications with their statuses.
    click_label(&h, "办件进度");
    wait(&h, "applications", &|w| {
        w.global::<MineAdapter>().get_step() == MineStep::List
    });
    let apps = h.window.global::<MineAdapter>().get_applications();
    assert_eq!(apps.row_count() as i64, apps_before);
    assert!(common::shown(&h, "需补正材料") && common::shown(&h, "已办结"));
    click_label(&h, "返回我的");

    // ---- 证明打印: 社保缴费记录, 12 months, by touch only.
    click_label(&h, "证明打印");
    assert!(!enabled(&h, "打印证明"), "nothing preselected");
    click_label(&h, "社会保险个人缴费记录");
    click_label(&h, "近12个月");
    click_label(&h, "打印证明");
    wait(&h, "certificate printed", &|w| {
        w.global::<FinishAdapter>().get_step() == FinishStep::Result
    });
    assert_eq!(page(&h), Page::Done);
    assert!(common::shown(&h, "请取走您的证明"));
    let cert_case = h.window.global::<FinishAdapter>().get_case_no().to_string();
    assert!(cert_case.starts_with("CN310105-"), "{cert_case}");
    let printed = common::pdfs(&docs);
    assert_eq!(printed.len(), 1, "one certificate: {printed:?}");
    // Its QR carries the verification code; the back office confirms what it says.
    let code = common::scan_pdf_qr(&printed[0], dir.path(), 200);
    assert!(code.starts_with("DV1."), "scanned {code:?}");
    let check = rt.block_on(client.verify_document(&code)).unwrap();
    assert_eq!(check.status, "valid");
    let c = check.certificate;
    assert_eq!(c.case_no, cert_case);
    assert_eq!(c.rows.len(), 12);
    let text = pdftotext(&printed[0]);
    for row in &c.rows {
        assert!(text.contains(&row.month), "month {} printed", row.month);
        for a in &row.amounts_fen {
            let y = civic_kiosk::api::yuan(*a);
            assert!(text.contains(&y), "{} of {} printed", y, row.month);
        }
    }
    for t in &c.totals_fen {
        assert!(text.contains(&civic_kiosk::api::yuan(*t)));
    }
    assert!(
        text.contains("王*英") && !text.contains(ID),
        "masked holder only"
    );
    // A tampered code is refused.
    let mut bad: Vec<char> = code.chars().collect();
    let at = bad.len() - 3;
    bad[at] = if bad[at] == 'A' { 'B' } else { 'A' };
    let bad: String = bad.into_iter().collect();
    let refused = rt.block_on(client.verify_document(&bad)).unwrap_err();
    assert!(
        refused.code_is(civic_kiosk::api::limits::codes::DOCUMENT_TAMPERED),
        "{refused:?}"
    );
    rate_case(&h, &cert_case);
    let r = stored_ratings(&store, &cert_case);
    assert_eq!(r.len(), 1, "the certificate's rating carries its 办件编号");
    assert!(r[0].contains("certificate-social-insurance"), "{}", r[0]);
    click_label(&h, "继续办理");
    assert_eq!(page(&h), Page::Mine);

    // ---- 快办: 老年综合津贴申请, prefilled; three fields left, by keys and buttons.
    click_label(&h, "快办服务");
    wait(&h, "quick items", &|w| {
        w.global::<QuickAdapter>().get_step() == QuickStep::List
    });
    click_label(&h, "老年综合津贴申请");
    assert!(common::shown(&h, "以下信息已自动获取，无需填写"));
    assert!(common::shown(&h, "✓ 已自动获取（免于提交）"));
    click_label(&h, "开始填写");
    let q = || h.window.global::<QuickAdapter>();
    assert_eq!(q().get_field_type(), FieldType::Choice);
    // 下一项 with nothing chosen: said beside the field.
    click_label(&h, "下一项");
    assert_eq!(q().get_field_error(), "请填写此项");
    let bank = q().get_options().row_data(0).unwrap();
    click_label(&h, &bank);
    assert_eq!(q().get_chosen(), 0);
    click_label(&h, "下一项");
    assert_eq!(q().get_field_type(), FieldType::Digits);
    for d in "4321".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一项");
    assert_eq!(q().get_field_type(), FieldType::Mobile);
    for d in "2380013".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步：核对");
    assert_eq!(q().get_field_error(), "请填写11位手机号码，以1开头");
    assert!(common::shown(&h, "！请填写11位手机号码，以1开头"));
    click_label(&h, "清空 Clear");
    for d in PHONE.chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步：核对");
    assert_eq!(q().get_step(), QuickStep::Confirm);
    let rows: Vec<String> = q()
        .get_confirm_rows()
        .iter()
        .map(|r| r.value.to_string())
        .collect();
    assert_eq!(rows, vec![bank.to_string(), "4321".into(), PHONE.into()]);
    // Submitted while the back office loses the first reply: the terminal asks again
    // with the same submission id and gets the one application filed.
    click_label(&h, "确认提交");
    wait(&h, "quick submitted and its receipt printed", &|w| {
        w.global::<FinishAdapter>().get_step() == FinishStep::Result
    });
    assert!(common::shown(&h, "请取走您的回执"));
    let quick_case = h.window.global::<FinishAdapter>().get_case_no().to_string();
    assert_eq!(
        bo_count("SELECT count(*) FROM applications WHERE id_number = ?1"),
        apps_before + 1,
        "exactly one application filed"
    );
    assert_eq!(
        bo_count("SELECT count(*) FROM submissions WHERE id_number = ?1"),
        1
    );
    let printed = common::pdfs(&docs);
    assert_eq!(printed.len(), 2, "the receipt: {printed:?}");
    let receipt = pdftotext(&printed[1]);
    assert!(receipt.contains(&quick_case), "{receipt}");
    rate_case(&h, &quick_case);
    let r = stored_ratings(&store, &quick_case);
    assert_eq!(r.len(), 1);
    let rating: civic_kiosk::api::Rating = serde_json::from_str(&r[0]).unwrap();
    assert_eq!(rating.case_number.as_deref(), Some(quick_case.as_str()));
    // One 办件, one rating: the back office takes this one and refuses a second.
    let batch = |r: civic_kiosk::api::Rating| civic_kiosk::api::RatingBatch { ratings: vec![r] };
    let first = rt
        .block_on(client.upload_ratings(&batch(rating.clone())))
        .unwrap();
    assert_eq!(
        first.results[0].outcome,
        civic_kiosk::api::RatingOutcome::Stored
    );
    let mut second = rating.clone();
    second.id = civic_kiosk::ratings::new_rating_id(chrono::Utc::now());
    second.level = civic_kiosk::api::RatingLevel::try_from(3).unwrap();
    let again = rt.block_on(client.upload_ratings(&batch(second))).unwrap();
    assert_eq!(
        again.results[0].outcome,
        civic_kiosk::api::RatingOutcome::Rejected
    );
    assert_eq!(
        again.results[0].code.as_deref(),
        Some(civic_kiosk::api::limits::codes::CASE_ALREADY_RATED)
    );

    // 办件进度 lists it.
    click_label(&h, "继续办理");
    click_label(&h, "办件进度");
    wait(&h, "applications again", &|w| {
        w.global::<MineAdapter>().get_step() == MineStep::List
    });
    let apps = h.window.global::<MineAdapter>().get_applications();
    assert!(
        apps.iter().any(|a| a.case_no == quick_case.as_str()),
        "the new application is listed"
    );

    // ---- Nothing outlives the session: the UI, the session, the log, the store.
    h.controller.wipe_session();
    assert_eq!(page(&h), Page::Attract);
    let m = h.window.global::<MineAdapter>();
    assert_eq!(m.get_applications().row_count(), 0);
    assert!(!m.get_ready());
    assert_eq!(q().get_items().row_count(), 0);
    assert_eq!(q().get_item_name(), "");
    assert_eq!(q().get_prefilled().row_count(), 0);
    assert_eq!(q().get_confirm_rows().row_count(), 0);
    assert_eq!(q().get_field_value(), "");
    let f = h.window.global::<FinishAdapter>();
    assert_eq!(
        (f.get_case_no().to_string(), f.get_step()),
        (String::new(), FinishStep::None)
    );
    assert_eq!(h.window.global::<RatingAdapter>().get_case_no(), "");
    assert_eq!(h.window.global::<CertificateAdapter>().get_kind(), -1);
    assert!(h.controller.session_is_fresh());
    let session = h.controller.core_state();
    for secret in [
        ID,
        PHONE,
        "王*英",
        quick_case.as_str(),
        cert_case.as_str(),
        "4321",
    ] {
        assert!(!session.contains(secret), "{secret:?} left in the session");
    }
    drop(h);
    let kept = common::all_bytes(&logs);
    let mut stored = common::all_bytes(&dir.path().join("data"));
    stored.extend(kept.iter());
    for secret in [ID, PHONE, "王秀英"] {
        assert!(
            !common::contains(&stored, secret),
            "{secret:?} in the log or the store"
        );
    }
    assert!(
        common::contains(&kept, &quick_case),
        "the log names the 办件 filed, not the resident"
    );
    assert!(
        common::contains(&kept, "try 1 of 3 got no answer")
            && common::contains(&kept, "(a retry of a filed submission)"),
        "the first reply was lost, and the retry was answered as the one filed"
    );
}

#[test]
fn with_the_back_office_down_mine_says_so_and_a_held_document_waits_or_is_cancelled() {
    if !common::in_own_process(
        "ui_mine::with_the_back_office_down_mine_says_so_and_a_held_document_waits_or_is_cancelled",
    ) {
        return;
    }
    init_headless(true);
    let dir = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let sim = Sim::start(Some(SimCard::demo())).unwrap();
    let mut cfg = common::shipped_config_value();
    cfg.identity.reader = sim.url();
    cfg.storage.data_dir = dir.path().join("data");
    cfg.storage.runtime_dir = dir.path().join("run");
    let guides = dir.path().join("guides");
    cfg.printers.document.uri = format!("pdf://{}", guides.display());
    cfg.printers.receipt.uri = format!("pdf://{}", guides.display());
    let store = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&cfg.data_dir()).unwrap(),
    ));

    // ---- The back office is down (nothing listens): 我的 says so, guides still print.
    let dead = format!("http://127.0.0.1:{}/", common::free_port());
    let (devices, identity) = civic_kiosk::devices::Devices::start(&cfg, rt.handle());
    let h = Headless::with_options(
        Arc::new(cfg.clone()),
        HeadlessOptions {
            catalog: Some(Arc::new(civic_kiosk::catalog::Catalog::new(
                civic_contract::catalogue::demo().unwrap(),
            ))),
            client: Some(common::client(&dead, &cfg.backoffice.token)),
            store: Some(store.clone()),
            identity,
            ..Default::default()
        },
    )
    .unwrap();
    wait(&h, "card read", &|w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    click_label(&h, "我的");
    wait(&h, "the resident session could not be opened", &|w| {
        let m = w.global::<MineAdapter>();
        !m.get_opening() && !m.get_ready()
    });
    assert!(
        common::shown(&h, "暂时无法办理个人事项，请稍后再试或到服务窗口")
            || common::shown(&h, "网络中断，暂时无法办理个人事项；办事指南仍可查看和打印"),
        "the tiles say why"
    );
    for tile in ["办件进度", "证明打印", "快办服务"] {
        assert!(
            common::shown(&h, tile) && !enabled(&h, tile),
            "{tile} is unavailable"
        );
    }
    click_label(&h, "首页");
    let hf = h.window.global::<CatalogAdapter>().get_high_frequency();
    let item = hf.row_data(0).expect("a high-frequency item");
    h.controller.open_item(&item.code);
    assert_eq!(page(&h), Page::Item);
    h.window
        .global::<CatalogAdapter>()
        .invoke_print_guide(item.code.clone());
    assert!(
        h.pump_until(Duration::from_secs(15), |w| {
            w.global::<CatalogAdapter>().get_guide_print() == GuidePrint::Printed
        }),
        "the guide prints with the back office down"
    );
    assert_eq!(common::pdfs(&guides).len(), 1);
    // The print result follows: what to take and where it comes out; then 结束办理 ends
    // the session, and the next person starts afresh (not in the mode this one chose).
    h.window.global::<SessionAdapter>().invoke_toggle_large();
    assert!(h.pump_until(Duration::from_secs(2), |_| page(&h) == Page::Done));
    assert!(common::shown(&h, "请取走您的办事指南"), "the print result");
    assert!(
        common::shown(&h, "出纸口在屏幕下方"),
        "where the paper comes out"
    );
    click_label(&h, "已取走，下一步");
    click_label(&h, "结束办理");
    assert!(
        common::shown(&h, "感谢使用，请带好您的身份证"),
        "the countdown"
    );
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(6));
    assert!(
        h.pump_until(Duration::from_secs(2), |_| page(&h) == Page::Attract),
        "结束办理 ends the session after its countdown"
    );
    h.window.global::<SessionAdapter>().invoke_wake();
    assert_eq!(page(&h), Page::Home);
    assert!(
        !h.window.global::<civic_kiosk::ui::Theme>().get_large(),
        "the next person gets the standard mode"
    );
    drop(h);
    drop(devices);

    // ---- The document printer out of paper (a scripted ESC/POS printer).
    let counter = common::paper_out_counter(dir.path(), &mut cfg);
    cfg.printers.document.uri = cfg.printers.card.uri.clone();
    let (bo, paper) = (&counter.bo, counter.sim.clone());
    let (_devices, identity) = civic_kiosk::devices::Devices::start(&cfg, rt.handle());
    let h = Headless::with_options(
        Arc::new(cfg.clone()),
        HeadlessOptions {
            client: Some(bo.client(&cfg.backoffice.token)),
            trusted_key: Some(bo.key),
            store: Some(store.clone()),
            identity,
            ..Default::default()
        },
    )
    .unwrap();
    sim.remove();
    sim.place(SimCard::demo());
    wait(&h, "card read again", &|w| {
        w.global::<IdentityAdapter>().get_resident_name() == "王*英"
    });
    click_label(&h, "我的");
    wait(&h, "我的 ready", &|w| {
        w.global::<MineAdapter>().get_ready()
    });
    // A certificate: held with the usual message, printed when paper is back.
    click_label(&h, "证明打印");
    click_label(&h, "住房公积金缴存证明");
    click_label(&h, "近24个月");
    click_label(&h, "打印证明");
    wait(&h, "held", &|w| {
        w.global::<CertificateAdapter>().get_step() == CertStep::Held
    });
    assert!(common::shown(&h, "打印机缺纸，请联系工作人员"));
    assert!(paper.lock().unwrap().jobs.is_empty(), "nothing printed yet");
    paper.lock().unwrap().dle = [OK, OK, OK];
    wait(&h, "printed after paper is back", &|w| {
        w.global::<FinishAdapter>().get_step() == FinishStep::Result
    });
    assert_eq!(
        paper.lock().unwrap().jobs.len(),
        1,
        "one certificate printed"
    );
    // Skipped rating: straight to the choice.
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(9));
    wait(&h, "rating", &|w| {
        w.global::<SessionAdapter>().get_page() == Page::Rating
    });
    click_label(&h, "跳过评价");
    assert_eq!(
        h.window.global::<FinishAdapter>().get_step(),
        FinishStep::Choice
    );
    // A 快办 receipt held, then cancelled by the resident: the application is filed,
    // the result says the receipt was not printed.
    click_label(&h, "继续办理");
    paper.lock().unwrap().dle = [OK, OK | 0x20, OK | 0x60];
    click_label(&h, "快办服务");
    wait(&h, "quick items", &|w| {
        w.global::<QuickAdapter>().get_step() == QuickStep::List
    });
    click_label(&h, "社保卡补换");
    click_label(&h, "开始填写");
    let q = || h.window.global::<QuickAdapter>();
    let reason = q().get_options().row_data(0).unwrap();
    click_label(&h, &reason);
    click_label(&h, "下一项");
    assert_eq!(q().get_field_type(), FieldType::Date);
    assert!(q().get_days().row_count() > 0, "days to pick");
    q().invoke_pick_date(0);
    assert_eq!(q().get_chosen(), 0);
    click_label(&h, "下一项");
    for d in PHONE.chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步：核对");
    click_label(&h, "确认提交");
    wait(&h, "receipt held", &|w| {
        w.global::<QuickAdapter>().get_receipt_held()
    });
    assert!(common::shown(
        &h,
        "已提交。打印机缺纸，回执暂停打印，请联系工作人员"
    ));
    click_label(&h, "不打印回执");
    wait(&h, "result without a receipt", &|w| {
        w.global::<FinishAdapter>().get_step() == FinishStep::Result
    });
    assert_eq!(
        h.window.global::<FinishAdapter>().get_printed(),
        DonePrinted::Cancelled
    );
    assert!(common::shown(&h, "回执未打印，请记下办件编号"));
    assert_eq!(
        paper.lock().unwrap().jobs.len(),
        1,
        "the receipt never printed"
    );
}
