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

/// The free space of one folder. Below [`MIN_FREE_DISK`] it is a fault; the fix names the
/// folder (and so the disk).
fn disk_check(part: String, disk: &crate::health::DiskHealth, holds: &str) -> Check {
    let Some(free) = disk.free_bytes else {
        return Check {
            part,
            ok: false,
            detail: disk.technician_detail(),
            fix: Some(format!(
                "check that {} exists (storage.data_dir, log.dir, the pdf:// printer URIs)",
                disk.path
            )),
        };
    };
    let ok = free >= MIN_FREE_DISK;
    Check {
        part,
        ok,
        detail: format!(
            "{}{} bytes ({} MB) free on {} ({holds})",
            if disk.full { "FULL: " } else { "" },
            free,
            free / (1024 * 1024),
            disk.path
        ),
        fix: (!ok).then(|| {
            format!(
                "free space on {}: delete old logs (log.dir) and printed PDFs in the pdf:// spool folders, or give it a larger disk; at least 200 MB free{}",
                disk.path,
                if disk.full {
                    "; until then ratings are refused and nothing is saved"
                } else {
                    ""
                }
            )
        }),
    }
}

/// What `diagnose` learnt of the local store when it opened.
#[derive(Debug, Clone)]
pub struct StoreProbe {
    /// `PRAGMA integrity_check`'s answer ("ok" when sound).
    pub integrity: String,
    /// Why it opened read-only (a full disk), if it did.
    pub read_only: Option<String>,
}

