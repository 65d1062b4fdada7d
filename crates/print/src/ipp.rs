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
    /// ISO/IEC 7810 ID-1, 85.6 × 54 mm. PWG 5101.1 has no name for ID-1: it goes as
    /// the size the printer lists, or as a custom `media-col` size
    /// ([`Capabilities::choose`]).
    Card,
    /// ISO A4 (PWG 5101.1 self-describing name).
    A4,
}

impl Media {
    /// The PWG 5101.1 self-describing name (`custom_85.6x54mm` for the card).
    pub fn keyword(self) -> &'static str {
        match self {
            Media::Card => "custom_85.6x54mm",
            Media::A4 => "iso_a4_210x297mm",
        }
    }
}

/// The printer-state attributes a status read asks for.
const STATE_ATTRIBUTES: [&str; 3] = [
    "printer-state",
    "printer-state-reasons",
    "printer-is-accepting-jobs",
];

/// What a job's media and format are checked against.
const CAPABILITY_ATTRIBUTES: [&str; 4] = [
    "media-supported",
    "media-col-database",
    "media-size-supported",
    "document-format-supported",
];

/// ID-1 (85.6 × 54 mm) in hundredths of a millimetre, as IPP measures media.
pub const CARD_X: i32 = 8560;
pub const CARD_Y: i32 = 5400;
/// A listed size within 1 mm of the card's is the card's size.
pub const SIZE_TOLERANCE: i32 = 100;

/// One size a printer lists, in hundredths of mm: exact (min = max) or a range (custom
/// sizes), with where it was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSize {
    pub x: (i32, i32),
    pub y: (i32, i32),
    /// The `media-supported` keyword, for a size listed there.
    pub keyword: Option<String>,
    /// `media-supported`, `media-col-database` or `media-size-supported`.
    pub from: &'static str,
}

impl ListedSize {
    fn exact(&self) -> bool {
        self.x.0 == self.x.1 && self.y.0 == self.y.1
    }

    /// Whether (x, y) is this size (within the tolerance), or inside its range.
    fn holds(&self, x: i32, y: i32) -> bool {
        let near =
            |(lo, hi): (i32, i32), v: i32| lo - SIZE_TOLERANCE <= v && v <= hi + SIZE_TOLERANCE;
        let inside = |(lo, hi): (i32, i32), v: i32| lo <= v && v <= hi;
        if self.exact() {
            near(self.x, x) && near(self.y, y)
        } else {
            inside(self.x, x) && inside(self.y, y)
        }
    }
}

/// What a printer says it can print, read before its first job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub media_supported: Vec<String>,
    /// Every size listed, by keyword (`media-supported`, with `custom_min_`/`custom_max_`
    /// pairs as a range), by `media-col-database` and by `media-size-supported`.
    pub sizes: Vec<ListedSize>,
    pub formats: Vec<String>,
}

/// How a job's media is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaChoice {
    /// `media` with a keyword the printer lists.
    Keyword(String),
    /// `media-col` / `media-size` with these dimensions (hundredths of mm).
    Size { x: i32, y: i32 },
    /// No media attribute: the printer's default paper (a page document on a printer
    /// that lists no A4).
    PrinterDefault,
}

impl MediaChoice {
    /// The Print-Job attribute, if any.
    pub fn attribute(&self) -> Result<Option<IppAttribute>, PrintError> {
        match self {
            MediaChoice::Keyword(k) => Ok(Some(
                IppValue::new_keyword(k.clone())
                    .map_err(io)?
                    .named(IppAttributeName::MEDIA),
            )),
            MediaChoice::Size { x, y } => {
                let name = |n: &str| ipp::value::IppName::new(n).map_err(io);
                let size = IppValue::Collection(
                    [
                        (name("x-dimension")?, IppValue::Integer(*x)),
                        (name("y-dimension")?, IppValue::Integer(*y)),
                    ]
                    .into_iter()
                    .collect(),
                );
                let col = IppValue::Collection([(name("media-size")?, size)].into_iter().collect());
                Ok(Some(IppAttribute::new(name("media-col")?, col)))
            }
            MediaChoice::PrinterDefault => Ok(None),
        }
    }

