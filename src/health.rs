//! One health probe, shared by `status`, `diagnose`, the heartbeat and the home screen: the back office (reached, latency, clock skew), each printer, free disk.
//!
//! Below all of them: it imports none of `app`, `status`, `diagnose` or `heartbeat`.

use chrono::Utc;
use serde::Serialize;
use std::time::{Duration, Instant};

use crate::backoffice::{Client, ClientError, ClientOptions, ErrorKind};
use crate::config::{Config, PrinterRole};
use crate::embedded::{Embedded, ServerError};

/// Why the configured back office could not be reached for a one-shot command.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("embedded back office: {0}")]
    Backoffice(#[from] ServerError),
    #[error("back office client: {0}")]
    Client(#[from] ClientError),
    #[error("runtime: {0}")]
    Io(#[from] std::io::Error),
}

/// A back office reached by a one-shot command (CLI).
pub struct Reached {
    pub client: Client,
    pub url: String,
    /// Set when no terminal was running in embedded mode and this process started one.
    pub embedded: Option<Embedded>,
}

/// Reaches the configured back office. In embedded mode: the running terminal's embedded
/// back office if there is one, otherwise one started in this process (as the terminal would).
pub async fn reach_backoffice(config: &Config) -> Result<Reached, ReachError> {
    if !config.is_embedded() {
        let url = config.backoffice.url.trim().to_string();
        let client = Client::new(&ClientOptions::from_config(config, &url))?;
        return Ok(Reached {
            client,
            url,
            embedded: None,
        });
    }
    if let Some(url) = crate::embedded::running_url(config)
        && let Ok(client) = Client::new(&ClientOptions::from_config(config, &url))
        && client.ping().await.is_ok()
    {
        return Ok(Reached {
            client,
            url,
            embedded: None,
        });
    }
    std::fs::create_dir_all(config.data_dir())?;
    let e = crate::embedded::start(config).await?;
    let client = Client::new(&ClientOptions::from_config(config, &e.url))?;
    Ok(Reached {
        client,
        url: e.url.clone(),
        embedded: Some(e),
    })
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

/// Reaches the configured back office (see [`reach_backoffice`]) and probes it.
pub async fn backoffice_status(config: &Config) -> BackofficeStatus {
    match reach_backoffice(config).await {
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
                ReachError::Client(e) => e.kind,
                _ => ErrorKind::Setup,
            }),
            error: Some(err.to_string()),
            started_for_probe: config.is_embedded(),
        },
    }
}

/// What one printer probe found: a quick reachability check (TCP connect, the device
/// file, a writable spool folder) and, when asked and reachable, the printer's own status.
#[derive(Debug, Clone)]
pub struct PrinterHealth {
    pub reachable: bool,
    /// What the reachability check found, for the technician.
    pub detail: String,
    /// The printer's status (`None`: not asked, or not reachable).
    pub status: Option<Result<crate::print::status::Status, String>>,
}

/// The one printer probe: reachability, then (with `ask_state`) DLE EOT on ESC/POS,
/// printer-state-reasons on IPP.
pub async fn printer(
    config: &Config,
    role: PrinterRole,
    timeout: Duration,
    ask_state: bool,
) -> PrinterHealth {
    let uri = config.printer_uri(role);
    let p = crate::print::probe(&uri, timeout).await;
    let status = if ask_state && p.reachable {
        let options = config.job_options(role).with_timeout(timeout);
        Some(
            crate::print::status(&uri, &options)
                .await
                .map_err(|e| e.to_string()),
        )
    } else {
        None
    };
    PrinterHealth {
        reachable: p.reachable,
        detail: p.detail,
        status,
    }
}

/// A printer's state as the heartbeat and `diagnose` name it, with the detail: the DLE EOT
/// status bits on ESC/POS, printer-state-reasons on IPP, the spool folder for PDF;
/// `offline` with what was wrong when it cannot be asked.
pub async fn printer_state(
    config: &Config,
    role: PrinterRole,
    timeout: Duration,
) -> (String, String) {
    let h = printer(config, role, timeout, true).await;
    match h.status {
        Some(Ok(s)) => (s.state_name().to_string(), s.technician_detail()),
        Some(Err(e)) => ("offline".into(), e),
        None => ("offline".into(), h.detail),
    }
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
pub fn free_disk_bytes(dir: &std::path::Path) -> Option<u64> {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    civic_platform::sys::free_bytes(&probe)
}
