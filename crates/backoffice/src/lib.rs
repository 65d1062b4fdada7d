//! The reference back office: the whole `/api/v1` contract over HTTP(S), SQLite, demo data, fault injection.
//!
//! Used as the `civic-backoffice` binary and, when `backoffice.url = "embedded"`, inside
//! the terminal's own process (the terminal's `embedded` module, behind its `embedded` feature). Connections are served by our own accept
//! loop (hyper) so that fault injection can close a connection without any answer.
//!
//! Layout: this file holds the state, the router and the handlers; `services` the
//! handlers of 证明打印 and 快办 (and `documents` the certificates' verification codes);
//! `server` the accept loop and its limits (timeouts, connection cap); `errors` the
//! contract's error body for what other layers answer; `store` SQLite; `faults` fault
//! injection; `data` demo data.
//! The field limits are the contract's (`civic_contract::api::limits`).

pub mod data;
pub mod documents;
mod errors;
pub mod faults;
pub mod server;
mod services;
pub mod store;

pub use server::{Bound, ServeLimits, TlsFiles, bind, serve};

use axum::extract::{Path as AxPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use rand::TryRng as _;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use civic_contract::{api, identity};

use crate::api::limits::{self, Violation};
use crate::api::*;
use faults::Faults;
use store::{Store, StoreError};

/// Everything the server needs to start.
pub struct ServerOptions {
    /// SQLite file; the signing key is kept beside it (`<db>.key`).
    pub db: PathBuf,
    pub catalogue: Catalogue,
    pub residents: Vec<ResidentRecord>,
    /// token → terminal id.
    pub terminal_tokens: HashMap<String, String>,
    pub admin_token: Option<String>,
    pub faults: faults::FaultSettings,
    /// Corrupt every signature (for the terminal's refusal test).
    pub tamper_signature: bool,
    /// Answer this as `masked_name` on every card issued, unsigned (for the terminal's
    /// refusal of a forged name).
    pub forge_name: Option<String>,
    /// Fixed "today" for eligibility and expiry (tests); `None` means the local date.
    pub today: Option<NaiveDate>,
}

/// A catalogue as served: its body and strong ETag made once.
struct Served {
    body: Vec<u8>,
    etag: String,
    catalogue: Catalogue,
}

impl Served {
    fn new(catalogue: Catalogue) -> Self {
        let body = serde_json::to_vec(&catalogue).unwrap_or_default();
        Self {
            etag: data::strong_etag(&body),
            body,
            catalogue,
        }
    }
}

/// Shared state of a running server.
pub struct AppState {
    store: Mutex<Store>,
    /// The catalogue served now; [`AppState::publish_catalogue`] replaces it.
    catalogue: std::sync::RwLock<Arc<Served>>,
    tokens: HashMap<String, String>,
    admin_token: Option<String>,
    key: SigningKey,
    tamper: bool,
    forge_name: Option<String>,
    today: Option<NaiveDate>,
    faults: Faults,
    /// The 快办 items ([`AppState::load_quick_items`]); none until loaded.
    quick_items: std::sync::RwLock<Arc<Vec<data::QuickItemDef>>>,
}

impl AppState {
    fn served(&self) -> Arc<Served> {
        self.catalogue
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serves `catalogue` from now on (a new version published by the district): checked
    /// as at start, then in force for the next `GET /api/v1/items` (a new ETag, so each
    /// terminal's next sync fetches it). Answers the version now served.
    pub fn publish_catalogue(&self, catalogue: Catalogue) -> Result<String, String> {
        civic_contract::catalogue::check(&catalogue)?;
        if catalogue.items.is_empty() {
            return Err("the catalogue holds no items".into());
        }
        let version = catalogue.version.clone();
        *self.catalogue.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Served::new(catalogue));
        log::info!("catalogue {version} published");
        Ok(version)
    }

    fn today(&self) -> NaiveDate {
        self.today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    /// Runs a store operation off the async workers.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store, NaiveDate) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiFailure> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let today = state.today();
            let mut store = state.store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut store, today)
        })
        .await
        .map_err(|e| ApiFailure::internal(format!("worker: {e}")))?
        .map_err(ApiFailure::from)
    }
}

/// A startup failure, naming the file or setting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("listen {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

