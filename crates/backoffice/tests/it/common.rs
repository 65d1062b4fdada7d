//! Helpers of the back office's tests, written once: an in-process server (demo data, demo codes) with chosen limits and faults, and one raw HTTP/1.1 exchange.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use civic_backoffice::{ServeLimits, ServerOptions, data, faults::FaultSettings};

pub(crate) const TOKEN: &str = "demo-token-CN-TSL-001";
pub(crate) const ADMIN: &str = "demo-admin-token";

/// The back office with the demo data, served on a free loopback port by its own runtime;
/// dropping it shuts the server down.
pub(crate) struct InProcess {
    pub(crate) addr: SocketAddr,
    pub(crate) runtime: tokio::runtime::Runtime,
    /// The running server's state (test hooks such as a session's expiry).
    pub(crate) state: std::sync::Arc<civic_backoffice::AppState>,
    /// Its SQLite file.
    pub(crate) db: std::path::PathBuf,
    _dir: tempfile::TempDir,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub(crate) fn start(limits: ServeLimits, faults: FaultSettings) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let (tokens, admin) = data::parse_tokens(
        data::DEMO_TOKENS,
        std::path::Path::new("config/backoffice.toml"),
    )
    .unwrap();
    let db = dir.path().join("bo.sqlite");
    let state = civic_backoffice::build_state(ServerOptions {
        db: db.clone(),
        catalogue: data::demo_catalogue().unwrap(),
        residents: data::demo_residents().unwrap(),
        terminal_tokens: tokens,
        admin_token: admin,
        faults,
        tamper_signature: false,
        forge_name: None,
        today: None,
    })
    .unwrap();
    state.load_codes(&data::demo_codes().unwrap()).unwrap();
    state
        .load_applications(&data::demo_applications().unwrap())
        .unwrap();
    state
        .load_certificates(&data::demo_certificates().unwrap())
        .unwrap();
    state.load_quick_items(data::demo_quick_items().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let addr = runtime.block_on(async {
        let mut bound = civic_backoffice::bind("127.0.0.1:0", None).await.unwrap();
        bound.limits = limits;
        let addr = bound.addr;
        tokio::spawn(civic_backoffice::serve(bound, state.clone(), rx));
        addr
    });
    InProcess {
        addr,
        runtime,
        state,
        db,
        _dir: dir,
        shutdown: tx,
    }
}

/// An answer: status, headers (lower-case names), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as the contract's error: its `error` code, after checking the shape.
    pub(crate) fn error_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "status {}: {}",
            self.status,
            self.body
        );
        let e: civic_contract::api::ApiError = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not the contract's error body ({e}): {:?}", self.body));
        assert!(!e.message.is_empty(), "{}", self.body);
        e.error
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`); `content_type`
/// is sent only with a body, and only when not empty.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Answer {
    request_with(addr, method, path, token, &[], body)
}

/// [`request`] with extra header lines (`("X-Resident-Token", token)`).
pub(crate) fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    let mut head = head(addr, method, path, token, body.map(|(ct, b)| (ct, b.len())));
    head.truncate(head.len() - 2);
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    exchange(addr, &head, body.map_or(&[][..], |(_, b)| b))
}

/// A POST that declares a body of `len` bytes and sends none: for a limit the server must
/// enforce from the head alone. (Sending megabytes it refuses unread would end in a reset
/// that can swallow its answer.)
pub(crate) fn declare_body(addr: SocketAddr, path: &str, content_type: &str, len: usize) -> Answer {
    let head = head(addr, "POST", path, Some(TOKEN), Some((content_type, len)));
    exchange(addr, &head, &[])
}

fn head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, usize)>,
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some((ct, len)) = body {
        if !ct.is_empty() {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}
