//! Heartbeat to the back office and the remote config it may push.
//!
//! Every `heartbeat.interval_s` the terminal reports its health (version, uptime, printer
//! states, outbox depth, last ratings sync, catalogue version and age, free disk, clock
//! skew) and the audit entries written since the last acknowledged heartbeat. The answer
//! carries the remote config's version; when it differs from the one applied, the terminal
//! fetches it and applies the whitelisted settings through the config's live layer, with
//! the same validation as a config file. Everything else (a PIN, the back-office URL, its
//! token or trusted key, printers …) is refused and audited.

use crate::api::{Heartbeat, PrinterState, RemoteConfig};
use crate::backoffice::Client;
use crate::config::{Config, ConfigHandle, PrinterRole};
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Settings the back office may change remotely; nothing else.
pub const REMOTE_WHITELIST: [&str; 4] = [
    "display.idle_timeout_s",
    "display.notices",
    "ratings.reasons",
    "heartbeat.interval_s",
];

/// `sync_state` rows.
pub const STATE_LAST_OK: &str = "heartbeat.last_ok";
pub const STATE_LAST_ERROR: &str = "heartbeat.last_error";
pub const STATE_SKEW: &str = "heartbeat.clock_skew_ms";
pub const STATE_REMOTE_VERSION: &str = "heartbeat.remote_config_version";

