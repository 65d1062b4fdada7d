//! HTTP client for the back-office contract: bearer token, bounded waits, body-size limit, errors by kind.
//!
//! Every call has a connect timeout and a total timeout (which covers a trickling body),
//! and an answer larger than the configured limit is refused without being read whole.
//! Errors say which kind of failure it was, so callers can decide to retry
//! ([`ClientError::is_retryable`]) and technicians can see what broke.

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::*;
use crate::config::Config;

/// Options for building a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub base_url: String,
    pub token: String,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub max_body_bytes: u64,
}

impl ClientOptions {
    /// Options from the config, with `base_url` given (the embedded back office's
    /// address is only known once it runs).
    pub fn from_config(config: &Config, base_url: &str) -> Self {
        Self {
            base_url: base_url.to_string(),
            token: config.backoffice.token.clone(),
            connect_timeout: config.connect_timeout(),
            total_timeout: config.total_timeout(),
            ca_file: config
                .backoffice
                .ca_file
                .as_ref()
                .map(|p| config.resolve(p)),
            max_body_bytes: config.max_body_bytes(),
        }
    }
}

/// Kinds of failure, for retry decisions and for the technician's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No connection could be made (refused, no route, DNS).
    Unreachable,
    /// No complete answer within the timeout.
    Timeout,
    /// The connection closed before an answer arrived.
    Dropped,
    /// TLS handshake or certificate failure.
    Tls,
    /// The token was refused (401).
    Unauthorized,
    /// The back office answered 5xx.
    ServerError,
    /// The back office answered 4xx with a reason (not found, not eligible …).
    Rejected,
    /// The answer was larger than the limit.
    TooLarge,
    /// The answer was not what the contract says.
    BadAnswer,
    /// The client could not be built (bad CA file …).
    Setup,
}

/// A failed back-office call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ClientError {
    pub kind: ErrorKind,
    /// HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// The contract's error code (`resident_not_found` …), when the body carried one.
    pub code: Option<String>,
    pub message: String,
    /// The fields refused, with a `422 fields_invalid` answer to a 快办 submission
    /// ([`FieldErrors`]); empty otherwise. See [`ClientError::field_errors`].
    pub fields: Vec<FieldError>,
}

impl ClientError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            code: None,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The fields a 快办 submission was refused for (`422 fields_invalid`), to show each
    /// beside its field; `None` for any other failure.
    pub fn field_errors(&self) -> Option<&[FieldError]> {
        self.code_is(crate::api::limits::codes::FIELDS_INVALID)
            .then_some(self.fields.as_slice())
    }

    /// Whether the back office answered with the contract's error `code`
    /// (`api::limits::codes::CODE_NOT_FOUND` …). `false` for a failure without an answer.
    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether the same request may succeed later (network, timeouts, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unreachable
                | ErrorKind::Timeout
                | ErrorKind::Dropped
                | ErrorKind::ServerError
        )
    }
}

/// What a conditional catalogue fetch gave.
#[derive(Debug, Clone)]
pub enum CatalogueFetch {
    NotModified,
    Fresh {
        catalogue: Box<Catalogue>,
        etag: Option<String>,
    },
}

