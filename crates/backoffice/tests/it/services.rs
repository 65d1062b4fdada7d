//! 证明打印 and 快办 at the wire: certificates of 12, 24 and 36 months from the demo
//! records, their verification codes (valid, changed, unknown), the 快办 forms prefilled
//! for the resident, a submission filed once however often it is sent, its field errors,
//! a reply lost after the work (`lose_reply_first` on one path), and one rating per 办件.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::{Answer, InProcess, TOKEN, request, request_with, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::data;
use civic_backoffice::faults::FaultSettings;
use civic_contract::api::limits::codes;
use civic_contract::api::{
    Application, Certificate, CertificateKind, DocumentCheck, FieldErrors, QuickForm, QuickReceipt,
    RatingBatchResult, RatingOutcome, ResidentSession,
};
use serde_json::json;

const WANG: &str = "310105195001011231";
const ZHANG: &str = "310105199006154563";
const OTHER_TERMINAL: &str = "demo-token-CN-TSL-002";
const CERTIFICATES: &str = "/api/v1/residents/me/certificates";
const QUICK: &str = "/api/v1/residents/me/quick-items";
const CARD: &str = "/api/v1/residents/me/quick-items/social-security-card-replacement";

fn session(bo: &InProcess, id: &str) -> String {
    let body = format!(r#"{{"id_number": "{id}"}}"#);
    let a = request(
        bo.addr,
        "POST",
        "/api/v1/residents/session",
        Some(TOKEN),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str::<ResidentSession>(&a.body)
        .unwrap()
        .token
}

/// A call with the terminal's token and the resident's.
fn me(
    bo: &InProcess,
    terminal: &str,
    resident: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Answer {
    let text = body.map(|b| b.to_string());
    request_with(
        bo.addr,
        method,
        path,
        Some(terminal),
        &[("X-Resident-Token", resident)],
        text.as_deref().map(|t| ("application/json", t.as_bytes())),
    )
}

fn certificate(bo: &InProcess, resident: &str, kind: &str, months: u8) -> Answer {
    me(
        bo,
        TOKEN,
        resident,
        "POST",
        CERTIFICATES,
        Some(&json!({"kind": kind, "months": months})),
    )
}

fn verify(bo: &InProcess, code: &str) -> Answer {
    request(
        bo.addr,
        "GET",
        &format!("/api/v1/documents/verify/{code}"),
        None,
        None,
    )
}

/// The demo record of a resident and kind, as the file has it.
fn record(id: &str, kind: CertificateKind) -> data::CertificateRecord {
    data::demo_certificates()
        .unwrap()
        .lines
        .into_iter()
        .map(|(_, r)| r)
        .find(|r| r.id_number.expose_id_number() == id && r.kind == kind)
        .unwrap()
}

#[test]
fn a_certificate_covers_the_last_months_with_their_totals_and_verifies() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let wang = session(&bo, WANG);
    let before = chrono::Utc::now();
    let a = certificate(&bo, &wang, "housing_fund", 12);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !a.body.contains(WANG) && !a.body.contains("王秀英"),
        "{}",
        a.body
    );
    let c: Certificate = serde_json::from_str(&a.body).unwrap();
    assert_eq!(c.kind, CertificateKind::HousingFund);
    assert_eq!(c.title, "住房公积金缴存证明");
    assert_eq!(
        (c.holder_masked_name.as_str(), c.holder_masked_id.as_str()),
        ("王*英", "310***********1231")
    );
    assert_eq!(c.rows.len(), 12);
    assert_eq!(
        (c.period_from.as_str(), c.period_to.as_str()),
        ("2025-12", "2026-11")
    );
    assert_eq!(c.rows[0].month, "2025-12", "oldest first");
    // Base 7,310 yuan, 7% each side, twelve months.
    assert_eq!(c.totals_fen, vec![8_772_000, 614_040, 614_040]);
    let file = record(WANG, CertificateKind::HousingFund);
    assert_eq!(c.rows, file.months[file.months.len() - 12..]);
    assert_eq!(c.columns, file.columns);
    assert_eq!(c.issuer, file.issuer);
    assert!(c.issued_at >= before && c.issued_at <= chrono::Utc::now());
    assert!(
        c.case_no.starts_with("CN310105-") && c.case_no.contains("-Z"),
        "{}",
        c.case_no
    );

    // Verified by anyone, no token: the same certificate.
    let v = verify(&bo, &c.verification_code);
    assert_eq!(v.status, 200, "{}", v.body);
    let check: DocumentCheck = serde_json::from_str(&v.body).unwrap();
    assert_eq!((check.status.as_str(), &check.certificate), ("valid", &c));

    // Changed anywhere: refused as tampered.
    let code = c.verification_code.as_bytes();
    for i in [0, 4, 10, code.len() - 20, code.len() - 1] {
        let mut changed = code.to_vec();
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        let v = verify(&bo, &changed);
        assert_eq!(
            (v.status, v.error_code().as_str()),
            (422, codes::DOCUMENT_TAMPERED),
            "position {i}: {changed}"
        );
    }
    assert_eq!(
        verify(&bo, "not-a-code").error_code(),
        codes::DOCUMENT_TAMPERED
    );

    // Well signed by this back office but never stored (another back office's database
    // with the same key, or a lost one): not found.
    let key = std::fs::read(civic_backoffice::key_path(&bo.db)).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&key.try_into().unwrap());
    let unknown =
        civic_backoffice::documents::sign(&civic_backoffice::documents::new_document_id(), &key);
    let v = verify(&bo, &unknown);
    assert_eq!(
        (v.status, v.error_code().as_str()),
        (404, codes::DOCUMENT_NOT_FOUND)
    );

    // 24 and 36 months; each print its own 办件编号.
    for months in [24u8, 36] {
        let a = certificate(&bo, &wang, "social_insurance", months);
        assert_eq!(a.status, 200, "{}", a.body);
        let c2: Certificate = serde_json::from_str(&a.body).unwrap();
        assert_eq!(c2.rows.len(), usize::from(months));
        assert_eq!(c2.period_to, "2026-11");
        let sums: Vec<i64> = (0..c2.columns.len())
            .map(|i| c2.rows.iter().map(|r| r.amounts_fen[i]).sum())
            .collect();
        assert_eq!(c2.totals_fen, sums);
        assert_ne!(c2.case_no, c.case_no);
        assert_eq!(verify(&bo, &c2.verification_code).status, 200);
    }
    assert_eq!(
        serde_json::from_str::<Certificate>(&certificate(&bo, &wang, "social_insurance", 36).body)
            .unwrap()
            .period_from,
        "2023-12"
    );

    // Periods not offered, a kind without records, an unknown kind.
    for months in [13u8, 0, 6, 48] {
        let a = certificate(&bo, &wang, "income_tax", months);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (422, codes::PERIOD_NOT_OFFERED),
            "{months}"
        );
    }
    let zhang = session(&bo, ZHANG);
    let a = certificate(&bo, &zhang, "housing_fund", 12);
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, codes::NO_RECORDS)
    );
    let a = certificate(&bo, &zhang, "income_tax", 12);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(certificate(&bo, &zhang, "pension", 12).status, 400);
}

