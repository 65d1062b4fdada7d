//! The `civic-kiosk status` report: config, back-office reachability and clock skew, printers, local store.
//!
//! Works whether or not the terminal runs. JSON shape: `docs/cli.md`. Every failure is a
//! value in the report, never a crash.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::backoffice::{Client, ClientOptions, ErrorKind};
use crate::config::{Config, PrinterRole};

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub terminal_id: String,
    pub terminal_name: String,
    pub version: String,
    pub config_path: String,
    /// The settings layer's file (`<data_dir>/settings.toml`; it may not exist yet).
    pub settings_path: String,
    /// Each value that differs from the default → the layer it comes from, e.g.
    /// `"display.idle_timeout_s": "settings (/var/lib/civic-kiosk/settings.toml)"`. The
    /// back office's live layer exists only inside the running terminal, so it is not here.
    pub origins: std::collections::BTreeMap<String, String>,
    pub generated_at: DateTime<Utc>,
    pub backoffice: BackofficeStatus,
    pub printers: Vec<PrinterStatus>,
    pub store: StoreStatus,
    /// 好差评 outbox: pending, sent and dead counts, last sync and last error.
    pub ratings: RatingsStatus,
    /// The cached 一网通办 catalogue.
    pub catalogue: CatalogueStatus,
    /// Heartbeats to the back office and the remote config applied.
    pub heartbeat: crate::heartbeat::HeartbeatStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackofficeStatus {
    /// `embedded` or `remote`.
    pub mode: String,
    pub url: Option<String>,
    pub reachable: bool,
    pub latency_ms: Option<u64>,
    /// This machine's clock minus the back office's, in milliseconds.
    pub clock_skew_ms: Option<i64>,
    pub error_kind: Option<ErrorKind>,
    pub error: Option<String>,
    /// Embedded mode with no terminal running: the probe started one in this process.
    pub started_for_probe: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrinterStatus {
    pub role: String,
    pub uri: String,
    pub reachable: bool,
    pub detail: String,
    /// What the printer itself reports (`ready`, `paper_out`, `cover_open`, `stopped`,
    /// `unknown` …): DLE EOT on ESC/POS, printer-state-reasons on IPP; absent when it
    /// could not be asked.
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    pub data_dir: String,
    pub exists: bool,
    pub writable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatingsStatus {
    #[serde(flatten)]
    pub counts: crate::ratings::OutboxCounts,
    /// Why the counts could not be read, if they could not.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogueStatus {
    pub version: Option<String>,
    /// When the copy in use was last fetched or confirmed (304).
    pub fetched_at: Option<DateTime<Utc>>,
    pub age_s: Option<i64>,
    /// Older than `catalogue.stale_after_s`: residents see "目录更新于 …".
    pub stale: bool,
}

/// Ratings, catalogue and heartbeat state from the local store (empty when no store was
/// created yet).
pub fn local_state(
    config: &Config,
) -> (
    RatingsStatus,
    CatalogueStatus,
    crate::heartbeat::HeartbeatStatus,
) {
    let data_dir = config.data_dir();
    let store = if data_dir.join("kiosk.sqlite").exists() {
        Some(crate::store::Store::open_in(&data_dir))
    } else {
        None
    };
    let (store, error) = match store {
        Some(Ok(s)) => (Some(s), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let ratings = match store.as_ref().map(crate::ratings::counts) {
        Some(Ok(counts)) => RatingsStatus { counts, error },
        Some(Err(e)) => RatingsStatus {
            counts: Default::default(),
            error: Some(e.to_string()),
        },
        None => RatingsStatus {
            counts: Default::default(),
            error,
        },
    };
    let cached = store
        .as_ref()
        .and_then(|s| s.cached_catalogue().ok().flatten());
    let now = Utc::now();
    let catalogue = CatalogueStatus {
        version: cached.as_ref().map(|c| c.version.clone()),
        fetched_at: cached.as_ref().map(|c| c.fetched_at),
        age_s: cached.as_ref().map(|c| (now - c.fetched_at).num_seconds()),
        stale: cached
            .as_ref()
            .is_some_and(|c| (now - c.fetched_at).num_seconds() > config.catalogue.stale_after_s),
    };
    let heartbeat = crate::heartbeat::status(config, store.as_ref());
    (ratings, catalogue, heartbeat)
}

/// Probes one back office URL with the config's token and timeouts.
pub async fn probe_backoffice(config: &Config, url: &str) -> BackofficeStatus {
    let mut s = BackofficeStatus {
        mode: if config.is_embedded() {
            "embedded"
        } else {
            "remote"
        }
        .into(),
        url: Some(url.to_string()),
        reachable: false,
        latency_ms: None,
        clock_skew_ms: None,
        error_kind: None,
        error: None,
        started_for_probe: false,
    };
    let client = match Client::new(&ClientOptions::from_config(config, url)) {
        Ok(c) => c,
        Err(e) => {
            s.error_kind = Some(e.kind);
            s.error = Some(e.message);
            return s;
        }
    };
    let started = Instant::now();
    match client.ping().await {
        Ok((_, date)) => {
            s.reachable = true;
            s.latency_ms = Some(started.elapsed().as_millis() as u64);
            s.clock_skew_ms = date.map(|d| (Utc::now() - d).num_milliseconds());
        }
        Err(e) => {
            s.error_kind = Some(e.kind);
            s.error = Some(e.message);
        }
    }
    s
}

pub async fn backoffice_status(config: &Config) -> BackofficeStatus {
    match crate::app::reach_backoffice(config).await {
        Ok(reached) => {
            let mut s = probe_backoffice(config, &reached.url).await;
            s.started_for_probe = reached.embedded.is_some();
            s
        }
        Err(err) => BackofficeStatus {
            mode: if config.is_embedded() {
                "embedded"
            } else {
                "remote"
            }
            .into(),
            url: (!config.is_embedded()).then(|| config.backoffice.url.clone()),
            reachable: false,
            latency_ms: None,
            clock_skew_ms: None,
            error_kind: Some(match &err {
                crate::app::AppError::Client(e) => e.kind,
                _ => ErrorKind::Setup,
            }),
            error: Some(err.to_string()),
            started_for_probe: config.is_embedded(),
        },
    }
}

fn store_status(dir: &Path) -> StoreStatus {
    let exists = dir.is_dir();
    let writable = exists && {
        let p = dir.join(".status-probe");
        let ok = std::fs::write(&p, b"").is_ok();
        let _ = std::fs::remove_file(&p);
        ok
    };
    StoreStatus {
        data_dir: dir.display().to_string(),
        exists,
        writable,
    }
}

/// Builds the whole report.
pub async fn report(config: &Config, config_path: &Path) -> StatusReport {
    let printer_timeout = Duration::from_secs(2);
    let (backoffice, printers) = tokio::join!(backoffice_status(config), async {
        let mut out = Vec::new();
        for role in PrinterRole::ALL {
            let uri = config.printer_uri(role);
            let p = crate::print::probe(&uri, printer_timeout).await;
            let (mut detail, mut state) = (p.detail, None);
            if p.reachable {
                let options = crate::print::JobOptions {
                    user: config.terminal.id.clone(),
                    timeout: printer_timeout,
                    ca_file: config.printer_ca_file(role),
                    ..Default::default()
                };
                match crate::print::status(&uri, &options).await {
                    Ok(s) => {
                        detail = format!("{detail}; {}", s.technician_detail());
                        state = Some(s.state_name().to_string());
                    }
                    Err(e) => detail = format!("{detail}; status: {e}"),
                }
            }
            out.push(PrinterStatus {
                role: role.name().into(),
                uri: config.printer(role).uri.clone(),
                reachable: p.reachable,
                detail,
                state,
            });
        }
        out
    });
    let (ratings, catalogue, heartbeat) = local_state(config);
    StatusReport {
        terminal_id: config.terminal.id.clone(),
        terminal_name: config.terminal.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        config_path: config_path.display().to_string(),
        settings_path: String::new(),
        origins: Default::default(),
        generated_at: Utc::now(),
        backoffice,
        printers,
        store: store_status(&config.data_dir()),
        ratings,
        catalogue,
        heartbeat,
    }
}

impl StatusReport {
    /// Plain text for a technician's terminal.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let yes_no = |b: bool| if b { "ok" } else { "FAILED" };
        s.push_str(&format!(
            "terminal   {} ({})\n",
            self.terminal_id, self.terminal_name
        ));
        s.push_str(&format!("version    {}\n", self.version));
        s.push_str(&format!("config     {}\n", self.config_path));
        // Which layer each non-default value comes from: a value that "will not change" is
        // usually set again by a later layer.
        for (key, origin) in &self.origins {
            s.push_str(&format!("  {key:<34} {origin}\n"));
        }
        let b = &self.backoffice;
        s.push_str(&format!(
            "backoffice {} {} {}{}\n",
            b.mode,
            b.url.as_deref().unwrap_or("-"),
            yes_no(b.reachable),
            match (&b.error_kind, &b.error) {
                (Some(k), Some(e)) => format!(" ({k:?}: {e})"),
                _ => b
                    .clock_skew_ms
                    .map(|ms| format!(" (clock skew {ms} ms)"))
                    .unwrap_or_default(),
            }
        ));
        for p in &self.printers {
            s.push_str(&format!(
                "printer    {:<8} {} {} ({})\n",
                p.role,
                p.uri,
                yes_no(p.reachable),
                p.detail
            ));
        }
        s.push_str(&format!(
            "store      {} {}\n",
            self.store.data_dir,
            if self.store.writable {
                "ok"
            } else if self.store.exists {
                "NOT WRITABLE"
            } else {
                "not created yet"
            }
        ));
        let r = &self.ratings;
        s.push_str(&format!(
            "ratings    {} pending, {} sent, {} dead; last sync {}{}\n",
            r.counts.pending,
            r.counts.sent,
            r.counts.dead,
            r.counts.last_sync.as_deref().unwrap_or("never"),
            match (&r.error, &r.counts.last_error) {
                (Some(e), _) => format!(" (store: {e})"),
                (None, Some(e)) => format!(" (last error: {e})"),
                _ => String::new(),
            }
        ));
        let c = &self.catalogue;
        s.push_str(&format!(
            "catalogue  {}{}\n",
            c.version.as_deref().unwrap_or("none cached yet"),
            match (c.age_s, c.stale) {
                (Some(a), true) => format!(", {a} s old: STALE"),
                (Some(a), false) => format!(", {a} s old"),
                _ => String::new(),
            }
        ));
        let h = &self.heartbeat;
        s.push_str(&format!(
            "heartbeat  every {} s; last ok {}{}\n",
            h.interval_s,
            h.last_ok.as_deref().unwrap_or("never"),
            h.last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        ));
        s
    }
}