    /// As the technician reads it: `media=…` or `media-col=…`.
    pub fn describe(&self) -> String {
        match self {
            MediaChoice::Keyword(k) => format!("media={k}"),
            MediaChoice::Size { x, y } => {
                format!("media-col={{media-size={{x-dimension={x} y-dimension={y}}}}}")
            }
            MediaChoice::PrinterDefault => "the printer's default media".into(),
        }
    }
}

/// The size in a PWG 5101.1 self-describing name (`iso_a4_210x297mm`,
/// `na_index-4x6_4x6in`, `custom_min_25.4x25.4mm`), in hundredths of mm.
pub fn keyword_size(keyword: &str) -> Option<(i32, i32)> {
    let dims = keyword.rsplit('_').next()?;
    let (dims, per_unit) = if let Some(d) = dims.strip_suffix("mm") {
        (d, 100.0)
    } else if let Some(d) = dims.strip_suffix("in") {
        (d, 2540.0)
    } else {
        return None;
    };
    let (w, h) = dims.split_once('x')?;
    let (w, h): (f64, f64) = (w.parse().ok()?, h.parse().ok()?);
    if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
        return None;
    }
    Some(((w * per_unit).round() as i32, (h * per_unit).round() as i32))
}

fn member<'a>(v: &'a IppValue, name: &str) -> Option<&'a IppValue> {
    match v {
        IppValue::Collection(m) => m.get(name),
        _ => None,
    }
}

fn dimension(v: Option<&IppValue>) -> Option<(i32, i32)> {
    match v? {
        IppValue::Integer(i) => Some((*i, *i)),
        IppValue::RangeOfInteger { min, max } => Some((*min, *max)),
        _ => None,
    }
}

fn values(v: &IppValue) -> Vec<&IppValue> {
    match v {
        IppValue::Array(a) => a.iter().collect(),
        v => vec![v],
    }
}

impl Capabilities {
    /// Reads the capability attributes of a Get-Printer-Attributes answer.
    pub fn from_response(resp: &IppRequestResponse) -> Self {
        let tag = DelimiterTag::PrinterAttributes;
        let get = |name| IppPrinter::attr(resp, tag, name);
        let media_supported = get("media-supported").map(strings).unwrap_or_default();
        let formats = get("document-format-supported")
            .map(strings)
            .unwrap_or_default();
        let mut sizes = Vec::new();
        let (mut min, mut max) = (None, None);
        for k in &media_supported {
            let Some(size) = keyword_size(k) else {
                continue;
            };
            if k.starts_with("custom_min_") {
                min = Some(size);
            } else if k.starts_with("custom_max_") {
                max = Some(size);
            } else {
                sizes.push(ListedSize {
                    x: (size.0, size.0),
                    y: (size.1, size.1),
                    keyword: Some(k.clone()),
                    from: "media-supported",
                });
            }
        }
        if let (Some(lo), Some(hi)) = (min, max) {
            sizes.push(ListedSize {
                x: (lo.0, hi.0),
                y: (lo.1, hi.1),
                keyword: None,
                from: "media-supported",
            });
        }
        for (attr, inner) in [
            ("media-col-database", true),
            ("media-size-supported", false),
        ] {
            for v in get(attr).map(values).unwrap_or_default() {
                let size = if inner {
                    member(v, "media-size")
                } else {
                    Some(v)
                };
                let Some(size) = size else { continue };
                if let (Some(x), Some(y)) = (
                    dimension(member(size, "x-dimension")),
                    dimension(member(size, "y-dimension")),
                ) {
                    sizes.push(ListedSize {
                        x,
                        y,
                        keyword: None,
                        from: attr,
                    });
                }
            }
        }
        Self {
            media_supported,
            sizes,
            formats,
        }
    }

