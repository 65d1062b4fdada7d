//! Printing: the document model, ESC/POS encoding, one status model, the transports (TCP, IPP, PDF spool) and one job lifecycle over them, printer URIs and probes.

pub mod device;
pub mod document;
pub mod escpos;
pub mod ipp;
pub mod job;
pub mod pdf;
pub mod status;
pub mod uri;

use civic_contract::api;

use serde::Serialize;
use std::time::Duration;
use tokio::sync::watch;
use uri::PrinterUri;

use document::Document;
use ipp::Media;
use job::JobState;

/// The bundled font (Noto Sans CJK SC subset), the same the screen uses: embedded
/// (subset) in PDFs, rasterised for ESC/POS text the printer's own font cannot show.
pub(crate) static FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoSansSC-Kiosk.otf");

/// How a printer model prints QR codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrMode {
    /// ESC/POS `GS ( k` (Epson-compatible).
    Native,
    /// A raster image (`GS v 0`), for printers whose QR command differs.
    Raster,
}

/// Renders a job's PDF when the transport needs one (PDF spool, IPP); runs off the
/// async workers.
pub type PdfRender = Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>;

/// One job, in the form each transport takes: the document model for ESC/POS, a PDF
/// for the spool and IPP.
pub struct PrintJob {
    /// Job title and spool file stem; never personal data (a card id, "print-test").
    pub title: String,
    pub document: Document,
    pub pdf: PdfRender,
    pub media: Media,
}

/// How a job is run: the ESC/POS QR mode of the role's printer, the name the terminal
/// gives printers, timeouts.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub qr: QrMode,
    /// `requesting-user-name` on IPP: the terminal id.
    pub user: String,
    /// One connect, query or write.
    pub timeout: Duration,
    /// How a held job waits: poll interval, backoff ceiling, give-up deadline.
    pub waits: job::Waits,
    /// `ipps://`: the only certificate (or CA) trusted for the printer; `None`: the
    /// system's roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl JobOptions {
    /// The same options, with one connect, query or write bounded by `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            qr: QrMode::Native,
            user: "civic-kiosk".into(),
            timeout: Duration::from_secs(5),
            waits: job::Waits::default(),
            ca_file: None,
        }
    }
}

/// Where a job went, for the log and the technician.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: JobState,
    /// The spool file, or the printer's address.
    pub place: String,
}

