//! The resident's session token and 办件进度 at the wire: `POST /api/v1/residents/session`
//! opens a session for a demo resident, `GET /api/v1/residents/me/applications` lists
//! their applications as in `config/demo/applications.jsonl`; a missing, ended, expired or
//! other terminal's token each have their answer; the database holds only the token's
//! hash; the binary refuses an applications file naming an unknown resident, by line.

use crate::common::{ADMIN, Answer, InProcess, TOKEN, request, request_with, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::faults::FaultSettings;
use civic_contract::api::limits::codes;
use civic_contract::api::{
    Application, ApplicationStatus, RESIDENT_TOKEN_HEADER, RESIDENT_TOKEN_TTL_S, ResidentSession,
};

const SESSION: &str = "/api/v1/residents/session";
const APPLICATIONS: &str = "/api/v1/residents/me/applications";
const WANG: &str = "310105195001011231";
const OTHER_TERMINAL: &str = "demo-token-CN-TSL-002";

fn open(bo: &InProcess, terminal: &str, id: &str) -> Answer {
    let body = format!(r#"{{"id_number": "{id}"}}"#);
    request(
        bo.addr,
        "POST",
        SESSION,
        Some(terminal),
        Some(("application/json", body.as_bytes())),
    )
}

fn session(bo: &InProcess, id: &str) -> ResidentSession {
    let a = open(bo, TOKEN, id);
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

fn applications(bo: &InProcess, terminal: &str, resident: Option<&str>) -> Answer {
    let extra: Vec<(&str, &str)> = resident
        .map(|t| ("X-Resident-Token", t))
        .into_iter()
        .collect();
    request_with(bo.addr, "GET", APPLICATIONS, Some(terminal), &extra, None)
}

fn close(bo: &InProcess, resident: &str) -> Answer {
    request_with(
        bo.addr,
        "DELETE",
        SESSION,
        Some(TOKEN),
        &[("X-Resident-Token", resident)],
        None,
    )
}

#[test]
fn a_session_lists_the_residents_applications() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let before = chrono::Utc::now();
    let a = open(&bo, TOKEN, WANG);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !a.body.contains("王秀英") && !a.body.contains(WANG),
        "{}",
        a.body
    );
    let s: ResidentSession = serde_json::from_str(&a.body).unwrap();
    assert_eq!(s.masked_name, "王*英");
    // 256 bits in base64url without padding: 43 characters of its alphabet.
    assert_eq!(s.token.len(), 43, "{}", s.token);
    assert!(
        s.token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let ttl = (s.expires_at - before).num_seconds();
    assert!(
        (RESIDENT_TOKEN_TTL_S - 5..=RESIDENT_TOKEN_TTL_S).contains(&ttl),
        "{ttl}"
    );
    assert!(
        !format!("{s:?}").contains(&s.token),
        "Debug hides the token"
    );
    assert_ne!(session(&bo, WANG).token, s.token, "a new token each time");

    let a = applications(&bo, TOKEN, Some(&s.token));
    assert_eq!(a.status, 200, "{}", a.body);
    let apps: Vec<Application> = serde_json::from_str(&a.body).unwrap();
    use ApplicationStatus as S;
    let got: Vec<(&str, S)> = apps
        .iter()
        .map(|a| (a.case_no.as_str(), a.status))
        .collect();
    assert_eq!(
        got,
        [
            ("CN310105-2026-000123", S::Accepted),
            ("CN310105-2026-000117", S::Reviewing),
            ("CN310105-2026-000098", S::NeedsCorrection),
            ("CN310105-2026-000071", S::Completed),
            ("CN310105-2026-000042", S::Delivered),
        ],
        "newest first"
    );
    let correction = &apps[2];
    assert!(
        correction
            .missing
            .as_deref()
            .unwrap()
            .contains("出生医学证明")
    );
    assert_eq!(correction.timeline.len(), 3);
    assert!(apps[3].collect.as_deref().unwrap().contains("领取"));
    assert!(
        a.body.contains(r#""status":"needs_correction""#),
        "{}",
        a.body
    );

    // Another resident sees theirs only.
    let chen = session(&bo, "310105198503202461");
    let a = applications(&bo, TOKEN, Some(&chen.token));
    let apps: Vec<Application> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(apps.len(), 2);
    assert!(apps.iter().all(|a| !a.case_no.ends_with("000123")));

    // A resident without applications: an empty list. One not in the registry: 404.
    let none = session(&bo, "310105199006154563");
    let a = applications(&bo, TOKEN, Some(&none.token));
    assert_eq!((a.status, a.body.as_str()), (200, "[]"));
    let a = open(&bo, TOKEN, "310105197001015557");
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (404, "resident_not_found")
    );
}

#[test]
fn missing_ended_expired_and_other_terminal_tokens_are_refused_each_with_its_code() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let s = session(&bo, WANG);

    for header in [None, Some(""), Some("  ")] {
        let a = applications(&bo, TOKEN, header);
        assert_eq!(
            (a.status, a.error_code().as_str()),
            (401, codes::RESIDENT_TOKEN_MISSING),
            "{header:?}"
        );
    }
    let a = applications(&bo, TOKEN, Some("not-a-token"));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (401, codes::RESIDENT_TOKEN_INVALID)
    );

    // Issued to CN-TSL-001: CN-TSL-002 may neither read with it nor end it.
    let a = applications(&bo, OTHER_TERMINAL, Some(&s.token));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (403, codes::RESIDENT_TOKEN_OTHER_TERMINAL)
    );
    let a = request_with(
        bo.addr,
        "DELETE",
        SESSION,
        Some(OTHER_TERMINAL),
        &[("X-Resident-Token", &s.token)],
        None,
    );
    assert_eq!(a.status, 204);
    assert_eq!(applications(&bo, TOKEN, Some(&s.token)).status, 200);

    // The terminal token is needed too: a resident token alone is no terminal.
    for terminal in [None, Some(ADMIN)] {
        let a = request_with(
            bo.addr,
            "GET",
            APPLICATIONS,
            terminal,
            &[("X-Resident-Token", &s.token)],
            None,
        );
        assert_eq!((a.status, a.error_code().as_str()), (401, "unauthorized"));
    }

    // Expired: its expiry moved to now (no ten-minute wait).
    let late = session(&bo, WANG);
    assert!(
        bo.state
            .set_resident_session_expiry(&late.token, chrono::Utc::now())
            .unwrap()
    );
    let a = applications(&bo, TOKEN, Some(&late.token));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (401, codes::RESIDENT_TOKEN_EXPIRED)
    );
    assert!(
        !bo.state
            .set_resident_session_expiry("unknown", chrono::Utc::now())
            .unwrap()
    );

    // Ended: DELETE answers 204, and again 204 (idempotent), and for an unknown token.
    let a = close(&bo, &s.token);
    assert_eq!((a.status, a.body.as_str()), (204, ""));
    assert_eq!(close(&bo, &s.token).status, 204);
    assert_eq!(close(&bo, "never-issued").status, 204);
    let a = request_with(bo.addr, "DELETE", SESSION, Some(TOKEN), &[], None);
    assert_eq!(a.status, 204, "no header: nothing to end");
    let a = applications(&bo, TOKEN, Some(&s.token));
    assert_eq!(
        (a.status, a.error_code().as_str()),
        (401, codes::RESIDENT_TOKEN_INVALID)
    );
    assert_eq!(RESIDENT_TOKEN_HEADER, "x-resident-token");
}

