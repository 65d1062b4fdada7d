//! The contract's field limits and error bodies at the wire: absurd ratings are rejected with their codes (and not stored), and 404, 405, 408, 413, 414 and 422 answers carry the contract's JSON.

use serde_json::{Value, json};

use crate::common::{ADMIN, TOKEN, declare_body, request, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::faults::FaultSettings;
use civic_contract::api::limits::{self, codes};

/// A rating as a terminal sends it, 差评 with a callback when `level` is 1 or 2. `n` makes
/// the (UUIDv7) id unique.
fn rating(n: u32, level: u8) -> Value {
    let bad = level <= 2;
    let mut r = json!({
        "id": format!("019ac1f2-3b4c-7d5e-8f60-{n:012x}"),
        "terminal_id": "CN-TSL-001",
        "item_code": "310105-GA-0001",
        "case_number": null,
        "channel": "self_service_terminal",
        "level": level,
        "reasons": if bad { json!(["等候时间长"]) } else { json!([]) },
        "comment": null,
        "rated_at": (chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(),
        "callback": null,
        "staff": null,
    });
    if bad {
        r["callback"] = json!({"consent": true, "phone": "13812345678"});
    }
    r
}

fn post_json(addr: std::net::SocketAddr, path: &str, body: &Value) -> crate::common::Answer {
    let bytes = serde_json::to_vec(body).unwrap();
    request(
        addr,
        "POST",
        path,
        Some(TOKEN),
        Some(("application/json", &bytes)),
    )
}

#[test]
fn absurd_ratings_are_rejected_with_the_contracts_codes_and_not_stored() {
    let bo = start(ServeLimits::default(), FaultSettings::default());

    let mut long_item = rating(1, 4);
    long_item["item_code"] = json!("A".repeat(1024 * 1024));
    let mut many_reasons = rating(2, 1);
    many_reasons["reasons"] = json!(vec!["等候时间长"; 10_000]);
    let mut callback_on_five = rating(3, 5);
    callback_on_five["callback"] = json!({"consent": true, "phone": "13812345678"});
    let mut year_one = rating(4, 3);
    year_one["rated_at"] = json!("0001-01-01T00:00:00Z");
    let mut long_comment = rating(5, 2);
    long_comment["comment"] = json!("很".repeat(limits::MAX_COMMENT_CHARS + 1));
    let mut long_case = rating(6, 4);
    long_case["case_number"] = json!("9".repeat(limits::MAX_ID_CHARS + 1));
    let mut far_future = rating(7, 4);
    far_future["rated_at"] = json!((chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339());
    let good_bad = rating(8, 1);
    let good = rating(9, 5);

    let batch = json!({"ratings": [
        long_item, many_reasons, callback_on_five, year_one, long_comment, long_case,
        far_future, good_bad, good,
    ]});
    let answer = post_json(bo.addr, "/api/v1/ratings", &batch);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result: civic_contract::api::RatingBatchResult =
        serde_json::from_str(&answer.body).unwrap();
    let got: Vec<(String, Option<String>)> = result
        .results
        .iter()
        .map(|r| (format!("{:?}", r.outcome), r.code.clone()))
        .collect();
    let rejected = |code: &str| ("Rejected".to_string(), Some(code.to_string()));
    let stored = ("Stored".to_string(), None);
    assert_eq!(
        got,
        vec![
            rejected(codes::FIELD_TOO_LONG),
            rejected(codes::TOO_MANY_VALUES),
            rejected(codes::CALLBACK_NOT_ALLOWED),
            rejected(codes::TIME_OUT_OF_RANGE),
            rejected(codes::FIELD_TOO_LONG),
            rejected(codes::FIELD_TOO_LONG),
            rejected(codes::TIME_OUT_OF_RANGE),
            stored.clone(),
            stored,
        ],
        "{}",
        answer.body
    );
    // The reason is short, whatever was sent: no megabyte echoed back.
    assert!(answer.body.len() < 4096, "{} bytes", answer.body.len());

    // Only the two good ones count.
    let stats = request(
        bo.addr,
        "GET",
        "/api/v1/admin/terminals/CN-TSL-001/ratings/stats",
        Some(ADMIN),
        None,
    );
    let stats: civic_contract::api::RatingStats = serde_json::from_str(&stats.body).unwrap();
    assert_eq!((stats.total, stats.rejected), (2, 7), "{stats:?}");

    // A token's own terminal only, with its code.
    let mut other = rating(10, 4);
    other["terminal_id"] = json!("CN-TSL-999");
    let answer = post_json(bo.addr, "/api/v1/ratings", &json!({"ratings": [other]}));
    assert!(
        answer.body.contains(codes::TERMINAL_MISMATCH),
        "{}",
        answer.body
    );
}

#[test]
fn other_requests_over_a_limit_are_refused_with_422_and_the_code() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let help = |page: &str, at: &str| {
        json!({"id": "019ac1f2-3b4c-7d5e-8f60-0123456789ac", "terminal_id": "CN-TSL-001",
               "page": page, "requested_at": at})
    };
    let now = chrono::Utc::now().to_rfc3339();
    let a = post_json(
        bo.addr,
        "/api/v1/terminal/help",
        &help(&"p".repeat(10_000), &now),
    );
    assert_eq!(
        (a.status, a.error_code()),
        (422, codes::FIELD_TOO_LONG.into())
    );
    let a = post_json(
        bo.addr,
        "/api/v1/terminal/help",
        &help("offline_code", "0001-01-01T00:00:00Z"),
    );
    assert_eq!(
        (a.status, a.error_code()),
        (422, codes::TIME_OUT_OF_RANGE.into())
    );
    let a = post_json(
        bo.addr,
        "/api/v1/terminal/help",
        &help("offline_code", &now),
    );
    assert_eq!(a.status, 200, "{}", a.body);

    let printer = json!({"role": "card", "state": "ready", "detail": null});
    let hb = json!({"terminal_id": "CN-TSL-001", "version": "0.1.0", "uptime_s": 1,
        "printers": vec![printer; limits::MAX_HEARTBEAT_PRINTERS + 1], "outbox_depth": 0,
        "last_sync": null, "catalogue_version": null, "catalogue_age_s": null,
        "free_disk_bytes": null, "clock_skew_ms": null, "audit": []});
    let a = post_json(bo.addr, "/api/v1/terminal/heartbeat", &hb);
    assert_eq!(
        (a.status, a.error_code()),
        (422, codes::TOO_MANY_VALUES.into())
    );
}

#[test]
fn every_error_status_has_the_contracts_json_body() {
    let bo = start(ServeLimits::default(), FaultSettings::default());

    // 413: a body over 4 MiB, even without a content type (that was 400), and with one.
    for ct in ["", "application/json"] {
        let a = declare_body(bo.addr, "/api/v1/ratings", ct, limits::MAX_BODY_BYTES + 1);
        assert_eq!(
            (a.status, a.error_code()),
            (413, "body_too_large".into()),
            "{ct:?}"
        );
    }
    // 405, with the methods it takes.
    let a = request(bo.addr, "DELETE", "/api/v1/ping", Some(TOKEN), None);
    assert_eq!(
        (a.status, a.error_code()),
        (405, "method_not_allowed".into())
    );
    assert!(
        a.header("allow").is_some_and(|v| v.contains("GET")),
        "{:?}",
        a.headers
    );

    // 414: a target over the limit.
    let q = "a".repeat(limits::MAX_URI_BYTES + 1);
    let a = request(
        bo.addr,
        "GET",
        &format!("/api/v1/faq?q={q}"),
        Some(TOKEN),
        None,
    );
    assert_eq!((a.status, a.error_code()), (414, "uri_too_long".into()));
    // Just under it, the same endpoint answers.
    let q = "a".repeat(limits::MAX_URI_BYTES - 100);
    let a = request(
        bo.addr,
        "GET",
        &format!("/api/v1/faq?q={q}"),
        Some(TOKEN),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);

    // 404, with and without a token, and for an unknown item.
    for token in [Some(TOKEN), None] {
        let a = request(bo.addr, "GET", "/api/v1/no-such-thing", token, None);
        assert_eq!((a.status, a.error_code()), (404, "not_found".into()));
    }
    let a = request(bo.addr, "GET", "/api/v1/items/NOPE", Some(TOKEN), None);
    assert_eq!((a.status, a.error_code()), (404, "item_not_found".into()));

    // 400 from the JSON extractor, and 401.
    let a = request(
        bo.addr,
        "POST",
        "/api/v1/ratings",
        Some(TOKEN),
        Some(("application/json", b"{")),
    );
    assert_eq!((a.status, a.error_code()), (400, "bad_request".into()));
    let a = request(bo.addr, "GET", "/api/v1/ping", None, None);
    assert_eq!((a.status, a.error_code()), (401, "unauthorized".into()));
}

#[test]
fn a_request_over_the_request_timeout_gets_408_with_the_json_body() {
    // Every answer is delayed far past the request timeout.
    let bo = start(
        ServeLimits {
            request_timeout: std::time::Duration::from_millis(300),
            ..ServeLimits::default()
        },
        FaultSettings {
            latency_ms: 60_000,
            ..FaultSettings::default()
        },
    );
    let a = request(bo.addr, "GET", "/api/v1/ping", Some(TOKEN), None);
    assert_eq!((a.status, a.error_code()), (408, "request_timeout".into()));
}
