//! Technician subcommands other than `run`: they load the config, do one job, print, and return an exit status.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use crate::api::Audience;
use crate::catalog::{self, Catalog, sync::CatalogMeta};
use crate::cli::CatalogueCommand;
use crate::config::{self, Config};
use crate::pin;
use crate::store::Store;

/// `println!` for command output. A reader that went away (`civic-kiosk status | head`)
/// ends the command quietly with status 141, as a shell reports SIGPIPE, instead of the
/// panic `println!` gives.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::write_out(format_args!($($arg)*))
    };
}

/// One line of command output on stdout; see [`out!`].
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"));
    if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        std::process::exit(141);
    }
}

/// Prints a config error, one line per problem.
fn config_or_exit(path: &Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|e| {
        for line in e.lines() {
            eprintln!("{line}");
        }
        ExitCode::from(1)
    })
}

/// The config's layers (validated), or the problems printed.
fn layers_or_exit(path: &Path) -> Result<config::Layers, ExitCode> {
    config::Layers::load(path).map_err(|e| {
        for line in e.lines() {
            eprintln!("{line}");
        }
        ExitCode::from(1)
    })
}

/// `civic-kiosk check-config [FILE]`: every problem, one line each; when valid, each
/// non-default value with the layer it comes from (a secret's value is never shown), and
/// a warning for each deprecated key.
pub fn check_config(path: &Path) -> ExitCode {
    let layers = match layers_or_exit(path) {
        Ok(l) => l,
        Err(code) => return code,
    };
    out!("{}: ok", path.display());
    if let Ok(c) = layers.effective() {
        for w in c.warnings() {
            out!("warning: {w}");
        }
    }
    let origins = layers.origins();
    if !origins.is_empty() {
        out!("values other than the defaults, and where each comes from:");
    }
    for (key, value, origin) in origins {
        out!("  {key} = {value}  ({origin})");
    }
    ExitCode::SUCCESS
}

/// `civic-kiosk identity test [--json] [--wait SECS]`: one card read from identity.reader.
pub fn identity_test(config_path: &Path, json: bool, wait: u64) -> ExitCode {
    let config = match config_or_exit(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = match crate::devices::test_read(&config, std::time::Duration::from_secs(wait)) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => out!("{s}"),
            Err(e) => return fail(e),
        }
    } else if report.ok {
        out!("reader      {}", report.reader);
        out!(
            "card        {} {}",
            report.masked_name.as_deref().unwrap_or(""),
            report.masked_id.as_deref().unwrap_or("")
        );
        out!(
            "valid until {}{}",
            report.valid_until.as_deref().unwrap_or(""),
            if report.expired == Some(true) {
                " (EXPIRED)"
            } else {
                ""
            }
        );
        out!("SAM status  {}", report.sam_status.as_deref().unwrap_or(""));
        if let Some(t) = report.timings_ms {
            out!(
                "timings     find {} ms, select {} ms, read {} ms, total {} ms",
                t.find_ms,
                t.select_ms,
                t.read_ms,
                t.total_ms()
            );
        }
    } else {
        eprintln!(
            "civic-kiosk: {}: {}",
            report.reader,
            report.fault.as_deref().unwrap_or("no card read")
        );
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("civic-kiosk: runtime: {e}");
            ExitCode::from(2)
        })
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("civic-kiosk: {msg}");
    ExitCode::from(1)
}

/// `civic-kiosk status [--json]`.
pub fn status(config_path: &Path, json: bool) -> ExitCode {
    let (mut layers, rt) = match (layers_or_exit(config_path), runtime()) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    // What the back office set, as the running terminal recorded it: without it a value
    // pushed remotely would be reported as the file's.
    if let Ok(c) = layers.effective()
        && c.data_dir().join("kiosk.sqlite").exists()
        && let Ok(store) = Store::open_for_reading(&c.data_dir())
        && let Some(live) = crate::heartbeat::recorded_live_layer(&store)
        && let Err(e) = layers.set_live(live)
    {
        eprintln!("civic-kiosk: the back office's recorded settings no longer validate: {e}");
    }
    let config = match layers.effective() {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            return ExitCode::from(1);
        }
    };
    let mut report = rt.block_on(crate::status::report(&config, config_path));
    report.settings_path = layers.settings_path().display().to_string();
    report.origins = layers.origin_map();
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => out!("{s}"),
            Err(e) => return fail(e),
        }
    } else {
        out!("{}", report.human().trim_end_matches('\n'));
    }
    ExitCode::SUCCESS
}

