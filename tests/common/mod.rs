//! Helpers shared by the integration test binaries.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Set by `scripts/test` (the README's test command); CI sets `CI`.
pub const STRICT_ENV: &str = "CIVIC_KIOSK_TEST_STRICT";

/// A test that cannot run here (a tool, service or privilege is missing): under CI or the
/// README's test command that is a failure, never a skip; in a bare `cargo test` it is
/// said loudly, and the caller returns.
pub fn cannot_run(test: &str, why: &str) {
    let strict = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os(STRICT_ENV).is_some_and(|v| v == "1");
    assert!(
        !strict,
        "{test} cannot run: {why}. scripts/test installs what the suite needs (as root or with sudo)"
    );
    eprintln!("\n\n*** SKIPPED: {test}: {why} (scripts/test or CI would fail here) ***\n\n");
}

/// The path of an external tool the tests run, or a failure that names its package.
pub fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is missing: install the Debian package {package} (scripts/test installs what the suite needs)"
    );
}

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

/// Status bytes as a printer answers them: bits 1 and 4 are always set.
pub const OK: u8 = 0x12;

#[derive(Default)]
pub struct Sim {
    /// Answers to DLE EOT 1, 2 and 4.
    pub dle: [u8; 3],
    /// Every job's bytes, DLE EOT queries taken out.
    pub jobs: Vec<Vec<u8>>,
}

/// A scripted ESC/POS printer on 127.0.0.1:0.
pub async fn start_printer(state: Arc<Mutex<Sim>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let mut job = Vec::new();
                let mut buf = [0u8; 4096];
                let mut pending: Vec<u8> = Vec::new();
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    let mut i = 0;
                    while i < pending.len() {
                        if pending[i] == 0x10 && pending.get(i + 1) == Some(&0x04) {
                            let Some(&q) = pending.get(i + 2) else { break };
                            let answer = {
                                let st = state.lock().unwrap();
                                match q {
                                    1 => st.dle[0],
                                    2 => st.dle[1],
                                    _ => st.dle[2],
                                }
                            };
                            let _ = s.write_all(&[answer]).await;
                            i += 3;
                        } else {
                            job.push(pending[i]);
                            i += 1;
                        }
                    }
                    pending.drain(..i);
                }
                if !job.is_empty() {
                    state.lock().unwrap().jobs.push(job);
                }
            });
        }
    });
    port
}

/// `civic-backoffice` as a child process; its address and public key.
pub fn backoffice_child(
    dir: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--db"])
        .arg(dir.join("bo.sqlite"))
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap();
    let key = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("public_key ")
        .to_string();
    (child, format!("http://{addr}/"), key)
}

pub fn card_config(dir: &std::path::Path, url: &str, key: &str) -> std::path::PathBuf {
    let text = shipped_config()
        .replace(
            "\nurl = \"embedded\"\n",
            &format!("\nurl = \"{url}\"\npublic_key = \"{key}\"\n"),
        )
        .replace(
            "uri = \"pdf://spool/card\"",
            &format!("uri = \"pdf://{}\"", dir.join("cards").display()),
        );
    config_in(dir, &text)
}

/// `civic-kiosk --config CONFIG ARGS…`.
pub fn kiosk(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// `civic-kiosk --config CONFIG ARGS…` with `stdin` piped in (a PIN, as a script gives it).
pub fn kiosk_stdin(config: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `civic-kiosk offline-code --id ID --yes` with `config`.
pub fn offline_code(config: &Path, id: &str) -> std::process::Output {
    kiosk(config, &["offline-code", "--id", id, "--yes"])
}
