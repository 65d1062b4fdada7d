//! Serving: our own hyper accept loop (so fault injection can close a connection without an answer), with the limits that keep slow or many clients from starving the rest.
//!
//! Each limit is a field of [`ServeLimits`] with a named default: a connection gets
//! [`HEADER_READ_TIMEOUT`] to send a complete request head (also the most a keep-alive
//! connection may sit idle), an HTTPS one [`TLS_HANDSHAKE_TIMEOUT`] to finish its
//! handshake, a request [`REQUEST_TIMEOUT`] from its head to its answer (reading the body
//! included), and at most [`MAX_CONNECTIONS`] are open at once: at the cap the loop stops
//! accepting, so new connections wait in the kernel's listen backlog, not on a descriptor
//! of ours, and a warning says so.

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::faults::ConnKill;
use crate::{AppState, ServerError, errors, router};

/// Time a connection has to send a complete request head, from its start or from the
/// end of its previous answer: a slow client (one byte a second) is closed after it, and so
/// is a keep-alive connection idle that long. A terminal sends a head in one write.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time an HTTPS connection has to finish its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time from a request's head to its answer, reading the body included; then `408
/// request_timeout`. The terminal gives up sooner (`backoffice.total_timeout_s`, 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once. Well under the usual 1024 descriptors a process may hold,
/// with room for the database, the log and the listener; a district's terminals keep one
/// or two each.
pub const MAX_CONNECTIONS: usize = 512;
/// At most one "connection cap reached" warning in this long, however often it is hit.
const FULL_LOG_EVERY: Duration = Duration::from_secs(10);

/// The limits of one server; [`Default`] gives the constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`TLS_HANDSHAKE_TIMEOUT`].
    pub tls_handshake_timeout: Duration,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`MAX_CONNECTIONS`]; at least 1.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// TLS material for HTTPS.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A server bound to its port, ready to run.
pub struct Bound {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pub addr: SocketAddr,
    /// The limits [`serve`] applies: [`ServeLimits::default`] unless changed.
    pub limits: ServeLimits,
}

pub async fn bind(addr: &str, tls: Option<&TlsFiles>) -> Result<Bound, ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen {
            addr: addr.into(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: addr.into(),
            source,
        })?;
    let tls = tls.map(tls_acceptor).transpose()?;
    Ok(Bound {
        listener,
        tls,
        addr: local,
        limits: ServeLimits::default(),
    })
}

/// The router with the request timeout, whose `408` gets the contract's body too.
fn app(state: Arc<AppState>, limits: &ServeLimits) -> Router {
    router(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(axum::middleware::map_response(errors::contract_body))
}

/// Serves until `shutdown` turns true; connections in flight are then dropped.
pub async fn serve(bound: Bound, state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let limits = Arc::new(bound.limits.clone());
    let app = app(state, &limits);
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(cap));
    let mut last_full_log: Option<Instant> = None;
    let mut full_since_log = 0u64;
    loop {
        // A slot first, then accept: at the cap a new connection waits in the listen
        // backlog and costs us nothing until one of ours closes.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                full_since_log += 1;
                if last_full_log.is_none_or(|t| t.elapsed() >= FULL_LOG_EVERY) {
                    log::warn!(
                        "connection cap reached: {cap} connections open (max_connections); new connections wait in the listen backlog until one closes (cap hit {full_since_log} time(s) since the last warning)"
                    );
                    last_full_log = Some(Instant::now());
                    full_since_log = 0;
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
        };
        let accepted = tokio::select! {
            a = bound.listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let (stream, _peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let tls = bound.tls.clone();
        let shutdown = shutdown.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            // Held until the connection ends, whichever way.
            let _slot = permit;
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(
                        limits.tls_handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => serve_connection(s, app, &limits, shutdown).await,
                        Ok(Err(e)) => log::debug!("TLS handshake: {e}"),
                        Err(_) => log::debug!(
                            "TLS handshake not done within {:?}: connection closed",
                            limits.tls_handshake_timeout
                        ),
                    }
                }
                None => serve_connection(stream, app, &limits, shutdown).await,
            }
        });
    }
}

async fn serve_connection<IO>(
    io: IO,
    app: Router,
    limits: &ServeLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = ConnKill::default();
    let k = kill.clone();
    let service =
        tower::ServiceExt::map_request(app, move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(k.clone());
            req
        });
    let service = hyper_util::service::TowerToHyperService::new(service);
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // hyper keeps time only with a timer; without one the header timeout is ignored.
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::select! {
        r = conn => match r {
            Err(e) if e.is_timeout() => log::debug!(
                "connection closed: no complete request head within {:?}",
                limits.header_read_timeout
            ),
            Err(e) => log::debug!("connection: {e}"),
            Ok(()) => {}
        },
        _ = kill.killed() => { log::debug!("connection closed by fault injection"); }
        _ = shutdown.wait_for(|s| *s) => {}
    }
}
