//! The `civic-kiosk status` report: config, back-office reachability and clock skew, printers, local store.
//!
//! Works whether or not the terminal runs. JSON shape: `docs/cli.md`. Every failure is a
//! value in the report, never a crash.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

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
    /// Free space of each folder the terminal writes to: the data dir, the log dir and
    /// each `pdf://` spool (deduplicated).
    pub disks: Vec<DiskStatus>,
    /// 好差评 outbox: pending, sent and dead counts, last sync and last error.
    pub ratings: RatingsStatus,
    /// The cached 一网通办 catalogue.
    pub catalogue: CatalogueStatus,
    /// Heartbeats to the back office and the remote config applied.
    pub heartbeat: crate::heartbeat::HeartbeatStatus,
    /// `[identity]` as in force: which devices the terminal runs and the keypad rule.
    /// (What they do is the running terminal's: `diagnose` probes them, the heartbeat
    /// carries their states.)
    pub identity: IdentityStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentityStatus {
    /// `identity.reader`, or null without a reader.
    pub reader: Option<String>,
    /// `identity.scanner`, or null without a scanner.
    pub scanner: Option<String>,
    /// `staff`, `open` or `off`, as resolved (`identity.keypad`, the deprecated
    /// `offline_code.require_staff`, or the default for this reader setting).
    pub keypad: &'static str,
}

fn identity_status(config: &Config) -> IdentityStatus {
    let set = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    IdentityStatus {
        reader: set(&config.identity.reader),
        scanner: set(&config.identity.scanner),
        keypad: config.keypad().name(),
    }
}

/// The back office as `status` and `diagnose` see it (probed in [`crate::health`]).
pub use crate::health::BackofficeStatus;

#[derive(Debug, Clone, Serialize)]
pub struct PrinterStatus {
    pub role: String,
    pub uri: String,
    pub reachable: bool,
    pub detail: String,
    /// What the printer itself reports (`ready`, `paper_out`, `cover_open`, `stopped`,
    /// `unknown` …): DLE EOT on ESC/POS, printer-state-reasons on IPP; `unsupported`
    /// when it does not list the role's media (the card size); absent when it could not
    /// be asked.
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    pub data_dir: String,
    pub exists: bool,
    /// Something can be saved: the folder takes a file, the disk has room, and the store
    /// is open read-write.
    pub writable: bool,
    /// How the store opened (`read-write`, `read-only`, `read-only (immutable)`); absent
    /// when there is none yet or it could not be opened.
    pub access: Option<String>,
    /// Why it is not read-write, or why it could not be opened.
    pub problem: Option<String>,
}