/// Loads the signing key beside the database, creating it on first start.
pub fn load_or_create_key(db: &Path) -> Result<SigningKey, ServerError> {
    let path = key_path(db);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let arr: [u8; 32] = bytes.try_into().map_err(|_| ServerError::File {
                path: path.clone(),
                message: "signing key must be 32 bytes; remove it to create a new one (old cards then fail to verify)".into(),
            })?;
            Ok(SigningKey::from_bytes(&arr))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The operating system's generator, not a seeded one: this key signs every card.
            let mut seed = [0u8; 32];
            rand::rngs::SysRng
                .try_fill_bytes(&mut seed)
                .map_err(|e| ServerError::File {
                    path: path.clone(),
                    message: format!("no randomness for a new signing key: {e}"),
                })?;
            let key = SigningKey::from_bytes(&seed);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ServerError::File {
                    path: dir.to_path_buf(),
                    message: e.to_string(),
                })?;
            }
            write_private(&path, &key.to_bytes()).map_err(|e| ServerError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Ok(key)
        }
        Err(e) => Err(ServerError::File {
            path,
            message: e.to_string(),
        }),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

pub fn key_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

/// Opens the store, loads the residents and the key, and builds the state.
pub fn build_state(opts: ServerOptions) -> Result<Arc<AppState>, ServerError> {
    if let Some(dir) = opts.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::File {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    let mut store = Store::open(&opts.db).map_err(|source| ServerError::Db {
        path: opts.db.clone(),
        source,
    })?;
    store
        .load_residents(&opts.residents)
        .map_err(|source| ServerError::Db {
            path: opts.db.clone(),
            source,
        })?;
    let key = load_or_create_key(&opts.db)?;
    Ok(Arc::new(AppState {
        store: Mutex::new(store),
        catalogue: std::sync::RwLock::new(Arc::new(Served::new(opts.catalogue))),
        tokens: opts.terminal_tokens,
        admin_token: opts.admin_token,
        key,
        tamper: opts.tamper_signature,
        forge_name: opts.forge_name,
        today: opts.today,
        faults: Faults::new(opts.faults),
        quick_items: std::sync::RwLock::new(Arc::new(Vec::new())),
    }))
}

impl AppState {
    /// Loads resident codes (`config/demo/codes.jsonl`, `--codes`), all or none: refuses a
    /// file with a code naming a resident not in the registry, naming its line.
    pub fn load_codes(&self, file: &data::CodeFile) -> Result<(), ServerError> {
        self.load_records(
            file,
            "code",
            |c| &c.id_number,
            |s| s.load_codes(file.lines.iter().map(|(_, c)| c)),
        )
    }

    /// Loads applications (`config/demo/applications.jsonl`, `--applications`), all or
    /// none: refuses a file with an application naming a resident not in the registry,
    /// naming its line.
    pub fn load_applications(&self, file: &data::ApplicationFile) -> Result<(), ServerError> {
        self.load_records(
            file,
            "application",
            |a| &a.id_number,
            |s| s.load_applications(file.lines.iter().map(|(_, a)| a)),
        )
    }

    /// Loads certificate records (`config/demo/certificates.jsonl`, `--certificates`), all
    /// or none: refuses a file with a record naming a resident not in the registry, naming
    /// its line.
    pub fn load_certificates(&self, file: &data::CertificateFile) -> Result<(), ServerError> {
        self.load_records(
            file,
            "record",
            |c| &c.id_number,
            |s| s.load_certificates(file.lines.iter().map(|(_, c)| c)),
        )
    }

    /// Runs `load` (a store method loading the records of `file`, answering the place of
    /// the first naming a resident not in the registry) and names that record's line.
    fn load_records<T>(
        &self,
        file: &data::RecordFile<T>,
        what: &str,
        person: impl Fn(&T) -> &crate::identity::IdNumber,
        load: impl FnOnce(&mut store::Store) -> Result<Option<usize>, rusqlite::Error>,
    ) -> Result<(), ServerError> {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let unknown = load(&mut store).map_err(|source| ServerError::Db {
            path: PathBuf::from("(back office database)"),
            source,
        })?;
        match unknown.and_then(|i| file.lines.get(i)) {
            None => Ok(()),
            Some((line, record)) => Err(ServerError::File {
                path: file.origin.clone(),
                message: format!(
                    "line {line}: the {what} names {}, who is not in the resident registry",
                    person(record).masked()
                ),
            }),
        }
    }

    /// Sets the 快办 items (`config/demo/quick-items.json`, `--quick-items`; parsed and
    /// checked by [`data::parse_quick_items`]), replacing those loaded before.
    pub fn load_quick_items(&self, items: Vec<data::QuickItemDef>) {
        *self.quick_items.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(items);
    }

    /// How many 快办 submissions were filed (each with its one application).
    pub fn quick_submissions(&self) -> Result<u64, StoreError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store.submission_count()
    }

    /// Moves the expiry of the resident session of `token` to `at` (to test a timed-out
    /// session without waiting [`RESIDENT_TOKEN_TTL_S`]). `false` for an unknown token.
    pub fn set_resident_session_expiry(
        &self,
        token: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store.set_resident_session_expiry(&token_sha256(token), at)
    }

    pub fn public_key_text(&self) -> String {
        offline_code::public_key_text(&self.key.verifying_key())
    }
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }
}