    /// How `media` is sent to this printer, or why it cannot be: the card needs a listed
    /// size of 85.6 × 54 mm (± 1 mm, either way round) or a custom range holding it; A4
    /// goes as its keyword when listed, else on the printer's default paper. A printer
    /// that lists document formats must list PDF.
    pub fn choose(&self, media: Media) -> Result<MediaChoice, String> {
        if !self.formats.is_empty() && !self.formats.iter().any(|f| f == "application/pdf") {
            return Err(format!(
                "打印机不接受 PDF：document-format-supported lists {}; the terminal sends application/pdf: use a queue or printer that takes PDF (CUPS does)",
                self.formats.join(", ")
            ));
        }
        match media {
            Media::A4 => Ok(
                if self
                    .media_supported
                    .iter()
                    .any(|k| k == Media::A4.keyword())
                {
                    MediaChoice::Keyword(Media::A4.keyword().into())
                } else {
                    MediaChoice::PrinterDefault
                },
            ),
            Media::Card => {
                let fits = |s: &&ListedSize| s.holds(CARD_X, CARD_Y) || s.holds(CARD_Y, CARD_X);
                if let Some(k) = self
                    .sizes
                    .iter()
                    .filter(|s| s.exact())
                    .filter(fits)
                    .find_map(|s| s.keyword.clone())
                {
                    return Ok(MediaChoice::Keyword(k));
                }
                if let Some(s) = self.sizes.iter().filter(|s| s.exact()).find(fits) {
                    return Ok(MediaChoice::Size { x: s.x.0, y: s.y.0 });
                }
                if let Some(s) = self.sizes.iter().filter(|s| !s.exact()).find(fits) {
                    // A custom range: the card's own size, the way round the range holds.
                    return Ok(if s.holds(CARD_X, CARD_Y) {
                        MediaChoice::Size {
                            x: CARD_X,
                            y: CARD_Y,
                        }
                    } else {
                        MediaChoice::Size {
                            x: CARD_Y,
                            y: CARD_X,
                        }
                    });
                }
                Err(self.card_refusal())
            }
        }
    }

