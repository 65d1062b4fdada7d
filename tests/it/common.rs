//! Helpers shared by the integration tests, written once: the back office (in process
//! or as the `civic-backoffice` binary), the kiosk runner, the scripted printer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs the calling test again, alone, in a process of its own (this binary with
/// `--exact name`), for a test that sets process-wide state: the global logger. Returns
/// `true` in that process, where the caller does its work; in this one it waits for it,
/// fails with its output if it failed or did not run, and returns `false`.
pub(crate) fn in_own_process(name: &str) -> bool {
    const ENV: &str = "CIVIC_KIOSK_OWN_PROCESS";
    if std::env::var(ENV).as_deref() == Ok(name) {
        return true;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(ENV, name)
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    false
}

/// Set by `scripts/test` (the README's test command); CI sets `CI`.
pub(crate) const STRICT_ENV: &str = "CIVIC_KIOSK_TEST_STRICT";

/// A test that cannot run here (a tool, service or privilege is missing): under CI or the
/// README's test command that is a failure, never a skip; in a bare `cargo test` it is
/// said loudly, and the caller returns.
pub(crate) fn cannot_run(test: &str, why: &str) {
    let strict = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os(STRICT_ENV).is_some_and(|v| v == "1");
    assert!(
        !strict,
        "{test} cannot run: {why}. scripts/test installs what the suite needs (as root or with sudo)"
    );
    eprintln!("\n\n*** SKIPPED: {test}: {why} (scripts/test or CI would fail here) ***\n\n");
}

/// The path of an external tool the tests run, or a failure that names its package.
pub(crate) fn tool(name: &str, package: &str) -> PathBuf {
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
pub(crate) fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kiosk.toml"))
        .unwrap()
}

/// The shipped `config/kiosk.toml`, parsed, in force as a terminal would read it.
pub(crate) fn shipped_config_value() -> civic_kiosk::config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kiosk.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    civic_kiosk::config::Layers::from_parts(&path, &text, Vec::<(String, String)>::new())
        .unwrap()
        .effective()
        .unwrap()
}

/// A service counter for the UI tests: the reference back office in process (its SQLite
/// in `dir`) and a scripted ESC/POS card printer out of paper, on a runtime of their own;
/// `cfg`'s card printer points at the printer.
pub(crate) struct PaperOutCounter {
    pub(crate) bo: InProcessBackoffice,
    pub(crate) sim: Arc<Mutex<Sim>>,
    _rt: tokio::runtime::Runtime,
}