#[test]
fn the_database_holds_the_tokens_hash_only() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let s = session(&bo, WANG);
    assert_eq!(applications(&bo, TOKEN, Some(&s.token)).status, 200);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut p = bo.db.clone().into_os_string();
        p.push(suffix);
        if let Ok(b) = std::fs::read(&p) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(s.token.as_bytes()), "the token itself is stored");
    use sha2::Digest as _;
    let hex: String = sha2::Sha256::digest(s.token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(has(hex.as_bytes()), "its SHA-256 is");
}

#[test]
fn the_binary_refuses_an_applications_file_naming_an_unknown_resident_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("applications.jsonl");
    let line = |id: &str, case: &str| {
        format!(
            r#"{{"id_number": "{id}", "case_no": "{case}", "item_code": "310105-RS-0007", "item_name": "社保卡申领", "submitted_on": "2026-11-01", "status": "accepted", "timeline": [{{"status": "accepted", "at": "2026-11-01T02:00:00Z"}}]}}"#
        )
    };
    std::fs::write(
        &file,
        format!(
            "{}\n\n{}\n",
            line(WANG, "CN-1"),
            line("310105197001015557", "CN-2")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--db"])
        .arg(dir.path().join("bo.sqlite"))
        .arg("--applications")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: line 3: the application names 310***********5557, who is not in the resident registry",
            file.display()
        )),
        "{err}"
    );
    assert!(!err.contains("310105197001015557"), "masked: {err}");
}
