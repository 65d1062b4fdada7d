//! Heartbeat to the back office and the remote config it may push.
//!
//! Every `heartbeat.interval_s` the terminal reports its health (version, uptime, printer
//! states, outbox depth, last ratings sync, catalogue version and age, free disk, clock
//! skew) and the audit entries written since the last acknowledged heartbeat. The answer
//! carries the remote config's version; when it differs from the one applied, the terminal
//! fetches it and applies the whitelisted settings through the config's live layer, with
//! the same validation as a config file. Everything else (a PIN, the back-office URL, its
//! token or trusted key, printers …) is refused, and audited in one summary line however
//! many keys came; the same config is not audited again after a restart.

use crate::api::{Heartbeat, PrinterState, RemoteConfig};
use crate::backoffice::Client;
use crate::config::{Config, ConfigHandle, PrinterRole};
use crate::health::free_disk_bytes;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

// Settings the back office may change remotely, and nothing else: the rows of class
// `Remote` in the contract's one table ([`crate::api::SETTABLE`]), which the back office reads too.

/// Why a key outside the whitelist is refused. Short: a hostile or broken back office
/// may send 100,000 such keys, and each refusal holds a copy.
pub const NOT_SETTABLE: &str = "not changeable remotely";

/// At most this many refused key names are named in the audit line and the log line.
const REFUSED_NAMED: usize = 5;
/// Audit details and log lines about a remote config stay below this many characters.
const SUMMARY_MAX_CHARS: usize = 1000;

/// `sync_state` rows.
pub const STATE_LAST_OK: &str = "heartbeat.last_ok";
pub const STATE_LAST_ERROR: &str = "heartbeat.last_error";
pub const STATE_SKEW: &str = "heartbeat.clock_skew_ms";
pub const STATE_REMOTE_VERSION: &str = "heartbeat.remote_config_version";
/// Digest of the last remote config handled and of what was audited for it: a restarted
/// terminal fetches and applies the same config again, and must not audit it again.
pub const STATE_REMOTE_DIGEST: &str = "heartbeat.remote_config_digest";
/// The live layer in force (TOML), so `status` in another process can say which values
/// the back office set. Rewritten whenever a remote config is applied.
pub const STATE_REMOTE_LIVE: &str = "heartbeat.remote_config_live";

/// At most this many audit entries ride on one heartbeat; the rest follow on the next.
const AUDIT_PER_BEAT: usize = 500;

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
/// The identity devices' states of the moment (the shell owns the devices).
pub type DeviceStates = Arc<dyn Fn() -> Vec<crate::api::DeviceState> + Send + Sync>;