#[test]
fn every_new_me_endpoint_refuses_expired_missing_and_other_terminal_tokens() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let s = session(&bo, WANG);
    let late = session(&bo, WANG);
    assert!(
        bo.state
            .set_resident_session_expiry(&late, chrono::Utc::now())
            .unwrap()
    );
    let cert = json!({"kind": "income_tax", "months": 12});
    let sub = json!({"submission_id": uuid::Uuid::now_v7(), "values": {}});
    let calls: [(&str, &str, Option<&serde_json::Value>); 3] = [
        ("POST", CERTIFICATES, Some(&cert)),
        ("GET", QUICK, None),
        ("POST", CARD, Some(&sub)),
    ];
    for (method, path, body) in calls {
        let a = me(&bo, OTHER_TERMINAL, &s, method, path, body);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (403, codes::RESIDENT_TOKEN_OTHER_TERMINAL),
            "{path}"
        );
        let a = me(&bo, TOKEN, &late, method, path, body);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (401, codes::RESIDENT_TOKEN_EXPIRED),
            "{path}"
        );
        let a = me(&bo, TOKEN, "never-issued", method, path, body);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (401, codes::RESIDENT_TOKEN_INVALID),
            "{path}"
        );
        let text = body.map(|b| b.to_string());
        let a = request(
            bo.addr,
            method,
            path,
            Some(TOKEN),
            text.as_deref().map(|t| ("application/json", t.as_bytes())),
        );
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (401, codes::RESIDENT_TOKEN_MISSING),
            "{path}"
        );
        let a = request_with(
            bo.addr,
            method,
            path,
            None,
            &[("X-Resident-Token", &s)],
            text.as_deref().map(|t| ("application/json", t.as_bytes())),
        );
        assert_eq!((a.status, a.error_code().as_str()), (401, "unauthorized"));
    }
    assert_eq!(bo.state.quick_submissions().unwrap(), 0);
}

