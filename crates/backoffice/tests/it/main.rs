//! The `civic-backoffice` binary as an operator runs it: started on a free loopback port,
//! it prints its address and public key, answers a terminal's token and refuses a missing
//! or wrong one. (The contract itself is tested against the terminal's client in the
//! `civic-kiosk` crate's tests, which start this same binary.)

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod heartbeat_devices;
mod limits;
mod resident_session;
mod resolve_code;
mod services;
mod slow_clients;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Running {
    child: Child,
    addr: String,
    key: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--db"])
        .arg(dir.join("bo.sqlite"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("civic-backoffice starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = lines.next().expect("prints its address").expect("utf-8");
    let key = lines.next().expect("prints its key").expect("utf-8");
    Running { child, addr, key }
}

/// One HTTP/1.1 GET; the status code and the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("sends");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("reads");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

#[test]
fn serves_on_a_free_port_and_checks_the_terminal_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bo = start(dir.path());
    assert!(
        bo.addr.starts_with("127.0.0.1:") && !bo.addr.ends_with(":0"),
        "{}",
        bo.addr
    );
    let key = bo
        .key
        .strip_prefix("public_key ")
        .expect("a key line")
        .to_string();
    assert!(!key.trim().is_empty(), "{}", bo.key);

    let (status, body) = get(&bo.addr, "/api/v1/ping", Some("demo-token-CN-TSL-001"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("CN-TSL-001"),
        "the ping names the terminal: {body}"
    );
    assert_eq!(get(&bo.addr, "/api/v1/ping", None).0, 401);
    assert_eq!(get(&bo.addr, "/api/v1/ping", Some("not-a-token")).0, 401);

    // The same database and key after a restart: cards issued before still verify.
    drop(bo);
    let again = start(dir.path());
    assert_eq!(again.key.strip_prefix("public_key "), Some(key.as_str()));
}

#[test]
fn a_database_it_cannot_create_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("file"), "").expect("writes");
    let out = Command::new(env!("CARGO_BIN_EXE_civic-backoffice"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("file/bo.sqlite"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The folder it could not make is named, with the reason.
    let folder = dir.path().join("file").display().to_string();
    assert!(err.contains(&format!("{folder}: File exists")), "{err}");
}
