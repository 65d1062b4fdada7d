//! `POST /api/v1/residents/resolve-code` at the wire: the demo codes resolve to their
//! residents, an unknown code is 404, an expired one 410, a code over its limits 422,
//! no token 401; `POST /api/v1/admin/codes` adds one; the binary refuses a codes file
//! naming a resident not in the registry, naming the line.

use serde_json::{Value, json};

use crate::common::{ADMIN, Answer, TOKEN, request, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::faults::FaultSettings;
use civic_contract::api::limits::{self, codes};
use civic_contract::api::{CodeKind, ResolvedCode};

const PATH: &str = "/api/v1/residents/resolve-code";

fn post(addr: std::net::SocketAddr, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
    request(addr, "POST", path, token, Some(("application/json", body)))
}

fn resolve(addr: std::net::SocketAddr, code: &Value) -> Answer {
    post(
        addr,
        PATH,
        Some(TOKEN),
        &serde_json::to_vec(&json!({ "code": code })).unwrap(),
    )
}

#[test]
fn a_demo_code_names_its_resident_with_the_full_id_number_for_the_session() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let a = resolve(bo.addr, &json!("SSM:DEMO:WANGXIUYING"));
    assert_eq!(a.status, 200, "{}", a.body);
    let r: ResolvedCode = serde_json::from_str(&a.body).unwrap();
    assert_eq!(r.kind, CodeKind::Suishenma);
    assert_eq!(r.masked_name, "王*英");
    assert_eq!(r.masked_id, "310***********1231");
    assert_eq!(r.id_number.expose_id_number(), "310105195001011231");
    assert!(r.expires_at > chrono::Utc::now());
    assert!(
        !a.body.contains("王秀英"),
        "never the full name: {}",
        a.body
    );

    let a = resolve(bo.addr, &json!("EID:DEMO:CHENYUN"));
    assert_eq!(a.status, 200, "{}", a.body);
    let r: ResolvedCode = serde_json::from_str(&a.body).unwrap();
    assert_eq!((r.kind, r.masked_name.as_str()), (CodeKind::EId, "陈*"));
    assert!(a.body.contains(r#""kind":"e_id""#), "{}", a.body);
}

#[test]
fn unknown_expired_and_malformed_codes_have_their_own_answers() {
    let bo = start(ServeLimits::default(), FaultSettings::default());

    let a = resolve(bo.addr, &json!("SSM:DEMO:NOBODY"));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, codes::CODE_NOT_FOUND)
    );
    assert!(
        !a.body.contains("NOBODY"),
        "the code is not repeated: {}",
        a.body
    );
    // Codes are exact: another case is another code.
    let a = resolve(bo.addr, &json!("ssm:demo:wangxiuying"));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, codes::CODE_NOT_FOUND)
    );

    let a = resolve(bo.addr, &json!("SSM:DEMO:EXPIRED"));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (410, codes::CODE_EXPIRED)
    );

    let cases = [
        (
            json!("S".repeat(limits::MAX_CODE_BYTES + 1)),
            codes::FIELD_TOO_LONG,
        ),
        (json!("S".repeat(1024 * 1024)), codes::FIELD_TOO_LONG),
        (json!("SSM:王秀英"), codes::CODE_NOT_PRINTABLE),
        (json!("SSM:DEMO:WANGXIUYING\r\n"), codes::CODE_NOT_PRINTABLE),
        (json!("SSM:\u{7f}"), codes::CODE_NOT_PRINTABLE),
        (json!(""), codes::FIELD_EMPTY),
    ];
    for (code, want) in cases {
        let a = resolve(bo.addr, &code);
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(a.error_code(), want);
    }
    // Exactly at the limit is a well-formed code (that nobody has).
    let a = resolve(bo.addr, &json!("S".repeat(limits::MAX_CODE_BYTES)));
    assert_eq!(a.status, 404, "{}", a.body);

    // A body that is not the request type: 400, as every endpoint.
    for body in [
        &b"{\"code\": 42}"[..],
        b"{}",
        b"not json",
        b"{\"code\": null}",
    ] {
        let a = post(bo.addr, PATH, Some(TOKEN), body);
        assert_eq!((a.status, a.error_code().as_str()), (400, "bad_request"));
    }
}

#[test]
fn resolving_needs_a_terminal_token() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let body = br#"{"code": "SSM:DEMO:WANGXIUYING"}"#;
    for token in [None, Some("not-a-token"), Some(ADMIN)] {
        let a = post(bo.addr, PATH, token, body);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (401, "unauthorized"),
            "{token:?}"
        );
    }
}

#[test]
fn the_admin_adds_a_code_for_a_resident_of_the_registry_only() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let code = |id: &str, expires: &str| {
        serde_json::to_vec(&json!({
            "code": "EID:TEST:0001", "kind": "e_id", "id_number": id, "expires_at": expires,
        }))
        .unwrap()
    };
    let body = code("310105201209097896", "2099-01-01T00:00:00Z");
    assert_eq!(
        post(bo.addr, "/api/v1/admin/codes", Some(TOKEN), &body).status,
        401
    );
    let a = post(bo.addr, "/api/v1/admin/codes", Some(ADMIN), &body);
    assert_eq!(a.status, 200, "{}", a.body);
    let added: ResolvedCode = serde_json::from_str(&a.body).unwrap();
    assert_eq!(added.masked_name, "李*燊");

    let a = resolve(bo.addr, &json!("EID:TEST:0001"));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        serde_json::from_str::<ResolvedCode>(&a.body).unwrap(),
        added
    );

    // Replaced: now expired.
    let body = code("310105201209097896", "2021-01-01T00:00:00Z");
    assert_eq!(
        post(bo.addr, "/api/v1/admin/codes", Some(ADMIN), &body).status,
        200
    );
    assert_eq!(resolve(bo.addr, &json!("EID:TEST:0001")).status, 410);

    // A valid ID number nobody in the registry has.
    let body = code("310105197001015557", "2099-01-01T00:00:00Z");
    let a = post(bo.addr, "/api/v1/admin/codes", Some(ADMIN), &body);
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, "resident_not_found")
    );
    let a = post(
        bo.addr,
        "/api/v1/admin/codes",
        Some(ADMIN),
        &serde_json::to_vec(&json!({
            "code": "EID:码", "kind": "e_id", "id_number": "310105201209097896",
            "expires_at": "2099-01-01T00:00:00Z",
        }))
        .unwrap(),
    );
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (422, codes::CODE_NOT_PRINTABLE)
    );
}

#[test]
fn the_binary_refuses_a_codes_file_naming_an_unknown_resident_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("codes.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"code": "SSM:A", "kind": "suishenma", "id_number": "310105195001011231", "expires_at": "2099-12-31T23:59:59Z"}"#,
            "\n\n",
            r#"{"code": "SSM:B", "kind": "suishenma", "id_number": "310105197001015557", "expires_at": "2099-12-31T23:59:59Z"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--db"])
        .arg(dir.path().join("bo.sqlite"))
        .arg("--codes")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: line 3: the code names 310***********5557, who is not in the resident registry",
            file.display()
        )),
        "{err}"
    );
    assert!(
        !err.contains("310105197001015557"),
        "masked in the error: {err}"
    );
}