fn forms(bo: &InProcess, resident: &str) -> Vec<QuickForm> {
    let a = me(bo, TOKEN, resident, "GET", QUICK, None);
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

#[test]
fn quick_forms_are_prefilled_and_say_who_may_not_apply() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let wang = forms(&bo, &session(&bo, WANG));
    let ids: Vec<&str> = wang.iter().map(|f| f.item.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "residence-permit-endorsement",
            "senior-allowance",
            "social-security-card-replacement"
        ]
    );
    assert!(
        wang.iter().all(|f| f.not_eligible.is_none()),
        "76: may apply to all"
    );
    let allowance = &wang[1];
    let shown: Vec<(&str, &str)> = allowance
        .prefilled
        .iter()
        .map(|p| (p.key.as_str(), p.shown.as_str()))
        .collect();
    assert_eq!(shown[0], ("name", "王*英"));
    assert_eq!(shown[1], ("id_number", "310***********1231"));
    assert_eq!(shown[2], ("hukou", "上海市长宁区"));
    assert_eq!(shown[3].0, "address");
    assert!(
        shown[3].1.starts_with("长宁区") && shown[3].1.ends_with("***号"),
        "{}",
        shown[3].1
    );
    let body = me(&bo, TOKEN, &session(&bo, WANG), "GET", QUICK, None).body;
    assert!(!body.contains("王秀英") && !body.contains(WANG));
    assert!(
        !body.contains("min_age"),
        "the rule stays in the back office"
    );

    let zhang = forms(&bo, &session(&bo, ZHANG));
    assert_eq!(
        zhang[1].not_eligible.as_deref(),
        Some("未满65周岁，暂不能申请老年综合津贴")
    );
    assert!(zhang[0].not_eligible.is_none() && zhang[2].not_eligible.is_none());
    let a = me(
        &bo,
        TOKEN,
        &session(&bo, ZHANG),
        "POST",
        "/api/v1/residents/me/quick-items/senior-allowance",
        Some(
            &json!({"submission_id": uuid::Uuid::now_v7(), "values": {"bank": "icbc", "account_tail": "1234", "phone": "13800138000"}}),
        ),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (422, codes::NOT_ELIGIBLE)
    );
    assert!(a.body.contains("未满65周岁"), "{}", a.body);
}

/// The first weekday from tomorrow on (the back office's today is the local date).
fn collect_day() -> String {
    use chrono::Datelike;
    let mut d = chrono::Local::now().date_naive() + chrono::Days::new(1);
    while d.weekday().number_from_monday() > 5 {
        d = d + chrono::Days::new(1);
    }
    d.to_string()
}

fn card_values() -> serde_json::Value {
    json!({"reason": "lost", "collect_on": collect_day(), "phone": "13800138000"})
}