/// The store's check. A restore is advised only when SQLite says the file is damaged
/// (`integrity_check` not ok, or "malformed" / "not a database"): a store that is intact
/// but cannot be written because the disk is full gets "free space on …" instead.
pub fn store_check(
    data_dir: &std::path::Path,
    probe: Result<StoreProbe, crate::store::StoreError>,
) -> Check {
    let restore = "the file is damaged: stop the terminal, copy kiosk.sqlite (with any -wal/-shm) aside and restore it from a backup; pending ratings are in it".to_string();
    let free_space = |why: &str| {
        format!(
            "the store is intact, do not restore it: {why}; free space on {} and the terminal saves again by itself within 15 s",
            data_dir.display()
        )
    };
    let (ok, detail, fix) = match probe {
        Ok(StoreProbe {
            integrity,
            read_only: None,
        }) if integrity == "ok" => (true, "integrity check ok".to_string(), None),
        Ok(StoreProbe {
            integrity,
            read_only: Some(why),
        }) if integrity == "ok" => (
            false,
            format!("integrity check ok; open read-only: {why}"),
            Some(free_space("nothing can be saved while the disk is full")),
        ),
        Ok(StoreProbe { integrity, .. }) => (
            false,
            format!("integrity check: {integrity}"),
            Some(restore),
        ),
        Err(e) if e.is_corrupt() => (false, e.to_string(), Some(restore)),
        Err(e) if e.is_disk_full() => (
            false,
            e.to_string(),
            Some(format!(
                "free space on {}; the store could not be read on the full disk, so it was not checked (nothing suggests damage)",
                data_dir.display()
            )),
        ),
        Err(e @ crate::store::StoreError::TooNew { .. }) => (
            false,
            e.to_string(),
            Some("install the civic-kiosk release that wrote it (or a newer one)".into()),
        ),
        Err(e) => (
            false,
            e.to_string(),
            Some(format!(
                "check that {} exists and belongs to the terminal's user; `civic-kiosk status` shows more",
                data_dir.display()
            )),
        ),
    };
    Check {
        part: "store".into(),
        ok,
        detail,
        fix,
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
    // Every folder the terminal writes to: the data dir first ("disk"), then the log dir
    // and the pdf:// spools when they are elsewhere.
    for (holds, dir) in crate::status::written_folders(config) {
        let part = if holds == "data" {
            "disk".to_string()
        } else {
            format!("disk ({holds})")
        };
        checks.push(disk_check(part, &crate::health::disk(&dir), &holds));
    }
    // The identity devices (blocking serial opens: off the runtime's workers).
    let cfg = config.clone();
    let probes = tokio::task::spawn_blocking(move || {
        [
            ("id card reader", crate::devices::probe_reader(&cfg)),
            ("code scanner", crate::devices::probe_scanner(&cfg)),
        ]
    })
    .await
    .unwrap_or_default();
    for (part, probe) in probes {
        let Some(r) = probe else { continue };
        checks.push(match r {
            Ok(detail) => Check {
                part: part.into(),
                ok: true,
                detail,
                fix: None,
            },
            Err((detail, fix)) => Check {
                part: part.into(),
                ok: false,
                detail,
                fix: Some(fix),
            },
        });
    }
    let data = config.data_dir();
    let dir = data.clone();
    let probe = tokio::task::spawn_blocking(move || {
        let s = crate::store::Store::open_for_reading(&dir)?;
        Ok(StoreProbe {
            integrity: s.integrity_check()?,
            read_only: s.read_only().map(str::to_string),
        })
    })
    .await
    .unwrap_or_else(|e| Err(crate::store::StoreError::Task(e.to_string())));
    checks.push(store_check(&data, probe));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use std::path::{Path, PathBuf};

    fn advises_restore(c: &Check) -> bool {
        c.fix
            .as_deref()
            .is_some_and(|f| f.contains("restore it from a backup"))
    }

    #[test]
    fn an_intact_store_is_never_restored() {
        let dir = Path::new("/var/lib/civic-kiosk");
        let ok = store_check(
            dir,
            Ok(StoreProbe {
                integrity: "ok".into(),
                read_only: None,
            }),
        );
        assert!(ok.ok && ok.fix.is_none(), "{ok:?}");

        // Intact but read-only on a full disk: free space, not a restore.
        let full = store_check(
            dir,
            Ok(StoreProbe {
                integrity: "ok".into(),
                read_only: Some("the disk is full".into()),
            }),
        );
        assert!(!full.ok);
        assert!(!advises_restore(&full), "{full:?}");
        let fix = full.fix.unwrap();
        assert!(fix.contains("free space on /var/lib/civic-kiosk"), "{fix}");
        assert!(fix.contains("do not restore"), "{fix}");

        // Could not even be read on the full disk: free space, not a restore.
        let unread = store_check(
            dir,
            Err(StoreError::DiskFull {
                path: dir.join("kiosk.sqlite"),
                dir: dir.to_path_buf(),
                free: 0,
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                    Some("disk I/O error".into()),
                ),
            }),
        );
        assert!(!unread.ok && !advises_restore(&unread), "{unread:?}");
        assert!(
            unread
                .fix
                .unwrap()
                .contains("free space on /var/lib/civic-kiosk")
        );
    }

    #[test]
    fn only_a_damaged_store_is_restored() {
        let dir = Path::new("/d");
        let damaged = store_check(
            dir,
            Ok(StoreProbe {
                integrity: "*** in database main *** Page 3: btreeInitPage() returns error code 11"
                    .into(),
                read_only: None,
            }),
        );
        assert!(!damaged.ok && advises_restore(&damaged), "{damaged:?}");
        let malformed = store_check(
            dir,
            Err(StoreError::Open {
                path: PathBuf::from("/d/kiosk.sqlite"),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                    None,
                ),
            }),
        );
        assert!(advises_restore(&malformed), "{malformed:?}");
        let newer = store_check(
            dir,
            Err(StoreError::TooNew {
                path: PathBuf::from("/d/kiosk.sqlite"),
                found: 9,
                known: 4,
            }),
        );
        assert!(!advises_restore(&newer), "{newer:?}");
    }

    #[test]
    fn a_full_disk_check_names_the_folder_and_the_fix() {
        let full = crate::health::DiskHealth {
            path: "/mnt/data".into(),
            free_bytes: Some(0),
            full: true,
        };
        let c = disk_check("disk".into(), &full, "data");
        assert!(!c.ok);
        assert!(
            c.detail.contains("FULL") && c.detail.contains("/mnt/data"),
            "{}",
            c.detail
        );
        let fix = c.fix.unwrap();
        assert!(fix.starts_with("free space on /mnt/data"), "{fix}");
        assert!(fix.contains("ratings are refused"), "{fix}");
        let roomy = crate::health::DiskHealth {
            path: "/mnt/data".into(),
            free_bytes: Some(MIN_FREE_DISK),
            full: false,
        };
        assert!(disk_check("disk".into(), &roomy, "data").ok);
    }
}
