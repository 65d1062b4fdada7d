//! Foundation: the contract document against the wire types, privacy of logs, and the CLI.

use crate::common;

use common::{config_in, shipped_config};
use std::path::Path;
use std::process::Command;

use civic_kiosk::api::*;
use civic_kiosk::identity::{IdNumber, PersonName, PhoneNumber};

// ---------------------------------------------------------------- docs/api.md

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(name: &str, text: &str) {
    let original: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: example is not JSON: {e}"));
    let typed: T = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{name}: example does not fit the type: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        back, original,
        "{name}: writing the parsed example back changes it"
    );
}

#[test]
fn every_wire_type_round_trips_its_docs_example() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```json ") else {
            continue;
        };
        let name = name.trim().to_string();
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let text = body.join("\n");
        match name.as_str() {
            "ApiError" => round_trip::<ApiError>(&name, &text),
            "Ping" => round_trip::<Ping>(&name, &text),
            "Catalogue" => round_trip::<Catalogue>(&name, &text),
            "ServiceItem" => round_trip::<ServiceItem>(&name, &text),
            "Bundle" => round_trip::<Bundle>(&name, &text),
            "FaqSearch" => round_trip::<FaqSearch>(&name, &text),
            "ResidentLookupRequest" => round_trip::<ResidentLookupRequest>(&name, &text),
            "ResidentLookup" => round_trip::<ResidentLookup>(&name, &text),
            "IssueCodeRequest" => round_trip::<IssueCodeRequest>(&name, &text),
            "IssuedCode" => round_trip::<IssuedCode>(&name, &text),
            "ReportLostRequest" => round_trip::<ReportLostRequest>(&name, &text),
            "VoidCardRequest" => round_trip::<VoidCardRequest>(&name, &text),
            "CardStatus" => round_trip::<CardStatus>(&name, &text),
            "RatingBatch" => round_trip::<RatingBatch>(&name, &text),
            "RatingBatchResult" => round_trip::<RatingBatchResult>(&name, &text),
            "Heartbeat" => round_trip::<Heartbeat>(&name, &text),
            "HeartbeatAck" => round_trip::<HeartbeatAck>(&name, &text),
            "RemoteConfig" => round_trip::<RemoteConfig>(&name, &text),
            "HelpRequest" => round_trip::<HelpRequest>(&name, &text),
            "HelpAck" => round_trip::<HelpAck>(&name, &text),
            "PublicKeyInfo" => round_trip::<PublicKeyInfo>(&name, &text),
            "RatingStats" => round_trip::<RatingStats>(&name, &text),
            "TerminalSummary" => round_trip::<TerminalSummary>(&name, &text),
            "ResidentRecord" => round_trip::<ResidentRecord>(&name, &text),
            "ResolveCodeRequest" => round_trip::<ResolveCodeRequest>(&name, &text),
            "ResolvedCode" => round_trip::<ResolvedCode>(&name, &text),
            "CodeRecord" => round_trip::<CodeRecord>(&name, &text),
            other => panic!("docs/api.md has an example of unknown type {other}"),
        }
        seen.insert(name);
    }
    let all = [
        "ApiError",
        "Ping",
        "Catalogue",
        "ServiceItem",
        "Bundle",
        "FaqSearch",
        "ResidentLookupRequest",
        "ResidentLookup",
        "IssueCodeRequest",
        "IssuedCode",
        "ReportLostRequest",
        "VoidCardRequest",
        "CardStatus",
        "RatingBatch",
        "RatingBatchResult",
        "Heartbeat",
        "HeartbeatAck",
        "RemoteConfig",
        "HelpRequest",
        "HelpAck",
        "PublicKeyInfo",
        "RatingStats",
        "TerminalSummary",
        "ResidentRecord",
        "ResolveCodeRequest",
        "ResolvedCode",
        "CodeRecord",
    ];
    let missing: Vec<_> = all.iter().filter(|t| !seen.contains(**t)).collect();
    assert!(
        missing.is_empty(),
        "wire types without an example in docs/api.md: {missing:?}"
    );
}

#[test]
fn a_wrong_example_is_caught() {
    // The check above must be able to fail: a misspelt field or a bad level does not fit.
    assert!(serde_json::from_str::<CardStatus>(r#"{"card_id":"x","state":"lost"}"#).is_err());
    assert!(serde_json::from_str::<RatingLevel>("6").is_err());
    assert!(
        serde_json::from_str::<ResidentLookupRequest>(r#"{"id_number":"310105195001011232"}"#)
            .is_err()
    );
}

// ---------------------------------------------------------------- privacy

#[test]
fn no_clear_pii_reaches_the_log_at_trace_level() {
    // Sets the global logger: in a process of its own.
    if !common::in_own_process("foundation::no_clear_pii_reaches_the_log_at_trace_level") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(civic_kiosk::logging::init(
        &civic_kiosk::logging::LogSettings {
            dir: Some(dir.path().to_path_buf()),
            level: log::LevelFilter::Trace,
            max_file_bytes: 1 << 20,
            keep_files: 1,
            stderr: false,
        }
    ));
    let id = IdNumber::parse("310105195001011231").unwrap();
    let name = PersonName::new("王秀英");
    let phone = PhoneNumber::parse("13812345678").unwrap();
    let request = IssueCodeRequest {
        id_number: id.clone(),
        reissue: false,
        request_id: uuid::Uuid::now_v7(),
        staff: None,
    };
    let callback = Callback {
        consent: true,
        phone: phone.clone(),
    };
    let record = ResidentRecord {
        id_number: id.clone(),
        name: name.clone(),
        disabled: false,
    };
    log::trace!("id {id} {id:?} name {name} {name:?} phone {phone} {phone:?}");
    log::debug!("request {request:?} callback {callback:?} record {record:?}");
    log::info!("pretty {request:#?} {record:#?}");
    log::warn!("{:?}", (&id, &name, &phone));
    log::error!("{}", civic_kiosk::identity::IdNumberError::BadChecksum);
    log::logger().flush();
    let text = std::fs::read_to_string(dir.path().join("kiosk.log")).unwrap();
    assert!(
        text.lines().count() >= 5,
        "the log captured too little: {text}"
    );
    for clear in ["310105195001011231", "王秀英", "13812345678"] {
        assert!(
            !text.contains(clear),
            "clear value {clear} in the log:\n{text}"
        );
    }
    for masked in ["310***********1231", "王*英", "138****5678"] {
        assert!(
            text.contains(masked),
            "masked form {masked} missing:\n{text}"
        );
    }
}

// ---------------------------------------------------------------- CLI

fn kiosk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
}

#[test]
fn check_config_accepts_the_shipped_file() {
    let out = kiosk()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check-config", "config/kiosk.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_names_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = shipped_config();
    let display_line = shipped.lines().position(|l| l == "[display]").unwrap() + 1;
    let malformed_at = format!("line {display_line}, column");
    let cases = [
        ("bad printer", shipped.replace("uri = \"pdf://spool/card\"", "uri = \"lpt://counter\""), "printers.card.uri: unknown scheme 'lpt'; use escpos+tcp://"),
        ("escpos without host", shipped.replace("uri = \"pdf://spool/card\"", "uri = \"escpos+tcp://\""), "printers.card.uri: escpos+tcp:// needs a host"),
        ("negative idle", shipped.replace("idle_timeout_s = 90", "idle_timeout_s = -5"), "display.idle_timeout_s: -5 is not a timeout; use a positive number"),
        ("negative timeout", shipped.replace("connect_timeout_s = 3", "connect_timeout_s = -3"), "backoffice.connect_timeout_s"),
        ("malformed", shipped.replace("[display]", "[display"), malformed_at.as_str()),
        ("plain http", shipped.replace("\nurl = \"embedded\"\n", "\nurl = \"http://198.51.100.20/\"\npublic_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n"), "backoffice.url: plain http to '198.51.100.20' is refused"),
        ("bad key", shipped.replace("\nurl = \"embedded\"\n", "\nurl = \"https://bo.example.cn/\"\npublic_key = \"not-a-key\"\n"), "backoffice.public_key: cannot be parsed"),
    ];
    for (what, text, want) in cases {
        let path = config_in(dir.path(), &text);
        let out = kiosk().args(["check-config"]).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: want one line, got {stderr}");
        assert!(
            lines[0].contains(want),
            "{what}: {:?} lacks {want:?}",
            lines[0]
        );
        assert!(
            lines[0].starts_with(&path.display().to_string()),
            "{what}: names no file"
        );
    }
}

#[test]
fn status_json_reports_unreachable_as_a_value() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing listens, the connection is refused at once.
    let text = shipped_config()
        .replace("\nurl = \"embedded\"\n", "\nurl = \"https://127.0.0.1:9/\"\npublic_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n");
    let path = config_in(dir.path(), &text);
    let out = kiosk()
        .args(["status", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    assert_eq!(v["terminal_id"], "CN-TSL-001");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["backoffice"]["mode"], "remote");
    assert_eq!(v["backoffice"]["reachable"], false);
    assert_eq!(v["backoffice"]["error_kind"], "unreachable");
    assert_eq!(v["printers"].as_array().unwrap().len(), 3);
}

#[test]
fn status_json_finds_the_embedded_back_office_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_in(dir.path(), &shipped_config());
    let out = kiosk()
        .args(["status", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backoffice"]["mode"], "embedded");
    assert_eq!(v["backoffice"]["reachable"], true, "{v:#}");
    assert!(
        v["backoffice"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(v["printers"][0]["reachable"], true);
    assert_eq!(v["printers"][0]["state"], "ready", "{v:#}");
}

#[test]
fn run_without_a_display_says_what_to_do() {
    let out = kiosk()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SLINT_BACKEND")
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no display: set DISPLAY"), "{stderr}");
}
