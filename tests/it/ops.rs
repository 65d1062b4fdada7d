//! Technician CLI over SSH: `diagnose` names the broken part, `config set` validates,
//! saves atomically and audits.

use crate::common;

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
        ..Default::default()
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

fn stat(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap()
}

/// `config set` keeps a root:group 0640 config so (it holds the token) and writes through
/// a symlinked config into its target, the link kept.
#[test]
fn config_set_keeps_mode_owner_group_and_symlinks() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    // As packaged: 0640, the service's group (here `daemon`, gid 1), owner root.
    let gid = 1;
    std::os::unix::fs::chown(&config, Some(0), Some(gid)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, out, err) = kiosk(&config, &["config", "set", "display.idle_timeout_s", "120"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("wrote {}", config.display())),
        "{out}"
    );
    let m = stat(&config);
    assert_eq!(m.mode() & 0o7777, 0o640, "mode kept");
    assert_eq!((m.uid(), m.gid()), (0, gid), "owner and group kept");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("idle_timeout_s = 120")
    );

    // A symlinked config (as /etc/civic-kiosk/kiosk.toml → a provisioned file).
    let real_dir = dir.path().join("provisioned");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("kiosk.toml");
    std::fs::rename(&config, &real).unwrap();
    std::os::unix::fs::symlink("provisioned/kiosk.toml", &config).unwrap();
    let (code, out, err) = kiosk(&config, &["config", "set", "display.idle_timeout_s", "150"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        stat(&config).file_type().is_symlink(),
        "the link stays a link"
    );
    assert_eq!(
        std::fs::read_link(&config).unwrap(),
        Path::new("provisioned/kiosk.toml")
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("idle_timeout_s = 150"), "the target changed");
    let m = stat(&real);
    assert_eq!(
        (m.mode() & 0o7777, m.gid()),
        (0o640, gid),
        "and kept its metadata"
    );
    assert_eq!(
        std::fs::read_dir(&real_dir).unwrap().count(),
        1,
        "no temp file left beside it"
    );
}

