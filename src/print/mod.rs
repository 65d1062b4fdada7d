//! Printing: the document model, ESC/POS encoding and status, the TCP transport and job lifecycle, printer URIs and probes.

pub mod document;
pub mod escpos;
pub mod job;
pub mod pdf;
pub mod uri;

use serde::Serialize;
use std::time::Duration;
use uri::PrinterUri;

/// What a quick probe found about a printer, without printing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub reachable: bool,
    /// What was checked and what was wrong, for the technician.
    pub detail: String,
}

/// Checks that a printer can be reached: a TCP connect for network printers, the device
/// file for local ones, a writable folder for the PDF spool.
pub async fn probe(uri: &PrinterUri, timeout: Duration) -> Probe {
    let ok = |d: String| Probe {
        reachable: true,
        detail: d,
    };
    let bad = |d: String| Probe {
        reachable: false,
        detail: d,
    };
    match uri {
        PrinterUri::EscposTcp { host, port } => tcp_probe(host, *port, timeout).await,
        PrinterUri::Ipp { url } => match url::Url::parse(url) {
            Ok(u) => {
                let host = u
                    .host_str()
                    .unwrap_or("")
                    .trim_matches(['[', ']'])
                    .to_string();
                tcp_probe(&host, u.port().unwrap_or(631), timeout).await
            }
            Err(e) => bad(format!("bad URL: {e}")),
        },
        PrinterUri::EscposDevice { path } | PrinterUri::EscposSerial { path, .. } => {
            match std::fs::OpenOptions::new().write(true).open(path) {
                Ok(_) => ok(format!("{} opens for writing", path.display())),
                Err(e) => bad(format!(
                    "{}: {e}; check the cable and the device path",
                    path.display()
                )),
            }
        }
        PrinterUri::Pdf { dir } => {
            let dir = dir.clone();
            let result = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                let probe = dir.join(".probe");
                std::fs::write(&probe, b"")?;
                std::fs::remove_file(&probe)?;
                Ok::<_, std::io::Error>(dir)
            })
            .await;
            match result {
                Ok(Ok(dir)) => ok(format!("spool folder {} is writable", dir.display())),
                Ok(Err(e)) => bad(format!("spool folder not writable: {e}")),
                Err(e) => bad(format!("probe failed: {e}")),
            }
        }
    }
}

async fn tcp_probe(host: &str, port: u16, timeout: Duration) -> Probe {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Probe {
            reachable: true,
            detail: format!("{host}:{port} accepts connections"),
        },
        Ok(Err(e)) => Probe {
            reachable: false,
            detail: format!("{host}:{port}: {e}; check power, network cable and address"),
        },
        Err(_) => Probe {
            reachable: false,
            detail: format!("{host}:{port}: no answer within {timeout:?}; check power and network"),
        },
    }
}
