//! `civic-backoffice`: the reference back office (the `/api/v1` contract over HTTP or HTTPS, SQLite, fault injection).

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;

use civic_backoffice::{
    self as server, ServeLimits, ServerOptions, TlsFiles, data, faults::FaultSettings,
};

#[derive(Debug, Parser)]
#[command(
    name = "civic-backoffice",
    version,
    about = "Reference back office for civic-kiosk terminals"
)]
struct Args {
    /// Address to listen on; port 0 picks a free one. The bound address is the first line of stdout.
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: String,
    /// SQLite database; the Ed25519 signing key is kept beside it (`<db>.key`).
    #[arg(long, default_value = "backoffice.sqlite")]
    db: PathBuf,
    /// Catalogue JSON (default: the demo catalogue built in).
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// Resident registry, JSON lines {"id_number", "name", "disabled"} (default: the demo registry).
    #[arg(long)]
    residents: Option<PathBuf>,
    /// Resident codes (随申码, 电子身份证), JSON lines {"code", "kind", "id_number",
    /// "expires_at"}, each naming a resident of the registry (default: the demo codes with
    /// the demo registry, none with --residents).
    #[arg(long)]
    codes: Option<PathBuf>,
    /// Applications (办件), JSON lines {"id_number", "case_no", "item_code", "item_name",
    /// "submitted_on", "status", "timeline", "missing", "collect"}, each naming a resident
    /// of the registry (default: the demo applications with the demo registry, none with
    /// --residents).
    #[arg(long)]
    applications: Option<PathBuf>,
    /// Certificate records (证明打印), JSON lines {"id_number", "kind" (social_insurance,
    /// housing_fund, income_tax), "issuer", "columns", "months": [{"month": "2026-11",
    /// "amounts_fen": [...]}]}, months oldest first, each naming a resident of the registry
    /// (default: the demo records with the demo registry, none with --residents).
    #[arg(long)]
    certificates: Option<PathBuf>,
    /// 快办 items, a JSON array of items {"id", "item_code", "name", "fields", "prefills",
    /// "materials", "next_steps", optional "min_age"}, checked when loading (default: the
    /// demo items).
    #[arg(long)]
    quick_items: Option<PathBuf>,
    /// Token file (TOML: admin_token, [terminal_tokens] ID = TOKEN); default: the demo tokens.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Add a terminal token, ID=TOKEN (repeatable).
    #[arg(long = "terminal-token", value_name = "ID=TOKEN")]
    terminal_tokens: Vec<String>,
    /// Admin token (overrides the token file's).
    #[arg(long)]
    admin_token: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Delay every answer by N milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer 503 to this fraction of requests (0..1).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Close the connection without an answer for this fraction of requests.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Do the work, then close the connection without the answer, for this fraction.
    #[arg(long, default_value_t = 0.0)]
    lose_reply_rate: f64,
    /// Do the work, then close the connection without the answer, for the first N requests
    /// to --fault-path (later ones are answered; other paths untouched).
    #[arg(long, default_value_t = 0, requires = "fault_path")]
    lose_reply_first: u32,
    /// The path --lose-reply-first applies to, matched exactly (no query string), e.g.
    /// /api/v1/residents/me/quick-items/senior-allowance.
    #[arg(long, value_name = "PATH")]
    fault_path: Option<String>,
    /// Trickle every answer body (16 bytes every 200 ms).
    #[arg(long)]
    slow_body: bool,
    /// Seed for the fault RNG, so a run is repeatable.
    #[arg(long)]
    seed: Option<u64>,
    /// Corrupt every offline-code signature (to test the terminal's refusal).
    #[arg(long)]
    tamper_signature: bool,
    /// Answer NAME as every issued card's masked name, unsigned (to test that the
    /// terminal prints only the signed one and refuses a forged answer).
    #[arg(long, value_name = "NAME")]
    forge_name: Option<String>,
    /// Use this date as today (YYYY-MM-DD), for eligibility and expiry.
    #[arg(long)]
    today: Option<chrono::NaiveDate>,
    /// Seconds a connection has to send a complete request head (also the longest a
    /// keep-alive connection may sit idle).
    #[arg(long, default_value_t = server::server::HEADER_READ_TIMEOUT.as_secs_f64())]
    header_read_timeout_s: f64,
    /// Seconds an HTTPS connection has to finish its TLS handshake.
    #[arg(long, default_value_t = server::server::TLS_HANDSHAKE_TIMEOUT.as_secs_f64())]
    tls_handshake_timeout_s: f64,
    /// Seconds from a request's head to its answer, then 408 request_timeout.
    #[arg(long, default_value_t = server::server::REQUEST_TIMEOUT.as_secs_f64())]
    request_timeout_s: f64,
    /// Connections open at once; at the cap, new ones wait in the listen backlog.
    #[arg(long, default_value_t = server::server::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Print the signing public key (creating the key if needed) and exit.
    #[arg(long)]
    print_public_key: bool,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    log_level: log::LevelFilter,
}

fn rate(name: &str, v: f64) -> anyhow::Result<f64> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&v),
        "--{name} must be between 0 and 1, got {v}"
    );
    Ok(v)
}