/// One folder the terminal writes to, and the disk under it.
#[derive(Debug, Clone, Serialize)]
pub struct DiskStatus {
    /// `data`, `logs`, `spool <role>`: what is kept there.
    pub holds: String,
    #[serde(flatten)]
    pub disk: crate::health::DiskHealth,
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
    /// Why the cache could not be read (the store did not open), if so: then "none
    /// cached" is not known.
    pub error: Option<String>,
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
    // Read-only on a full disk: the counts and the cached catalogue are still there.
    let store = if data_dir.join("kiosk.sqlite").exists() {
        Some(crate::store::Store::open_for_reading(&data_dir))
    } else {
        None
    };
    let (store, error) = match store {
        Some(Ok(s)) => (Some(s), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let ratings = match store.as_ref().map(crate::ratings::counts) {
        Some(Ok(counts)) => RatingsStatus {
            counts,
            error: None,
        },
        Some(Err(e)) => RatingsStatus {
            counts: Default::default(),
            error: Some(e.to_string()),
        },
        None => RatingsStatus {
            counts: Default::default(),
            error: error.clone(),
        },
    };
    let cached = store.as_ref().map(|s| s.cached_catalogue());
    let (cached, catalogue_error) = match cached {
        Some(Ok(c)) => (c, None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, error),
    };
    let now = Utc::now();
    let catalogue = CatalogueStatus {
        version: cached.as_ref().map(|c| c.version.clone()),
        fetched_at: cached.as_ref().map(|c| c.fetched_at),
        age_s: cached.as_ref().map(|c| (now - c.fetched_at).num_seconds()),
        stale: cached
            .as_ref()
            .is_some_and(|c| (now - c.fetched_at).num_seconds() > config.catalogue.stale_after_s),
        error: catalogue_error,
    };
    let heartbeat = crate::heartbeat::status(config, store.as_ref());
    (ratings, catalogue, heartbeat)
}

fn store_status(dir: &Path) -> StoreStatus {
    let exists = dir.is_dir();
    let takes_a_file = exists && {
        let p = dir.join(".status-probe");
        let ok = std::fs::write(&p, b"").is_ok();
        let _ = std::fs::remove_file(&p);
        ok
    };
    // An empty file fits on a full disk: the free space decides too.
    let room = !crate::health::disk(dir).full;
    let (access, problem) = if dir.join("kiosk.sqlite").exists() {
        match crate::store::Store::open_for_reading(dir) {
            Ok(s) => (
                Some(s.access().name().to_string()),
                s.read_only().map(str::to_string),
            ),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    StoreStatus {
        data_dir: dir.display().to_string(),
        exists,
        writable: takes_a_file && room && problem.is_none(),
        access,
        problem: problem
            .or_else(|| (exists && !room).then(|| crate::health::disk(dir).technician_detail())),
    }
}

/// The folders the terminal writes to, each once: data, logs, `pdf://` spools.
pub fn written_folders(config: &Config) -> Vec<(String, std::path::PathBuf)> {
    let mut out: Vec<(String, std::path::PathBuf)> = vec![
        ("data".into(), config.data_dir()),
        ("logs".into(), config.log_dir()),
    ];
    for role in PrinterRole::ALL {
        if let crate::print::uri::PrinterUri::Pdf { dir } = config.printer_uri(role) {
            match out.iter_mut().find(|(_, d)| *d == dir) {
                Some((holds, _)) => holds.push_str(&format!(", spool {}", role.name())),
                None => out.push((format!("spool {}", role.name()), dir)),
            }
        }
    }
    out
}

fn disks(config: &Config) -> Vec<DiskStatus> {
    written_folders(config)
        .into_iter()
        .map(|(holds, dir)| DiskStatus {
            holds,
            disk: crate::health::disk(&dir),
        })
        .collect()
}

/// Builds the whole report.
pub async fn report(config: &Config, config_path: &Path) -> StatusReport {
    let printer_timeout = Duration::from_secs(2);
    let (backoffice, printers) = tokio::join!(crate::reach::backoffice_status(config), async {
        let mut out = Vec::new();
        for role in PrinterRole::ALL {
            let p = crate::health::printer(config, role, printer_timeout, true).await;
            let (mut detail, mut state) = (p.detail.clone(), None);
            match &p.status {
                Some(Ok(_)) => {
                    // The same state as diagnose and the status bar: the card size
                    // refused is `unsupported`, with what the printer lists.
                    let (name, why) = p.state();
                    detail = format!("{detail}; {why}");
                    state = Some(name);
                }
                Some(Err(e)) => detail = format!("{detail}; status: {e}"),
                None => {}
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
        disks: disks(config),
        ratings,
        catalogue,
        heartbeat,
        identity: identity_status(config),
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
                "printer    {:<8} {} {}{} ({})\n",
                p.role,
                p.uri,
                yes_no(p.reachable),
                // Reachable is not ready: paper out, or the card size refused, is named.
                match p.state.as_deref() {
                    Some(state) if state != "ready" => format!(", {state}"),
                    _ => String::new(),
                },
                p.detail
            ));
        }
        s.push_str(&format!(
            "store      {} {}{}\n",
            self.store.data_dir,
            if self.store.writable {
                "ok"
            } else if self.store.access.is_some() {
                "READ-ONLY"
            } else if self.store.exists {
                "NOT WRITABLE"
            } else {
                "not created yet"
            },
            self.store
                .problem
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ));
        for d in &self.disks {
            s.push_str(&format!(
                "disk       {:<10} {}\n",
                d.holds,
                d.disk.technician_detail()
            ));
        }
        let i = &self.identity;
        s.push_str(&format!(
            "identity   reader {}, scanner {}, keypad {}\n",
            i.reader.as_deref().unwrap_or("none"),
            i.scanner.as_deref().unwrap_or("none"),
            i.keypad
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
            match (&c.version, &c.error) {
                (Some(v), _) => v.clone(),
                (None, Some(e)) => format!("UNREADABLE ({e})"),
                (None, None) => "none cached yet".into(),
            },
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
