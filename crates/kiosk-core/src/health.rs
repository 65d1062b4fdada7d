//! One health probe, shared by `status`, `diagnose`, the heartbeat and the home screen: the back office (latency, clock skew), each printer, free disk.
//!
//! Below all of them: it imports none of them. How a one-shot command reaches the back
//! office first (embedded mode may start one) is the terminal crate's `reach`.

use chrono::Utc;
use serde::Serialize;
use std::time::{Duration, Instant};

use crate::backoffice::{Client, ClientOptions, ErrorKind};
use crate::config::{Config, PrinterRole};

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

/// What one printer probe found: a quick reachability check (TCP connect, the device
/// file, a writable spool folder) and, when asked and reachable, the printer's own status
/// and whether it can print the role's media (IPP: the card size, PDF).
#[derive(Debug, Clone)]
pub struct PrinterHealth {
    pub reachable: bool,
    /// What the reachability check found, for the technician.
    pub detail: String,
    /// The printer's status (`None`: not asked, or not reachable).
    pub status: Option<Result<crate::print::status::Status, String>>,
    /// Whether it can print the role's media: `Ok` how the media goes, `Err` the
    /// technician's refusal (`None`: not asked, or not reachable).
    pub capability: Option<Result<String, String>>,
}

impl PrinterHealth {
    /// Ready for a job: reachable, its status read and able to print, and able to print
    /// the role's media. What the status bar shows and `diagnose` names.
    pub fn ready(&self) -> bool {
        self.reachable
            && matches!(&self.status, Some(Ok(s)) if s.can_print())
            && matches!(&self.capability, Some(Ok(_)))
    }

    /// The state as the heartbeat and `diagnose` name it, with the detail: the DLE EOT
    /// status bits on ESC/POS, printer-state-reasons on IPP, the spool folder for PDF;
    /// `unsupported` with what the printer lists when it cannot print the role's media;
    /// `offline` with what was wrong when it cannot be asked.
    pub fn state(&self) -> (String, String) {
        match (&self.status, &self.capability) {
            (Some(Ok(s)), Some(Err(why))) if s.can_print() => ("unsupported".into(), why.clone()),
            (Some(Ok(s)), _) => (s.state_name().to_string(), s.technician_detail()),
            (Some(Err(e)), _) => ("offline".into(), e.clone()),
            (None, _) => ("offline".into(), self.detail.clone()),
        }
    }
}

/// The media a role's jobs are printed on.
pub fn role_media(role: PrinterRole) -> crate::print::ipp::Media {
    match role {
        PrinterRole::Card => crate::print::ipp::Media::Card,
        PrinterRole::Receipt | PrinterRole::Document => crate::print::ipp::Media::A4,
    }
}

/// The one printer probe: reachability, then (with `ask_state`) DLE EOT on ESC/POS,
/// printer-state-reasons on IPP, and the role's media against what the printer lists.
pub async fn printer(
    config: &Config,
    role: PrinterRole,
    timeout: Duration,
    ask_state: bool,
) -> PrinterHealth {
    let uri = config.printer_uri(role);
    let p = crate::print::probe(&uri, timeout).await;
    let (status, capability) = if ask_state && p.reachable {
        let options = config.job_options(role).with_timeout(timeout);
        let status = crate::print::status(&uri, &options)
            .await
            .map_err(|e| e.to_string());
        let capability = if status.is_ok() {
            Some(
                match crate::print::capability(&uri, &options, role_media(role)).await {
                    Ok(c) => c,
                    Err(e) => Err(format!("the printer's media could not be read: {e}")),
                },
            )
        } else {
            None
        };
        (Some(status), capability)
    } else {
        (None, None)
    };
    PrinterHealth {
        reachable: p.reachable,
        detail: p.detail,
        status,
        capability,
    }
}

/// [`printer`] asked for its state, as `(state, detail)`: see [`PrinterHealth::state`].
pub async fn printer_state(
    config: &Config,
    role: PrinterRole,
    timeout: Duration,
) -> (String, String) {
    printer(config, role, timeout, true).await.state()
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
pub fn free_disk_bytes(dir: &std::path::Path) -> Option<u64> {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    civic_platform::sys::free_bytes(&probe)
}

/// The disk holding a folder, as the status bar, `status` and `diagnose` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskHealth {
    /// The folder (data dir, log dir, a `pdf://` spool).
    pub path: String,
    /// Free bytes for the terminal's user; `None`: could not be read.
    pub free_bytes: Option<u64>,
    /// Under [`crate::store::FULL_BELOW`] free (or unreadable): nothing can be saved there.
    pub full: bool,
}

impl DiskHealth {
    /// What a technician reads: where, how much is free, and the fix when full.
    pub fn technician_detail(&self) -> String {
        match (self.free_bytes, self.full) {
            (Some(free), true) => format!(
                "disk full: {free} bytes free on {}; free space on {} (old logs, PDFs in the pdf:// spool folders); the terminal saves again by itself within 15 s of there being room",
                self.path, self.path
            ),
            (None, _) => format!(
                "cannot read the free space of {}; check that it exists",
                self.path
            ),
            (Some(free), false) => format!("{} MB free on {}", free / (1024 * 1024), self.path),
        }
    }
}

/// How often the running terminal looks at its disk (status bar; a read-only store is
/// opened read-write again once there is room).
pub const DISK_CHECK: Duration = Duration::from_secs(15);

/// The disk holding `dir`.
pub fn disk(dir: &std::path::Path) -> DiskHealth {
    let free = free_disk_bytes(dir);
    DiskHealth {
        path: dir.display().to_string(),
        free_bytes: free,
        full: free.is_none_or(|f| f < crate::store::FULL_BELOW),
    }
}