/// A timeout flag: more than 0 and at most an hour.
fn seconds(name: &str, v: f64) -> anyhow::Result<std::time::Duration> {
    anyhow::ensure!(
        v > 0.0 && v <= 3600.0,
        "--{name} must be more than 0 and at most 3600 seconds, got {v}"
    );
    Ok(std::time::Duration::from_secs_f64(v))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    civic_platform::logging::install_panic_hook();
    civic_platform::logging::init(&civic_platform::logging::LogSettings {
        dir: None,
        level: args.log_level,
        max_file_bytes: 0,
        keep_files: 0,
        stderr: true,
    });
    if args.print_public_key {
        let key = server::load_or_create_key(&args.db)?;
        println!(
            "{}",
            civic_contract::api::offline_code::public_key_text(&key.verifying_key())
        );
        return Ok(());
    }
    let catalogue = match &args.catalogue {
        Some(p) => data::parse_catalogue(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        None => data::demo_catalogue()?,
    };
    let residents = match &args.residents {
        Some(p) => data::parse_residents(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        None => data::demo_residents()?,
    };
    let codes = match (&args.codes, &args.residents) {
        (Some(p), _) => data::parse_codes(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        // The demo codes name demo residents: none for another registry.
        (None, None) => data::demo_codes()?,
        (None, Some(_)) => data::CodeFile::empty(),
    };
    let applications = match (&args.applications, &args.residents) {
        (Some(p), _) => data::parse_applications(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        // The demo applications name demo residents: none for another registry.
        (None, None) => data::demo_applications()?,
        (None, Some(_)) => data::ApplicationFile::empty(),
    };
    let certificates = match (&args.certificates, &args.residents) {
        (Some(p), _) => data::parse_certificates(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        // The demo records name demo residents: none for another registry.
        (None, None) => data::demo_certificates()?,
        (None, Some(_)) => data::CertificateFile::empty(),
    };
    let quick_items = match &args.quick_items {
        Some(p) => data::parse_quick_items(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        None => data::demo_quick_items()?,
    };
    let (mut tokens, mut admin) = match &args.tokens {
        Some(p) => data::parse_tokens(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            p,
        )?,
        None => data::parse_tokens(
            data::DEMO_TOKENS,
            std::path::Path::new("config/backoffice.toml"),
        )?,
    };
    for pair in &args.terminal_tokens {
        let (id, token) = pair
            .split_once('=')
            .with_context(|| format!("--terminal-token '{pair}': write ID=TOKEN"))?;
        tokens.insert(token.to_string(), id.to_string());
    }
    if args.admin_token.is_some() {
        admin = args.admin_token.clone();
    }
    let faults = FaultSettings {
        latency_ms: args.latency_ms,
        fail_rate: rate("fail-rate", args.fail_rate)?,
        drop_rate: rate("drop-rate", args.drop_rate)?,
        lose_reply_rate: rate("lose-reply-rate", args.lose_reply_rate)?,
        slow_body: args.slow_body,
        seed: args.seed,
        lose_reply_first: args.lose_reply_first,
        fault_path: args.fault_path.clone(),
    };
    if let Some(path) = &faults.fault_path {
        anyhow::ensure!(
            path.starts_with('/') && !path.contains('?'),
            "--fault-path must be a path starting with / and without a query, got {path}"
        );
    }
    anyhow::ensure!(
        faults.fail_rate + faults.drop_rate + faults.lose_reply_rate <= 1.0,
        "--fail-rate + --drop-rate + --lose-reply-rate must not exceed 1"
    );
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let limits = ServeLimits {
        header_read_timeout: seconds("header-read-timeout-s", args.header_read_timeout_s)?,
        tls_handshake_timeout: seconds("tls-handshake-timeout-s", args.tls_handshake_timeout_s)?,
        request_timeout: seconds("request-timeout-s", args.request_timeout_s)?,
        max_connections: args.max_connections,
    };
    anyhow::ensure!(
        limits.max_connections >= 1,
        "--max-connections must be at least 1"
    );
    let state = server::build_state(ServerOptions {
        db: args.db.clone(),
        catalogue,
        residents,
        terminal_tokens: tokens,
        admin_token: admin,
        faults,
        tamper_signature: args.tamper_signature,
        forge_name: args.forge_name.clone(),
        today: args.today,
    })?;
    state.load_codes(&codes)?;
    state.load_applications(&applications)?;
    state.load_certificates(&certificates)?;
    state.load_quick_items(quick_items);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut bound = server::bind(&args.listen, tls.as_ref()).await?;
        bound.limits = limits;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", bound.addr)?;
        writeln!(out, "public_key {}", state.public_key_text())?;
        out.flush()?;
        drop(out);
        log::info!(
            "civic-backoffice {} serving {} on {}",
            env!("CARGO_PKG_VERSION"),
            if tls.is_some() { "https" } else { "http" },
            bound.addr
        );
        let (tx, rx) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(server::serve(bound, state, rx));
        shutdown_signal().await;
        log::info!("shutting down");
        let _ = tx.send(true);
        let _ = server.await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
