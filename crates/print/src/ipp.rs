//! CUPS (or any IPP printer) over IPP: submit a PDF with its media size, follow the job to its end, read printer-state-reasons into the printer [`Status`].
//!
//! The `ipp` crate builds and parses the messages (RFC 8010/8011); they travel over the
//! terminal's one HTTP client (reqwest, rustls), so no second HTTP or TLS stack is linked.

use std::io::{Cursor, Read};
use std::time::Duration;

use ipp::attribute::IppAttributeName;
use ipp::parser::IppParser;
use ipp::prelude::*;
use tokio::sync::watch;

use super::job::{JobState, PrintError};
use super::status::Status;

/// IPP job-state values (RFC 8011 §5.3.7).
mod job_state {
    pub(super) const PENDING: i32 = 3;
    pub(super) const PENDING_HELD: i32 = 4;
    pub(super) const PROCESSING: i32 = 5;
    pub(super) const PROCESSING_STOPPED: i32 = 6;
    pub(super) const CANCELED: i32 = 7;
    pub(super) const ABORTED: i32 = 8;
    pub(super) const COMPLETED: i32 = 9;
}

/// The media a job is printed on, as an IPP `media` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// ISO/IEC 7810 ID-1, 85.6 × 54 mm. CUPS's custom-size keyword: PWG 5101.1 has no
    /// name for ID-1, and a queue whose PPD allows custom sizes prints it exactly.
    Card,
    /// ISO A4 (PWG 5101.1 self-describing name).
    A4,
}

impl Media {
    pub fn keyword(self) -> &'static str {
        match self {
            Media::Card => "Custom.85.6x54mm",
            Media::A4 => "iso_a4_210x297mm",
        }
    }
}

/// A printer queue reached over IPP (`ipp://host:port/printers/NAME`, or `ipps://`).
#[derive(Debug, Clone)]
pub struct IppPrinter {
    /// The printer URI as configured (`printer-uri` in every request).
    uri: Uri,
    /// Where the requests are POSTed: the same address over http(s).
    endpoint: String,
    http: reqwest::Client,
    /// `requesting-user-name`: the terminal, never a resident.
    user: String,
}

/// One job as the printer last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub state: i32,
    pub reasons: Vec<String>,
}

fn io(e: impl std::fmt::Display) -> PrintError {
    PrintError::Io(e.to_string())
}

/// An error with its sources (reqwest's own text leaves out why a connection failed).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut chain = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    chain
}

fn strings(v: &IppValue) -> Vec<String> {
    match v {
        IppValue::Array(a) => a.iter().map(|v| v.to_string()).collect(),
        v => vec![v.to_string()],
    }
}

impl IppPrinter {
    /// `url` is an `ipp://` or `ipps://` printer URI (the port defaults to 631);
    /// `user` names the terminal in `requesting-user-name`. An `ipps://` printer's
    /// certificate is checked against the system's roots.
    pub fn new(url: &str, user: &str, timeout: Duration) -> Result<Self, PrintError> {
        Self::with_ca_file(url, user, timeout, None)
    }

