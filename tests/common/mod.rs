//! Helpers shared by the integration test binaries.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The shipped `config/kiosk.toml`, as text.
pub fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kiosk.toml"))
        .unwrap()
}

/// Writes `text` (a kiosk config) into `dir` with its data and logs moved into `dir`.
pub fn config_in(dir: &Path, text: &str) -> PathBuf {
    let text = text
        .replace(
            "data_dir = \"../data\"",
            &format!("data_dir = {:?}", dir.join("data")),
        )
        .replace(
            "dir = \"../logs\"",
            &format!("dir = {:?}", dir.join("logs")),
        );
    let path = dir.join("kiosk.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The reference back office running in this process (demo data, demo tokens plus
/// `extra_token` → `extra_terminal`), on the current tokio runtime. Stops when dropped.
pub struct InProcessBackoffice {
    pub url: String,
    pub key: ed25519_dalek::VerifyingKey,
    pub admin_token: String,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

pub async fn start_backoffice(
    db: &Path,
    tamper: bool,
    extra: Option<(&str, &str)>,
) -> InProcessBackoffice {
    let (mut tokens, admin) = civic_kiosk::server::data::parse_tokens(
        civic_kiosk::server::data::DEMO_TOKENS,
        Path::new("config/backoffice.toml"),
    )
    .unwrap();
    if let Some((token, terminal)) = extra {
        tokens.insert(token.to_string(), terminal.to_string());
    }
    let state = civic_kiosk::server::build_state(civic_kiosk::server::ServerOptions {
        db: db.to_path_buf(),
        catalogue: civic_kiosk::server::data::demo_catalogue().unwrap(),
        residents: civic_kiosk::server::data::demo_residents().unwrap(),
        terminal_tokens: tokens,
        admin_token: admin.clone(),
        faults: Default::default(),
        tamper_signature: tamper,
        today: None,
    })
    .unwrap();
    let key = state.verifying_key();
    let bound = civic_kiosk::server::bind("127.0.0.1:0", None)
        .await
        .unwrap();
    let url = format!("http://{}/", bound.addr);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(civic_kiosk::server::serve(bound, state, rx));
    InProcessBackoffice {
        url,
        key,
        admin_token: admin.unwrap_or_default(),
        _shutdown: tx,
    }
}

/// A `civic-backoffice` child process, killed on drop.
pub struct Backoffice {
    pub child: Child,
    pub addr: String,
    pub public_key: String,
}

impl Drop for Backoffice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Backoffice {
    /// Starts `civic-backoffice` on a free loopback port with `--today 2026-11-26`.
    pub fn start(db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--today",
                "2026-11-26",
                "--log-level",
                "warn",
                "--db",
            ])
            .arg(db)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("civic-backoffice starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines.next().expect("prints its address").unwrap();
        let key_line = lines.next().expect("prints its key").unwrap();
        let public_key = key_line.strip_prefix("public_key ").unwrap().to_string();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "{addr}"
        );
        Self {
            child,
            addr,
            public_key,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn client(&self, token: &str) -> civic_kiosk::backoffice::Client {
        civic_kiosk::backoffice::Client::new(&civic_kiosk::backoffice::ClientOptions {
            base_url: self.url(),
            token: token.into(),
            connect_timeout: std::time::Duration::from_secs(2),
            total_timeout: std::time::Duration::from_secs(5),
            ca_file: None,
            max_body_bytes: 8 << 20,
        })
        .unwrap()
    }
}