/// `civic-kiosk catalogue …`.
pub fn catalogue(config_path: &Path, cmd: CatalogueCommand) -> ExitCode {
    let (config, rt) = match (config_or_exit(config_path), runtime()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    // Searching and browsing only read: on a full disk the store opens read-only.
    let store = match Store::open_for_reading(&config.data_dir()) {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => return fail(e),
    };
    match cmd {
        CatalogueCommand::Sync => match rt.block_on(sync(&config, &store)) {
            Ok(line) => {
                out!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        CatalogueCommand::Search { query, json, limit } => {
            let (catalog, meta) = match local_or_sync(&config, &store, &rt) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let answer = catalog.answer(&query, limit);
            if json {
                let out = serde_json::json!({
                    "catalogue_version": meta.version,
                    "catalogue_fetched_at": meta.fetched_at,
                    "answer": answer,
                });
                out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                print_staleness(&config, &meta);
                if answer.no_match {
                    out!("没有找到“{query}”相关事项 / No item matches “{query}”.");
                    if answer.faq.is_empty() {
                        out!("试试小申问答，或换个说法 / Try the FAQ (小申问答) or other words.");
                    } else {
                        out!("小申问答里可能有答案 / The FAQ may help:");
                        for f in &answer.faq {
                            out!("  {}  {}", f.id, f.question);
                        }
                    }
                }
                for (n, item) in answer.items.iter().enumerate() {
                    let hf = if item.high_frequency {
                        "  [高频]"
                    } else {
                        ""
                    };
                    out!("{:>2}. {}  {}{hf}", n + 1, item.name, item.code);
                }
            }
            ExitCode::SUCCESS
        }
        CatalogueCommand::Browse {
            audience,
            theme,
            json,
        } => {
            let audience = match audience.as_str() {
                "personal" | "个人" => Audience::Personal,
                "legal" | "法人" => Audience::Legal,
                other => {
                    return fail(format!(
                        "--audience '{other}': use personal (个人) or legal (法人)"
                    ));
                }
            };
            let (catalog, meta) = match local_or_sync(&config, &store, &rt) {
                Ok(x) => x,
                Err(code) => return code,
            };
            browse(&config, &catalog, &meta, audience, theme.as_deref(), json)
        }
    }
}

async fn sync(config: &Config, store: &Arc<Mutex<Store>>) -> Result<String, String> {
    let read_only = crate::store::lock(store).read_only().map(str::to_string);
    if let Some(why) = read_only {
        // Nothing fetched could be kept.
        return Err(format!("catalogue not synced: {why}"));
    }
    let reached = crate::reach::reach_backoffice(config)
        .await
        .map_err(|e| e.to_string())?;
    let (outcome, _) = catalog::sync::sync_once(&reached.client, store)
        .await
        .map_err(|e| e.to_string())?;
    Ok(outcome.to_string())
}

/// The local copy; without one, a sync first (as the terminal does at start).
fn local_or_sync(
    config: &Config,
    store: &Arc<Mutex<Store>>,
    rt: &tokio::runtime::Runtime,
) -> Result<(Catalog, CatalogMeta), ExitCode> {
    match catalog::sync::load_cached(store) {
        Ok(Some(x)) => return Ok(x),
        Ok(None) => eprintln!("no local catalogue yet; syncing with the back office"),
        Err(e) => eprintln!("{e}; syncing with the back office"),
    }
    rt.block_on(sync(config, store)).map_err(fail)?;
    match catalog::sync::load_cached(store) {
        Ok(Some(x)) => Ok(x),
        Ok(None) => Err(fail("the back office sent no catalogue")),
        Err(e) => Err(fail(e)),
    }
}

fn print_staleness(config: &Config, meta: &CatalogMeta) {
    let stale_after = std::time::Duration::from_secs(config.catalogue.stale_after_s.max(0) as u64);
    if meta.is_stale(chrono::Utc::now(), stale_after) {
        let local = meta.fetched_at.with_timezone(&chrono::Local);
        out!(
            "目录更新于 {} / Catalogue as of {}",
            local.format("%Y-%m-%d %H:%M"),
            local.format("%Y-%m-%d %H:%M")
        );
    }
}

fn browse(
    config: &Config,
    catalog: &Catalog,
    meta: &CatalogMeta,
    audience: Audience,
    theme: Option<&str>,
    json: bool,
) -> ExitCode {
    if let Some(theme) = theme {
        let items = catalog.items_in(audience, Some(theme), None);
        if items.is_empty() {
            return fail(format!(
                "no items in theme '{theme}' for this audience; list themes with `catalogue browse`"
            ));
        }
        if json {
            out!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        } else {
            print_staleness(config, meta);
            for i in items {
                out!("{}  {}", i.name, i.code);
            }
        }
        return ExitCode::SUCCESS;
    }
    let themes = catalog.themes(audience);
    let departments = catalog.departments(audience);
    if json {
        let out = serde_json::json!({ "version": meta.version, "themes": themes, "departments": departments });
        out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_staleness(config, meta);
        out!("主题 / themes:");
        for g in &themes {
            out!("  {} ({})", g.name, g.count);
        }
        out!("部门 / departments:");
        for g in &departments {
            out!("  {} ({})", g.name, g.count);
        }
    }
    ExitCode::SUCCESS
}

/// `civic-kiosk screenshot`.
pub fn screenshot(
    config_path: &Path,
    page: &str,
    large_font: bool,
    lang: &str,
    size: &str,
    out: std::path::PathBuf,
) -> ExitCode {
    let config = match config_or_exit(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let english = match lang {
        "zh_CN" | "zh" => false,
        "en" => true,
        other => return fail(format!("--lang {other}: use zh_CN or en")),
    };
    let Some((w, h)) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
    else {
        return fail(format!(
            "--size '{size}': write WIDTHxHEIGHT, e.g. 1080x1920"
        ));
    };
    if !(240..=8192).contains(&w) || !(240..=8192).contains(&h) {
        return fail(format!(
            "--size '{size}': each side must be 240 to 8192 pixels"
        ));
    }
    let opts = crate::ui::snapshot::ScreenshotOptions {
        page: page.to_string(),
        large_font,
        english,
        width: w,
        height: h,
        out,
    };
    match crate::ui::snapshot::screenshot(Arc::new(config), &opts) {
        Ok(files) => {
            for f in files {
                out!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `civic-kiosk offline-code --id ID [--yes] [--reissue] [--printer URI] [--staff ID]`:
/// the issuance flow of the touch UI (crate::issuance), from a technician's shell. With
/// `--staff` a 帮办 staff member signs in first with their staff PIN.
pub fn offline_code(
    config_path: &Path,
    id: &str,
    yes: bool,
    reissue: bool,
    printer: Option<&str>,
    staff: Option<&str>,
    wait_timeout: Option<u64>,
) -> ExitCode {
    use crate::issuance::{Deps, Failure, Issuance};
    let (mut config, rt) = match (config_or_exit(config_path), runtime()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if let Some(secs) = wait_timeout {
        config.printers.give_up_s = i64::try_from(secs).unwrap_or(i64::MAX);
    }
    let config = Arc::new(config);
    let id = match crate::identity::IdNumber::parse(id) {
        Ok(id) => id,
        Err(e) => return fail(format!("--id: {e}")),
    };
    let staff = match staff.map(pin::StaffId::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return fail(format!("--staff: {e}")),
    };
    let uri = match printer_or_role(&config, printer, crate::config::PrinterRole::Card) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let store: crate::store::Shared = match Store::open_in(&config.data_dir()) {
        Ok(s) => Arc::new(std::sync::Mutex::new(s)),
        Err(e) => return fail(e),
    };
    // A number typed at the CLI is a typed number: the keypad rule applies (identity.keypad;
    // --reissue only with staff).
    let source = crate::resident::IdSource::Typed;
    let issuance = match Issuance::new(config.clone(), id.clone(), source, reissue, staff.clone()) {
        Ok(i) => i,
        Err(Failure::Typed(why @ crate::resident::TypedRefusal::KeypadOff)) => {
            return fail(format!(
                "{why}; the CLI cannot read a card: set identity.keypad = \"staff\" to issue with --staff"
            ));
        }
        Err(Failure::Typed(why)) => {
            return fail(format!(
                "{why}; sign in with --staff ID (the staff PIN is asked for)"
            ));
        }
        Err(e) => return fail(e),
    };
    if let Some(staff) = &staff
        && let Err(code) = staff_sign_in(&store, staff)
    {
        return code;
    }
    let result = rt.block_on(async {
        // Before asking the back office anything: the day's card may already be printed.
        issuance
            .check_today(Some(&store))
            .await
            .map_err(|e| e.to_string())?;
        let reached = crate::reach::reach_backoffice(&config)
            .await
            .map_err(|e| e.to_string())?;
        let key = crate::offline_code::trusted_key(
            &config,
            reached
                .embedded
                .as_ref()
                .map(|e| e.public_key)
                .or_else(|| crate::embedded::public_key(&config)),
        )?;
        let who = crate::issuance::lookup(&reached.client, id.clone())
            .await
            .map_err(|e| e.to_string())?;
        out!("{}  {}", who.masked_name, who.masked_id);
        if !who.eligible {
            return Err(who.reason.unwrap_or_else(|| "not eligible".into()));
        }
        if !yes
            && !confirm(&format!(
                "{}，是您本人吗？ Issue a card? [y/N] ",
                who.masked_name
            ))
        {
            return Err("not confirmed; nothing issued".into());
        }
        let deps = Deps {
            client: reached.client.clone(),
            key,
            store: Some(store.clone()),
        };
        let (cancel, interrupted) = cancel_on_ctrl_c();
        let printed = issuance
            .run(&deps, &uri, Some(cancel), say_waiting)
            .await
            .map(|p| format!("card {} {}", p.issued.card_id, p.place));
        match printed {
            Err(Failure::Cancelled) if interrupted.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(CTRL_C.to_string())
            }
            Err(Failure::PrintFailed(why)) => Err(format!(
                "card issued but not printed: {why}; it stays valid: fix the printer (or free space on the spool's disk) and run the same command again: the same card prints"
            )),
            other => other.map_err(|e| e.to_string()),
        }
    });
    match result {
        Ok(line) => {
            out!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) if e == CTRL_C => {
            eprintln!("civic-kiosk: {e}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => fail(e),
    }
}

/// Exit status after Ctrl+C cancelled a job (as a shell reports SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;
const CTRL_C: &str =
    "已取消，未打印 / cancelled (Ctrl+C): the job was cancelled at the printer; nothing printed";

/// A cancel channel that turns true on Ctrl+C (SIGINT), and whether that happened. The
/// job's own lifecycle cancels it at the printer.
fn cancel_on_ctrl_c() -> (
    tokio::sync::watch::Receiver<bool>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            out!("Ctrl+C: 正在取消… / cancelling…");
            let _ = tx.send(true);
            // Keep the sender: dropping it must not read as a second signal.
            std::future::pending::<()>().await;
        }
    });
    (rx, flag)
}

/// One line for each state a job waits in, in the CLI's "中文 / English" form: what it
/// waits for and how to stop waiting.
pub fn waiting_line(state: &crate::print::job::JobState) -> Option<String> {
    use crate::print::job::JobState;
    const WAIT: &str = "等待中… Ctrl+C 取消 / waiting… Ctrl+C cancels";
    Some(match state {
        JobState::Held(s) => {
            let zh = match s.state_name() {
                "paper_out" => "打印机缺纸",
                "cover_open" => "打印机盖未合上",
                "error" => "打印机故障",
                "stopped" => "打印队列已暂停",
                "offline" => "打印机脱机",
                _ => "打印机未就绪",
            };
            format!(
                "{zh}，{WAIT} ({}: {})",
                s.state_name(),
                s.technician_detail()
            )
        }
        JobState::Unsupported(why) => format!("{why}\n  打印机不支持，{WAIT}"),
        JobState::Retrying(e) => format!("打印机无法连接，{WAIT} (printer not reachable: {e})"),
        JobState::Printing => "正在打印… / printing…".into(),
        _ => return None,
    })
}

fn say_waiting(state: &crate::print::job::JobState) {
    if let Some(line) = waiting_line(state) {
        out!("{line}");
    }
}

/// `--staff ID`: the staff member's PIN (read without echo, or from stdin), checked with
/// the PIN pad's rules: a wrong PIN counts towards the same lock, and all is audited.
fn staff_sign_in(store: &crate::store::Shared, staff: &pin::StaffId) -> Result<(), ExitCode> {
    let typed = read_secret(&format!("Staff PIN for {staff}: "))
        .map_err(|e| fail(format!("reading the staff PIN: {e}")))?;
    match pin::enter_staff(store, staff, &typed, &pin::Now::read()) {
        Ok(pin::Entry::Accepted(_)) => Ok(()),
        Ok(pin::Entry::Wrong { attempts_left }) => Err(fail(format!(
            "wrong staff PIN for {staff}; {attempts_left} tries left before PIN entry locks for {} minutes",
            pin::LOCKOUT.as_secs() / 60
        ))),
        Ok(pin::Entry::Locked { remaining }) => Err(fail(format!(
            "PIN entry is locked after {} wrong PINs; try again in {} s",
            pin::MAX_FAILURES,
            remaining.as_secs()
        ))),
        Ok(pin::Entry::NoPins) => Err(fail(
            "no staff PIN is set on this terminal; set one with `civic-kiosk set-pin --staff ID`",
        )),
        Err(e) => Err(fail(e)),
    }
}

/// `--printer URI` (a relative `pdf://` folder is under the data dir), else the role's.
fn printer_or_role(
    config: &Config,
    printer: Option<&str>,
    role: crate::config::PrinterRole,
) -> Result<crate::print::uri::PrinterUri, ExitCode> {
    use crate::print::uri::PrinterUri;
    match printer {
        Some(u) => match PrinterUri::parse(u) {
            Ok(PrinterUri::Pdf { dir }) if dir.is_relative() => Ok(PrinterUri::Pdf {
                dir: config.data_dir().join(dir),
            }),
            Ok(u) => Ok(u),
            Err(e) => Err(fail(format!("--printer: {e}"))),
        },
        None => Ok(config.printer_uri(role)),
    }
}

/// `civic-kiosk print-test [--role card|receipt|document] [--printer URI]`.
pub fn print_test(
    config_path: &Path,
    role: &str,
    printer: Option<&str>,
    wait_timeout: u64,
) -> ExitCode {
    use crate::config::PrinterRole;
    let (mut config, rt) = match (config_or_exit(config_path), runtime()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let wait = wait_timeout > 0;
    if wait {
        config.printers.give_up_s = i64::try_from(wait_timeout).unwrap_or(i64::MAX);
    }
    let role = match role {
        "card" => PrinterRole::Card,
        "document" => PrinterRole::Document,
        _ => PrinterRole::Receipt,
    };
    let uri = match printer_or_role(&config, printer, role) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let result = rt.block_on(async {
        // Without --wait-timeout a test page never waits for a technician: the first hold
        // cancels it. With it, the wait is said and Ctrl+C cancels.
        let (cancel, interrupted) = cancel_on_ctrl_c();
        let printed = crate::tools::test_print(
            &config,
            role,
            &uri,
            wait,
            cancel,
            |line| out!("{line}"),
            say_waiting,
        )
        .await;
        match printed {
            Err(_) if interrupted.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(CTRL_C.to_string())
            }
            other => other,
        }
    });
    match result {
        Ok(line) => {
            out!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) if e == CTRL_C => {
            eprintln!("civic-kiosk: {e}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => fail(e),
    }
}

fn confirm(prompt: &str) -> bool {
    use std::io::Write;
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Exit status of `civic-kiosk sync` when ratings are still pending at the deadline.
pub const EXIT_SYNC_PENDING: u8 = 3;

/// `civic-kiosk sync [--timeout S]`: drains the ratings outbox now, with progress.
pub fn sync_ratings(config_path: &Path, timeout_s: u64) -> ExitCode {
    use crate::ratings::sync;
    let (config, rt) = match (config_or_exit(config_path), runtime()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let store = match Store::open_in(&config.data_dir()) {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => return fail(e),
    };
    rt.block_on(async {
        let timeout = std::time::Duration::from_secs(timeout_s);
        let policy = sync::Policy::from_config(&config.ratings);
        // Reach the back office only when something is pending (an embedded one is started).
        let pending = match sync::counts(&store).await {
            Ok(c) => c.pending,
            Err(e) => return fail(e),
        };
        let reached = if pending > 0 {
            Some(
                crate::reach::reach_backoffice(&config)
                    .await
                    .map_err(|e| e.to_string()),
            )
        } else {
            None
        };
        let client = match &reached {
            Some(Ok(r)) => Ok(&r.client),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the back office was not contacted".into()),
        };
        let drained = sync::drain(&store, client, &policy, timeout, |step| out!("{step}")).await;
        if let Some(Ok(r)) = reached
            && let Some(e) = r.embedded
        {
            e.stop();
        }
        let drained = match drained {
            Ok(d) => d,
            Err(e) => return fail(e),
        };
        let lines = drained.lines(timeout);
        if drained.counts.pending == 0 {
            for l in lines {
                out!("{l}");
            }
            ExitCode::SUCCESS
        } else {
            // The last line says what is left: on stderr, as an error.
            let mut lines = lines;
            let last = lines.pop().unwrap_or_default();
            for l in lines {
                out!("{l}");
            }
            eprintln!("civic-kiosk: {last}");
            ExitCode::from(EXIT_SYNC_PENDING)
        }
    })
}

/// `civic-kiosk diagnose [--json]`: one line per part; exit 1 naming the broken ones.
pub fn diagnose(config_path: &Path, json: bool) -> ExitCode {
    let (config, rt) = match (config_or_exit(config_path), runtime()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let checks = rt.block_on(crate::diagnose::run(&config));
    let broken: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.part.as_str())
        .collect();
    if json {
        let out = serde_json::json!({ "ok": broken.is_empty(), "checks": checks });
        out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for c in &checks {
            out!(
                "{:<4} {:<17} {}",
                if c.ok { "ok" } else { "FAIL" },
                c.part,
                c.detail
            );
            if let Some(fix) = &c.fix {
                out!("     {:<17} → {fix}", "");
            }
        }
        if broken.is_empty() {
            out!("all parts work");
        } else {
            out!("broken: {}", broken.join(", "));
        }
    }
    if broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `civic-kiosk config set KEY VALUE`: edits the main config file (comments kept) when
/// this user may write it, else the settings layer in the data dir; validates the whole
/// config as `check-config` would, saves atomically, audits, and says which file it wrote.
pub fn config_set(config_path: &Path, key: &str, value: &str) -> ExitCode {
    use config::Target;
    let mut layers = match config_layers(config_path) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // "May write" is decided by trying: permission bits, ACLs, a read-only mount or an
    // immutable file all answer the same way, for root too.
    let changed = match layers.set(Target::File, key, value) {
        Ok(c) => c,
        Err(e) if e.is_permission() => {
            eprintln!(
                "civic-kiosk: {}: not writable by this user ({}); saving in the settings layer instead",
                config_path.display(),
                match &e {
                    config::SetError::Write { source, .. } => source.to_string(),
                    other => other.to_string(),
                }
            );
            // The settings layer belongs to the service user, like the store beside it.
            if let Err(code) = become_settings_owner(&layers) {
                return code;
            }
            match layers.set(Target::Settings, key, value) {
                Ok(c) => c,
                Err(e) => return nothing_saved(e.lines()),
            }
        }
        Err(e) => return nothing_saved(e.lines()),
    };
    // The audit goes into the service's store: as its owner, so no root-owned WAL.
    if let Err(e) = become_data_dir_owner(&changed.config.data_dir()) {
        eprintln!("civic-kiosk: saved, but not audited: {e}");
        report_setting(&changed, "civic-kiosk config set");
        return ExitCode::SUCCESS;
    }
    audit_and_report(&changed, "civic-kiosk config set")
}

/// `civic-kiosk config unset KEY`: removes a settings-layer value (a maintenance-page
/// change), so the main file's value or the default applies again; validated, audited.
pub fn config_unset(config_path: &Path, key: &str) -> ExitCode {
    let mut layers = match config_layers(config_path) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(code) = become_settings_owner(&layers) {
        return code;
    }
    match layers.unset_setting(key) {
        Ok(changed) => audit_and_report(&changed, "civic-kiosk config unset"),
        Err(e) => nothing_saved(e.lines()),
    }
}

/// The layers `config set` / `unset` edit: the file, the settings layer and the
/// environment overrides of this process.
fn config_layers(config_path: &Path) -> Result<config::Layers, ExitCode> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(config::ENV_PREFIX))
        .collect();
    config::Layers::read(config_path, env).map_err(|e| nothing_saved(e.lines()))
}

/// A refused edit: the lines saying why, then that nothing was saved.
fn nothing_saved(lines: Vec<String>) -> ExitCode {
    for line in lines {
        eprintln!("{line}");
    }
    eprintln!("civic-kiosk: nothing saved");
    ExitCode::from(1)
}

/// Acts as the owner of the settings layer's folder (the data dir), or says why not.
fn become_settings_owner(layers: &config::Layers) -> Result<(), ExitCode> {
    let data_dir = layers
        .settings_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    become_data_dir_owner(&data_dir).map_err(|e| {
        fail(format!(
            "cannot act as the owner of {}: {e}",
            data_dir.display()
        ))
    })
}

/// Audits a saved setting (who: the technician's login), then says what was written.
fn audit_and_report(changed: &config::SettingChanged, how: &str) -> ExitCode {
    let actor = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let audited = Store::open_in(&changed.config.data_dir()).and_then(|mut s| {
        s.audit(
            "config_changed",
            &changed.audit_detail(how),
            Some(&format!("technician ({actor})")),
        )
    });
    if let Err(e) = audited {
        eprintln!("civic-kiosk: saved, but not audited: {e}");
    }
    report_setting(changed, how);
    ExitCode::SUCCESS
}

/// What `config set` / `unset` wrote, where, and the notes for the technician.
fn report_setting(changed: &config::SettingChanged, how: &str) {
    out!(
        "wrote {} ({})",
        changed.file.display(),
        match changed.target {
            config::Target::File => "the main config file",
            config::Target::Settings => "the settings layer",
        }
    );
    out!("{}", changed.audit_detail(how));
    for note in &changed.notes {
        out!("note: {note}");
    }
    out!("a running terminal applies it when restarted (systemctl restart civic-kiosk)");
}

/// `civic-kiosk set-pin [--staff NAME] [--remove] [--list]`.
pub fn set_pin(config_path: &Path, staff: Option<&str>, remove: bool, list: bool) -> ExitCode {
    use crate::pin::{self, Holder, StaffId};
    let config = match config_or_exit(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = become_data_dir_owner(&config.data_dir()) {
        return fail(format!(
            "cannot act as the owner of {}: {e}",
            config.data_dir().display()
        ));
    }
    let store = match Store::open_in(&config.data_dir()) {
        Ok(s) => Mutex::new(s),
        Err(e) => return fail(e),
    };
    let config_hash = config.technician.pin_hash.as_deref();
    if list {
        let s = store.lock().unwrap_or_else(|p| p.into_inner());
        let (tech, staff) = match (pin::technician_set(&s, config_hash), pin::staff(&s)) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        out!("technician PIN: {}", if tech { "set" } else { "not set" });
        for (id, at) in staff {
            out!("staff {id}: set {at}");
        }
        return ExitCode::SUCCESS;
    }
    let holder = match staff.map(StaffId::parse) {
        None => Holder::Technician,
        Some(Ok(id)) => Holder::Staff(id),
        Some(Err(e)) => return fail(e),
    };
    let actor = format!(
        "cli:{}",
        std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".into())
    );
    if remove {
        let Holder::Staff(id) = &holder else {
            return fail("--remove needs --staff NAME");
        };
        return match pin::remove_staff(&store, id, &actor) {
            Ok(()) => {
                out!("staff {id}: PIN removed");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let whose = match &holder {
        Holder::Technician => "maintenance (technician) PIN".to_string(),
        Holder::Staff(id) => format!("PIN for staff {id}"),
    };
    let first = match read_secret(&format!("New {whose}, 6 to 8 digits: ")) {
        Ok(p) => p,
        Err(e) => return fail(format!("reading the PIN: {e}")),
    };
    if let Err(e) = pin::check_new(&first) {
        return fail(e);
    }
    let second = match read_secret("Again: ") {
        Ok(p) => p,
        Err(e) => return fail(format!("reading the PIN: {e}")),
    };
    if first != second {
        return fail(pin::PinError::Mismatch);
    }
    match pin::set(&store, &holder, &first, &actor, config_hash) {
        Ok(()) => {
            out!("{whose} set (argon2id hash in the local store; audited)");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// A PIN. On a terminal: the prompt and the typing go through the terminal itself, not
/// echoed (rpassword). Piped input is read a line at a time as it comes (scripts, tests).
fn read_secret(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt);
    }
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "no PIN given",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Run as root (`sudo civic-kiosk set-pin`) against a data dir owned by the service user,
/// this process becomes that user before touching the store: SQLite files (and their WAL)
/// created by root would lock the service out of its own store.
fn become_data_dir_owner(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if civic_platform::sys::euid() != 0 {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    civic_platform::sys::become_user(meta.uid(), meta.gid())
}