/// A decoded answer with the metadata callers need.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Client of one back office, for one token (a terminal's, or the admin's).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: String,
    max_body: u64,
    total_timeout: Duration,
    /// `backoffice.ca_file`, when set: named in the message of a refused certificate.
    ca_file: Option<PathBuf>,
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Client {
    pub fn new(opts: &ClientOptions) -> Result<Self, ClientError> {
        let mut base = url::Url::parse(&opts.base_url).map_err(|e| {
            ClientError::new(
                ErrorKind::Setup,
                format!("backoffice.url '{}': {e}", opts.base_url),
            )
        })?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let loopback = is_loopback(&base);
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            s => {
                return Err(ClientError::new(
                    ErrorKind::Setup,
                    format!(
                        "backoffice.url: scheme '{s}' refused; use https:// (http only for loopback)"
                    ),
                ));
            }
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.total_timeout)
            // Under the back office's 10 s keep-alive limit: a pooled connection is never
            // one the server is about to close.
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .https_only(!loopback)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("civic-kiosk/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                ClientError::new(
                    ErrorKind::Setup,
                    format!("backoffice.ca_file '{}': {e}", ca.display()),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ClientError::new(
                    ErrorKind::Setup,
                    format!("backoffice.ca_file '{}' is not PEM: {e}", ca.display()),
                )
            })?;
            if certs.is_empty() {
                return Err(ClientError::new(
                    ErrorKind::Setup,
                    format!("backoffice.ca_file '{}' holds no certificate", ca.display()),
                ));
            }
            // Only this CA: a terminal that names its back office's CA must not also
            // accept any certificate one of the ~150 public CAs issues for the name.
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::new(ErrorKind::Setup, format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token: opts.token.clone(),
            max_body: opts.max_body_bytes,
            total_timeout: opts.total_timeout,
            ca_file: opts.ca_file.clone(),
        })
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ClientError::new(ErrorKind::Setup, format!("bad path {path}: {e}")))
    }

    fn classify(&self, e: reqwest::Error) -> ClientError {
        let mut chain = String::new();
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = src {
            if !chain.is_empty() {
                chain.push_str(": ");
            }
            chain.push_str(&s.to_string());
            src = s.source();
        }
        let lower = chain.to_ascii_lowercase();
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            ErrorKind::Tls
        } else if e.is_connect() {
            ErrorKind::Unreachable
        } else {
            // Connection closed, reset, or an incomplete message: the request may or may
            // not have been processed.
            ErrorKind::Dropped
        };
        let message = match kind {
            ErrorKind::Timeout => format!("no answer within {:?} ({chain})", self.total_timeout),
            ErrorKind::Tls if lower.contains("certificate") => match &self.ca_file {
                Some(ca) => format!(
                    "{chain}: the back office's certificate is not signed by the CA in backoffice.ca_file ('{}'), the only CA trusted",
                    ca.display()
                ),
                None => format!(
                    "{chain}: the back office's certificate is not signed by a CA this system trusts; set backoffice.ca_file to the PEM of the CA that signed it"
                ),
            },
            _ => chain,
        };
        ClientError::new(kind, message)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&dyn erased::JsonBody>,
        headers: HeaderMap,
    ) -> Result<Answer, ClientError> {
        self.send_marked(method, path, body, headers, None).await
    }

    /// [`send`](Self::send), hitting `failpoint` once the answer's headers have arrived.
    async fn send_marked(
        &self,
        method: Method,
        path: &str,
        body: Option<&dyn erased::JsonBody>,
        headers: HeaderMap,
        failpoint: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let url = self.url(path)?;
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .headers(headers);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_json());
        }
        let mut resp = req.send().await.map_err(|e| self.classify(e))?;
        if let Some(point) = failpoint {
            // The request was delivered and answered; its answer is not read yet.
            crate::failpoint::hit(point);
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(len) = resp.content_length()
            && len > self.max_body
        {
            return Err(ClientError::new(
                ErrorKind::TooLarge,
                format!(
                    "answer of {len} bytes exceeds backoffice.max_body_bytes ({})",
                    self.max_body
                ),
            ));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > self.max_body {
                        return Err(ClientError::new(
                            ErrorKind::TooLarge,
                            format!(
                                "answer exceeds backoffice.max_body_bytes ({})",
                                self.max_body
                            ),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.classify(e)),
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn error_from(&self, a: &Answer) -> ClientError {
        let parsed: Option<ApiError> = serde_json::from_slice(&a.body).ok();
        let status = a.status.as_u16();
        let resident_token = parsed
            .as_ref()
            .is_some_and(|e| e.error.starts_with("resident_token_"));
        let kind = match a.status {
            // The resident's session refused, not the terminal's token: a reason to
            // identify the resident again, not a broken terminal.
            StatusCode::UNAUTHORIZED if resident_token => ErrorKind::Rejected,
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
            s if s.is_server_error() => ErrorKind::ServerError,
            s if s.is_client_error() => ErrorKind::Rejected,
            _ => ErrorKind::BadAnswer,
        };
        let (code, message) = match parsed {
            Some(e) => (Some(e.error), e.message),
            None => (
                None,
                format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
                ),
            ),
        };
        // Only a `fields_invalid` answer carries fields ([`FieldErrors`]).
        let fields = if code.as_deref() == Some(crate::api::limits::codes::FIELDS_INVALID) {
            serde_json::from_slice::<FieldErrors>(&a.body)
                .map(|e| e.fields)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        ClientError {
            kind,
            status: Some(status),
            code,
            message,
            fields,
        }
    }

    fn decode<T: DeserializeOwned>(&self, a: &Answer) -> Result<T, ClientError> {
        if !a.status.is_success() {
            return Err(self.error_from(a));
        }
        serde_json::from_slice(&a.body).map_err(|e| {
            ClientError::new(
                ErrorKind::BadAnswer,
                format!("answer does not match the contract: {e}"),
            )
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let a = self.send(Method::GET, path, None, HeaderMap::new()).await?;
        self.decode(&a)
    }

    async fn post<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let a = self
            .send(
                Method::POST,
                path,
                Some(&erased::Json(body)),
                HeaderMap::new(),
            )
            .await?;
        self.decode(&a)
    }

    async fn put<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let a = self
            .send(
                Method::PUT,
                path,
                Some(&erased::Json(body)),
                HeaderMap::new(),
            )
            .await?;
        self.decode(&a)
    }

    /// `GET /api/v1/ping`, with the back office's clock from its `Date` header.
    pub async fn ping(&self) -> Result<(Ping, Option<DateTime<Utc>>), ClientError> {
        let a = self
            .send(Method::GET, "api/v1/ping", None, HeaderMap::new())
            .await?;
        let date = date_header(&a.headers);
        Ok((self.decode(&a)?, date))
    }

    /// The whole catalogue, or `NotModified` when `etag` still matches.
    pub async fn catalogue(&self, etag: Option<&str>) -> Result<CatalogueFetch, ClientError> {
        let mut headers = HeaderMap::new();
        if let Some(tag) = etag.and_then(|t| t.parse().ok()) {
            headers.insert(IF_NONE_MATCH, tag);
        }
        let a = self
            .send(Method::GET, "api/v1/items", None, headers)
            .await?;
        if a.status == StatusCode::NOT_MODIFIED {
            return Ok(CatalogueFetch::NotModified);
        }
        let etag = a
            .headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let catalogue: Catalogue = self.decode(&a)?;
        Ok(CatalogueFetch::Fresh {
            catalogue: Box::new(catalogue),
            etag,
        })
    }

    pub async fn item(&self, code: &str) -> Result<ServiceItem, ClientError> {
        self.get(&format!("api/v1/items/{}", urlencode(code))).await
    }

    pub async fn faq_search(&self, query: &str) -> Result<FaqSearch, ClientError> {
        self.get(&format!("api/v1/faq?q={}", urlencode(query)))
            .await
    }

    pub async fn lookup_resident(
        &self,
        req: &ResidentLookupRequest,
    ) -> Result<ResidentLookup, ClientError> {
        self.post("api/v1/residents/lookup", req).await
    }

    /// The resident a scanned 随申码 or 电子身份证 code names
    /// (`POST /api/v1/residents/resolve-code`). The answer's `id_number` is for this
    /// session only, to act as after an ID card was read: never shown, logged or stored.
    ///
    /// The outcomes apart, by the error's status and code:
    /// - `e.code_is(codes::CODE_NOT_FOUND)` (status 404): an unknown code;
    /// - `e.code_is(codes::CODE_EXPIRED)` (410): expired, the resident refreshes it;
    /// - status 422 (`field_too_long`, `field_empty`, `code_not_printable`): not a code;
    /// - `e.status == None`, [`ClientError::is_retryable`]: the network (or a 5xx).
    pub async fn resolve_code(&self, code: &str) -> Result<ResolvedCode, ClientError> {
        let req = ResolveCodeRequest {
            code: code.to_string(),
        };
        self.post("api/v1/residents/resolve-code", &req).await
    }

    /// Opens a session for the resident identified at this terminal
    /// (`POST /api/v1/residents/session`): its token lives [`RESIDENT_TOKEN_TTL_S`] and
    /// works from this terminal only. `404 resident_not_found` for someone not in the
    /// registry. Keep the token in the resident's session only; its `Debug` hides it.
    pub async fn open_resident_session(
        &self,
        id: &crate::identity::IdNumber,
    ) -> Result<ResidentSession, ClientError> {
        let req = ResidentSessionRequest {
            id_number: id.clone(),
        };
        self.post("api/v1/residents/session", &req).await
    }

    /// Ends a resident's session (`DELETE /api/v1/residents/session`). Ending one already
    /// ended, expired or unknown succeeds too.
    pub async fn close_resident_session(&self, token: &str) -> Result<(), ClientError> {
        let a = self
            .send(
                Method::DELETE,
                "api/v1/residents/session",
                None,
                resident_header(token)?,
            )
            .await?;
        if a.status.is_success() {
            Ok(())
        } else {
            Err(self.error_from(&a))
        }
    }

    /// The resident's applications, newest first (办件进度,
    /// `GET /api/v1/residents/me/applications`). A refused session is
    /// [`ErrorKind::Rejected`] with the code: `resident_token_missing`,
    /// `resident_token_invalid`, `resident_token_expired` (401: identify the resident
    /// again) or `resident_token_other_terminal` (403).
    pub async fn applications(&self, token: &str) -> Result<Vec<Application>, ClientError> {
        let a = self
            .send(
                Method::GET,
                "api/v1/residents/me/applications",
                None,
                resident_header(token)?,
            )
            .await?;
        self.decode(&a)
    }

    /// Issues a certificate of the resident's records (证明打印,
    /// `POST /api/v1/residents/me/certificates`): `422 period_not_offered` for a period
    /// not in [`CERTIFICATE_PERIODS`], `404 no_records` when there is nothing of this kind.
    pub async fn certificate(
        &self,
        token: &str,
        req: &CertificateRequest,
    ) -> Result<Certificate, ClientError> {
        let a = self
            .send(
                Method::POST,
                "api/v1/residents/me/certificates",
                Some(&erased::Json(req)),
                resident_header(token)?,
            )
            .await?;
        self.decode(&a)
    }

    /// The 快办 items, prefilled for the resident, each saying whether they may apply
    /// (`GET /api/v1/residents/me/quick-items`).
    pub async fn quick_forms(&self, token: &str) -> Result<Vec<QuickForm>, ClientError> {
        let a = self
            .send(
                Method::GET,
                "api/v1/residents/me/quick-items",
                None,
                resident_header(token)?,
            )
            .await?;
        self.decode(&a)
    }

    /// Submits a 快办 item (`POST /api/v1/residents/me/quick-items/{id}`). Not retried
    /// here: the caller retries with the same `submission_id`, and the back office files
    /// one application for it (a retry's receipt has `repeated`). Values that do not fit
    /// are `422 fields_invalid` with [`ClientError::field_errors`]; also
    /// `404 quick_item_not_found`, `422 not_eligible`, `409 submission_id_reused`.
    pub async fn submit_quick(
        &self,
        token: &str,
        item_id: &str,
        submission: &QuickSubmission,
    ) -> Result<QuickReceipt, ClientError> {
        let a = self
            .send(
                Method::POST,
                &format!("api/v1/residents/me/quick-items/{}", urlencode(item_id)),
                Some(&erased::Json(submission)),
                resident_header(token)?,
            )
            .await?;
        self.decode(&a)
    }

    /// Checks a certificate's verification code (`GET /api/v1/documents/verify/{code}`,
    /// no token needed): `422 document_tampered` for a changed or made-up code, `404
    /// document_not_found` for a genuine one the back office does not hold.
    pub async fn verify_document(&self, code: &str) -> Result<DocumentCheck, ClientError> {
        self.get(&format!("api/v1/documents/verify/{}", urlencode(code)))
            .await
    }

    pub async fn issue_code(&self, req: &IssueCodeRequest) -> Result<IssuedCode, ClientError> {
        self.post("api/v1/offline-codes", req).await
    }

    pub async fn report_lost(&self, req: &ReportLostRequest) -> Result<CardStatus, ClientError> {
        self.post("api/v1/offline-codes/report-lost", req).await
    }

    /// Voids a card this terminal issued and could not print.
    pub async fn void_unprinted(&self, card_id: &str) -> Result<CardStatus, ClientError> {
        self.post(
            &format!("api/v1/offline-codes/{}/void", urlencode(card_id)),
            &crate::api::VoidCardRequest {
                reason: crate::api::VoidReason::NotPrinted,
            },
        )
        .await
    }

    pub async fn card_status(&self, card_id: &str) -> Result<CardStatus, ClientError> {
        self.get(&format!("api/v1/offline-codes/{}", urlencode(card_id)))
            .await
    }

    pub async fn upload_ratings(
        &self,
        batch: &RatingBatch,
    ) -> Result<RatingBatchResult, ClientError> {
        let a = self
            .send_marked(
                Method::POST,
                "api/v1/ratings",
                Some(&erased::Json(batch)),
                HeaderMap::new(),
                Some(crate::failpoint::AFTER_UPLOAD_SENT),
            )
            .await?;
        self.decode(&a)
    }

    /// Sends a heartbeat; also answers the back office's clock from its `Date` header.
    pub async fn heartbeat(
        &self,
        hb: &Heartbeat,
    ) -> Result<(HeartbeatAck, Option<DateTime<Utc>>), ClientError> {
        let a = self
            .send(
                Method::POST,
                "api/v1/terminal/heartbeat",
                Some(&erased::Json(hb)),
                HeaderMap::new(),
            )
            .await?;
        let date = date_header(&a.headers);
        Ok((self.decode(&a)?, date))
    }

    pub async fn remote_config(&self) -> Result<RemoteConfig, ClientError> {
        self.get("api/v1/terminal/config").await
    }

    pub async fn help(&self, req: &HelpRequest) -> Result<HelpAck, ClientError> {
        self.post("api/v1/terminal/help", req).await
    }

    // ---- admin endpoints (a client built with the admin token)

    pub async fn signing_key(&self) -> Result<PublicKeyInfo, ClientError> {
        self.get("api/v1/admin/signing-key").await
    }

    pub async fn rating_stats(&self, terminal_id: &str) -> Result<RatingStats, ClientError> {
        self.get(&format!(
            "api/v1/admin/terminals/{}/ratings/stats",
            urlencode(terminal_id)
        ))
        .await
    }

    /// Adds or replaces a resident code (`POST /api/v1/admin/codes`), for tests and demos.
    pub async fn add_code(&self, record: &CodeRecord) -> Result<ResolvedCode, ClientError> {
        self.post("api/v1/admin/codes", record).await
    }

    pub async fn terminals(&self) -> Result<Vec<TerminalSummary>, ClientError> {
        self.get("api/v1/admin/terminals").await
    }

    pub async fn set_remote_config(
        &self,
        terminal_id: &str,
        settings: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<RemoteConfig, ClientError> {
        self.put(
            &format!("api/v1/admin/terminals/{}/config", urlencode(terminal_id)),
            settings,
        )
        .await
    }
}

/// The `X-Resident-Token` header, marked sensitive (kept out of reqwest's debug output).
fn resident_header(token: &str) -> Result<HeaderMap, ClientError> {
    let mut value = reqwest::header::HeaderValue::from_str(token).map_err(|_| {
        ClientError::new(
            ErrorKind::Setup,
            "a resident token must be visible ASCII (as the back office issues it)",
        )
    })?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::HeaderName::from_static(RESIDENT_TOKEN_HEADER),
        value,
    );
    Ok(headers)
}

fn date_header(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(text).ok()?;
    Some(DateTime::<Utc>::from(t))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Object-safe JSON bodies, so `send` is not generic over every body type.
mod erased {
    pub(super) trait JsonBody: Sync {
        fn to_json(&self) -> Vec<u8>;
    }
    pub(super) struct Json<'a, T: serde::Serialize + Sync>(pub &'a T);
    impl<T: serde::Serialize + Sync> JsonBody for Json<'_, T> {
        fn to_json(&self) -> Vec<u8> {
            // Wire types serialize infallibly (no maps with non-string keys).
            serde_json::to_vec(self.0).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::codes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A scripted back office: answers resolve-code by the code in the body, one
    /// connection per request.
    /// A back office scripted by `answer`: each request (head and body, read whole) gets
    /// the status line and JSON body `answer` gives for its text.
    async fn serve(answer: fn(&str) -> (&'static str, &'static str)) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let text = String::from_utf8_lossy(&raw).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if body.len() >= len {
                                break;
                            }
                        }
                        let n = conn.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        raw.extend_from_slice(&buf[..n]);
                    }
                    let (status, body) = answer(&String::from_utf8_lossy(&raw));
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/")
    }

    async fn scripted() -> String {
        serve(|text| {
            assert!(
                text.starts_with("POST /api/v1/residents/resolve-code "),
                "{text}"
            );
            assert!(text.contains("Bearer t0k"), "{text}");
            if text.contains("SSM:DEMO:WANGXIUYING") {
                (
                    "200 OK",
                    r#"{"kind": "suishenma", "masked_name": "王*英", "masked_id": "310***********1231", "id_number": "310105195001011231", "expires_at": "2099-12-31T23:59:59Z"}"#,
                )
            } else if text.contains("SSM:DEMO:EXPIRED") {
                (
                    "410 Gone",
                    r#"{"error": "code_expired", "message": "expired"}"#,
                )
            } else {
                (
                    "404 Not Found",
                    r#"{"error": "code_not_found", "message": "unknown"}"#,
                )
            }
        })
        .await
    }

    async fn scripted_session() -> String {
        serve(|text| {
            let text = text.to_lowercase();
            let resident = text
                .lines()
                .find_map(|l| l.strip_prefix("x-resident-token: "))
                .map(str::trim);
            if text.starts_with("post /api/v1/residents/session ") {
                if text.contains("310105195001011231") {
                    (
                        "200 OK",
                        r#"{"token": "tok-abc", "expires_at": "2099-12-31T23:59:59Z", "masked_name": "王*英"}"#,
                    )
                } else {
                    (
                        "404 Not Found",
                        r#"{"error": "resident_not_found", "message": "no"}"#,
                    )
                }
            } else if text.starts_with("delete /api/v1/residents/session ") {
                assert!(resident.is_some(), "{text}");
                ("204 No Content", "")
            } else if text.starts_with("get /api/v1/residents/me/applications ") {
                match resident {
                    Some("tok-abc") => (
                        "200 OK",
                        r#"[{"case_no": "CN310105-2026-000098", "item_code": "310105-GA-0019", "item_name": "户口登记项目更正", "submitted_on": "2026-11-12", "status": "needs_correction", "timeline": [{"status": "needs_correction", "at": "2026-11-18T07:20:00Z"}], "missing": "出生医学证明", "collect": null}]"#,
                    ),
                    Some("tok-old") => (
                        "401 Unauthorized",
                        r#"{"error": "resident_token_expired", "message": "expired"}"#,
                    ),
                    Some(_) => (
                        "403 Forbidden",
                        r#"{"error": "resident_token_other_terminal", "message": "other"}"#,
                    ),
                    None => (
                        "401 Unauthorized",
                        r#"{"error": "resident_token_missing", "message": "missing"}"#,
                    ),
                }
            } else {
                (
                    "404 Not Found",
                    r#"{"error": "not_found", "message": "no"}"#,
                )
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_resident_session_opens_lists_applications_and_closes() {
        let c = client(&scripted_session().await);
        let wang = crate::identity::IdNumber::parse("310105195001011231").unwrap();
        let s = c.open_resident_session(&wang).await.unwrap();
        assert_eq!(
            (s.token.as_str(), s.masked_name.as_str()),
            ("tok-abc", "王*英")
        );
        assert!(
            !format!("{s:?}").contains("tok-abc"),
            "Debug hides the token"
        );

        let apps = c.applications(&s.token).await.unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].status, ApplicationStatus::NeedsCorrection);
        assert_eq!(apps[0].missing.as_deref(), Some("出生医学证明"));

        // A refused session is the resident's matter, not the terminal's token.
        let expired = c.applications("tok-old").await.unwrap_err();
        assert_eq!(
            (expired.kind, expired.status),
            (ErrorKind::Rejected, Some(401))
        );
        assert!(expired.code_is(codes::RESIDENT_TOKEN_EXPIRED) && !expired.is_retryable());
        let other = c.applications("tok-else").await.unwrap_err();
        assert_eq!(other.status, Some(403));
        assert!(other.code_is(codes::RESIDENT_TOKEN_OTHER_TERMINAL));
        let bad = c.applications("tok\nbad").await.unwrap_err();
        assert_eq!(bad.kind, ErrorKind::Setup);

        c.close_resident_session(&s.token).await.unwrap();

        let nobody = crate::identity::IdNumber::parse("310105197001015557").unwrap();
        let e = c.open_resident_session(&nobody).await.unwrap_err();
        assert_eq!(
            (e.status, e.code.as_deref()),
            (Some(404), Some("resident_not_found"))
        );
    }

    fn client(base_url: &str) -> Client {
        Client::new(&ClientOptions {
            base_url: base_url.into(),
            token: "t0k".into(),
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            ca_file: None,
            max_body_bytes: 1 << 20,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn resolve_code_tells_found_unknown_expired_and_network_apart() {
        let c = client(&scripted().await);
        let found = c.resolve_code("SSM:DEMO:WANGXIUYING").await.unwrap();
        assert_eq!(found.kind, CodeKind::Suishenma);
        assert_eq!(found.masked_name, "王*英");
        assert_eq!(found.id_number.expose_id_number(), "310105195001011231");
        assert!(!format!("{found:?}").contains("310105195001011231"));

        let unknown = c.resolve_code("SSM:NOBODY").await.unwrap_err();
        assert_eq!(
            (unknown.kind, unknown.status),
            (ErrorKind::Rejected, Some(404))
        );
        assert!(unknown.code_is(codes::CODE_NOT_FOUND) && !unknown.is_retryable());

        let expired = c.resolve_code("SSM:DEMO:EXPIRED").await.unwrap_err();
        assert_eq!(expired.status, Some(410));
        assert!(expired.code_is(codes::CODE_EXPIRED) && !expired.code_is(codes::CODE_NOT_FOUND));

        // Nothing listens on a port just freed: the network, retryable, no status or code.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let down = client(&format!("http://127.0.0.1:{port}/"))
            .resolve_code("SSM:DEMO:WANGXIUYING")
            .await
            .unwrap_err();
        assert_eq!(
            (down.kind, down.status, down.code.clone()),
            (ErrorKind::Unreachable, None, None)
        );
        assert!(down.is_retryable());
    }

    async fn scripted_services() -> String {
        serve(|text| {
            let lower = text.to_lowercase();
            let resident = lower.contains("x-resident-token: tok-abc");
            if lower.starts_with("post /api/v1/residents/me/certificates ") && resident {
                if text.contains(r#""months":13"#) {
                    (
                        "422 Unprocessable Entity",
                        r#"{"error": "period_not_offered", "message": "12, 24 or 36"}"#,
                    )
                } else {
                    (
                        "200 OK",
                        r#"{"verification_code": "DV1.D0123456789ABCDEF.sig", "case_no": "CN310105-2026-Z000001", "kind": "income_tax", "title": "个人所得税纳税记录", "issuer": "国家税务总局上海市长宁区税务局", "holder_masked_name": "王*英", "holder_masked_id": "310***********1231", "issued_at": "2026-12-02T02:00:00Z", "period_from": "2026-11", "period_to": "2026-11", "columns": ["收入额（元）", "已缴税额（元）"], "rows": [{"month": "2026-11", "amounts_fen": [731000, 5395]}], "totals_fen": [731000, 5395]}"#,
                    )
                }
            } else if lower.starts_with("get /api/v1/residents/me/quick-items ") && resident {
                (
                    "200 OK",
                    r#"[{"item": {"id": "senior-allowance", "item_code": "310105-MZ-0007", "name": "老年综合津贴申请", "name_en": "Senior allowance", "who": "年满65周岁", "fields": [{"key": "phone", "label": "联系电话", "label_en": "Mobile", "type": "mobile", "required": true}], "prefills": ["name"], "materials": [{"name": "居民身份证", "held": true}], "next_steps": "5个工作日内办结"}, "prefilled": [{"key": "name", "label": "姓名", "label_en": "Name", "shown": "王*英"}], "not_eligible": null}]"#,
                )
            } else if lower.starts_with("post /api/v1/residents/me/quick-items/senior-allowance ")
                && resident
            {
                if text.contains("13800138000") {
                    (
                        "200 OK",
                        r#"{"case_no": "CN310105-2026-Q000001", "item_id": "senior-allowance", "item_code": "310105-MZ-0007", "item_name": "老年综合津贴申请", "submitted_at": "2026-12-02T02:00:00Z", "next_steps": "5个工作日内办结", "repeated": true}"#,
                    )
                } else {
                    (
                        "422 Unprocessable Entity",
                        r#"{"error": "fields_invalid", "message": "fix", "fields": [{"key": "phone", "problem": "not_mobile", "message": "请填写11位手机号码，以1开头 / 11 digits, starting with 1"}]}"#,
                    )
                }
            } else if lower.starts_with("get /api/v1/documents/verify/dv1.good.sig ") {
                (
                    "422 Unprocessable Entity",
                    r#"{"error": "document_tampered", "message": "changed"}"#,
                )
            } else {
                (
                    "404 Not Found",
                    r#"{"error": "not_found", "message": "no"}"#,
                )
            }
        })
        .await
    }

    #[tokio::test]
    async fn certificates_quick_items_and_their_refusals() {
        let c = client(&scripted_services().await);
        let req = CertificateRequest {
            kind: CertificateKind::IncomeTax,
            months: 12,
        };
        let cert = c.certificate("tok-abc", &req).await.unwrap();
        assert_eq!(
            (cert.kind, cert.totals_fen.as_slice()),
            (CertificateKind::IncomeTax, &[731000, 5395][..])
        );
        let e = c
            .certificate("tok-abc", &CertificateRequest { months: 13, ..req })
            .await
            .unwrap_err();
        assert!(e.code_is(codes::PERIOD_NOT_OFFERED) && e.field_errors().is_none());

        let forms = c.quick_forms("tok-abc").await.unwrap();
        assert_eq!(forms[0].item.id, "senior-allowance");
        assert_eq!(forms[0].prefilled[0].shown, "王*英");

        let mut values = std::collections::BTreeMap::new();
        values.insert("phone".to_string(), "2380013800".to_string());
        let mut sub = QuickSubmission {
            submission_id: uuid::Uuid::now_v7(),
            values,
        };
        let e = c
            .submit_quick("tok-abc", "senior-allowance", &sub)
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Rejected, Some(422)));
        let fields = e.field_errors().unwrap();
        assert_eq!(
            (fields[0].key.as_str(), fields[0].problem.as_str()),
            ("phone", "not_mobile")
        );
        sub.values.insert("phone".into(), "13800138000".into());
        let r = c
            .submit_quick("tok-abc", "senior-allowance", &sub)
            .await
            .unwrap();
        assert!(r.repeated && r.case_no.ends_with("Q000001"));

        let e = c.verify_document("DV1.good.sig").await.unwrap_err();
        assert!(e.code_is(codes::DOCUMENT_TAMPERED));
    }

    #[tokio::test]
    async fn a_reply_lost_after_the_request_is_a_retryable_transport_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Reads the request, then closes without a byte of answer.
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
        });
        let c = client(&format!("http://{addr}/"));
        let sub = QuickSubmission {
            submission_id: uuid::Uuid::now_v7(),
            values: Default::default(),
        };
        let e = c
            .submit_quick("tok-abc", "senior-allowance", &sub)
            .await
            .unwrap_err();
        assert!(e.status.is_none() && e.is_retryable(), "{e:?}");
        assert!(e.field_errors().is_none());
    }
}
