//! Heartbeats reach the reference back office with the terminal's health and audit
//! entries; the remote config changes whitelisted settings live and is refused (and
//! audited) for anything else.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::backoffice::{Client, ClientOptions};
use civic_kiosk::config::{ConfigHandle, Layers};
use civic_kiosk::heartbeat::Heart;
use civic_kiosk::store::Store;

fn client(url: &str, token: &str) -> Client {
    Client::new(&ClientOptions {
        base_url: url.into(),
        token: token.into(),
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        ca_file: None,
        max_body_bytes: 8 << 20,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_health_and_audit_and_apply_only_whitelisted_remote_config() {
    let dir = tempfile::tempdir().unwrap();
    let bo = common::start_backoffice(&dir.path().join("bo.sqlite"), false, None).await;
    let path = common::config_in(dir.path(), &common::shipped_config());
    let text = std::fs::read_to_string(&path).unwrap();
    let layers = Layers::from_parts(&path, &text, Vec::<(String, String)>::new()).unwrap();
    let handle = ConfigHandle::new(layers).unwrap();
    let config = handle.current();
    let terminal = config.terminal.id.clone();
    let store = Arc::new(Mutex::new(Store::open_in(&config.data_dir()).unwrap()));
    store
        .lock()
        .unwrap()
        .audit(
            "maintenance_entered",
            "technician PIN accepted",
            Some("technician"),
        )
        .unwrap();
    let admin = client(&bo.url, &bo.admin_token);
    let mut heart = Heart::new(
        client(&bo.url, &config.backoffice.token),
        store.clone(),
        handle.clone(),
    );
    let live = handle.subscribe();

    // ---- a heartbeat arrives with the fields, and ships the audit entry once
    let report = heart.beat().await.unwrap();
    assert_eq!(report.audit_shipped, 1);
    assert_eq!(report.clock_skew_ms, Some(0), "same machine: no skew");
    let me = admin
        .terminals()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.terminal_id == terminal)
        .expect("the back office knows the terminal");
    assert_eq!(me.heartbeats, 1);
    let hb = me.last_heartbeat_body.unwrap();
    assert_eq!(hb.version, env!("CARGO_PKG_VERSION"));
    let roles: Vec<&str> = hb.printers.iter().map(|p| p.role.as_str()).collect();
    assert_eq!(roles, ["card", "receipt", "document"]);
    assert!(
        hb.printers.iter().all(|p| p.state == "ready"),
        "{:?}",
        hb.printers
    );
    assert_eq!(hb.outbox_depth, 0);
    assert!(hb.free_disk_bytes.is_some_and(|b| b > 0));
    assert_eq!(hb.audit.len(), 1);
    assert_eq!(hb.audit[0].kind, "maintenance_entered");
    let again = heart.beat().await.unwrap();
    assert_eq!(
        again.audit_shipped, 0,
        "an acknowledged entry is not sent twice"
    );
    assert!(
        again.remote.is_none(),
        "remote config unchanged: not fetched again"
    );

    // ---- a remote change of the idle timeout applies live; the URL is refused and audited
    assert_eq!(live.borrow().display.idle_timeout_s, 90);
    let settings: BTreeMap<String, serde_json::Value> = [
        ("display.idle_timeout_s", serde_json::json!(150)),
        (
            "display.notices",
            serde_json::json!(["12月1日起本机可打印离线码卡片"]),
        ),
        (
            "backoffice.url",
            serde_json::json!("https://elsewhere.example/"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    admin.set_remote_config(&terminal, &settings).await.unwrap();
    let report = heart.beat().await.unwrap();
    let remote = report
        .remote
        .expect("a new remote config version is fetched");
    assert_eq!(
        remote.applied,
        ["display.idle_timeout_s", "display.notices"]
    );
    assert_eq!(remote.refused.len(), 1);
    assert_eq!(remote.refused[0].0, "backoffice.url");
    assert_eq!(
        live.borrow().display.idle_timeout_s,
        150,
        "applied without a restart"
    );
    assert_eq!(live.borrow().display.notices.len(), 1);
    assert_eq!(
        handle.current().backoffice.url,
        "embedded",
        "the URL did not change"
    );
    let audit = store.lock().unwrap().audit_tail(10).unwrap();
    assert!(
        audit.iter().any(|e| e.kind == "remote_config_refused"
            && e.detail.contains("backoffice.url")
            && e.actor.as_deref() == Some("backoffice")),
        "{audit:?}"
    );
    assert!(audit.iter().any(|e| e.kind == "remote_config_applied"));
    // The refusal reaches the back office with the next heartbeat.
    heart.beat().await.unwrap();
    let me = admin
        .terminals()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.terminal_id == terminal)
        .unwrap();
    let shipped = me.last_heartbeat_body.unwrap().audit;
    assert!(
        shipped
            .iter()
            .any(|e| e.kind == "remote_config_refused" && e.detail.contains("backoffice.url")),
        "{shipped:?}"
    );

    // ---- a value the validator refuses changes nothing and is audited with its reason
    let bad: BTreeMap<String, serde_json::Value> =
        [("display.idle_timeout_s".to_string(), serde_json::json!(5))].into();
    admin.set_remote_config(&terminal, &bad).await.unwrap();
    let report = heart.beat().await.unwrap();
    let remote = report.remote.unwrap();
    assert!(remote.applied.is_empty());
    assert!(
        remote.refused[0].1.contains("display.idle_timeout_s"),
        "{:?}",
        remote.refused
    );
    assert_eq!(
        live.borrow().display.idle_timeout_s,
        150,
        "previous live layer kept"
    );

    // ---- the status report shows the heartbeat state
    let (_, _, hb_status) = civic_kiosk::status::local_state(&handle.current());
    assert!(hb_status.last_ok.is_some());
    assert_eq!(hb_status.last_error, None);
    assert_eq!(hb_status.remote_config_version, Some(2));
}