// ---------------------------------------------------------------- errors

/// An error answer: status plus the contract's error body.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
}

impl ApiFailure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: {
                let message: String = message.into();
                // Every message a resident may read is written `中文 / English`; the
                // answer carries it per language too, so a screen shows only its own.
                let text = Some(crate::api::Text::from_joined(&message));
                ApiError {
                    error: code.into(),
                    message,
                    text,
                }
            },
        }
    }
    fn internal(message: String) -> Self {
        log::error!("internal error: {message}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "内部错误 / internal error",
        )
    }
}

impl From<StoreError> for ApiFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Api {
                status,
                code,
                message,
            } => Self::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
                message,
            ),
            StoreError::Db(e) => Self::internal(format!("database: {e}")),
        }
    }
}

/// A request that breaks the contract's field limits: `422` with the limit's code.
impl From<Violation> for ApiFailure {
    fn from(v: Violation) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, v.code, v.message)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// A JSON body extractor whose rejection is the contract's error shape.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiFailure;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            // Over the route's DefaultBodyLimit: said as such, so a console knows to send less.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiFailure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "request body too large for this endpoint ({})",
                    e.body_text()
                ),
            )),
            Err(e) => Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.body_text(),
            )),
        }
    }
}

// ---------------------------------------------------------------- auth

/// The terminal a request's token belongs to.
#[derive(Clone)]
struct TerminalId(String);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn unauthorized() -> Response {
    ApiFailure::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or unknown bearer token",
    )
    .into_response()
}

async fn terminal_auth(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(id) = bearer(req.headers())
        .and_then(|t| state.tokens.get(t))
        .cloned()
    else {
        return unauthorized();
    };
    req.extensions_mut().insert(TerminalId(id));
    next.run(req).await
}