    /// [`new`](Self::new), trusting for `ipps://` only `ca_file` (the PEM certificate
    /// or CA of the printer) when one is given, instead of the system's roots.
    pub fn with_ca_file(
        url: &str,
        user: &str,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, PrintError> {
        let parsed = url::Url::parse(url).map_err(|e| io(format!("'{url}': {e}")))?;
        let secure = match parsed.scheme() {
            "ipp" => false,
            "ipps" => true,
            other => return Err(io(format!("'{other}' is not ipp:// or ipps://"))),
        };
        let host = parsed.host_str().unwrap_or_default();
        if host.is_empty() {
            return Err(io(format!("'{url}' has no host")));
        }
        let port = parsed.port().unwrap_or(631);
        let endpoint = format!(
            "{}://{host}:{port}{}",
            if secure { "https" } else { "http" },
            parsed.path()
        );
        let uri: Uri = format!("ipp://{host}:{port}{}", parsed.path())
            .parse()
            .map_err(|e| io(format!("'{url}': {e}")))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(timeout)
            .timeout(timeout * 6);
        if let Some(ca) = ca_file {
            // Only this certificate: CUPS signs its own, and trusting the system's roots
            // as well would let any certificate a public CA issued for the name pass.
            let pem = std::fs::read(ca)
                .map_err(|e| io(format!("printer ca_file '{}': {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                io(format!(
                    "printer ca_file '{}' is not PEM: {e}",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(io(format!(
                    "printer ca_file '{}' holds no certificate",
                    ca.display()
                )));
            }
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(io)?;
        Ok(Self {
            uri,
            endpoint,
            http,
            user: if user.is_empty() {
                "civic-kiosk".into()
            } else {
                user.into()
            },
        })
    }

    fn name(&self) -> String {
        self.uri.to_string()
    }

    /// POSTs one request and parses the answer; an IPP error status is an error.
    async fn send(&self, req: IppRequestResponse) -> Result<IppRequestResponse, PrintError> {
        let mut body = Vec::new();
        req.into_read().read_to_end(&mut body).map_err(io)?;
        let resp = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/ipp")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    return PrintError::Timeout(self.name(), Duration::ZERO);
                }
                let chain = error_chain(&e);
                if chain.to_ascii_lowercase().contains("certificate") {
                    PrintError::Unreachable(
                        self.name(),
                        format!(
                            "{chain}; the printer's certificate is not trusted: set ca_file in its [printers.<role>] section to the PEM of its certificate (CUPS: /etc/cups/ssl/<host>.crt) or of the CA that signed it"
                        ),
                    )
                } else {
                    PrintError::Unreachable(self.name(), chain)
                }
            })?;
        if !resp.status().is_success() {
            return Err(io(format!(
                "{} answered HTTP {}",
                self.name(),
                resp.status()
            )));
        }
        let bytes = resp.bytes().await.map_err(io)?;
        let parsed = IppParser::new(Cursor::new(bytes.to_vec()))
            .parse()
            .map_err(|e| io(format!("{}: bad IPP answer: {e}", self.name())))?;
        let status = parsed.header().status_code();
        if !status.is_success() {
            let message = parsed
                .attributes()
                .groups_of(DelimiterTag::OperationAttributes)
                .find_map(|g| g.get("status-message"))
                .map(|a| a.value().to_string())
                .unwrap_or_default();
            return Err(io(format!("{}: {status:?} {message}", self.name())));
        }
        Ok(parsed)
    }

    fn attr<'a>(
        resp: &'a IppRequestResponse,
        tag: DelimiterTag,
        name: &str,
    ) -> Option<&'a IppValue> {
        resp.attributes()
            .groups_of(tag)
            .find_map(|g| g.get(name))
            .map(|a| a.value())
    }

    /// printer-state, printer-is-accepting-jobs and printer-state-reasons, mapped.
    pub async fn status(&self) -> Result<Status, PrintError> {
        let op = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes([
                "printer-state",
                "printer-state-reasons",
                "printer-is-accepting-jobs",
            ])
            .build()
            .map_err(io)?;
        let resp = self.send(op.into()).await?;
        let tag = DelimiterTag::PrinterAttributes;
        let state = match Self::attr(&resp, tag, "printer-state") {
            Some(IppValue::Enum(s)) | Some(IppValue::Integer(s)) => *s,
            _ => 3,
        };
        let accepting = !matches!(
            Self::attr(&resp, tag, "printer-is-accepting-jobs"),
            Some(IppValue::Boolean(false))
        );
        let reasons = Self::attr(&resp, tag, "printer-state-reasons")
            .map(strings)
            .unwrap_or_default();
        Ok(Status::from_ipp(state, accepting, &reasons))
    }

    /// Print-Job with the PDF and its media; answers the job id.
    pub async fn submit(&self, pdf: Vec<u8>, media: Media, title: &str) -> Result<i32, PrintError> {
        let media = IppValue::new_keyword(media.keyword())
            .map_err(io)?
            .named(IppAttributeName::MEDIA);
        let op =
            IppOperationBuilder::print_job(self.uri.clone(), IppPayload::new(Cursor::new(pdf)))
                .user_name(&self.user)
                .job_title(title)
                .document_format("application/pdf")
                .attribute(media)
                .build()
                .map_err(io)?;
        let resp = self.send(op.into()).await?;
        match Self::attr(&resp, DelimiterTag::JobAttributes, "job-id") {
            Some(IppValue::Integer(id)) => Ok(*id),
            _ => Err(io(format!("{}: Print-Job answered no job-id", self.name()))),
        }
    }

    /// Get-Job-Attributes: job-state and job-state-reasons.
    pub async fn job(&self, id: i32) -> Result<JobReport, PrintError> {
        let op = IppOperationBuilder::get_job_attributes(self.uri.clone(), id)
            .user_name(&self.user)
            .build()
            .map_err(io)?;
        let resp = self.send(op.into()).await?;
        let tag = DelimiterTag::JobAttributes;
        let state = match Self::attr(&resp, tag, "job-state") {
            Some(IppValue::Enum(s)) | Some(IppValue::Integer(s)) => *s,
            _ => return Err(io(format!("{}: job {id} has no job-state", self.name()))),
        };
        let reasons = Self::attr(&resp, tag, "job-state-reasons")
            .map(strings)
            .unwrap_or_default();
        Ok(JobReport { state, reasons })
    }

    /// Cancel-Job.
    pub async fn cancel(&self, id: i32) -> Result<(), PrintError> {
        let op = IppOperationBuilder::cancel_job(self.uri.clone(), id)
            .user_name(&self.user)
            .build()
            .map_err(io)?;
        self.send(op.into()).await.map(|_| ())
    }
}