fn listed(bo: &InProcess, resident: &str, case_no: &str) -> usize {
    let a = me(
        bo,
        TOKEN,
        resident,
        "GET",
        "/api/v1/residents/me/applications",
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let apps: Vec<Application> = serde_json::from_str(&a.body).unwrap();
    apps.iter().filter(|a| a.case_no == case_no).count()
}

#[test]
fn a_submission_is_filed_once_listed_at_once_and_its_id_not_reused() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let wang = session(&bo, WANG);
    let id = uuid::Uuid::now_v7();
    let sub = json!({"submission_id": id, "values": card_values()});
    let a = me(&bo, TOKEN, &wang, "POST", CARD, Some(&sub));
    assert_eq!(a.status, 200, "{}", a.body);
    let r: QuickReceipt = serde_json::from_str(&a.body).unwrap();
    assert!(!r.repeated);
    assert_eq!(
        (
            r.item_id.as_str(),
            r.item_code.as_str(),
            r.item_name.as_str()
        ),
        (
            "social-security-card-replacement",
            "310105-RS-0008",
            "社保卡补换"
        )
    );
    assert!(r.case_no.contains("-Q"), "{}", r.case_no);
    assert!(r.next_steps.contains("领取"));
    assert_eq!(listed(&bo, &wang, &r.case_no), 1);
    let apps: Vec<Application> = serde_json::from_str(
        &me(
            &bo,
            TOKEN,
            &wang,
            "GET",
            "/api/v1/residents/me/applications",
            None,
        )
        .body,
    )
    .unwrap();
    let app = apps.iter().find(|a| a.case_no == r.case_no).unwrap();
    assert_eq!(app.status, civic_contract::api::ApplicationStatus::Accepted);
    assert_eq!(app.timeline.len(), 1);
    assert_eq!(app.submitted_on, chrono::Local::now().date_naive());
    assert_eq!(apps[0].case_no, r.case_no, "newest first");

    // The same submission again (a double tap, a retry): the same receipt, repeated.
    let again = me(&bo, TOKEN, &wang, "POST", CARD, Some(&sub));
    assert_eq!(again.status, 200, "{}", again.body);
    let r2: QuickReceipt = serde_json::from_str(&again.body).unwrap();
    assert!(r2.repeated);
    assert_eq!(
        QuickReceipt {
            repeated: false,
            ..r2
        },
        r
    );
    assert_eq!(listed(&bo, &wang, &r.case_no), 1);
    assert_eq!(bo.state.quick_submissions().unwrap(), 1);

    // The same id with other values, for another item, or by another resident: 409.
    let mut other = card_values();
    other["reason"] = json!("damaged");
    let a = me(
        &bo,
        TOKEN,
        &wang,
        "POST",
        CARD,
        Some(&json!({"submission_id": id, "values": other})),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (409, codes::SUBMISSION_ID_REUSED)
    );
    let a = me(
        &bo,
        TOKEN,
        &wang,
        "POST",
        "/api/v1/residents/me/quick-items/senior-allowance",
        Some(
            &json!({"submission_id": id, "values": {"bank": "icbc", "account_tail": "1234", "phone": "13800138000"}}),
        ),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (409, codes::SUBMISSION_ID_REUSED)
    );
    let zhang = session(&bo, ZHANG);
    let a = me(&bo, TOKEN, &zhang, "POST", CARD, Some(&sub));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (409, codes::SUBMISSION_ID_REUSED)
    );
    assert_eq!(bo.state.quick_submissions().unwrap(), 1);

    // A new id: a new 办件 with a new number.
    let a = me(
        &bo,
        TOKEN,
        &wang,
        "POST",
        CARD,
        Some(&json!({"submission_id": uuid::Uuid::now_v7(), "values": card_values()})),
    );
    let r3: QuickReceipt = serde_json::from_str(&a.body).unwrap();
    assert_ne!(r3.case_no, r.case_no);
    assert_eq!(bo.state.quick_submissions().unwrap(), 2);

    // An unknown item.
    let a = me(
        &bo,
        TOKEN,
        &wang,
        "POST",
        "/api/v1/residents/me/quick-items/no-such-item",
        Some(&sub),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, codes::QUICK_ITEM_NOT_FOUND)
    );
}