    fn card_refusal(&self) -> String {
        let listed = if self.media_supported.is_empty() {
            "no media-supported".to_string()
        } else {
            format!("media-supported lists {}", self.media_supported.join(", "))
        };
        let ranges = self.sizes.iter().filter(|s| !s.exact()).count();
        format!(
            "打印机不支持卡片尺寸 85.6×54 mm：{listed}; {} custom size range{}{}; load card stock and list it (a custom_85.6x54mm size, or custom_min_/custom_max_ and a media-size-supported range), or set printers.card.uri to a card printer",
            if ranges == 0 {
                "no".to_string()
            } else {
                ranges.to_string()
            },
            if ranges == 1 { "" } else { "s" },
            if ranges == 0 {
                ""
            } else {
                " that does not hold it"
            }
        )
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
        let message = parsed
            .attributes()
            .groups_of(DelimiterTag::OperationAttributes)
            .find_map(|g| g.get("status-message"))
            .map(|a| a.value().to_string())
            .unwrap_or_default();
        // What the printer named as unsupported (RFC 8011 §4.1.7): the attribute and
        // the value it would not take.
        let unsupported: Vec<String> = parsed
            .attributes()
            .groups_of(DelimiterTag::UnsupportedAttributes)
            .flat_map(|g| g.attributes().iter())
            .map(|a| format!("{}={}", a.name(), a.value()))
            .collect();
        match status {
            StatusCode::ClientErrorAttributesOrValuesNotSupported
            | StatusCode::ClientErrorDocumentFormatNotSupported => {
                return Err(PrintError::Unsupported(format!(
                    "{} refused the job: {status:?} {message}{}; the printer does not take what the job asks for (not a paper problem): check the printer's media and formats with `civic-kiosk diagnose`",
                    self.name(),
                    if unsupported.is_empty() {
                        String::new()
                    } else {
                        format!(" (unsupported: {})", unsupported.join(", "))
                    }
                )));
            }
            StatusCode::ClientErrorNotFound => {
                return Err(PrintError::NotFound(format!(
                    "{}: {status:?} {message}",
                    self.name()
                )));
            }
            s if !s.is_success() => {
                return Err(io(format!("{}: {status:?} {message}", self.name())));
            }
            _ => {}
        }
        if !unsupported.is_empty() {
            // A printer that printed anyway, having ignored or substituted something:
            // the technician should know what.
            log::warn!(
                "{} ignored or substituted: {}",
                self.name(),
                unsupported.join(", ")
            );
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
            .attributes(STATE_ATTRIBUTES)
            .build()
            .map_err(io)?;
        let resp = self.send(op.into()).await?;
        Ok(Self::status_of(&resp))
    }

    /// The status and what the printer can print, in one Get-Printer-Attributes: a
    /// held job asks once per poll.
    pub async fn status_and_capabilities(&self) -> Result<(Status, Capabilities), PrintError> {
        let op = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes(
                STATE_ATTRIBUTES
                    .iter()
                    .chain(CAPABILITY_ATTRIBUTES.iter())
                    .copied(),
            )
            .build()
            .map_err(io)?;
        let resp = self.send(op.into()).await?;
        Ok((Self::status_of(&resp), Capabilities::from_response(&resp)))
    }

    /// What the printer can print: media-supported, media-col-database,
    /// media-size-supported, document-format-supported.
    pub async fn capabilities(&self) -> Result<Capabilities, PrintError> {
        self.status_and_capabilities().await.map(|(_, c)| c)
    }

    fn status_of(resp: &IppRequestResponse) -> Status {
        let tag = DelimiterTag::PrinterAttributes;
        let state = match Self::attr(resp, tag, "printer-state") {
            Some(IppValue::Enum(s)) | Some(IppValue::Integer(s)) => *s,
            _ => 3,
        };
        let accepting = !matches!(
            Self::attr(resp, tag, "printer-is-accepting-jobs"),
            Some(IppValue::Boolean(false))
        );
        let reasons = Self::attr(resp, tag, "printer-state-reasons")
            .map(strings)
            .unwrap_or_default();
        Status::from_ipp(state, accepting, &reasons)
    }

    /// Print-Job with the PDF and its media as the printer listed it; answers the job id.
    pub async fn submit(
        &self,
        pdf: Vec<u8>,
        media: &MediaChoice,
        title: &str,
    ) -> Result<i32, PrintError> {
        let mut builder =
            IppOperationBuilder::print_job(self.uri.clone(), IppPayload::new(Cursor::new(pdf)))
                .user_name(&self.user)
                .job_title(title)
                .document_format("application/pdf");
        if let Some(attr) = media.attribute()? {
            builder = builder.attribute(attr);
        }
        let op = builder.build().map_err(io)?;
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
/// queued for a resident who may leave; so does one that cannot print this job (no card
/// size, no PDF: [`JobState::Unsupported`], asked again on every poll). The printer's
/// capabilities are read before the first submit and kept for the job. Once submitted,
/// the job is followed until completed; it fails when the printer no longer knows it,
/// and when `waits.give_up` passes first (then it is cancelled at the printer, as it is
/// when `cancel` turns true). Every poll waits on a real timer with backoff.
pub async fn run_job(
    printer: &IppPrinter,
    pdf: &[u8],
    media: Media,
    title: &str,
    mut cancel: watch::Receiver<bool>,
    waits: &super::job::Waits,
    mut on_state: impl FnMut(&JobState),
) -> JobState {
    let deadline = tokio::time::Instant::now() + waits.give_up;
    let mut backoff = super::job::Backoff::new(waits);
    let mut job_id = None;
    let mut choice: Option<MediaChoice> = None;
    let mut refusal = String::new();
    let mut last: Option<JobState> = None;
    let end = |s: JobState, on_state: &mut dyn FnMut(&JobState)| {
        log::info!("IPP job on {}: {s:?}", printer.name());
        on_state(&s);
        s
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
                    return end(done, &mut on_state);
                }
            }
            return end(JobState::Cancelled, &mut on_state);
        }
        let state = match job_id {
            None => {
                let looked = match &choice {
                    Some(_) => printer.status().await.map(|s| (s, None)),
                    None => printer
                        .status_and_capabilities()
                        .await
                        .map(|(s, c)| (s, Some(c))),
                };
                match looked {
                    Err(e) => JobState::Retrying(e.to_string()),
                    Ok((s, caps)) => {
                        if let Some(caps) = caps {
                            match caps.choose(media) {
                                Ok(c) => {
                                    log::info!(
                                        "IPP printer {}: {:?} goes as {}",
                                        printer.name(),
                                        media,
                                        c.describe()
                                    );
                                    choice = Some(c);
                                }
                                Err(why) => refusal = why,
                            }
                        }
                        match &choice {
                            None => JobState::Unsupported(refusal.clone()),
                            Some(_) if !s.can_print() => JobState::Held(s),
                            Some(c) => match printer.submit(pdf.to_vec(), c, title).await {
                                Ok(id) => {
                                    log::info!(
                                        "IPP job {id} on {} sent with {}",
                                        printer.name(),
                                        c.describe()
                                    );
                                    job_id = Some(id);
                                    continue;
                                }
                                Err(PrintError::Unsupported(why)) => {
                                    // Read the capabilities again next time: the
                                    // printer refused what it listed.
                                    choice = None;
                                    refusal = why.clone();
                                    JobState::Unsupported(why)
                                }
                                Err(e) => JobState::Retrying(e.to_string()),
                            },
                        }
                    }
                }
            }
            Some(id) => match printer.job(id).await {
                Err(PrintError::NotFound(e)) => {
                    let failed = JobState::Failed(format!(
                        "the printer accepted job {id} and no longer knows it ({e}): it was restarted or dropped the job; nothing is known to have printed"
                    ));
                    return end(failed, &mut on_state);
                }
                Err(e) => JobState::Retrying(e.to_string()),
                Ok(r) => match r.state {
                    job_state::COMPLETED => {
                        let done = JobState::Printed(printer.status().await.unwrap_or_default());
                        return end(done, &mut on_state);
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
                        return end(failed, &mut on_state);
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
        if last.as_ref() != Some(&state) {
            log::info!("IPP job on {}: {state:?}", printer.name());
            on_state(&state);
            backoff.reset();
            last = Some(state);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            if let Some(id) = job_id
                && let Err(e) = printer.cancel(id).await
            {
                log::warn!("cancel of IPP job {id} at its deadline: {e}");
            }
            let failed = JobState::Failed(super::job::gave_up(waits, last.as_ref()));
            return end(failed, &mut on_state);
        }
        let delay = backoff.next_delay().min(deadline - now);
        super::job::sleep_or_cancel(&mut cancel, delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(media: &[&str], sizes: Vec<ListedSize>, formats: &[&str]) -> Capabilities {
        let mut c = Capabilities {
            media_supported: media.iter().map(|s| s.to_string()).collect(),
            sizes: Vec::new(),
            formats: formats.iter().map(|s| s.to_string()).collect(),
        };
        // The keywords' sizes as from_response reads them.
        let mut resp =
            IppRequestResponse::new_response(IppVersion::v1_1(), StatusCode::SuccessfulOk, 1)
                .unwrap();
        let keywords: Vec<IppValue> = media
            .iter()
            .map(|k| IppValue::new_keyword(*k).unwrap())
            .collect();
        resp.attributes_mut().add(
            DelimiterTag::PrinterAttributes,
            IppAttribute::new(
                ipp::value::IppName::new("media-supported").unwrap(),
                IppValue::Array(keywords),
            ),
        );
        c.sizes = Capabilities::from_response(&resp).sizes;
        c.sizes.extend(sizes);
        c
    }

    #[test]
    fn pwg_names_give_their_size_in_hundredths_of_a_millimetre() {
        assert_eq!(keyword_size("iso_a4_210x297mm"), Some((21000, 29700)));
        assert_eq!(keyword_size("na_letter_8.5x11in"), Some((21590, 27940)));
        assert_eq!(keyword_size("custom_min_25.4x25.4mm"), Some((2540, 2540)));
        assert_eq!(keyword_size("om_card_85.6x54mm"), Some((8560, 5400)));
        assert_eq!(keyword_size("auto"), None);
        assert_eq!(keyword_size("x_0x0mm"), None);
    }

    #[test]
    fn the_card_goes_as_the_size_the_printer_lists_or_is_refused_naming_what_it_lists() {
        let pdf = ["application/pdf"];
        // A stock IPP Everywhere printer (ippeveprinter's defaults): no card size.
        let stock = caps(
            &["na_letter_8.5x11in", "iso_a4_210x297mm", "iso_dl_110x220mm"],
            vec![],
            &["application/octet-stream", "application/pdf"],
        );
        let why = stock.choose(Media::Card).unwrap_err();
        assert!(
            why.starts_with("打印机不支持卡片尺寸 85.6×54 mm："),
            "{why}"
        );
        assert!(
            why.contains("iso_dl_110x220mm") && why.contains("printers.card.uri"),
            "{why}"
        );
        assert_eq!(
            stock.choose(Media::A4),
            Ok(MediaChoice::Keyword("iso_a4_210x297mm".into()))
        );
        // A listed card keyword (either way round, within 1 mm) is sent as listed.
        for k in [
            "om_card_85.6x54mm",
            "om_cr80_54x85.6mm",
            "na_cr80_3.375x2.125in",
        ] {
            assert_eq!(
                caps(&[k], vec![], &pdf).choose(Media::Card),
                Ok(MediaChoice::Keyword(k.into())),
                "{k}"
            );
        }
        // 2 mm off is another size.
        assert!(
            caps(&["om_x_87.6x54mm"], vec![], &pdf)
                .choose(Media::Card)
                .is_err()
        );
        // A custom range in media-supported: the card's own size as media-col.
        let custom = caps(
            &[
                "iso_a4_210x297mm",
                "custom_min_25.4x25.4mm",
                "custom_max_215.9x355.6mm",
            ],
            vec![],
            &pdf,
        );
        assert_eq!(
            custom.choose(Media::Card),
            Ok(MediaChoice::Size { x: 8560, y: 5400 })
        );
        // A range from media-col-database / media-size-supported, only portrait.
        let range = caps(
            &["iso_a4_210x297mm"],
            vec![ListedSize {
                x: (3000, 6000),
                y: (6000, 30000),
                keyword: None,
                from: "media-col-database",
            }],
            &pdf,
        );
        assert_eq!(
            range.choose(Media::Card),
            Ok(MediaChoice::Size { x: 5400, y: 8560 })
        );
        // A range too small for the card is refused, and said so.
        let small = caps(&["custom_min_10x10mm", "custom_max_50x50mm"], vec![], &pdf);
        let why = small.choose(Media::Card).unwrap_err();
        assert!(why.contains("does not hold it"), "{why}");
        // No PDF: refused whatever the media.
        let raster = caps(&["om_card_85.6x54mm"], vec![], &["image/pwg-raster"]);
        assert!(
            raster
                .choose(Media::Card)
                .unwrap_err()
                .contains("image/pwg-raster")
        );
        // A4 not listed: the printer's default paper.
        assert_eq!(
            caps(&["na_letter_8.5x11in"], vec![], &pdf).choose(Media::A4),
            Ok(MediaChoice::PrinterDefault)
        );
    }

    #[test]
    fn media_col_database_and_size_supported_are_read_with_ranges() {
        let mut resp =
            IppRequestResponse::new_response(IppVersion::v1_1(), StatusCode::SuccessfulOk, 1)
                .unwrap();
        let name = |n: &str| ipp::value::IppName::new(n).unwrap();
        let size = |x: IppValue, y: IppValue| {
            IppValue::Collection([(name("x-dimension"), x), (name("y-dimension"), y)].into())
        };
        resp.attributes_mut().add(
            DelimiterTag::PrinterAttributes,
            IppAttribute::new(
                name("media-col-database"),
                IppValue::Array(vec![IppValue::Collection(
                    [(
                        name("media-size"),
                        size(IppValue::Integer(8560), IppValue::Integer(5400)),
                    )]
                    .into(),
                )]),
            ),
        );
        resp.attributes_mut().add(
            DelimiterTag::PrinterAttributes,
            IppAttribute::new(
                name("media-size-supported"),
                IppValue::Array(vec![size(
                    IppValue::RangeOfInteger {
                        min: 2540,
                        max: 21590,
                    },
                    IppValue::RangeOfInteger {
                        min: 2540,
                        max: 35560,
                    },
                )]),
            ),
        );
        let c = Capabilities::from_response(&resp);
        assert_eq!(c.sizes.len(), 2, "{c:?}");
        assert_eq!(c.sizes[0].from, "media-col-database");
        assert_eq!(c.sizes[1].x, (2540, 21590));
        assert_eq!(
            c.choose(Media::Card),
            Ok(MediaChoice::Size { x: 8560, y: 5400 })
        );
    }

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
        let media = MediaChoice::Size {
            x: CARD_X,
            y: CARD_Y,
        }
        .attribute()
        .unwrap()
        .unwrap();
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
        let col = IppPrinter::attr(&parsed, DelimiterTag::JobAttributes, "media-col").unwrap();
        let size = member(col, "media-size").unwrap();
        assert_eq!(dimension(member(size, "x-dimension")), Some((8560, 8560)));
        assert_eq!(dimension(member(size, "y-dimension")), Some((5400, 5400)));
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