pub struct Heart {
    client: Client,
    store: Arc<Mutex<Store>>,
    config: ConfigHandle,
    devices: Option<DeviceStates>,
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
            devices: None,
            started: Instant::now(),
            skew_ms: None,
            applied_version: None,
        }
    }

    /// Reports the ID card reader's and the scanner's states with each heartbeat.
    pub fn with_devices(mut self, devices: DeviceStates) -> Self {
        self.devices = Some(devices);
        self
    }

    /// Gathers the health report (printer probes, store counts, disk, devices).
    pub async fn collect(&self, audit: Vec<crate::api::AuditEntry>) -> Heartbeat {
        let config = self.config.current();
        let mut printers = Vec::new();
        for role in PrinterRole::ALL {
            let (state, detail) =
                crate::health::printer_state(&config, role, Duration::from_secs(2)).await;
            printers.push(PrinterState {
                role: role.name().into(),
                state,
                detail: Some(detail),
            });
        }
        let (counts, cached) = crate::store::run(&self.store, |s| {
            (
                crate::ratings::counts(s).ok(),
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
            devices: self.devices.as_ref().map_or_else(Vec::new, |f| {
                f().into_iter()
                    .map(crate::api::DeviceState::within_limits)
                    .collect()
            }),
        }
    }

    /// One heartbeat: report, ship audit entries, apply a changed remote config.
    pub async fn beat(&mut self) -> Result<BeatReport, crate::backoffice::ClientError> {
        let unshipped = crate::store::run(&self.store, |s| {
            s.audit_unshipped(AUDIT_PER_BEAT).unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let last_seq = unshipped.last().map(|(seq, _)| *seq);
        let audit: Vec<_> = unshipped.into_iter().map(|(_, e)| e).collect();
        let n_audit = audit.len();
        let hb = self.collect(audit).await;
        let result = self.client.heartbeat(&hb).await;
        let (ack, date) = match result {
            Ok(x) => x,
            Err(e) => {
                let text = format!("{} {e}", Utc::now().to_rfc3339());
                let _ =
                    crate::store::run(&self.store, move |s| s.set_state(STATE_LAST_ERROR, &text))
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
        let _ = crate::store::run(&self.store, move |s| {
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
    ///
    /// What happened is audited in at most two entries (one `remote_config_applied`, one
    /// `remote_config_refused` summing up every refused key) and logged in one line, however
    /// many keys arrived; and not again when the same config gives the same outcome after
    /// a restart (compared through [`STATE_REMOTE_DIGEST`]).
    pub async fn apply_remote(&self, rc: &RemoteConfig) -> RemoteOutcome {
        let (live, mut refused) = remote_layer(rc);
        let mut applied: Vec<String> = Vec::new();
        let keys: Vec<String> = rc
            .settings
            .keys()
            .filter(|k| crate::api::remote_settable(k))
            .cloned()
            .collect();
        let mut live_text = None;
        if refused.iter().all(|(k, _)| !keys.contains(k)) {
            let text = toml::to_string(&live).unwrap_or_default();
            match self.config.set_live(live) {
                Ok(_) => {
                    applied = keys;
                    live_text = Some(text);
                }
                Err(e) => {
                    let why = e.lines().join("; ");
                    for k in keys {
                        refused.push((k, why.clone()));
                    }
                }
            }
        }
        let applied_text = (!applied.is_empty()).then(|| {
            let shown: Vec<String> = applied
                .iter()
                .map(|k| format!("{k}={}", rc.settings[k]))
                .collect();
            shorten(&shown.join(", "), SUMMARY_MAX_CHARS)
        });
        let refused_text = refusal_summary(&refused);
        let mut entries: Vec<(&str, String)> = Vec::new();
        if let Some(t) = &applied_text {
            entries.push(("remote_config_applied", format!("v{}: {t}", rc.version)));
        }
        if let Some(t) = &refused_text {
            entries.push(("remote_config_refused", format!("v{}: {t}", rc.version)));
        }
        let parts: Vec<String> = [applied_text.map(|t| format!("applied {t}")), refused_text]
            .into_iter()
            .flatten()
            .collect();
        let line = shorten(
            &format!(
                "remote config v{}: {}",
                rc.version,
                if parts.is_empty() {
                    "no settings".to_string()
                } else {
                    parts.join("; ")
                }
            ),
            SUMMARY_MAX_CHARS,
        );
        let digest = outcome_digest(rc, &entries);
        let version = rc.version;
        let fresh = crate::store::run(&self.store, move |s| {
            let seen = s.get_state(STATE_REMOTE_DIGEST).ok().flatten();
            let fresh = seen.as_deref() != Some(digest.as_str());
            if fresh {
                for (kind, detail) in entries {
                    if let Err(e) = s.audit(kind, &detail, Some("backoffice")) {
                        log::error!("audit: {e}");
                    }
                }
                if let Err(e) = s.set_state(STATE_REMOTE_DIGEST, &digest) {
                    log::error!("remote config digest: {e}");
                }
            }
            if let Err(e) = s.set_state(STATE_REMOTE_VERSION, &version.to_string()) {
                log::error!("remote config version: {e}");
            }
            if let Some(text) = &live_text
                && let Err(e) = s.set_state(STATE_REMOTE_LIVE, text)
            {
                log::error!("remote config live layer: {e}");
            }
            fresh
        })
        .await
        .unwrap_or(true);
        if !fresh {
            // The same config with the same outcome as before a restart: audited then.
            log::info!("{line} (as before the restart; audited then)");
        } else if refused.is_empty() {
            log::info!("{line}");
        } else {
            log::warn!("{line}");
        }
        RemoteOutcome {
            version: rc.version,
            applied,
            refused,
        }
    }
}

/// One text for every refused key of a remote config, bounded in length: how many keys
/// were outside the whitelist (the first few named), then each whitelisted key the
/// validator refused with why. `None` when nothing was refused.
pub fn refusal_summary(refused: &[(String, String)]) -> Option<String> {
    if refused.is_empty() {
        return None;
    }
    let (unknown, invalid): (Vec<_>, Vec<_>) =
        refused.iter().partition(|(_, why)| why == NOT_SETTABLE);
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        let named: Vec<String> = unknown
            .iter()
            .take(REFUSED_NAMED)
            .map(|(k, _)| shorten(k, 64))
            .collect();
        let more = if unknown.len() > REFUSED_NAMED {
            " …"
        } else {
            ""
        };
        parts.push(format!(
            "{} key{} refused ({NOT_SETTABLE}; only {}): first: {}{more}",
            unknown.len(),
            if unknown.len() == 1 { "" } else { "s" },
            crate::api::remote_keys().collect::<Vec<_>>().join(", "),
            named.join(", ")
        ));
    }
    for (k, why) in invalid {
        parts.push(format!("{k} refused: {why}"));
    }
    Some(shorten(&parts.join("; "), SUMMARY_MAX_CHARS - 24))
}

/// Digest of a remote config and of the audit entries it gave: equal after a restart
/// exactly when the same config had the same outcome.
fn outcome_digest(rc: &RemoteConfig, entries: &[(&str, String)]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(rc.version.to_le_bytes());
    // A BTreeMap serialises in key order: the same settings give the same bytes.
    h.update(serde_json::to_vec(&rc.settings).unwrap_or_default());
    for (kind, detail) in entries {
        h.update([0]);
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(detail.as_bytes());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("v{}:{hex}", rc.version)
}

/// At most `max` characters of `s`, with `…` when cut (on a character boundary).
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The live TOML layer for a remote config's whitelisted keys, and the keys refused.
pub fn remote_layer(rc: &RemoteConfig) -> (toml::Table, Vec<(String, String)>) {
    let mut live = toml::Table::new();
    let mut refused = Vec::new();
    for (key, value) in &rc.settings {
        if !crate::api::remote_settable(key) {
            refused.push((key.clone(), NOT_SETTABLE.to_string()));
            continue;
        }
        if let Err(why) = crate::api::check_remote_value(key, value) {
            refused.push((
                key.clone(),
                format!("value {}: {why}", shorten(&value.to_string(), 100)),
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

/// Heartbeats every `heartbeat.interval_s` (read live) until `shutdown` turns true.
pub async fn run_worker(mut heart: Heart, mut shutdown: watch::Receiver<bool>) {
    let mut config = heart.config.subscribe();
    loop {
        crate::failpoint::hit(crate::failpoint::HEARTBEAT_BEAT);
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

/// The live layer the running terminal last put in force, as it recorded it (`None`
/// when it never applied one). For `status` and `check-config`, which run in another process.
pub fn recorded_live_layer(store: &Store) -> Option<toml::Table> {
    let text = store.get_state(STATE_REMOTE_LIVE).ok().flatten()?;
    text.parse().ok()
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