/// Runs `job` on the printer at `uri` to its end: held while the printer cannot print
/// (or cannot print this job: IPP media and format), printed when it recovers, cancelled
/// (nothing printed) when `cancel` turns true first, failed after `options.waits.give_up`.
/// A `cancel` whose sender is gone never cancels.
pub async fn run(
    uri: &PrinterUri,
    job: PrintJob,
    options: &JobOptions,
    cancel: watch::Receiver<bool>,
    mut on_state: impl FnMut(&JobState) + Send,
) -> Outcome {
    let failed = |place: String, e: String, on_state: &mut dyn FnMut(&JobState)| {
        let s = JobState::Failed(e);
        on_state(&s);
        Outcome { state: s, place }
    };
    let place = uri.to_string();
    match uri {
        PrinterUri::Pdf { dir } => {
            if *cancel.borrow() {
                on_state(&JobState::Cancelled);
                return Outcome {
                    state: JobState::Cancelled,
                    place,
                };
            }
            let path = dir.join(format!("{}.pdf", job.title));
            let target = path.clone();
            let render = job.pdf;
            let written = tokio::task::spawn_blocking(move || {
                let pdf = render()?;
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                civic_platform::fs::save_atomic(&target, &pdf)
                    .map_err(|e| format!("{}: {e}", target.display()))
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            let place = path.display().to_string();
            match written {
                Ok(()) => {
                    let s = JobState::Printed(status::Status::default());
                    on_state(&s);
                    Outcome { state: s, place }
                }
                Err(e) => failed(place, e, &mut on_state),
            }
        }
        PrinterUri::EscposTcp { host, port } => {
            let bytes = match escpos::encode(&job.document, options.qr) {
                Ok(b) => b,
                Err(e) => return failed(place, e, &mut on_state),
            };
            let printer = job::EscposTcp {
                host: host.clone(),
                port: *port,
                timeout: options.timeout,
            };
            let state = job::run_job(&printer, &bytes, cancel, &options.waits, on_state).await;
            Outcome { state, place }
        }
        PrinterUri::Ipp { url } => {
            let printer = match ipp::IppPrinter::with_ca_file(
                url,
                &options.user,
                options.timeout,
                options.ca_file.as_deref(),
            ) {
                Ok(p) => p,
                Err(e) => return failed(place, e.to_string(), &mut on_state),
            };
            let render = job.pdf;
            let pdf = match tokio::task::spawn_blocking(render).await {
                Ok(Ok(pdf)) => pdf,
                Ok(Err(e)) => return failed(place, e, &mut on_state),
                Err(e) => return failed(place, e.to_string(), &mut on_state),
            };
            let state = ipp::run_job(
                &printer,
                &pdf,
                job.media,
                &job.title,
                cancel,
                &options.waits,
                on_state,
            )
            .await;
            Outcome { state, place }
        }
        PrinterUri::EscposDevice { .. } | PrinterUri::EscposSerial { .. } => {
            let bytes = match escpos::encode(&job.document, options.qr) {
                Ok(b) => b,
                Err(e) => return failed(place, e, &mut on_state),
            };
            let Some(line) = local_line(uri, options) else {
                return failed(place, "not a local line".into(), &mut on_state);
            };
            let state =
                job::run_attempts(|| line.print(&bytes), cancel, &options.waits, on_state).await;
            Outcome { state, place }
        }
    }
}

/// The local line of an `escpos://` or `escpos+serial://` URI.
fn local_line(uri: &PrinterUri, options: &JobOptions) -> Option<device::EscposLine> {
    let (path, kind) = match uri {
        PrinterUri::EscposDevice { path } => (path.clone(), device::LineKind::Device),
        PrinterUri::EscposSerial { path, baud } => {
            (path.clone(), device::LineKind::Serial { baud: *baud })
        }
        _ => return None,
    };
    Some(device::EscposLine {
        path,
        kind,
        timeout: options.timeout,
        status_timeout: options.timeout.min(Duration::from_secs(1)),
    })
}

/// The printer's status now, without printing: DLE EOT on ESC/POS, printer-state-reasons
/// on IPP, a writable folder for the PDF spool.
pub async fn status(
    uri: &PrinterUri,
    options: &JobOptions,
) -> Result<status::Status, job::PrintError> {
    match uri {
        PrinterUri::EscposTcp { host, port } => {
            job::EscposTcp {
                host: host.clone(),
                port: *port,
                timeout: options.timeout,
            }
            .status()
            .await
        }
        PrinterUri::Ipp { url } => {
            ipp::IppPrinter::with_ca_file(
                url,
                &options.user,
                options.timeout,
                options.ca_file.as_deref(),
            )?
            .status()
            .await
        }
        PrinterUri::Pdf { .. } => {
            let p = probe(uri, options.timeout).await;
            if p.reachable {
                Ok(status::Status::default())
            } else {
                Err(job::PrintError::Unreachable(uri.to_string(), p.detail))
            }
        }
        PrinterUri::EscposDevice { .. } | PrinterUri::EscposSerial { .. } => {
            match local_line(uri, options) {
                Some(line) => line.status().await,
                None => Err(job::PrintError::Io("not a local line".into())),
            }
        }
    }
}

/// Whether the printer can print a job on `media` as the terminal sends it, read from
/// the printer (IPP: media-supported, media-col-database, media-size-supported,
/// document-format-supported): how the media goes (`media=…`, `media-col=…`), or the
/// technician's refusal ("打印机不支持卡片尺寸 85.6×54 mm：…"). ESC/POS and the PDF
/// spool print any media the document model lays out: `Ok`.
pub async fn capability(
    uri: &PrinterUri,
    options: &JobOptions,
    media: Media,
) -> Result<Result<String, String>, job::PrintError> {
    match uri {
        PrinterUri::Ipp { url } => {
            let caps = ipp::IppPrinter::with_ca_file(
                url,
                &options.user,
                options.timeout,
                options.ca_file.as_deref(),
            )?
            .capabilities()
            .await?;
            Ok(caps.choose(media).map(|c| c.describe()))
        }
        _ => Ok(Ok("any size the document lays out".into())),
    }
}

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