/// At most this many audit entries ride on one heartbeat; the rest follow on the next.
const AUDIT_PER_BEAT: usize = 500;

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one heartbeat did.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatReport {
    pub audit_shipped: usize,
    pub clock_skew_ms: Option<i64>,
    /// The remote config was fetched (its version changed).
    pub remote: Option<RemoteOutcome>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOutcome {
    pub version: u64,
    pub applied: Vec<String>,
    /// Keys refused, with why.
    pub refused: Vec<(String, String)>,
}

/// The terminal's heartbeat: keeps the start time, the last clock skew and the remote
/// config version applied (in memory: after a restart the live layer is empty, so the
/// remote config is fetched and applied again).
pub struct Heart {
    client: Client,
    store: Arc<Mutex<Store>>,
    config: ConfigHandle,
    started: Instant,
    skew_ms: Option<i64>,
    applied_version: Option<u64>,
}

impl Heart {
    pub fn new(client: Client, store: Arc<Mutex<Store>>, config: ConfigHandle) -> Self {
        Self {
            client,
            store,
            config,
            started: Instant::now(),
            skew_ms: None,
            applied_version: None,
        }
    }

    /// Gathers the health report (printer probes, store counts, disk).
    pub async fn collect(&self, audit: Vec<crate::api::AuditEntry>) -> Heartbeat {
        let config = self.config.current();
        let mut printers = Vec::new();
        for role in PrinterRole::ALL {
            let (state, detail) =
                crate::diagnose::printer_state(&config, role, Duration::from_secs(2)).await;
            printers.push(PrinterState {
                role: role.name().into(),
                state,
                detail: Some(detail),
            });
        }
        let store = self.store.clone();
        let (counts, cached) = tokio::task::spawn_blocking(move || {
            let s = lock(&store);
            (
                crate::ratings::counts(&s).ok(),
                s.cached_catalogue().ok().flatten(),
            )
        })
        .await
        .unwrap_or((None, None));
        let now = Utc::now();
        Heartbeat {
            terminal_id: config.terminal.id.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_s: self.started.elapsed().as_secs(),
            printers,
            outbox_depth: counts.as_ref().map_or(0, |c| c.pending),
            last_sync: counts
                .as_ref()
                .and_then(|c| c.last_sync.as_deref())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            catalogue_version: cached.as_ref().map(|c| c.version.clone()),
            catalogue_age_s: cached
                .as_ref()
                .map(|c| (now - c.fetched_at).num_seconds().max(0) as u64),
            free_disk_bytes: free_disk_bytes(&config.data_dir()),
            clock_skew_ms: self.skew_ms,
            audit,
        }
    }

    /// One heartbeat: report, ship audit entries, apply a changed remote config.
    pub async fn beat(&mut self) -> Result<BeatReport, crate::backoffice::ClientError> {
        let store = self.store.clone();
        let unshipped = tokio::task::spawn_blocking(move || {
            lock(&store)
                .audit_unshipped(AUDIT_PER_BEAT)
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let last_seq = unshipped.last().map(|(seq, _)| *seq);
        let audit: Vec<_> = unshipped.into_iter().map(|(_, e)| e).collect();
        let n_audit = audit.len();
        let hb = self.collect(audit).await;
        let result = self.client.heartbeat(&hb).await;
        let store = self.store.clone();
        let (ack, date) = match result {
            Ok(x) => x,
            Err(e) => {
                let text = format!("{} {e}", Utc::now().to_rfc3339());
                let _ = tokio::task::spawn_blocking(move || {
                    lock(&store).set_state(STATE_LAST_ERROR, &text)
                })
                .await;
                return Err(e);
            }
        };
        self.skew_ms = date.map(|d| {
            // The Date header has 1 s resolution: skew within ±1 s reads as 0.
            let ms = (Utc::now() - d).num_milliseconds();
            if ms.abs() < 1000 { 0 } else { ms }
        });
        let skew = self.skew_ms;
        let _ = tokio::task::spawn_blocking(move || {
            let mut s = lock(&store);
            if let Some(seq) = last_seq {
                s.mark_audit_shipped(seq)?;
            }
            s.set_state(STATE_LAST_OK, &Utc::now().to_rfc3339())?;
            s.set_state(STATE_LAST_ERROR, "")?;
            s.set_state(STATE_SKEW, &skew.map(|v| v.to_string()).unwrap_or_default())
        })
        .await;
        let mut remote = None;
        if self.applied_version != Some(ack.config_version) {
            let rc = self.client.remote_config().await?;
            let outcome = self.apply_remote(&rc).await;
            self.applied_version = Some(rc.version);
            remote = Some(outcome);
        }
        Ok(BeatReport {
            audit_shipped: n_audit,
            clock_skew_ms: self.skew_ms,
            remote,
        })
    }

    /// Applies the whitelisted settings of a remote config as the live layer (all or
    /// nothing: a value the validator refuses leaves the previous live layer in force).
    pub async fn apply_remote(&self, rc: &RemoteConfig) -> RemoteOutcome {
        let (live, mut refused) = remote_layer(rc);
        let mut applied: Vec<String> = Vec::new();
        let keys: Vec<String> = rc
            .settings
            .keys()
            .filter(|k| REMOTE_WHITELIST.contains(&k.as_str()))
            .cloned()
            .collect();
        if refused.iter().all(|(k, _)| !keys.contains(k)) {
            match self.config.set_live(live) {
                Ok(_) => applied = keys,
                Err(e) => {
                    let why = e.lines().join("; ");
                    for k in keys {
                        refused.push((k, why.clone()));
                    }
                }
            }
        }
        let mut entries: Vec<(&str, String)> = Vec::new();
        if !applied.is_empty() {
            let shown: Vec<String> = applied
                .iter()
                .map(|k| format!("{k}={}", rc.settings[k]))
                .collect();
            log::info!(
                "remote config v{} applied: {}",
                rc.version,
                shown.join(", ")
            );
            entries.push((
                "remote_config_applied",
                format!("v{}: {}", rc.version, shown.join(", ")),
            ));
        }
        for (k, why) in &refused {
            log::warn!("remote config v{}: {k} refused: {why}", rc.version);
            entries.push((
                "remote_config_refused",
                format!("v{}: {k}: {why}", rc.version),
            ));
        }
        let store = self.store.clone();
        let version = rc.version;
        let _ = tokio::task::spawn_blocking(move || {
            let mut s = lock(&store);
            for (kind, detail) in entries {
                if let Err(e) = s.audit(kind, &detail, Some("backoffice")) {
                    log::error!("audit: {e}");
                }
            }
            s.set_state(STATE_REMOTE_VERSION, &version.to_string())
        })
        .await;
        RemoteOutcome {
            version: rc.version,
            applied,
            refused,
        }
    }
}

/// The live TOML layer for a remote config's whitelisted keys, and the keys refused.
pub fn remote_layer(rc: &RemoteConfig) -> (toml::Table, Vec<(String, String)>) {
    let mut live = toml::Table::new();
    let mut refused = Vec::new();
    for (key, value) in &rc.settings {
        if !REMOTE_WHITELIST.contains(&key.as_str()) {
            refused.push((
                key.clone(),
                "not changeable remotely (only display.idle_timeout_s, display.notices, ratings.reasons, heartbeat.interval_s)".into(),
            ));
            continue;
        }
        let Some((section, field)) = key.split_once('.') else {
            continue;
        };
        match toml::Value::try_from(value) {
            Ok(v) => {
                let t = live
                    .entry(section.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = t {
                    t.insert(field.to_string(), v);
                }
            }
            Err(e) => refused.push((key.clone(), format!("value {value} is not usable: {e}"))),
        }
    }
    (live, refused)
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
pub fn free_disk_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    let c = std::ffi::CString::new(probe.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// Heartbeats every `heartbeat.interval_s` (read live) until `shutdown` turns true.
pub async fn run_worker(mut heart: Heart, mut shutdown: watch::Receiver<bool>) {
    let mut config = heart.config.subscribe();
    loop {
        match heart.beat().await {
            Ok(r) => log::debug!("heartbeat: {r:?}"),
            Err(e) => log::warn!("heartbeat failed: {e}"),
        }
        let interval = Duration::from_secs(
            config
                .borrow_and_update()
                .heartbeat
                .interval_s
                .clamp(10, 3600) as u64,
        );
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Heartbeat state for `status`, from the store.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HeartbeatStatus {
    pub interval_s: i64,
    pub last_ok: Option<String>,
    pub last_error: Option<String>,
    pub clock_skew_ms: Option<i64>,
    pub remote_config_version: Option<u64>,
}

pub fn status(config: &Config, store: Option<&Store>) -> HeartbeatStatus {
    let get = |k: &str| {
        store
            .and_then(|s| s.get_state(k).ok().flatten())
            .filter(|v| !v.is_empty())
    };
    HeartbeatStatus {
        interval_s: config.heartbeat.interval_s,
        last_ok: get(STATE_LAST_OK),
        last_error: get(STATE_LAST_ERROR),
        clock_skew_ms: get(STATE_SKEW).and_then(|v| v.parse().ok()),
        remote_config_version: get(STATE_REMOTE_VERSION).and_then(|v| v.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whitelisted_keys_make_the_live_layer() {
        let rc = RemoteConfig {
            version: 3,
            settings: [
                ("display.idle_timeout_s", serde_json::json!(120)),
                ("ratings.reasons", serde_json::json!(["等候时间长", "其他"])),
                ("backoffice.url", serde_json::json!("https://evil.example/")),
                ("technician.pin_hash", serde_json::json!("$argon2id$x")),
                ("display.notices", serde_json::json!([null])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        let (live, refused) = remote_layer(&rc);
        assert_eq!(live["display"]["idle_timeout_s"].as_integer(), Some(120));
        assert_eq!(live["ratings"]["reasons"].as_array().map(Vec::len), Some(2));
        assert!(!live.contains_key("backoffice") && !live.contains_key("technician"));
        let keys: Vec<&str> = refused.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"backoffice.url"));
        assert!(keys.contains(&"technician.pin_hash"));
        assert!(
            keys.contains(&"display.notices"),
            "a null is not a usable value"
        );
    }

    #[test]
    fn free_disk_is_read_for_a_missing_dir_through_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_disk_bytes(&dir.path().join("not/yet/made")).unwrap();
        assert!(free > 0);
    }
}