async fn admin_auth(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let ok = match (&state.admin_token, bearer(req.headers())) {
        (Some(admin), Some(given)) => constant_time_eq(admin.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !ok {
        return unauthorized();
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------- router

/// The router for the whole contract, with auth and fault injection.
pub fn router(state: Arc<AppState>) -> Router {
    let terminal = Router::new()
        .route("/api/v1/ping", get(ping))
        .route("/api/v1/items", get(items))
        .route("/api/v1/items/{code}", get(item))
        .route("/api/v1/bundles", get(bundles))
        .route("/api/v1/bundles/{code}", get(bundle))
        .route("/api/v1/faq", get(faq))
        .route("/api/v1/residents/lookup", post(lookup))
        .route("/api/v1/residents/resolve-code", post(resolve_code))
        .route(
            "/api/v1/residents/session",
            post(open_session).merge(delete(close_session)),
        )
        .route("/api/v1/residents/me/applications", get(my_applications))
        .route(
            "/api/v1/residents/me/certificates",
            post(services::my_certificate),
        )
        .route(
            "/api/v1/residents/me/quick-items",
            get(services::quick_forms),
        )
        .route(
            "/api/v1/residents/me/quick-items/{id}",
            post(services::submit_quick),
        )
        .route("/api/v1/offline-codes", post(issue))
        .route("/api/v1/offline-codes/report-lost", post(report_lost))
        .route("/api/v1/offline-codes/{card_id}", get(card_status))
        .route("/api/v1/offline-codes/{card_id}/void", post(void_card))
        .route("/api/v1/ratings", post(ratings))
        .route("/api/v1/terminal/heartbeat", post(heartbeat))
        .route("/api/v1/terminal/config", get(terminal_config))
        .route("/api/v1/terminal/help", post(help))
        .route_layer(middleware::from_fn_with_state(state.clone(), terminal_auth));
    let admin = Router::new()
        .route("/api/v1/admin/signing-key", get(signing_key))
        .route("/api/v1/admin/terminals", get(terminals))
        .route("/api/v1/admin/terminals/{id}/ratings/stats", get(stats))
        .route(
            "/api/v1/admin/terminals/{id}/config",
            put(set_config).layer(axum::extract::DefaultBodyLimit::max(
                REMOTE_CONFIG_MAX_BYTES,
            )),
        )
        .route("/api/v1/admin/residents", post(add_resident))
        .route("/api/v1/admin/codes", post(add_code))
        .route_layer(middleware::from_fn_with_state(state.clone(), admin_auth));
    // No token: whoever holds a printed certificate (a bank, an employer) checks it.
    let public = Router::new().route(
        "/api/v1/documents/verify/{code}",
        get(services::verify_document),
    );
    Router::new()
        .merge(terminal)
        .merge(admin)
        .merge(public)
        .fallback(|| async {
            ApiFailure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn(errors::refuse_long_uri))
        .layer(axum::extract::DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        // Refuses a declared length over the limit before reading a byte (axum's limit
        // above only applies once a handler reads, and after its content-type check).
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            limits::MAX_BODY_BYTES,
        ))
        // Outermost: every error from the layers above leaves in the contract's shape.
        .layer(middleware::map_response(errors::contract_body))
        .with_state(state)
}

async fn ping(axum::Extension(TerminalId(id)): axum::Extension<TerminalId>) -> Json<Ping> {
    Json(Ping {
        server_time: chrono::Utc::now(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        terminal_id: id,
    })
}

async fn items(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let served = state.served();
    let etag = &served.etag;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let tag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, tag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        served.body.clone(),
    )
        .into_response()
}

async fn item(
    State(state): State<Arc<AppState>>,
    AxPath(code): AxPath<String>,
) -> ApiResult<ServiceItem> {
    state
        .served()
        .catalogue
        .items
        .iter()
        .find(|i| i.code == code)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                "item_not_found",
                format!("没有事项 {code} / no item {code}"),
            )
        })
}

async fn bundles(State(state): State<Arc<AppState>>) -> Json<Vec<Bundle>> {
    Json(state.served().catalogue.bundles.clone())
}

async fn bundle(
    State(state): State<Arc<AppState>>,
    AxPath(code): AxPath<String>,
) -> ApiResult<Bundle> {
    state
        .served()
        .catalogue
        .bundles
        .iter()
        .find(|b| b.code == code)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                "bundle_not_found",
                format!("没有一件事 {code} / no bundle {code}"),
            )
        })
}

