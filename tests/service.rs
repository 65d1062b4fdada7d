//! The terminal as a service: `set-pin` over a pipe.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_civic-kiosk");

fn set_pin(config: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("set-pin")
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
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn set_pin_writes_argon2_hashes_and_audits_never_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    let (code, out, err) = set_pin(&config, &[], "739155\n739155\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("technician"), "{out}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "480213\n480214\n");
    assert_eq!(code, 1);
    assert!(err.contains("differ"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "123456\n123456\n");
    assert_eq!(code, 1);
    assert!(err.contains("too easy"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "48021\n48021\n");
    assert_eq!(code, 1);
    assert!(err.contains("6 to 8 digits"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "王丽"], "480213\n480213\n");
    assert_eq!(code, 1);
    assert!(err.contains("not a personal name"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "739155\n739155\n");
    assert_eq!(code, 1, "the technician's PIN");
    assert!(err.contains("someone else"), "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "480213\n480213\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024"], "");
    assert_eq!(code, 1, "no input");
    assert!(err.contains("no PIN given"), "{err}");
    let (code, out, _) = set_pin(&config, &["--list"], "");
    assert_eq!(code, 0);
    assert!(out.contains("technician PIN: set"), "{out}");
    assert!(out.contains("staff S1024"), "{out}");

    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let tail = store.audit_tail(50).unwrap();
    let set: Vec<_> = tail.iter().filter(|e| e.kind == "pin_set").collect();
    assert_eq!(set.len(), 2, "{tail:?}");
    assert!(
        set.iter()
            .all(|e| e.actor.as_deref().is_some_and(|a| a.starts_with("cli:")))
    );
    drop(store);
    // Neither PIN is anywhere in the store's files; argon2id hashes are.
    let mut bytes = Vec::new();
    for e in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("kiosk.sqlite"))
        {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("$argon2id$v=19$"));
    assert!(!text.contains("739155") && !text.contains("480213"));

    let (code, out, err) = set_pin(&config, &["--staff", "S1024", "--remove"], "");
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = set_pin(&config, &["--staff", "S1024", "--remove"], "");
    assert_eq!(code, 1);
    assert!(err.contains("no PIN is set"), "{err}");
}