pub(crate) fn paper_out_counter(
    dir: &Path,
    cfg: &mut civic_kiosk::config::Config,
) -> PaperOutCounter {
    let rt = runtime();
    let bo = rt.block_on(start_backoffice(
        &dir.join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let sim = Arc::new(Mutex::new(Sim {
        dle: [OK, OK | 0x20, OK | 0x60],
        jobs: Vec::new(),
        ..Default::default()
    }));
    let port = rt.block_on(start_printer(sim.clone()));
    cfg.printers.card.uri = format!("escpos+tcp://127.0.0.1:{port}");
    // Recovery seen within a second: the UI tests wait for it.
    cfg.printers.poll_ms = 200;
    cfg.printers.poll_max_s = 1;
    PaperOutCounter { bo, sim, _rt: rt }
}

/// Writes `text` (a kiosk config) into `dir` with its data and logs moved into `dir`.
pub(crate) fn config_in(dir: &Path, text: &str) -> PathBuf {
    let text = text
        .replace(
            "data_dir = \"../data\"",
            &format!(
                "data_dir = {:?}\nruntime_dir = {:?}",
                dir.join("data"),
                dir.join("run")
            ),
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
pub(crate) struct InProcessBackoffice {
    pub(crate) url: String,
    pub(crate) key: ed25519_dalek::VerifyingKey,
    pub(crate) admin_token: String,
    /// The server's state: what a district does to it while it runs (publish a catalogue).
    pub(crate) state: Arc<civic_backoffice::AppState>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

impl InProcessBackoffice {
    /// A client of this back office with `token`.
    pub(crate) fn client(&self, token: &str) -> civic_kiosk::backoffice::Client {
        client(&self.url, token)
    }
}

pub(crate) async fn start_backoffice(
    db: &Path,
    tamper: bool,
    extra: Option<(&str, &str)>,
) -> InProcessBackoffice {
    start_backoffice_with(db, extra, |o| o.tamper_signature = tamper).await
}

/// [`start_backoffice`] with its options changed by `change` (a fault, a forged name).
pub(crate) async fn start_backoffice_with(
    db: &Path,
    extra: Option<(&str, &str)>,
    change: impl FnOnce(&mut civic_backoffice::ServerOptions),
) -> InProcessBackoffice {
    let (mut tokens, admin) = civic_backoffice::data::parse_tokens(
        civic_backoffice::data::DEMO_TOKENS,
        Path::new("config/backoffice.toml"),
    )
    .unwrap();
    if let Some((token, terminal)) = extra {
        tokens.insert(token.to_string(), terminal.to_string());
    }
    let mut options = civic_backoffice::ServerOptions {
        db: db.to_path_buf(),
        catalogue: civic_backoffice::data::demo_catalogue().unwrap(),
        residents: civic_backoffice::data::demo_residents().unwrap(),
        terminal_tokens: tokens,
        admin_token: admin.clone(),
        faults: Default::default(),
        tamper_signature: false,
        forge_name: None,
        today: None,
    };
    change(&mut options);
    let state = civic_backoffice::build_state(options).unwrap();
    state
        .load_codes(&civic_backoffice::data::demo_codes().unwrap())
        .unwrap();
    state
        .load_applications(&civic_backoffice::data::demo_applications().unwrap())
        .unwrap();
    state
        .load_certificates(&civic_backoffice::data::demo_certificates().unwrap())
        .unwrap();
    state.load_quick_items(civic_backoffice::data::demo_quick_items().unwrap());
    let key = state.verifying_key();
    let bound = civic_backoffice::bind("127.0.0.1:0", None).await.unwrap();
    let url = format!("http://{}/", bound.addr);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(civic_backoffice::serve(bound, state.clone(), rx));
    InProcessBackoffice {
        url,
        key,
        admin_token: admin.unwrap_or_default(),
        state,
        _shutdown: tx,
    }
}

/// The `civic-backoffice` binary of this build (crate `civic-backoffice`), beside this
/// test's own binary. `cargo test --workspace` (the README's `scripts/test`) builds it;
/// a run that did not is told so instead of testing something else.
pub(crate) fn backoffice_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/civic-backoffice
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("civic-backoffice"))
        .expect("target/<profile>");
    assert!(
        bin.exists(),
        "{} is missing: run the tests over the workspace (`scripts/test`, or `cargo test --workspace`), which builds it",
        bin.display()
    );
    bin
}

/// A `civic-backoffice` child process, killed on drop.
pub(crate) struct Backoffice {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) public_key: String,
}

impl Drop for Backoffice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Backoffice {
    /// Starts `civic-backoffice` on a free loopback port with `--today 2026-11-26`.
    pub(crate) fn start(db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(backoffice_bin())
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

    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub(crate) fn client(&self, token: &str) -> civic_kiosk::backoffice::Client {
        client(&self.url(), token)
    }
}

/// The terminal's back-office client for `url` with `token`, as the shipped config sets
/// it up (2 s to connect, 5 s in all, 8 MiB answers).
pub(crate) fn client(url: &str, token: &str) -> civic_kiosk::backoffice::Client {
    civic_kiosk::backoffice::Client::new(&civic_kiosk::backoffice::ClientOptions {
        base_url: url.into(),
        token: token.into(),
        connect_timeout: std::time::Duration::from_secs(2),
        total_timeout: std::time::Duration::from_secs(5),
        ca_file: None,
        max_body_bytes: 8 << 20,
    })
    .unwrap()
}

/// Status bytes as a printer answers them: bits 1 and 4 are always set.
pub(crate) const OK: u8 = 0x12;

#[derive(Default)]
pub(crate) struct Sim {
    /// Answers to DLE EOT 1, 2 and 4.
    pub(crate) dle: [u8; 3],
    /// Every job's bytes, DLE EOT queries taken out.
    pub(crate) jobs: Vec<Vec<u8>>,
    /// Connections accepted: what a held job costs the printer.
    pub(crate) connections: usize,
}

/// A scripted ESC/POS printer on 127.0.0.1:0.
pub(crate) async fn start_printer(state: Arc<Mutex<Sim>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            state.lock().unwrap().connections += 1;
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
pub(crate) fn backoffice_child(
    dir: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(backoffice_bin())
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

pub(crate) fn card_config(dir: &std::path::Path, url: &str, key: &str) -> std::path::PathBuf {
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
pub(crate) fn kiosk(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// `civic-kiosk --config CONFIG ARGS…` with `stdin` piped in (a PIN, as a script gives it).
pub(crate) fn kiosk_stdin(config: &Path, args: &[&str], stdin: &str) -> std::process::Output {
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
pub(crate) fn offline_code(config: &Path, id: &str) -> std::process::Output {
    kiosk(config, &["offline-code", "--id", id, "--yes"])
}

/// Taps the first enabled element with this accessible label (a button, a key), as a
/// resident would; panics if none is shown.
pub(crate) fn click_label(h: &civic_kiosk::ui::snapshot::Headless, label: &str) {
    let found = i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, label)
        .filter(|e| e.accessible_enabled() != Some(false))
        .collect::<Vec<_>>();
    let el = found
        .first()
        .unwrap_or_else(|| panic!("no enabled element labelled {label:?}"));
    el.invoke_accessible_default_action();
}

/// A free TCP port on 127.0.0.1 (bound, then released for a server that takes a port).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on 127.0.0.1:`port` (a server starting).
pub(crate) fn wait_for_port(port: u16, what: &str) {
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port}");
}

/// The attributes of an IPP Everywhere printer that takes card stock: custom sizes from
/// 25.4 mm up to legal (`custom_min_`/`custom_max_` and a media-size-supported range),
/// and PDF (listed first: ippeveprinter adds its own list after a file's).
pub(crate) const CUSTOM_SIZES_ATTRS: &str = "\
ATTR keyword media-supported iso_a4_210x297mm,custom_min_25.4x25.4mm,custom_max_215.9x355.6mm
ATTR collection media-size-supported {MEMBER integer x-dimension 21000 MEMBER integer y-dimension 29700},{MEMBER rangeOfInteger x-dimension 2540-21590 MEMBER rangeOfInteger y-dimension 2540-35560}
ATTR mimeMediaType document-format-supported application/pdf,application/octet-stream
";

/// CUPS's IPP Everywhere printer simulator (`ippeveprinter`, Debian cups-ipp-utils) on
/// 127.0.0.1, logging every request (-vvv) into `log`, keeping each job's document in
/// `spool`. It needs a D-Bus system bus for its Avahi client even with DNS-SD off: a
/// private `dbus-daemon` gives it one. Both are killed (with their process group) on drop.
pub(crate) struct IppEve {
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
    pub(crate) spool: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
    printer: Option<Child>,
    dbus: Child,
}

impl IppEve {
    /// `None` (said by [`cannot_run`]) when ippeveprinter or dbus-daemon is missing.
    pub(crate) fn start(test: &str, dir: &Path, extra: &[&str]) -> Option<Self> {
        for (tool, package) in [
            ("/usr/sbin/ippeveprinter", "cups-ipp-utils"),
            ("/usr/bin/dbus-daemon", "dbus-daemon"),
        ] {
            if !Path::new(tool).exists() {
                cannot_run(test, &format!("{tool} is missing (Debian {package})"));
                return None;
            }
        }
        let bus = dir.join("bus");
        let dbus = Command::new("/usr/bin/dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..500 {
            if bus.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let spool = dir.join("ipp-spool");
        std::fs::create_dir_all(&spool).unwrap();
        let mut me = Self {
            port: free_port(),
            log: dir.join("ippeveprinter.log"),
            spool,
            dir: dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            printer: None,
            dbus,
        };
        me.restart();
        Some(me)
    }

    /// The printer URI the terminal is given.
    pub(crate) fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    /// Starts the printer (again: a fresh one with no jobs, on the same port and log).
    pub(crate) fn restart(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("/usr/sbin/ippeveprinter")
            .args(["-vvv", "-r", "off", "-n", "localhost", "-k"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(&self.spool)
            .args(&self.extra)
            .arg("CivicTest")
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                format!("unix:path={}", self.dir.join("bus").display()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.printer = Some(child);
        wait_for_port(self.port, "ippeveprinter");
    }

    /// Kills the printer and everything it started (a print command), as a power cut.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.printer.take() {
            // The printer's own process group (it was started as its leader): killpg(2),
            // never `kill -KILL -PID` through procps, whose parsing of that killed every
            // process of the machine's user.
            if let Ok(pgid) = i32::try_from(c.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The log so far.
    pub(crate) fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// IPP requests the printer received so far (each is logged as `POST /ipp/print`).
    pub(crate) fn requests(&self) -> usize {
        self.log_text().matches(" POST /ipp/print").count()
    }
}

impl Drop for IppEve {
    fn drop(&mut self) {
        self.kill();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` that counts the connections it
/// accepts: what a client costs a printer even when the printer is dead (then each
/// connection is closed at once). Runs on its own thread until the process ends.
pub(crate) fn counting_proxy(upstream: u16) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let count = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(down) = conn else { return };
            seen.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let (Ok(mut down2), Ok(mut up2)) = (down.try_clone(), up.try_clone()) else {
                    return;
                };
                let (mut down, mut up) = (down, up);
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut down2, &mut up2);
                    let _ = up2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut up, &mut down);
                let _ = down.shutdown(std::net::Shutdown::Both);
                let _ = t.join();
            });
        }
    });
    (port, count)
}

/// `card_config` with the card printer at `uri`.
pub(crate) fn card_config_with_printer(dir: &Path, url: &str, key: &str, uri: &str) -> PathBuf {
    let path = card_config(dir, url, key);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("uri = \"pdf://{}\"", dir.join("cards").display()),
        &format!("uri = \"{uri}\""),
    );
    assert!(text.contains(uri), "the card printer is set");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `civic-kiosk` child whose stdout lines are read on a thread as they come.
pub(crate) struct KioskChild {
    pub(crate) child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

impl KioskChild {
    pub(crate) fn spawn(config: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
            .arg("--config")
            .arg(config)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `text`; panics with what it printed if the
    /// command ends first (or prints nothing like it for `limit`).
    pub(crate) fn wait_line(&mut self, text: &str, limit: std::time::Duration) -> String {
        let end = std::time::Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?}; printed: {:#?}; exit: {:?}",
                    self.seen,
                    self.child.try_wait()
                ),
            }
        }
    }

    /// Sends SIGINT, as Ctrl+C does.
    pub(crate) fn interrupt(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    /// Waits for the command to end: its status, and its stdout and stderr.
    pub(crate) fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        // The reader thread ends at the end of stdout, which the exit closed.
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest);
        (status, self.seen.join("\n"), err)
    }
}

impl Drop for KioskChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A 2 MiB tmpfs mounted on `at`, unmounted when dropped (however the test ends). The
/// tests run as root; a mount that fails fails the test with why.
pub(crate) struct Tmpfs(pub(crate) PathBuf);

impl Tmpfs {
    pub(crate) fn mount(at: &Path) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new(tool("mount", "mount"))
            .args(["-t", "tmpfs", "-o", "size=2m", "civic-kiosk-full"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot mount a 2 MiB tmpfs on {} (the full-disk test needs root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Self(at.to_path_buf())
    }

    /// Writes a file until the disk refuses more.
    pub(crate) fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        for chunk in [65536usize, 4096, 512, 1] {
            let buf = vec![0xA5u8; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        let _ = f.sync_all();
        let free = civic_kiosk::store::free_bytes(&self.0).unwrap();
        assert!(free < 4096, "the tmpfs is full: {free} bytes free");
    }

    /// Removes what [`Tmpfs::fill`] wrote: the space is free again.
    pub(crate) fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Renders the first page of `pdf` as a printer would (`dpi`), into `dir`, and answers
/// the QR code zbarimg reads on it (empty if none).
pub(crate) fn scan_pdf_qr(pdf: &Path, dir: &Path, dpi: u32) -> String {
    let png = dir.join(format!(
        "{}-scan",
        pdf.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let st = Command::new(tool("pdftoppm", "poppler-utils"))
        .args(["-r", &dpi.to_string(), "-png", "-singlefile"])
        .arg(pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(st.success(), "pdftoppm {}", pdf.display());
    let scan = Command::new(tool("zbarimg", "zbar-tools"))
        .args(["-q", "--raw"])
        .arg(png.with_extension("png"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&scan.stdout).trim().to_string()
}

/// A keyboard-wedge scanner: every character at once (no time passes), Shift held for
/// capitals and ':' as a USB scanner does, then Enter.
pub(crate) fn wedge(h: &civic_kiosk::ui::snapshot::Headless, code: &str) {
    use slint::ComponentHandle;
    use slint::platform::WindowEvent;
    let w = h.window.window();
    let shift: slint::SharedString = slint::platform::Key::Shift.into();
    for c in code.chars() {
        let shifted = c.is_ascii_uppercase() || "~!@#$%^&*()_+{}|:<>?".contains(c);
        if shifted {
            w.dispatch_event(WindowEvent::KeyPressed {
                text: shift.clone(),
            });
        }
        w.dispatch_event(WindowEvent::KeyPressed {
            text: c.to_string().into(),
        });
        w.dispatch_event(WindowEvent::KeyReleased {
            text: c.to_string().into(),
        });
        if shifted {
            w.dispatch_event(WindowEvent::KeyReleased {
                text: shift.clone(),
            });
        }
    }
    let enter: slint::SharedString = slint::platform::Key::Return.into();
    w.dispatch_event(WindowEvent::KeyPressed {
        text: enter.clone(),
    });
    w.dispatch_event(WindowEvent::KeyReleased { text: enter });
}

/// The PDFs in `dir`, oldest first.
pub(crate) fn pdfs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map_or(Vec::new(), |d| {
        d.filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
            .collect()
    });
    v.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    v
}

/// Every byte under `dir`, for a search.
pub(crate) fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.extend(b);
            }
        }
    }
    out
}

pub(crate) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A tokio runtime of one worker, for a back office or devices beside a test.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Whether something labelled `label` is on screen.
pub(crate) fn shown(h: &civic_kiosk::ui::snapshot::Headless, label: &str) -> bool {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, label)
        .next()
        .is_some()
}

/// A finger's tap at (`x`, `y`) in logical pixels: pressed and released there.
pub(crate) fn tap_at(h: &civic_kiosk::ui::snapshot::Headless, x: f32, y: f32) {
    use slint::ComponentHandle;
    use slint::platform::{PointerEventButton, WindowEvent};
    let w = h.window.window();
    let position = slint::LogicalPosition::new(x, y);
    w.dispatch_event(WindowEvent::PointerMoved { position });
    w.dispatch_event(WindowEvent::PointerPressed {
        position,
        button: PointerEventButton::Left,
    });
    w.dispatch_event(WindowEvent::PointerReleased {
        position,
        button: PointerEventButton::Left,
    });
    h.pump_until(std::time::Duration::from_millis(50), |_| false);
}

/// The process's logger writing every level to `dir` (a test of what the log holds): once
/// per process, so only in a test of its own process.
pub(crate) fn log_everything_to(dir: &Path) {
    assert!(civic_kiosk::logging::init(
        &civic_kiosk::logging::LogSettings {
            dir: Some(dir.to_path_buf()),
            level: log::LevelFilter::Trace,
            max_file_bytes: 1 << 22,
            keep_files: 2,
            stderr: false,
        }
    ));
}

/// Every text on screen (the accessible labels of the text elements), to check what a
/// resident reads.
pub(crate) fn texts(h: &civic_kiosk::ui::snapshot::Headless) -> Vec<String> {
    i_slint_backend_testing::ElementQuery::from_root(&h.window)
        .match_descendants()
        .match_accessible_role(i_slint_backend_testing::AccessibleRole::Text)
        .find_all()
        .into_iter()
        .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
        .filter(|l| !l.trim().is_empty())
        .collect()
}
