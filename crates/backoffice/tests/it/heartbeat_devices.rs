//! A heartbeat's identity devices at the wire: stored with the heartbeat and shown by
//! `GET /api/v1/admin/terminals` as the printers are; over their limits 422; a heartbeat
//! of an older terminal, without the field, still taken.

use serde_json::{Value, json};

use crate::common::{ADMIN, TOKEN, request, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::faults::FaultSettings;
use civic_contract::api::limits::{self, codes};
use civic_contract::api::{DeviceKind, TerminalSummary};

fn heartbeat(devices: Option<Value>) -> Value {
    let mut hb = json!({
        "terminal_id": "CN-TSL-001", "version": "0.1.0", "uptime_s": 60,
        "printers": [{"role": "card", "state": "ready", "detail": null}],
        "outbox_depth": 0, "last_sync": null, "catalogue_version": null,
        "catalogue_age_s": null, "free_disk_bytes": null, "clock_skew_ms": null, "audit": [],
    });
    if let Some(d) = devices {
        hb["devices"] = d;
    }
    hb
}

fn beat(addr: std::net::SocketAddr, hb: &Value) -> crate::common::Answer {
    let body = serde_json::to_vec(hb).unwrap();
    request(
        addr,
        "POST",
        "/api/v1/terminal/heartbeat",
        Some(TOKEN),
        Some(("application/json", &body)),
    )
}

fn summary(addr: std::net::SocketAddr) -> TerminalSummary {
    let a = request(addr, "GET", "/api/v1/admin/terminals", Some(ADMIN), None);
    assert_eq!(a.status, 200, "{}", a.body);
    let all: Vec<TerminalSummary> = serde_json::from_str(&a.body).unwrap();
    all.into_iter()
        .find(|t| t.terminal_id == "CN-TSL-001")
        .unwrap()
}

#[test]
fn devices_are_kept_with_the_heartbeat_and_shown_with_the_printers() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let devices = json!([
        {"kind": "id_reader", "uri": "/dev/ttyUSB0", "state": "ready", "last_fault": null, "last_fault_at": null},
        {"kind": "code_scanner", "uri": "hid:0483:5750", "state": "fault",
         "last_fault": "no answer to a status query", "last_fault_at": "2026-11-26T07:58:30Z"},
    ]);
    let a = beat(bo.addr, &heartbeat(Some(devices)));
    assert_eq!(a.status, 200, "{}", a.body);
    let last = summary(bo.addr).last_heartbeat_body.unwrap();
    assert_eq!(last.printers.len(), 1);
    assert_eq!(last.devices.len(), 2);
    assert_eq!(last.devices[1].kind, DeviceKind::CodeScanner);
    assert_eq!(last.devices[1].state, "fault");
    assert_eq!(
        last.devices[1].last_fault.as_deref(),
        Some("no answer to a status query")
    );

    // An older terminal sends no devices: taken, shown as none.
    let a = beat(bo.addr, &heartbeat(None));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        summary(bo.addr)
            .last_heartbeat_body
            .unwrap()
            .devices
            .is_empty()
    );
}

#[test]
fn devices_over_their_limits_are_refused_with_the_contracts_codes() {
    let bo = start(ServeLimits::default(), FaultSettings::default());
    let device = |uri: &str, state: &str, fault: Option<String>| json!({"kind": "id_reader", "uri": uri, "state": state, "last_fault": fault, "last_fault_at": null});
    let ok = device("/dev/ttyUSB0", "ready", None);
    let cases = [
        (
            json!(vec![ok.clone(); limits::MAX_HEARTBEAT_DEVICES + 1]),
            codes::TOO_MANY_VALUES,
        ),
        (
            json!([device(
                &"u".repeat(limits::MAX_DEVICE_URI_CHARS + 1),
                "ready",
                None
            )]),
            codes::FIELD_TOO_LONG,
        ),
        (
            json!([device(
                "/dev/ttyUSB0",
                &"s".repeat(limits::MAX_DEVICE_STATE_CHARS + 1),
                None
            )]),
            codes::FIELD_TOO_LONG,
        ),
        (
            json!([device(
                "/dev/ttyUSB0",
                "fault",
                Some("故".repeat(limits::MAX_FAULT_CHARS + 1))
            )]),
            codes::FIELD_TOO_LONG,
        ),
        (json!([device("", "ready", None)]), codes::FIELD_EMPTY),
    ];
    for (devices, want) in cases {
        let a = beat(bo.addr, &heartbeat(Some(devices)));
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(a.error_code(), want);
    }
    let a = beat(
        bo.addr,
        &heartbeat(Some(json!(vec![ok; limits::MAX_HEARTBEAT_DEVICES]))),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // An unknown kind does not fit the type: 400, as every body.
    let a = beat(
        bo.addr,
        &heartbeat(Some(
            json!([{"kind": "fingerprint", "uri": "x", "state": "ready"}]),
        )),
    );
    assert_eq!((a.status, a.error_code().as_str()), (400, "bad_request"));
}