async fn faq(
    State(state): State<Arc<AppState>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<FaqSearch> {
    let query = q.get("q").cloned().unwrap_or_default();
    let terms: Vec<&str> = query.split_whitespace().collect();
    let served = state.served();
    let mut scored: Vec<(usize, &Faq)> = served
        .catalogue
        .faqs
        .iter()
        .filter_map(|f| {
            let score = terms
                .iter()
                .map(|t| {
                    usize::from(f.question.contains(t)) * 2
                        + usize::from(f.answer.contains(t) || f.theme.contains(t))
                })
                .sum::<usize>();
            (score > 0 || terms.is_empty()).then_some((score, f))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    Json(FaqSearch {
        query,
        entries: scored
            .into_iter()
            .take(20)
            .map(|(_, f)| f.clone())
            .collect(),
    })
}

async fn lookup(
    State(state): State<Arc<AppState>>,
    Body(req): Body<ResidentLookupRequest>,
) -> ApiResult<ResidentLookup> {
    state
        .with_store(move |s, today| s.lookup(&req.id_number, today))
        .await
        .map(Json)
}

async fn resolve_code(
    State(state): State<Arc<AppState>>,
    Body(req): Body<ResolveCodeRequest>,
) -> ApiResult<ResolvedCode> {
    req.check()?;
    let now = chrono::Utc::now();
    let resolved = state
        .with_store(move |s, _| s.resolve_code(&req.code, now))
        .await?;
    log::info!(
        "resolved a {} code for {}",
        resolved.kind.name(),
        resolved.masked_id
    );
    Ok(Json(resolved))
}

// ---------------------------------------------------------------- resident session, 办件进度

/// The hex SHA-256 of a resident token: all the store keeps of it.
fn token_sha256(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new resident token: 256 bits from the operating system, base64url without padding.
fn new_resident_token() -> Result<String, ApiFailure> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApiFailure::internal(format!("no randomness for a resident token: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The `X-Resident-Token` header's value, if sent and not empty.
fn resident_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(RESIDENT_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn open_session(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    Body(req): Body<ResidentSessionRequest>,
) -> ApiResult<ResidentSession> {
    let token = new_resident_token()?;
    let hash = token_sha256(&token);
    let now = chrono::Utc::now();
    let expires_at = now + chrono::Duration::seconds(RESIDENT_TOKEN_TTL_S);
    let masked_id = req.id_number.masked();
    let log_term = term.clone();
    let masked_name = state
        .with_store(move |s, _| {
            s.open_resident_session(&req.id_number, &term, &hash, expires_at, now)
        })
        .await?;
    log::info!("resident session opened at terminal {log_term} for {masked_id}");
    Ok(Json(ResidentSession {
        token,
        expires_at,
        masked_name,
    }))
}

async fn close_session(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiFailure> {
    if let Some(hash) = resident_token(&headers).map(token_sha256) {
        state
            .with_store(move |s, _| s.end_resident_session(&hash, &term))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The resident of the request's `X-Resident-Token`, for the calling terminal.
async fn session_resident(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    term: String,
) -> Result<identity::IdNumber, ApiFailure> {
    let Some(hash) = resident_token(headers).map(token_sha256) else {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            limits::codes::RESIDENT_TOKEN_MISSING,
            "请先验证身份 / Identify yourself first (no X-Resident-Token header)",
        ));
    };
    let now = chrono::Utc::now();
    state
        .with_store(move |s, _| s.session_resident(&hash, &term, now))
        .await
}

async fn my_applications(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    headers: HeaderMap,
) -> ApiResult<Vec<Application>> {
    let id = session_resident(&state, &headers, term).await?;
    state
        .with_store(move |s, _| s.applications(&id))
        .await
        .map(Json)
}

async fn issue(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    Body(req): Body<IssueCodeRequest>,
) -> ApiResult<IssuedCode> {
    let signer = state.clone();
    let issued = state
        .with_store(move |s, today| {
            s.issue(&term, &req, today, |payload| {
                let code = offline_code::sign(payload, &signer.key);
                if signer.tamper { tamper(&code) } else { code }
            })
        })
        .await?;
    // Fault: an answer whose name says more than the signed payload (a forged answer).
    let issued = match &state.forge_name {
        Some(name) => IssuedCode {
            masked_name: name.clone(),
            ..issued
        },
        None => issued,
    };
    log::info!("issued card {} for {}", issued.card_id, issued.masked_id);
    Ok(Json(issued))
}

/// Flips one character of the signature part.
fn tamper(code: &str) -> String {
    let mut bytes = code.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = if *last == b'A' { b'B' } else { b'A' };
    }
    let n = bytes.len();
    if n > 10 {
        bytes[n - 10] = if bytes[n - 10] == b'Q' { b'R' } else { b'Q' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

async fn report_lost(
    State(state): State<Arc<AppState>>,
    Body(req): Body<ReportLostRequest>,
) -> ApiResult<CardStatus> {
    state
        .with_store(move |s, today| s.report_lost(&req.id_number, today))
        .await
        .map(Json)
}

async fn void_card(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    AxPath(card): AxPath<String>,
    Body(req): Body<VoidCardRequest>,
) -> ApiResult<CardStatus> {
    let VoidReason::NotPrinted = req.reason;
    let status = state
        .with_store(move |s, today| s.void_unprinted(&term, &card, today))
        .await?;
    log::info!("card {} voided: not printed", status.card_id);
    Ok(Json(status))
}

async fn card_status(
    State(state): State<Arc<AppState>>,
    AxPath(card): AxPath<String>,
) -> ApiResult<CardStatus> {
    state
        .with_store(move |s, today| s.card_status(&card, today))
        .await
        .map(Json)
}

async fn ratings(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    Body(batch): Body<RatingBatch>,
) -> ApiResult<RatingBatchResult> {
    if batch.ratings.len() > limits::MAX_BATCH_RATINGS {
        return Err(ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("at most {} ratings per batch", limits::MAX_BATCH_RATINGS),
        ));
    }
    state
        .with_store(move |s, _| s.store_ratings(&term, &batch))
        .await
        .map(Json)
}

async fn heartbeat(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    Body(hb): Body<Heartbeat>,
) -> ApiResult<HeartbeatAck> {
    if hb.terminal_id != term {
        return Err(ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "terminal_mismatch",
            "terminal_id does not match the token",
        ));
    }
    hb.check()?;
    let version = state
        .with_store(move |s, _| s.record_heartbeat(&term, &hb))
        .await?;
    Ok(Json(HeartbeatAck {
        server_time: chrono::Utc::now(),
        config_version: version,
    }))
}

async fn terminal_config(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
) -> ApiResult<RemoteConfig> {
    state
        .with_store(move |s, _| s.remote_config(&term))
        .await
        .map(Json)
}

async fn help(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    Body(req): Body<HelpRequest>,
) -> ApiResult<HelpAck> {
    req.check(chrono::Utc::now())?;
    let id = req.id;
    log::info!("help requested at terminal {term}, page {}", req.page);
    state
        .with_store(move |s, _| s.record_help(&term, &req))
        .await?;
    Ok(Json(HelpAck {
        id,
        message: "工作人员马上就到，请稍候 / A member of staff is on the way".into(),
    }))
}

async fn signing_key(State(state): State<Arc<AppState>>) -> Json<PublicKeyInfo> {
    Json(PublicKeyInfo {
        algorithm: "ed25519".into(),
        public_key: state.public_key_text(),
    })
}

async fn terminals(State(state): State<Arc<AppState>>) -> ApiResult<Vec<TerminalSummary>> {
    state.with_store(|s, _| s.terminals()).await.map(Json)
}

async fn stats(
    State(state): State<Arc<AppState>>,
    AxPath(id): AxPath<String>,
) -> ApiResult<RatingStats> {
    state
        .with_store(move |s, _| s.rating_stats(&id))
        .await
        .map(Json)
}

async fn set_config(
    State(state): State<Arc<AppState>>,
    AxPath(id): AxPath<String>,
    Body(settings): Body<BTreeMap<String, serde_json::Value>>,
) -> ApiResult<RemoteConfig> {
    check_remote_settings(&settings)?;
    state
        .with_store(move |s, _| s.set_remote_config(&id, &settings))
        .await
        .map(Json)
}

/// Refuses a remote config with a key the back office may not push ([`remote_settable`]) or a value of the wrong
/// shape, naming the first few offenders (the answer stays small whatever was sent).
fn check_remote_settings(settings: &BTreeMap<String, serde_json::Value>) -> Result<(), ApiFailure> {
    const SHOWN: usize = 5;
    let unknown: Vec<&String> = settings.keys().filter(|k| !remote_settable(k)).collect();
    if !unknown.is_empty() {
        let mut names: Vec<String> = unknown.iter().take(SHOWN).map(|k| shorten(k, 64)).collect();
        if unknown.len() > SHOWN {
            names.push(format!("… and {} more", unknown.len() - SHOWN));
        }
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_remotely_settable",
            format!(
                "{} key(s) not changeable remotely: {}; only {} may be set",
                unknown.len(),
                names.join(", "),
                crate::api::remote_keys().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let bad: Vec<String> = settings
        .iter()
        .filter_map(|(k, v)| check_remote_value(k, v).err())
        .collect();
    if !bad.is_empty() {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_setting",
            bad.join("; "),
        ));
    }
    Ok(())
}

/// At most `max` characters of `s`, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

async fn add_resident(
    State(state): State<Arc<AppState>>,
    Body(rec): Body<ResidentRecord>,
) -> ApiResult<ResidentLookup> {
    state
        .with_store(move |s, today| {
            s.upsert_resident(&rec.id_number, &rec.name, rec.disabled)?;
            s.lookup(&rec.id_number, today)
        })
        .await
        .map(Json)
}

async fn add_code(
    State(state): State<Arc<AppState>>,
    Body(rec): Body<CodeRecord>,
) -> ApiResult<ResolvedCode> {
    rec.check()?;
    let resolved = state
        .with_store(move |s, _| {
            s.upsert_code(&rec)?;
            s.find_code(&rec.code)
        })
        .await?;
    resolved
        .map(Json)
        .ok_or_else(|| ApiFailure::internal("a code just stored does not read back".into()))
}
