//! Technician CLI over SSH: `diagnose` names the broken part, `config set` validates,
//! saves atomically and audits.

mod common;

use std::path::Path;

fn kiosk(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::kiosk(config, args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A port with nothing listening on it.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn diagnose_names_the_back_office_and_the_printer_that_are_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let text = common::shipped_config()
        .replace("url = \"embedded\"", "url = \"http://127.0.0.1:9/\"")
        .replace(
            "# public_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
            "public_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
        )
        .replace(
            "uri = \"pdf://spool/card\"",
            &format!("uri = \"escpos+tcp://127.0.0.1:{port}\""),
        );
    let config = common::config_in(dir.path(), &text);
    let (code, out, err) = kiosk(&config, &["diagnose"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("FAIL backoffice"), "{out}");
    assert!(out.contains("unreachable"), "{out}");
    assert!(out.contains("check the network"), "says what to do: {out}");
    assert!(out.contains("FAIL printer card"), "{out}");
    assert!(out.contains("ok   printer receipt"), "{out}");
    assert!(out.contains("ok   store"), "{out}");
    assert!(out.contains("broken: backoffice, printer card"), "{out}");

    let (code, out, _) = kiosk(&config, &["diagnose", "--json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let broken: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["part"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["backoffice", "printer card"]);
}

#[test]
fn config_set_validates_saves_atomically_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    let before = std::fs::read(&config).unwrap();

    // A bad value: the validator's message, nothing saved, nothing audited.
    let (code, _, err) = kiosk(&config, &["config", "set", "display.idle_timeout_s", "5"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("display.idle_timeout_s"), "{err}");
    assert!(err.contains("at least 20"), "{err}");
    assert!(err.contains("nothing saved"), "{err}");
    assert_eq!(std::fs::read(&config).unwrap(), before);
    // A key the config does not have.
    let (code, _, err) = kiosk(&config, &["config", "set", "display.idle_timeout", "120"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown field"), "{err}");
    assert_eq!(std::fs::read(&config).unwrap(), before);
    // Never a PIN on a command line.
    let (code, _, err) = kiosk(&config, &["config", "set", "technician.pin_hash", "1234"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("set-pin"), "{err}");

    // A good value: saved with the file's comments kept, and audited.
    let (code, out, err) = kiosk(&config, &["config", "set", "display.idle_timeout_s", "120"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("idle_timeout_s = 120"), "{text}");
    assert!(
        text.contains("# Seconds without a touch before"),
        "comments kept"
    );
    let loaded = civic_kiosk::config::load(&config).unwrap();
    assert_eq!(loaded.display.idle_timeout_s, 120);
    let store = civic_kiosk::store::Store::open_in(&loaded.data_dir()).unwrap();
    let audit = store.audit_tail(5).unwrap();
    let e = audit
        .iter()
        .find(|e| e.kind == "config_changed")
        .expect("audited");
    assert!(
        e.detail.contains("display.idle_timeout_s: 90 → 120"),
        "{e:?}"
    );
    assert!(e.actor.as_deref().unwrap_or("").starts_with("technician"));
    // A list, in TOML syntax.
    let (code, _, err) = kiosk(
        &config,
        &[
            "config",
            "set",
            "ratings.reasons",
            r#"["等候时间长", "其他"]"#,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        civic_kiosk::config::load(&config).unwrap().ratings.reasons,
        ["等候时间长", "其他"]
    );
}

/// A card printer out of paper (DLE EOT 2 bit 5) is named with its status bit and the fix,
/// and so is it in `status --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_names_a_printer_out_of_paper() {
    use std::sync::{Arc, Mutex};
    let sim = Arc::new(Mutex::new(common::Sim {
        dle: [common::OK, common::OK | 0x20, common::OK | 0x60],
        jobs: Vec::new(),
    }));
    let port = common::start_printer(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = common::shipped_config().replace(
        "uri = \"pdf://spool/card\"",
        &format!("uri = \"escpos+tcp://127.0.0.1:{port}\""),
    );
    let config = common::config_in(dir.path(), &text);
    let c = config.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || kiosk(&c, &["diagnose"]))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("FAIL printer card"), "{out}");
    assert!(out.contains("paper_out"), "{out}");
    assert!(out.contains("DLE EOT 2 bit 5"), "names the bit: {out}");
    assert!(
        out.contains("load a new paper roll"),
        "says what to do: {out}"
    );
    assert!(out.contains("broken: printer card"), "{out}");
    assert!(
        out.contains("ok   backoffice"),
        "the embedded back office works: {out}"
    );
    assert!(
        sim.lock().unwrap().jobs.is_empty(),
        "diagnose prints nothing"
    );
}