#[test]
fn values_that_do_not_fit_are_answered_field_by_field() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let wang = session(&bo, WANG);
    let sub = json!({"submission_id": uuid::Uuid::now_v7(), "values": {
        "reason": "stolen", "phone": "2380013800", "shoe_size": "42"
    }});
    let a = me(&bo, TOKEN, &wang, "POST", CARD, Some(&sub));
    assert_eq!(a.status, 422, "{}", a.body);
    let e: FieldErrors = serde_json::from_str(&a.body).unwrap();
    assert_eq!(e.error, codes::FIELDS_INVALID);
    let got: Vec<(&str, &str)> = e
        .fields
        .iter()
        .map(|f| (f.key.as_str(), f.problem.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("reason", "not_a_choice"),
            ("collect_on", "required"),
            ("phone", "not_mobile"),
            ("shoe_size", "unknown_field")
        ]
    );
    assert!(e.fields[2].message.contains("11位"));
    assert_eq!(bo.state.quick_submissions().unwrap(), 0, "nothing filed");
    // The same id, fixed, is filed (a refused submission does not use up its id).
    let mut fixed = sub.clone();
    fixed["values"] = card_values();
    let a = me(&bo, TOKEN, &wang, "POST", CARD, Some(&fixed));
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A POST whose answer is expected to be lost: `None` when the connection closed without
/// a byte, else the raw answer.
fn post_raw(
    bo: &InProcess,
    resident: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<String> {
    let body = body.to_string();
    let mut s = TcpStream::connect(bo.addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\nX-Resident-Token: {resident}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        bo.addr,
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    (!raw.is_empty()).then(|| String::from_utf8_lossy(&raw).to_string())
}

#[test]
fn the_first_replies_to_one_path_are_lost_after_the_work_and_a_retry_gets_the_receipt() {
    let bo = start(
        ServeLimits::default(),
        FaultSettings {
            lose_reply_first: 2,
            fault_path: Some(CARD.into()),
            ..FaultSettings::default()
        },
    );
    let wang = session(&bo, WANG);
    let first = json!({"submission_id": uuid::Uuid::now_v7(), "values": card_values()});
    let second = json!({"submission_id": uuid::Uuid::now_v7(), "values": card_values()});
    // Two replies lost, each after its submission was filed.
    assert_eq!(post_raw(&bo, &wang, CARD, &first), None);
    assert_eq!(bo.state.quick_submissions().unwrap(), 1);
    // Other paths are answered meanwhile.
    assert_eq!(me(&bo, TOKEN, &wang, "GET", QUICK, None).status, 200);
    assert_eq!(post_raw(&bo, &wang, CARD, &second), None);
    assert_eq!(bo.state.quick_submissions().unwrap(), 2);
    // From the third on, answered: the retries find what was filed.
    for sub in [&first, &second] {
        let a = me(&bo, TOKEN, &wang, "POST", CARD, Some(sub));
        assert_eq!(a.status, 200, "{}", a.body);
        let r: QuickReceipt = serde_json::from_str(&a.body).unwrap();
        assert!(r.repeated);
        assert_eq!(listed(&bo, &wang, &r.case_no), 1);
    }
    assert_eq!(bo.state.quick_submissions().unwrap(), 2);
}

fn rating(terminal: &str, case: Option<&str>) -> serde_json::Value {
    json!({
        "id": uuid::Uuid::now_v7(),
        "terminal_id": terminal,
        "item_code": "310105-RS-0008",
        "case_number": case,
        "channel": "self_service_terminal",
        "level": 5,
        "rated_at": chrono::Utc::now(),
    })
}

fn rate(
    bo: &InProcess,
    token: &str,
    ratings: &[&serde_json::Value],
) -> Vec<(RatingOutcome, Option<String>)> {
    let body = json!({ "ratings": ratings }).to_string();
    let a = request(
        bo.addr,
        "POST",
        "/api/v1/ratings",
        Some(token),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let r: RatingBatchResult = serde_json::from_str(&a.body).unwrap();
    r.results.into_iter().map(|r| (r.outcome, r.code)).collect()
}

#[test]
fn a_case_is_rated_once_from_any_terminal() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let first = rating("CN-TSL-001", Some("CN310105-2026-Q000001"));
    assert_eq!(rate(&bo, TOKEN, &[&first]), [(RatingOutcome::Stored, None)]);
    // Its retry stays a duplicate.
    assert_eq!(
        rate(&bo, TOKEN, &[&first]),
        [(RatingOutcome::Duplicate, None)]
    );
    let refused = Some(codes::CASE_ALREADY_RATED.to_string());
    // Another rating of the same 办件: from this terminal, from another, within one batch.
    let again = rating("CN-TSL-001", Some("CN310105-2026-Q000001"));
    assert_eq!(
        rate(&bo, TOKEN, &[&again]),
        [(RatingOutcome::Rejected, refused.clone())]
    );
    let elsewhere = rating("CN-TSL-002", Some("CN310105-2026-Q000001"));
    assert_eq!(
        rate(&bo, OTHER_TERMINAL, &[&elsewhere]),
        [(RatingOutcome::Rejected, refused.clone())]
    );
    let a = rating("CN-TSL-001", Some("CN310105-2026-Z000009"));
    let b = rating("CN-TSL-001", Some("CN310105-2026-Z000009"));
    assert_eq!(
        rate(&bo, TOKEN, &[&a, &b]),
        [
            (RatingOutcome::Stored, None),
            (RatingOutcome::Rejected, refused)
        ]
    );
    // Ratings without a 办件编号 are not limited.
    let x = rating("CN-TSL-001", None);
    let y = rating("CN-TSL-001", None);
    assert_eq!(
        rate(&bo, TOKEN, &[&x, &y]),
        [(RatingOutcome::Stored, None), (RatingOutcome::Stored, None)]
    );
}

#[test]
fn the_binary_takes_lose_reply_first_with_its_path() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--db"])
        .arg(dir.path().join("bo.sqlite"))
        .args(["--lose-reply-first", "1", "--fault-path", CARD])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: std::net::SocketAddr = lines.next().unwrap().unwrap().parse().unwrap();
    let body = format!(r#"{{"id_number": "{WANG}"}}"#);
    let a = request(
        addr,
        "POST",
        "/api/v1/residents/session",
        Some(TOKEN),
        Some(("application/json", body.as_bytes())),
    );
    let token = serde_json::from_str::<ResidentSession>(&a.body)
        .unwrap()
        .token;
    let sub = json!({"submission_id": uuid::Uuid::now_v7(), "values": card_values()}).to_string();
    let send = || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST {CARD} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\nX-Resident-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{sub}",
            sub.len()
        )
        .unwrap();
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw
    };
    assert_eq!(send(), "", "the first reply is lost");
    let second = send();
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(second.contains(r#""repeated":true"#), "{second}");
    let _ = child.kill();
    let _ = child.wait();
}