/// Runs one PDF job on an IPP printer to its end. Before submitting, a printer that
/// cannot print (media empty, cover open, paused …) holds the job here, so nothing is
/// queued for a resident who may leave; once submitted, the job is followed until
/// completed, and cancelled at the printer when `cancel` turns true first.
pub async fn run_job(
    printer: &IppPrinter,
    pdf: &[u8],
    media: Media,
    title: &str,
    mut cancel: watch::Receiver<bool>,
    poll: Duration,
    mut on_state: impl FnMut(&JobState),
) -> JobState {
    let mut job_id = None;
    let mut last: Option<JobState> = None;
    let mut report = |s: JobState, on_state: &mut dyn FnMut(&JobState)| {
        if last.as_ref() != Some(&s) {
            log::info!("IPP job on {}: {s:?}", printer.name());
            on_state(&s);
            last = Some(s);
        }
    };
    loop {
        if *cancel.borrow() {
            if let Some(id) = job_id {
                if let Err(e) = printer.cancel(id).await {
                    log::warn!("cancel of IPP job {id}: {e}");
                }
                // A job that finished before the cancel arrived did print: say so.
                if let Ok(JobReport {
                    state: job_state::COMPLETED,
                    ..
                }) = printer.job(id).await
                {
                    let done = JobState::Printed(printer.status().await.unwrap_or_default());
                    on_state(&done);
                    return done;
                }
            }
            on_state(&JobState::Cancelled);
            return JobState::Cancelled;
        }
        let state = match job_id {
            None => match printer.status().await {
                Err(e) => JobState::Retrying(e.to_string()),
                Ok(s) if !s.can_print() => JobState::Held(s),
                Ok(_) => match printer.submit(pdf.to_vec(), media, title).await {
                    Ok(id) => {
                        job_id = Some(id);
                        continue;
                    }
                    Err(e) => JobState::Retrying(e.to_string()),
                },
            },
            Some(id) => match printer.job(id).await {
                Err(e) => JobState::Retrying(e.to_string()),
                Ok(r) => match r.state {
                    job_state::COMPLETED => {
                        let done = JobState::Printed(printer.status().await.unwrap_or_default());
                        on_state(&done);
                        return done;
                    }
                    job_state::CANCELED | job_state::ABORTED => {
                        let failed = JobState::Failed(format!(
                            "job {id} {} by the printer: {}",
                            if r.state == job_state::CANCELED {
                                "canceled"
                            } else {
                                "aborted"
                            },
                            r.reasons.join(", ")
                        ));
                        on_state(&failed);
                        return failed;
                    }
                    job_state::PENDING
                    | job_state::PENDING_HELD
                    | job_state::PROCESSING
                    | job_state::PROCESSING_STOPPED => match printer.status().await {
                        Ok(s) if !s.can_print() => JobState::Held(s),
                        Ok(_) | Err(_) => JobState::Printing,
                    },
                    other => JobState::Retrying(format!("job {id}: unknown job-state {other}")),
                },
            },
        };
        report(state, &mut on_state);
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = cancel.wait_for(|c| *c) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_http_on_the_same_address() {
        let p = IppPrinter::new(
            "ipp://127.0.0.1:8631/printers/card",
            "T1",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(p.endpoint, "http://127.0.0.1:8631/printers/card");
        assert_eq!(p.uri.to_string(), "ipp://127.0.0.1:8631/printers/card");
        let p = IppPrinter::new(
            "ipps://print.example/printers/a4",
            "",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(p.endpoint, "https://print.example:631/printers/a4");
        assert!(IppPrinter::new("http://x/printers/a", "", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn print_job_carries_media_format_and_the_document() {
        let p = IppPrinter::new(
            "ipp://127.0.0.1:8631/printers/card",
            "T1",
            Duration::from_secs(1),
        )
        .unwrap();
        let media = IppValue::new_keyword(Media::Card.keyword())
            .unwrap()
            .named(IppAttributeName::MEDIA);
        let op = IppOperationBuilder::print_job(
            p.uri.clone(),
            IppPayload::new(Cursor::new(b"%PDF-1.7 x".to_vec())),
        )
        .document_format("application/pdf")
        .attribute(media)
        .build()
        .unwrap();
        let req: IppRequestResponse = op.into();
        let mut bytes = Vec::new();
        req.into_read().read_to_end(&mut bytes).unwrap();
        let parsed = IppParser::new(Cursor::new(bytes.clone())).parse().unwrap();
        assert_eq!(
            IppPrinter::attr(&parsed, DelimiterTag::JobAttributes, "media")
                .unwrap()
                .to_string(),
            "Custom.85.6x54mm"
        );
        assert_eq!(
            IppPrinter::attr(
                &parsed,
                DelimiterTag::OperationAttributes,
                "document-format"
            )
            .unwrap()
            .to_string(),
            "application/pdf"
        );
        assert!(
            bytes.ends_with(b"%PDF-1.7 x"),
            "the PDF follows the attributes"
        );
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An `ipps://` printer as CUPS runs one: a self-signed certificate for localhost,
    /// answering every request with printer-state idle. Answers the port.
    async fn self_signed_printer(cert_pem: &str, key_pem: &str) -> u16 {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // Read the headers, then the body by its Content-Length.
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        got.extend_from_slice(&buf[..n]);
                        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&got[..i]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, length);
                        }
                    };
                    while got.len() < head_end + length {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let mut resp = IppRequestResponse::new_response(
                        IppVersion::v1_1(),
                        StatusCode::SuccessfulOk,
                        1,
                    )
                    .unwrap();
                    resp.attributes_mut().add(
                        DelimiterTag::PrinterAttributes,
                        IppAttribute::new(
                            ipp::value::IppName::new("printer-state").unwrap(),
                            IppValue::Enum(3),
                        ),
                    );
                    let body = resp.to_bytes();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ipps_printer_is_trusted_with_its_ca_file_and_refused_without() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let crt = dir.path().join("cups.crt");
        std::fs::write(&crt, cert.pem()).unwrap();
        let port = self_signed_printer(&cert.pem(), &key.serialize_pem()).await;
        let url = format!("ipps://localhost:{port}/printers/card");
        let t = Duration::from_secs(5);

        let trusted = IppPrinter::with_ca_file(&url, "T1", t, Some(&crt)).unwrap();
        let status = trusted.status().await.expect("trusted through its ca_file");
        assert!(status.can_print(), "{status:?}");

        // Without it: the system's roots, which do not hold a CUPS self-signed certificate.
        let e = IppPrinter::new(&url, "T1", t)
            .unwrap()
            .status()
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("certificate") && text.contains("ca_file"),
            "{text}"
        );

        // Another certificate in ca_file: refused too (only that one is trusted).
        let other_key = rcgen::KeyPair::generate().unwrap();
        let other = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&other_key)
            .unwrap();
        let other_crt = dir.path().join("other.crt");
        std::fs::write(&other_crt, other.pem()).unwrap();
        let e = IppPrinter::with_ca_file(&url, "T1", t, Some(&other_crt))
            .unwrap()
            .status()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("ca_file"), "{e}");

        // An unreadable ca_file is named.
        let e = IppPrinter::with_ca_file(&url, "T1", t, Some(&dir.path().join("missing.crt")))
            .unwrap_err();
        assert!(e.to_string().contains("missing.crt"), "{e}");
    }
}
