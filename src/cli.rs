//! Command-line interface of `civic-kiosk` (clap): the touch UI by default, and technician subcommands.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "civic-kiosk",
    version,
    about = "自助服务终端 — self-service government terminal",
    long_about = "Runs the touch UI of a self-service terminal (default), or a technician command."
)]
pub struct Cli {
    /// Config file (default: config/kiosk.toml in a checkout, else /etc/civic-kiosk/kiosk.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the touch UI (the default).
    Run {
        /// No display: Slint's testing backend with a real event loop (tests, checks of
        /// the whole process; nothing is drawn on a screen).
        #[arg(long)]
        headless: bool,
    },
    /// Validate a config file; prints one line per problem (field and fix), exit 1 if any.
    CheckConfig {
        /// File to check (default: the --config file or the default path).
        file: Option<PathBuf>,
    },
    /// Report the terminal's state: config, back office reachability, printers, local store.
    Status {
        /// Print JSON (shape in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the version.
    Version,
    /// Assisted issuance of a 离线码 card (帮办): look the resident up, confirm, issue, verify, print.
    OfflineCode {
        /// The resident's ID number.
        #[arg(long)]
        id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Void the resident's valid card and issue a new one.
        #[arg(long)]
        reissue: bool,
        /// Print here instead of printers.card (a printer URI).
        #[arg(long)]
        printer: Option<String>,
        /// 帮办: the staff member (工号) issuing the card; their staff PIN is asked for
        /// (without echo; read from stdin when it is not a terminal). A typed number needs
        /// it when identity.keypad is "staff", and always with --reissue.
        #[arg(long, value_name = "ID")]
        staff: Option<String>,
        /// Give up on a card the printer cannot print after this many seconds (exit 1,
        /// with the reason); default printers.give_up_s. Ctrl+C cancels the job.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        wait_timeout: Option<u64>,
    },
    /// Print a test page (terminal, time, printer URI, a QR code, Chinese text with a rare
    /// character) to a role's printer or to --printer; says which status bit stops it.
    PrintTest {
        /// The printer role: card, receipt or document.
        #[arg(long, default_value = "receipt", value_parser = ["card", "receipt", "document"])]
        role: String,
        /// Print here instead of the role's printer (a printer URI).
        #[arg(long)]
        printer: Option<String>,
        /// Wait up to this many seconds for a printer that cannot print now (saying what
        /// it waits for; Ctrl+C cancels); 0, the default: do not wait.
        #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
        wait_timeout: u64,
    },
    /// Render pages headless (software renderer) to PNG, with demo data.
    Screenshot {
        /// A page name, or `all` (then --out is a folder).
        #[arg(long, default_value = "all")]
        page: String,
        /// 长者模式: large type, large targets, high contrast.
        #[arg(long)]
        large_font: bool,
        /// Language: zh_CN or en.
        #[arg(long, default_value = "zh_CN")]
        lang: String,
        /// Window size in pixels, WxH.
        #[arg(long, default_value = "1080x1920")]
        size: String,
        /// Output PNG file, or folder with --page all.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Upload the pending 好差评 ratings now, with progress. Exit 0 when none is pending;
    /// exit 3 with the pending count when the back office did not take them in time.
    Sync {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Check each part a technician can fix (back office, TLS, clock, printers, disk, store);
    /// exit 1 naming the broken parts.
    Diagnose {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The identity devices: `identity test` reads one card from identity.reader.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Change one setting in the config file: validated like check-config, saved
    /// atomically, audited. KEY is section.field, e.g. display.idle_timeout_s.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The 一网通办 catalogue: sync with the back office, search and browse the local copy.
    #[command(subcommand)]
    Catalogue(CatalogueCommand),
    /// Set the maintenance (technician) PIN, or a 帮办 staff member's with --staff: typed
    /// twice without echo (or two lines on stdin), 6 to 8 digits, stored as an argon2id hash.
    SetPin {
        /// The staff member's id (工号 or login name: letters, digits, '.', '_', '-'; not a
        /// personal name). Without it: the technician PIN.
        #[arg(long, value_name = "NAME")]
        staff: Option<String>,
        /// Remove this staff member's PIN instead (with --staff).
        #[arg(long, requires = "staff")]
        remove: bool,
        /// List the staff ids that have a PIN, and whether a technician PIN is set.
        #[arg(long, conflicts_with_all = ["staff", "remove"])]
        list: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Read one card from the ID card reader: the masked name, the validity, the SAM's
    /// status and the timings, or the exact fault (exit 1).
    Test {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Wait up to this many seconds for a card to be placed.
        #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
        wait: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set KEY to VALUE (TOML syntax: 120, true, "text", ["a", "b"]; a bare word is a string).
    Set { key: String, value: String },
    /// Remove KEY from the settings layer (`<data_dir>/settings.toml`, where the
    /// maintenance page saves): the main file's value, or the default, applies again.
    Unset { key: String },
}

#[derive(Debug, Subcommand)]
pub enum CatalogueCommand {
    /// Fetch the catalogue now (only if it changed: ETag) and keep it in the local store.
    Sync,
    /// Search the local copy as a resident would (汉字, pinyin, initials, item codes).
    Search {
        query: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Browse the local copy: themes and departments with counts, or the items of one theme.
    Browse {
        /// personal (个人) or legal (法人).
        #[arg(long, default_value = "personal")]
        audience: String,
        /// List the items of this theme.
        #[arg(long)]
        theme: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