/// A user who may not write the main config (the service user over SSH, or anyone without
/// sudo) gets the settings layer: `config set` says so and which file it wrote; the value
/// wins over the file, `check-config` names its layer; a secret is refused there.
#[test]
fn config_set_writes_the_settings_layer_when_the_file_is_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // The data dir is the service user's (nobody here), as the package's postinst makes it.
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let before = std::fs::read(&config).unwrap();
    let as_nobody = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = as_nobody(&["config", "set", "display.idle_timeout_s", "120"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let settings = data.join("settings.toml");
    assert!(err.contains("not writable by this user"), "{err}");
    assert!(
        out.contains(&format!(
            "wrote {} (the settings layer)",
            settings.display()
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        before,
        "main file untouched"
    );
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap()
            .contains("idle_timeout_s = 120")
    );
    let layers = civic_kiosk::config::Layers::load(&config).unwrap();
    assert_eq!(layers.effective().unwrap().display.idle_timeout_s, 120);
    let origins = layers.origin_map();
    assert_eq!(
        origins.get("display.idle_timeout_s").map(String::as_str),
        Some(format!("settings ({})", settings.display()).as_str())
    );
    let (code, out, _) = kiosk(&config, &["check-config"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!(
            "display.idle_timeout_s = 120  (settings ({}))",
            settings.display()
        )),
        "{out}"
    );
    // The settings layer is validated like the file.
    let (code, _, err) = as_nobody(&["config", "set", "display.idle_timeout_s", "5"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("at least 20") && err.contains("nothing saved"),
        "{err}"
    );
    // A secret never goes into the settings layer.
    let (code, out, err) = as_nobody(&["config", "set", "backoffice.token", "tok-x-9"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("secret") && err.contains("nothing saved"),
        "{err}"
    );
    assert!(
        !std::fs::read_to_string(&settings)
            .unwrap()
            .contains("tok-x-9")
    );
    assert!(!format!("{out}{err}").contains("tok-x-9"), "{out}{err}");
    // `config unset` takes a settings-layer value back: the file's applies again.
    let (code, out, err) = as_nobody(&["config", "unset", "display.idle_timeout_s"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("display.idle_timeout_s: 120 → 90"), "{out}");
    assert!(
        out.contains(&format!("now comes from: file ({})", config.display())),
        "{out}"
    );
    assert_eq!(
        civic_kiosk::config::load(&config)
            .unwrap()
            .display
            .idle_timeout_s,
        90
    );
    let (code, _, err) = as_nobody(&["config", "unset", "display.idle_timeout_s"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not set in the settings layer"), "{err}");
    let (code, out, err) = as_nobody(&["config", "set", "display.idle_timeout_s", "120"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Root (who may write the file) edits the file, and the settings-layer value that
    // would win over it goes.
    let (code, out, err) = kiosk(&config, &["config", "set", "display.idle_timeout_s", "200"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("(the main config file)"), "{out}");
    assert!(out.contains("removed display.idle_timeout_s"), "{out}");
    assert_eq!(
        civic_kiosk::config::load(&config)
            .unwrap()
            .display
            .idle_timeout_s,
        200
    );
}

/// The token set with `config set` appears in none of: the CLI's output, the log, the
/// local store (every file of the data dir, WAL included), the heartbeat the running
/// terminal sent, the back office's store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_leaves_the_config_file() {
    use base64::Engine;
    const OLD: &str = "demo-token-CN-TSL-001";
    const NEW: &str = "tok-7f3a9c-secret-e51d";
    let dir = tempfile::tempdir().unwrap();
    let bo_db = dir.path().join("bo").join("bo.sqlite");
    std::fs::create_dir_all(bo_db.parent().unwrap()).unwrap();
    let bo = common::start_backoffice(&bo_db, false, Some((NEW, "CN-TSL-001"))).await;
    let key = base64::engine::general_purpose::STANDARD.encode(bo.key.to_bytes());
    let config = common::card_config(dir.path(), &bo.url, &key);
    let mut shown = String::new();
    let run = |args: Vec<&'static str>, config: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            let (code, out, err) = kiosk(&config, &args);
            (code, format!("{out}{err}"))
        })
    };
    let (code, out) = run(
        vec!["config", "set", "backoffice.token", NEW],
        config.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("backoffice.token: changed"), "{out}");
    shown.push_str(&out);
    for args in [
        vec!["check-config"],
        vec!["status", "--json"],
        vec!["status"],
        vec!["diagnose"],
    ] {
        shown.push_str(&run(args, config.clone()).await.unwrap().1);
    }
    // A bad value for the token's type: the error names the field, not the value.
    let (code, out) = run(
        vec![
            "config",
            "set",
            "backoffice.token",
            "[\"tok-7f3a9c-secret-e51d\"]",
        ],
        config.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("backoffice.token"), "{out}");
    shown.push_str(&out);
    assert!(
        std::fs::read_to_string(&config).unwrap().contains(NEW),
        "the token is in the file"
    );

    // The terminal runs with it: its first heartbeat ships the audit entries.
    let mut terminal = std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(&config)
        .args(["run", "--headless"])
        .env_remove("NOTIFY_SOCKET")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let admin = bo.client(&bo.admin_token);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let body = loop {
        let me = admin
            .terminals()
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.terminal_id == "CN-TSL-001");
        if let Some(b) = me.and_then(|t| t.last_heartbeat_body) {
            break b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no heartbeat from the terminal"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let _ = terminal.kill();
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        let _ = terminal.stderr.take().unwrap().read_to_string(&mut s);
        s
    };
    let _ = terminal.wait();
    shown.push_str(&stderr);
    let changed = body
        .audit
        .iter()
        .find(|e| e.kind == "config_changed")
        .expect("the config change rode on the heartbeat");
    assert!(
        changed.detail.starts_with("backoffice.token: changed"),
        "{changed:?}"
    );
    let body = serde_json::to_string(&body).unwrap();

    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("CLI output".into(), shown.into_bytes()),
        ("heartbeat body".into(), body.into_bytes()),
    ];
    for folder in [
        dir.path().join("logs"),
        dir.path().join("data"),
        dir.path().join("bo"),
    ] {
        assert!(folder.is_dir(), "{}", folder.display());
        for f in std::fs::read_dir(&folder).unwrap() {
            let p = f.unwrap().path();
            if p.is_file() {
                places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let names: Vec<&str> = places.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.iter().any(|n| n.ends_with("kiosk.log")), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("kiosk.sqlite")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with("bo.sqlite")), "{names:?}");
    for (name, bytes) in &places {
        for token in [OLD, NEW] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{token} found in {name}"
            );
        }
    }
}

/// `check-config` (the real CLI) reports every problem of a file in one run: type errors
/// (the value set aside, the rest still checked) and the validator's, each with its bound.
#[test]
fn check_config_reports_every_problem_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::shipped_config()
        .replace("dpi = 102", "dpi = \"high\"")
        .replace("batch_size = 200", "batch_size = [200]")
        .replace(
            "sync_interval_s = 900",
            "sync_interval_s = 9223372036854775807",
        )
        .replace("keep_files = 5", "keep_files = \"5\"")
        .replace("idle_timeout_s = 90", "idle_timeout_s = 5");
    let config = common::config_in(dir.path(), &text);
    let (code, out, err) = kiosk(&config, &["check-config"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = err.lines().collect();
    for want in [
        "display.dpi: invalid type",
        "ratings.batch_size: invalid type",
        "log.keep_files: invalid type",
        "catalogue.sync_interval_s: 9223372036854775807 is above the limit of 86400 (one day)",
        "display.idle_timeout_s: 5 s is too short",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&config.display().to_string()) && l.contains(want)),
            "{want}: {err}"
        );
    }
    assert_eq!(lines.len(), 5, "{err}");
}

/// `civic-kiosk check-config | head -1`: the reader goes away, and the command ends
/// quietly with 141 (as for SIGPIPE), not with a panic.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path(), &common::shipped_config());
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panic"), "{stderr}");
}
