//! `civic-kiosk diagnose`: checks each part a technician can fix and says which is broken
//! and what to do: back office (reachability, TLS, token), clock, printers (with ESC/POS
//! status bits), disk, local store.

use crate::backoffice::ErrorKind;
use crate::config::{Config, PrinterRole};
use std::time::Duration;

/// Free space below this on the data dir's file system is a fault (the store, spool, logs).
pub const MIN_FREE_DISK: u64 = 200 * 1024 * 1024;
/// A clock further than this from the back office's is a fault (cards carry dates,
/// ratings carry times).
pub const MAX_CLOCK_SKEW_MS: i64 = 60_000;

/// One part checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub part: String,
    pub ok: bool,
    pub detail: String,
    /// What to do, when broken.
    pub fix: Option<String>,
}

fn printer_fix(state: &str) -> &'static str {
    match state {
        "paper_out" => "load a new paper roll / card stack and close the cover",
        "cover_open" => "close the printer cover",
        "error" => "clear the jam or let the print head cool, then switch the printer off and on",
        "paper_near_end" => "paper is running low: load a new roll soon",
        "unsupported" => {
            "the printer does not list what this role prints (the detail names what it lists): load card media and list it at the printer, or point printers.<role>.uri at a printer that takes it"
        }
        _ => "check power, cable and the URI in [printers]; `civic-kiosk print-test` to try it",
    }
}

fn backoffice_fix(kind: Option<ErrorKind>) -> &'static str {
    match kind {
        Some(ErrorKind::Tls) => {
            "the certificate was refused: backoffice.ca_file must be the PEM of the CA that signed the back office's certificate (when set, only that CA is trusted; unset, the system's roots)"
        }
        Some(ErrorKind::Unauthorized) => {
            "the token was refused: set backoffice.token to the token issued for this terminal"
        }
        Some(ErrorKind::Timeout) | Some(ErrorKind::Dropped) => {
            "the back office is slow or the network drops: check the network; raise backoffice.total_timeout_s if it stays slow"
        }
        Some(ErrorKind::Setup) => "fix backoffice.ca_file (a readable PEM file)",
        _ => "check the network cable / Wi-Fi and backoffice.url",
    }
}

/// Runs every check.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let b = crate::reach::backoffice_status(config).await;
    checks.push(Check {
        part: "backoffice".into(),
        ok: b.reachable,
        detail: format!(
            "{} {}: {}",
            b.mode,
            b.url.as_deref().unwrap_or("-"),
            if b.reachable {
                format!("answers in {} ms", b.latency_ms.unwrap_or(0))
            } else {
                format!(
                    "{} ({})",
                    b.error_kind
                        .map(|k| format!("{k:?}").to_lowercase())
                        .unwrap_or_else(|| "unreachable".into()),
                    b.error.as_deref().unwrap_or("no answer")
                )
            }
        ),
        fix: (!b.reachable).then(|| backoffice_fix(b.error_kind).to_string()),
    });
    if let Some(skew) = b.clock_skew_ms {
        let ok = skew.abs() <= MAX_CLOCK_SKEW_MS;
        checks.push(Check {
            part: "clock".into(),
            ok,
            detail: format!("{skew} ms from the back office's clock"),
            fix: (!ok).then(|| "set the time: enable NTP (timedatectl set-ntp true)".into()),
        });
    }
    for role in PrinterRole::ALL {
        let (state, detail) =
            crate::health::printer_state(config, role, Duration::from_secs(3)).await;
        let ok = matches!(state.as_str(), "ready" | "paper_near_end" | "unknown");
        checks.push(Check {
            part: format!("printer {}", role.name()),
            ok,
            detail: format!("{}: {state} ({detail})", config.printer(role).uri),
            fix: (!ok || state == "paper_near_end").then(|| printer_fix(&state).to_string()),
        });
    }
    let data = config.data_dir();
    match crate::health::free_disk_bytes(&data) {
        Some(free) => {
            let ok = free >= MIN_FREE_DISK;
            checks.push(Check {
                part: "disk".into(),
                ok,
                detail: format!("{} MB free for {}", free / (1024 * 1024), data.display()),
                fix: (!ok).then(|| {
                    "free space: old logs in log.dir, the pdf:// spool folders; at least 200 MB"
                        .into()
                }),
            });
        }
        None => checks.push(Check {
            part: "disk".into(),
            ok: false,
            detail: format!("cannot read free space for {}", data.display()),
            fix: Some("check storage.data_dir".into()),
        }),
    }
    let integrity = tokio::task::spawn_blocking(move || {
        crate::store::Store::open_in(&data).and_then(|s| s.integrity_check())
    })
    .await;
    let (ok, detail) = match integrity {
        Ok(Ok(r)) if r == "ok" => (true, "integrity check ok".to_string()),
        Ok(Ok(r)) => (false, format!("integrity check: {r}")),
        Ok(Err(e)) => (false, e.to_string()),
        Err(e) => (false, e.to_string()),
    };
    checks.push(Check {
        part: "store".into(),
        ok,
        detail,
        fix: (!ok).then(|| {
            "stop the terminal, copy kiosk.sqlite aside and restore it from a backup; pending ratings are in it".into()
        }),
    });
    checks
}
