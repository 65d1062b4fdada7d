//! Terminal configuration: defaults, TOML file, settings layer, `CIVIC_KIOSK__SECTION__KEY` overrides and a live layer; validation that names the field and the fix; atomic save.
//!
//! Layers, later ones winning: built-in defaults, the file (`kiosk.toml`, root's), the
//! settings layer (`<data_dir>/settings.toml`, which the service itself may write: the
//! maintenance page saves there), environment overrides, then the live layer (settings the
//! back office pushes). Each layer is kept apart, so every value can be traced to its layer
//! ([`Layers::origins`]) and the settings and live layers can be replaced while running.
//! The effective config is published through a `tokio::sync::watch` channel
//! ([`ConfigHandle`]), so running parts see a change without a restart. A config that fails
//! validation is never published. Secrets ([`is_secret`]) are never shown, audited or
//! written outside the main file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

use crate::print::uri::PrinterUri;

/// Where the terminal looks for its config when `--config` is not given:
/// the checkout's `config/kiosk.toml` if present, else the installed path.
pub const INSTALLED_PATH: &str = "/etc/civic-kiosk/kiosk.toml";
pub const CHECKOUT_PATH: &str = "config/kiosk.toml";
/// Prefix of environment overrides: `CIVIC_KIOSK__DISPLAY__IDLE_TIMEOUT_S=120`.
pub const ENV_PREFIX: &str = "CIVIC_KIOSK__";

/// The word that, as `backoffice.url`, starts the reference back office in-process.
pub const EMBEDDED: &str = "embedded";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub terminal: TerminalSection,
    pub location: LocationSection,
    pub backoffice: BackofficeSection,
    pub printers: PrintersSection,
    pub display: DisplaySection,
    pub catalogue: CatalogueSection,
    pub ratings: RatingsSection,
    pub heartbeat: HeartbeatSection,
    pub offline_code: OfflineCodeSection,
    pub identity: IdentitySection,
    pub technician: TechnicianSection,
    pub storage: StorageSection,
    pub log: LogSection,
    /// Folder that relative paths are resolved against: the config file's folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalSection {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationSection {
    pub district: String,
    pub centre: String,
}

// Debug by hand: the token must not reach a log through a `{:?}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackofficeSection {
    pub url: String,
    /// Secret: never printed, logged, audited or shipped ([`is_secret`]).
    pub token: String,
    pub connect_timeout_s: f64,
    pub total_timeout_s: f64,
    pub ca_file: Option<PathBuf>,
    pub public_key: Option<String>,
    /// i64 like every count and size here: any number a file holds deserialises, and
    /// [`Config::validate`] refuses it with its bound (serde would only say "invalid value").
    pub max_body_bytes: i64,
    pub embedded_listen: String,
}

impl std::fmt::Debug for BackofficeSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackofficeSection")
            .field("url", &self.url)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "(secret)"
                },
            )
            .field("connect_timeout_s", &self.connect_timeout_s)
            .field("total_timeout_s", &self.total_timeout_s)
            .field("ca_file", &self.ca_file)
            .field("public_key", &self.public_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("embedded_listen", &self.embedded_listen)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrintersSection {
    /// How soon a held job looks at the printer again (milliseconds); the interval
    /// doubles from here up to `poll_max_s`.
    pub poll_ms: i64,
    /// The longest interval between two looks at a printer that cannot print.
    pub poll_max_s: i64,
    /// A job not printed after this many seconds fails, said plainly.
    pub give_up_s: i64,
    pub card: PrinterSection,
    pub receipt: PrinterSection,
    pub document: PrinterSection,
}

pub use crate::print::QrMode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrinterSection {
    pub uri: String,
    pub qr: QrMode,
    /// `ipps://` only: the PEM certificate (or CA) to trust for this printer instead of
    /// the system's roots (CUPS signs its own certificates).
    pub ca_file: Option<PathBuf>,
    /// Where on the terminal this printer's paper or card comes out: the print-result
    /// screen says so and shows it ("请从屏幕下方的出纸口取走").
    pub output: OutputSlot,
}

/// Where a printer's output comes out of the terminal's front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputSlot {
    /// Below the screen (most floor-standing terminals).
    #[default]
    Below,
    /// Left of the screen.
    Left,
    /// Right of the screen.
    Right,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplaySection {
    pub width: i64,
    pub height: i64,
    pub dpi: f64,
    pub idle_timeout_s: i64,
    pub language: String,
    pub large_font: bool,
    /// Notices shown on the home screen (e.g. "12月1日起…"); the back office may set them.
    pub notices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueSection {
    pub sync_interval_s: i64,
    pub stale_after_s: i64,
}

/// 好差评 on this terminal: the reason tags offered with a 差评 and the outbox sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RatingsSection {
    /// Reason tags offered with 不满意 / 非常不满意 (the back office may change them).
    pub reasons: Vec<String>,
    /// Seconds between outbox sync rounds when nothing new wakes the worker.
    pub sync_interval_s: i64,
    /// Ratings per upload (the back office takes at most 1000).
    pub batch_size: i64,
    /// First retry delay after a failed upload, in milliseconds; doubled per failure.
    pub retry_base_ms: i64,
    /// Longest retry delay, in seconds.
    pub retry_max_s: i64,
}

/// 离线码 cards on this terminal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfflineCodeSection {
    /// Deprecated: `identity.keypad`. `true` is read as `keypad = "staff"` (and
    /// `check-config` warns); `false` changes nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_staff: Option<bool>,
}

/// How a typed ID number is treated (`identity.keypad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keypad {
    /// Only with a 帮办 staff member signed in (the default with a reader).
    Staff,
    /// Anyone may type a number (the default without a reader: the demo).
    Open,
    /// Never: the ID card or a scanned code only.
    Off,
}

impl Keypad {
    pub fn name(self) -> &'static str {
        match self {
            Keypad::Staff => "staff",
            Keypad::Open => "open",
            Keypad::Off => "off",
        }
    }
}

/// Who the resident is: the ID-card reader, the code scanner, the keypad.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// The 二代身份证 reader: `gat467+serial:///dev/ttyUSB0?baud=115200`, or empty for none.
    pub reader: String,
    /// The code scanner: `serial:///dev/ttyACM0?baud=9600`, `keyboard` (a keyboard-wedge
    /// scanner typing into the window), or empty for none.
    pub scanner: String,
    /// `staff`, `open` or `off`; unset: `staff` with a reader, `open` without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypad: Option<Keypad>,
}

/// The heartbeat to the back office (health, audit entries, remote config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatSection {
    pub interval_s: i64,
}

#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TechnicianSection {
    /// Secret (an argon2 hash, still worth guessing offline): never shown.
    pub pin_hash: Option<String>,
}

impl std::fmt::Debug for TechnicianSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TechnicianSection")
            .field("pin_hash", &self.pin_hash.as_ref().map(|_| "(secret)"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    pub data_dir: PathBuf,
    /// A tmpfs for what must not outlive a boot or sit beside the data (the day key of
    /// the once-a-day rule). Empty: systemd's `$RUNTIME_DIRECTORY`, `/run/civic-kiosk`,
    /// or `$XDG_RUNTIME_DIR/civic-kiosk`, the first that can be used.
    pub runtime_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub dir: PathBuf,
    pub level: String,
    pub max_file_bytes: i64,
    pub keep_files: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            terminal: TerminalSection::default(),
            location: LocationSection::default(),
            backoffice: BackofficeSection::default(),
            printers: PrintersSection::default(),
            display: DisplaySection::default(),
            catalogue: CatalogueSection::default(),
            ratings: RatingsSection::default(),
            heartbeat: HeartbeatSection::default(),
            offline_code: OfflineCodeSection::default(),
            identity: IdentitySection::default(),
            technician: TechnicianSection::default(),
            storage: StorageSection::default(),
            log: LogSection::default(),
            base_dir: PathBuf::from("."),
        }
    }
}
impl Default for TerminalSection {
    fn default() -> Self {
        Self {
            id: "CN-DEMO-001".into(),
            name: "自助服务终端".into(),
        }
    }
}
impl Default for LocationSection {
    fn default() -> Self {
        Self {
            district: "长宁区".into(),
            centre: "长宁区行政服务中心".into(),
        }
    }
}
impl Default for BackofficeSection {
    fn default() -> Self {
        Self {
            url: EMBEDDED.into(),
            token: String::new(),
            connect_timeout_s: 3.0,
            total_timeout_s: 10.0,
            ca_file: None,
            public_key: None,
            max_body_bytes: 8 * 1024 * 1024,
            embedded_listen: "127.0.0.1:0".into(),
        }
    }
}
impl Default for PrintersSection {
    fn default() -> Self {
        let spool = PrinterSection {
            uri: "pdf://spool".into(),
            qr: QrMode::Native,
            ca_file: None,
            output: OutputSlot::Below,
        };
        Self {
            poll_ms: 2000,
            poll_max_s: 30,
            give_up_s: 300,
            card: spool.clone(),
            receipt: spool.clone(),
            document: spool,
        }
    }
}
impl Default for PrinterSection {
    fn default() -> Self {
        Self {
            uri: "pdf://spool".into(),
            qr: QrMode::Native,
            ca_file: None,
            output: OutputSlot::Below,
        }
    }
}
impl Default for DisplaySection {
    fn default() -> Self {
        Self {
            width: 1080,
            height: 1920,
            dpi: 102.0,
            idle_timeout_s: 90,
            language: "zh_CN".into(),
            large_font: false,
            notices: Vec::new(),
        }
    }
}
impl Default for CatalogueSection {
    fn default() -> Self {
        Self {
            sync_interval_s: 900,
            stale_after_s: 86400,
        }
    }
}
impl Default for RatingsSection {
    fn default() -> Self {
        Self {
            reasons: [
                "办事指南不清晰",
                "材料繁琐",
                "等候时间长",
                "服务态度差",
                "系统故障",
                "其他",
            ]
            .map(String::from)
            .to_vec(),
            sync_interval_s: 60,
            batch_size: 200,
            retry_base_ms: 1000,
            retry_max_s: 300,
        }
    }
}
impl Default for HeartbeatSection {
    fn default() -> Self {
        Self { interval_s: 60 }
    }
}
impl Default for StorageSection {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("/var/lib/civic-kiosk"),
            runtime_dir: PathBuf::new(),
        }
    }
}
impl Default for LogSection {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/var/log/civic-kiosk"),
            level: "info".into(),
            max_file_bytes: 4 * 1024 * 1024,
            keep_files: 5,
        }
    }
}

/// One thing wrong with a config: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// Dotted path (`printers.card.uri`) or `line N` for syntax errors.
    pub field: String,
    /// What is wrong and what to write instead.
    pub problem: String,
    /// The file the bad value is in, when it is not the main config file (the settings
    /// layer): so the technician edits the right file.
    pub file: Option<PathBuf>,
}

impl FieldError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            file: None,
        }
    }
}

/// Everything that can go wrong loading a config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {}", join_errors(.errors))]
    Invalid {
        path: PathBuf,
        errors: Vec<FieldError>,
    },
    #[error("{path}: cannot save: {source}")]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// One line per problem, each naming the file and the field.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid { path, errors } => errors
                .iter()
                .map(|e| format!("{}: {e}", e.file.as_deref().unwrap_or(path).display()))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Whether a setting is a secret: its value is never printed, logged, audited, shipped in a
/// heartbeat or written outside the main config file. By name, so a secret added later
/// (`*_token`, `*_password`) is covered without a list to forget.
pub fn is_secret(key: &str) -> bool {
    let field = key.rsplit('.').next().unwrap_or(key);
    field.ends_with("token")
        || field.ends_with("pin_hash")
        || field.contains("password")
        || field.contains("secret")
}

/// Keys a settings edit refuses, with the way to change them instead.
const NOT_SET_HERE: [(&str, &str); 1] = [(
    "technician.pin_hash",
    "a PIN is never typed in as a setting; use `civic-kiosk set-pin`",
)];

/// Name of the settings layer's file inside the data dir.
pub const SETTINGS_FILE: &str = "settings.toml";

/// Which layer a value came from; later ones win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The main config file (`kiosk.toml`).
    File(PathBuf),
    /// The settings layer the service writes (`<data_dir>/settings.toml`).
    Settings(PathBuf),
    /// An environment override, by variable name.
    Env(String),
    /// The back office's remote config, applied in the running terminal.
    Live,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(p) => write!(f, "file ({})", p.display()),
            Origin::Settings(p) => write!(f, "settings ({})", p.display()),
            Origin::Env(name) => write!(f, "environment ({name})"),
            Origin::Live => write!(f, "back office (remote config, live)"),
        }
    }
}

/// Where a settings edit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main config file.
    File,
    /// The settings layer in the data dir.
    Settings,
}

/// Why a settings edit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// The key or value is refused (validator lines, each naming file and field).
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// The target file could not be written (permissions, a read-only file system).
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SetError {
    /// The lines to show a technician.
    pub fn lines(&self) -> Vec<String> {
        match self {
            SetError::Refused(lines) => lines.clone(),
            other => vec![other.to_string()],
        }
    }

    /// The write was refused by the system for this user (not by the validator): the
    /// caller may try the settings layer instead.
    pub fn is_permission(&self) -> bool {
        match self {
            SetError::Write { source, .. } => {
                source.kind() == std::io::ErrorKind::PermissionDenied
                    || source.kind() == std::io::ErrorKind::ReadOnlyFilesystem
                    || source.raw_os_error() == Some(libc::EPERM)
                    || source.raw_os_error() == Some(libc::EROFS)
                    || source.raw_os_error() == Some(libc::EACCES)
            }
            SetError::Refused(_) => false,
        }
    }
}

/// One setting changed by [`Layers::set`].
#[derive(Debug, Clone)]
pub struct SettingChanged {
    pub key: String,
    /// The value in force before (as TOML), or None when the setting had none (an
    /// optional key such as `backoffice.ca_file`).
    pub old: Option<String>,
    pub new: String,
    /// The whole config as now in force.
    pub config: Config,
    /// The file written.
    pub file: PathBuf,
    pub target: Target,
    /// Anything else the technician should know (e.g. a settings-layer value removed).
    pub notes: Vec<String>,
}

impl SettingChanged {
    /// The audit entry's detail: key, old → new, how and where. A secret's values are
    /// never written: only that it changed.
    pub fn audit_detail(&self, how: &str) -> String {
        if is_secret(&self.key) {
            return format!("{}: changed ({how}, {})", self.key, self.file.display());
        }
        format!(
            "{}: {} → {} ({how}, {})",
            self.key,
            self.old.as_deref().unwrap_or("(none)"),
            self.new,
            self.file.display()
        )
    }
}

/// The default config path for this process.
pub fn default_path() -> PathBuf {
    let checkout = Path::new(CHECKOUT_PATH);
    if checkout.exists() {
        checkout.to_path_buf()
    } else {
        PathBuf::from(INSTALLED_PATH)
    }
}

/// An environment override as given: applied on top of the files, typed by what it overrides.
#[derive(Clone)]
struct EnvOverride {
    keys: Vec<String>,
    name: String,
    raw: String,
}

/// The config's layers, each kept apart so any one can be replaced (the settings layer by
/// the maintenance page, the live layer by the back office) and each value traced to its
/// layer: defaults → the file → the settings layer → the environment → the live layer.
#[derive(Clone)]
pub struct Layers {
    /// The main config file.
    pub path: PathBuf,
    file: toml::Table,
    /// `<data_dir>/settings.toml`, the data dir as the file and the environment set it.
    settings_path: PathBuf,
    settings: toml::Table,
    env: Vec<EnvOverride>,
    /// Settings pushed by the back office (applied last).
    live: toml::Table,
}

// By hand: the layers hold the token, and a Debug print must not.
impl std::fmt::Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers")
            .field("path", &self.path)
            .field("settings_path", &self.settings_path)
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, errors: Vec<FieldError>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        errors,
    }
}

fn parse_table(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| invalid(path, vec![syntax_error(text, &e)]))
}

impl Layers {
    /// Reads the file, the settings layer (if it exists) and the process environment, and
    /// validates the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let layers = Self::read(path, std::env::vars())?;
        layers.effective()?;
        Ok(layers)
    }

    /// Reads the layers without validating what they give (syntax errors only): for
    /// `config set`, which may be the fix of an invalid config.
    pub fn read(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut layers = Self::parts(path, &text, env)?;
        match std::fs::read_to_string(&layers.settings_path) {
            Ok(s) => layers.settings = parse_table(&layers.settings_path, &s)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ConfigError::Read {
                    path: layers.settings_path.clone(),
                    source,
                });
            }
        }
        Ok(layers)
    }

    /// Builds the layers from file text and `(name, value)` environment pairs, with an
    /// empty settings layer (nothing is read from disk), and validates them.
    pub fn from_parts(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let layers = Self::parts(path, text, env)?;
        layers.effective()?;
        Ok(layers)
    }

    /// [`Layers::from_parts`] with a settings layer's text as well.
    pub fn from_parts_with_settings(
        path: &Path,
        text: &str,
        settings: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut layers = Self::parts(path, text, env)?;
        layers.settings = parse_table(&layers.settings_path, settings)?;
        layers.effective()?;
        Ok(layers)
    }

    fn parts(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let file = parse_table(path, text)?;
        let mut errors = Vec::new();
        let mut overrides = Vec::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
            if keys.iter().any(String::is_empty) {
                errors.push(FieldError::new(
                    name.clone(),
                    "empty key in environment override; write CIVIC_KIOSK__SECTION__KEY",
                ));
                continue;
            }
            overrides.push(EnvOverride { keys, name, raw });
        }
        if !errors.is_empty() {
            return Err(invalid(path, errors));
        }
        // Sorted: the same environment gives the same layer whatever order it is listed in.
        overrides.sort_by(|a, b| a.name.cmp(&b.name));
        let mut layers = Self {
            path: path.to_path_buf(),
            file,
            settings_path: PathBuf::new(),
            settings: toml::Table::new(),
            env: overrides,
            live: toml::Table::new(),
        };
        layers.settings_path = layers.compute_settings_path();
        Ok(layers)
    }

    /// The folder relative paths are resolved against: the config file's folder.
    fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// The settings layer lives in the data dir that the layers below it name (it cannot
    /// move itself).
    fn compute_settings_path(&self) -> PathBuf {
        let mut t = defaults_table();
        merge(&mut t, self.file.clone());
        self.apply_env(&mut t, None);
        let data_dir = lookup(&t, &["storage".into(), "data_dir".into()])
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
            .unwrap_or_else(|| StorageSection::default().data_dir);
        let data_dir = if data_dir.is_absolute() {
            data_dir
        } else {
            self.base_dir().join(data_dir)
        };
        data_dir.join(SETTINGS_FILE)
    }

    /// The settings layer's file (it may not exist yet).
    pub fn settings_path(&self) -> &Path {
        &self.settings_path
    }

    fn apply_env(&self, table: &mut toml::Table, mut origins: Option<&mut Vec<(String, Origin)>>) {
        for o in &self.env {
            let value = env_value(&o.raw, lookup(table, &o.keys));
            if let Some(origins) = origins.as_deref_mut() {
                let mut leaves = Vec::new();
                let dotted = o.keys.join(".");
                match &value {
                    toml::Value::Table(t) => collect_leaves(&dotted, t, &mut leaves),
                    _ => leaves.push(dotted),
                }
                origins.extend(leaves.into_iter().map(|k| (k, Origin::Env(o.name.clone()))));
            }
            set_path(table, &o.keys, value);
        }
    }

    /// The merged table and, per leaf key, the layer it came from (last one wins).
    fn stack(&self) -> (toml::Table, BTreeMap<String, Origin>) {
        let mut table = defaults_table();
        let mut origins: Vec<(String, Origin)> = Vec::new();
        let layer = |table: &mut toml::Table,
                     from: &toml::Table,
                     origin: Origin,
                     origins: &mut Vec<(String, Origin)>| {
            let mut leaves = Vec::new();
            collect_leaves("", from, &mut leaves);
            origins.extend(leaves.into_iter().map(|k| (k, origin.clone())));
            merge(table, from.clone());
        };
        layer(
            &mut table,
            &self.file,
            Origin::File(self.path.clone()),
            &mut origins,
        );
        layer(
            &mut table,
            &self.settings,
            Origin::Settings(self.settings_path.clone()),
            &mut origins,
        );
        self.apply_env(&mut table, Some(&mut origins));
        layer(&mut table, &self.live, Origin::Live, &mut origins);
        (table, origins.into_iter().collect())
    }

    /// The layer a key's value comes from (the key itself or the nearest section above it).
    fn origin_of(origins: &BTreeMap<String, Origin>, field: &str) -> Origin {
        let mut key = field;
        loop {
            if let Some(o) = origins.get(key) {
                return o.clone();
            }
            match key.rsplit_once('.') {
                Some((parent, _)) => key = parent,
                None => return Origin::Default,
            }
        }
    }

    /// The validated config these layers give. On refusal, every problem found: each type
    /// error (the value dropped so the default stands in while the rest is checked), then
    /// the validator's, each naming the file its value is in.
    pub fn effective(&self) -> Result<Config, ConfigError> {
        let (table, origins) = self.stack();
        let mut errors = self.settings_layer_errors();
        let (config, dropped, type_errors) = deserialize_all(table);
        errors.extend(type_errors);
        let mut config = config.unwrap_or_default();
        config.base_dir = self.base_dir();
        for e in config.validate() {
            // A value dropped for its type is reported once, as a type error.
            if !dropped.contains(&e.field) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            return Ok(config);
        }
        for e in &mut errors {
            if e.file.is_some() || e.field.starts_with("line ") {
                continue;
            }
            match Self::origin_of(&origins, &e.field) {
                Origin::Settings(p) => e.file = Some(p),
                Origin::Env(name) => e.problem.push_str(&format!(" (set by {name})")),
                Origin::Live => e.problem.push_str(" (pushed by the back office)"),
                Origin::Default | Origin::File(_) => {}
            }
        }
        Err(invalid(&self.path, errors))
    }

    /// Keys the settings layer may not hold: secrets stay in the main file, and the data
    /// dir cannot be moved from a file inside it.
    fn settings_layer_errors(&self) -> Vec<FieldError> {
        let mut leaves = Vec::new();
        collect_leaves("", &self.settings, &mut leaves);
        leaves
            .into_iter()
            .filter_map(|k| {
                settings_refusal(&k, &self.path).map(|why| FieldError {
                    field: k,
                    problem: why,
                    file: Some(self.settings_path.clone()),
                })
            })
            .collect()
    }

    /// Replaces the live layer; on error the previous live layer stays.
    pub fn set_live(&mut self, live: toml::Table) -> Result<Config, ConfigError> {
        let previous = std::mem::replace(&mut self.live, live);
        match self.effective() {
            Ok(c) => Ok(c),
            Err(e) => {
                self.live = previous;
                Err(e)
            }
        }
    }

    /// Every key whose value differs from the default, with its value as TOML (a secret's
    /// as `(secret)`) and the layer it came from.
    pub fn origins(&self) -> Vec<(String, String, Origin)> {
        let (table, origins) = self.stack();
        let defaults = defaults_table();
        origins
            .into_iter()
            .filter_map(|(key, origin)| {
                let keys: Vec<String> = key.split('.').map(String::from).collect();
                let value = lookup(&table, &keys)?;
                if lookup(&defaults, &keys).is_some_and(|d| same_value(d, value)) {
                    return None;
                }
                let shown = if is_secret(&key) {
                    "(secret)".to_string()
                } else {
                    value.to_string()
                };
                Some((key, shown, origin))
            })
            .collect()
    }

    /// [`Layers::origins`] as a map of key → layer, for `status --json`.
    pub fn origin_map(&self) -> BTreeMap<String, String> {
        self.origins()
            .into_iter()
            .map(|(k, _, o)| (k, o.to_string()))
            .collect()
    }

    /// Sets `key` (`section.field`, or `printers.card.uri`) to `value` (TOML syntax: 120,
    /// true, "text", ["a"]; anything else is a string) in the target layer's file, keeping
    /// its comments; the whole config is validated as `check-config` would, then the file
    /// is saved atomically (mode, owner and symlinks kept) and these layers updated. On any
    /// refusal nothing is saved.
    pub fn set(
        &mut self,
        target: Target,
        key: &str,
        value: &str,
    ) -> Result<SettingChanged, SetError> {
        let file = match target {
            Target::File => self.path.clone(),
            Target::Settings => self.settings_path.clone(),
        };
        let at = |msg: String| SetError::Refused(vec![format!("{}: {msg}", file.display())]);
        if let Some((_, why)) = NOT_SET_HERE.iter().find(|(k, _)| *k == key) {
            return Err(at(format!("{key}: {why}")));
        }
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() < 2 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(at(format!(
                "'{key}' is not a setting; write section.field, e.g. display.idle_timeout_s"
            )));
        }
        if target == Target::Settings
            && let Some(why) = settings_refusal(key, &self.path)
        {
            return Err(at(format!("{key}: {why}")));
        }
        let (text, header) = match std::fs::read_to_string(&file) {
            Ok(t) => (t, ""),
            // A new settings layer starts with what it is (written above its first table:
            // a comment-only document would keep it below).
            Err(e) if target == Target::Settings && e.kind() == std::io::ErrorKind::NotFound => {
                (String::new(), SETTINGS_HEADER)
            }
            Err(e) => return Err(at(format!("cannot read: {e}"))),
        };
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| at(format!("{e}")))?;
        let new_value: toml_edit::Value = value
            .parse()
            .unwrap_or_else(|_| toml_edit::Value::from(value));
        set_in_doc(&mut doc, &parts, new_value).map_err(|m| at(format!("{key}: {m}")))?;
        let new_text = format!("{header}{doc}");
        let new_table = parse_table(&file, &new_text).map_err(|e| SetError::Refused(e.lines()))?;

        let mut candidate = self.clone();
        let mut settings_text = None;
        match target {
            Target::File => {
                candidate.file = new_table;
                // A new data dir moves the settings layer with it.
                let moved = candidate.compute_settings_path();
                if moved != candidate.settings_path {
                    candidate.settings = match std::fs::read_to_string(&moved) {
                        Ok(t) => {
                            parse_table(&moved, &t).map_err(|e| SetError::Refused(e.lines()))?
                        }
                        Err(_) => toml::Table::new(),
                    };
                    candidate.settings_path = moved;
                }
                // A settings-layer value would win over the file's: the technician's edit
                // of the main file replaces it, so the value typed is the value in force.
                if lookup_str(&candidate.settings, &parts).is_some() {
                    let s = std::fs::read_to_string(&candidate.settings_path).unwrap_or_default();
                    if let Ok(mut sdoc) = s.parse::<toml_edit::DocumentMut>() {
                        remove_in_doc(&mut sdoc, &parts);
                        let stext = sdoc.to_string();
                        candidate.settings = parse_table(&candidate.settings_path, &stext)
                            .map_err(|e| SetError::Refused(e.lines()))?;
                        settings_text = Some(stext);
                    }
                }
            }
            Target::Settings => candidate.settings = new_table,
        }
        let config = candidate
            .effective()
            .map_err(|e| SetError::Refused(e.lines()))?;
        // The typed value on its own merit too: an environment override or the back
        // office's live layer may hide it now, but not after a restart or the next push.
        let mut own = candidate.clone();
        own.env.clear();
        own.live = toml::Table::new();
        if let Err(ConfigError::Invalid { path, errors }) = own.effective() {
            let mine: Vec<FieldError> = errors.into_iter().filter(|e| e.field == key).collect();
            if !mine.is_empty() {
                return Err(SetError::Refused(invalid(&path, mine).lines()));
            }
        }
        // The key must be one the config reads (not a typo the file would keep): the saved
        // config, serialised, holds every key it read (an optional one now that it is set).
        let known = match toml::Value::try_from(&config) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        if lookup_str(&known, &parts).is_none() {
            return Err(at(format!("'{key}' is not a setting civic-kiosk reads")));
        }
        let (before, _) = self.stack();
        let old = lookup_str(&before, &parts).map(|v| v.to_string());
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
            && target == Target::Settings
        {
            std::fs::create_dir_all(dir).map_err(|source| SetError::Write {
                path: file.clone(),
                source,
            })?;
        }
        save_atomic(&file, new_text.as_bytes()).map_err(|source| SetError::Write {
            path: file.clone(),
            source,
        })?;
        let mut notes = Vec::new();
        if let Some(stext) = settings_text {
            let sp = &candidate.settings_path;
            match save_atomic(sp, stext.as_bytes()) {
                Ok(()) => notes.push(format!(
                    "{}: removed {key}, which would have won over {}",
                    sp.display(),
                    self.path.display()
                )),
                Err(e) => notes.push(format!(
                    "{}: could not remove {key} ({e}); it still wins over {} after a restart",
                    sp.display(),
                    self.path.display()
                )),
            }
        }
        // A later layer (the environment, the back office's live layer) that sets the same
        // key wins: say so, rather than let the technician think the typed value is in force.
        let (_, origins) = candidate.stack();
        if let o @ (Origin::Env(_) | Origin::Live) = Layers::origin_of(&origins, key) {
            notes.push(format!(
                "{o} also sets {key} and wins over {}",
                file.display()
            ));
        }
        *self = candidate;
        Ok(SettingChanged {
            key: key.to_string(),
            old,
            new: value.to_string(),
            config,
            file,
            target,
            notes,
        })
    }
}

impl Layers {
    /// Removes `key` from the settings layer (comments kept, validated with every layer,
    /// saved atomically): the value below it (the file's, or the default) applies again.
    pub fn unset_setting(&mut self, key: &str) -> Result<SettingChanged, SetError> {
        let file = self.settings_path.clone();
        let at = |msg: String| SetError::Refused(vec![format!("{}: {msg}", file.display())]);
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() < 2 || lookup_str(&self.settings, &parts).is_none() {
            return Err(at(format!(
                "{key} is not set in the settings layer; nothing to remove"
            )));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| at(format!("cannot read: {e}")))?;
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| at(format!("{e}")))?;
        remove_in_doc(&mut doc, &parts);
        let new_text = doc.to_string();
        let mut candidate = self.clone();
        candidate.settings =
            parse_table(&file, &new_text).map_err(|e| SetError::Refused(e.lines()))?;
        let config = candidate
            .effective()
            .map_err(|e| SetError::Refused(e.lines()))?;
        let (before, _) = self.stack();
        let (after, origins) = candidate.stack();
        let old = lookup_str(&before, &parts).map(|v| v.to_string());
        let new = lookup_str(&after, &parts)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "(none)".into());
        save_atomic(&file, new_text.as_bytes()).map_err(|source| SetError::Write {
            path: file.clone(),
            source,
        })?;
        let notes = vec![format!(
            "{key} now comes from: {}",
            Layers::origin_of(&origins, key)
        )];
        *self = candidate;
        Ok(SettingChanged {
            key: key.to_string(),
            old,
            new,
            config,
            file,
            target: Target::Settings,
            notes,
        })
    }
}

/// The first lines of a settings layer created by the terminal.
const SETTINGS_HEADER: &str = "\
# civic-kiosk settings layer: values set on the maintenance page (or by `civic-kiosk config
# set` when the main config file is not writable). They win over the main config file;
# environment overrides and the back office's remote config win over them.
# Checked like the main file: civic-kiosk check-config
";

/// Why a key may not be in the settings layer, if it may not.
fn settings_refusal(key: &str, main: &Path) -> Option<String> {
    if is_secret(key) {
        return Some(format!(
            "is a secret and stays in {} only; set it there as a user who may write it (e.g. sudo civic-kiosk config set)",
            main.display()
        ));
    }
    if key == "storage.data_dir" || key.starts_with("storage.data_dir.") {
        return Some(format!(
            "the settings layer lives inside the data dir and cannot move it; set it in {}",
            main.display()
        ));
    }
    None
}

fn lookup_str<'a>(table: &'a toml::Table, keys: &[&str]) -> Option<&'a toml::Value> {
    let (first, rest) = keys.split_first()?;
    let v = table.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup_str(v.as_table()?, rest)
    }
}

fn set_in_doc(
    doc: &mut toml_edit::DocumentMut,
    parts: &[&str],
    new_value: toml_edit::Value,
) -> Result<(), String> {
    let mut table = doc.as_table_mut();
    for section in &parts[..parts.len() - 1] {
        let entry = table
            .entry(section)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        match entry.as_table_mut() {
            Some(t) => table = t,
            None => return Err(format!("'{section}' is not a section")),
        }
    }
    let field = parts[parts.len() - 1];
    match table.get_mut(field).and_then(|i| i.as_value_mut()) {
        // Replace the value in place: the key, and the comment above it, stay.
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = new_value;
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(field, toml_edit::value(new_value));
        }
    }
    Ok(())
}

fn remove_in_doc(doc: &mut toml_edit::DocumentMut, parts: &[&str]) {
    let mut table = doc.as_table_mut();
    for section in &parts[..parts.len() - 1] {
        match table.get_mut(section).and_then(|i| i.as_table_mut()) {
            Some(t) => table = t,
            None => return,
        }
    }
    table.remove(parts[parts.len() - 1]);
}

/// Deserialises, dropping each value serde refuses (so its default stands in) until the
/// rest deserialises: every type error of a file in one run. Returns the config (None if
/// it never deserialised), the dotted keys dropped, and their errors.
fn deserialize_all(mut table: toml::Table) -> (Option<Config>, Vec<String>, Vec<FieldError>) {
    let mut dropped = Vec::new();
    let mut errors = Vec::new();
    // Each round drops one key, so a file cannot loop more often than it has keys; and at
    // most MAX_TYPE_ERRORS rounds, so a file of a million bad keys is answered at once.
    for _ in 0..MAX_TYPE_ERRORS {
        match serde_path_to_error::deserialize::<_, Config>(toml::Value::Table(table.clone())) {
            Ok(c) => return (Some(c), dropped, errors),
            Err(e) => {
                let keys: Vec<String> = e
                    .path()
                    .iter()
                    .map_while(|s| match s {
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        _ => None,
                    })
                    .collect();
                let mut fe = deserialize_error(&e);
                // An unknown key is named in the message; the path may stop at its section.
                let mut remove = keys.clone();
                if let Some(unknown) = unknown_field(e.inner().message())
                    && remove.last() != Some(&unknown)
                {
                    remove.push(unknown.clone());
                    fe.field = remove.join(".");
                }
                let dotted = remove.join(".");
                errors.push(fe);
                if remove.is_empty() || !remove_path(&mut table, &remove) {
                    return (None, dropped, errors);
                }
                dropped.push(dotted);
            }
        }
    }
    errors.push(FieldError::new(
        "config",
        format!(
            "more than {MAX_TYPE_ERRORS} values of the wrong type or unknown keys; fix these and run check-config again"
        ),
    ));
    (None, dropped, errors)
}

/// Type errors reported in one run at most.
const MAX_TYPE_ERRORS: usize = 100;

/// `unknown field `widht`, expected …` → `widht`.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn remove_path(table: &mut toml::Table, keys: &[String]) -> bool {
    match keys {
        [] => false,
        [last] => table.remove(last).is_some(),
        [first, rest @ ..] => match table.get_mut(first) {
            Some(toml::Value::Table(t)) => remove_path(t, rest),
            _ => false,
        },
    }
}

/// Equal as settings: `3` in a file is the default `3.0` of a float field.
fn same_value(a: &toml::Value, b: &toml::Value) -> bool {
    match (a, b) {
        (toml::Value::Integer(i), toml::Value::Float(f))
        | (toml::Value::Float(f), toml::Value::Integer(i)) => *i as f64 == *f,
        _ => a == b,
    }
}

fn collect_leaves(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => collect_leaves(&key, t, out),
            _ => out.push(key),
        }
    }
}

/// Loads and validates a config file (with its settings layer) with the process
/// environment applied.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    Layers::load(path)?.effective()
}

fn defaults_table() -> toml::Table {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn lookup<'a>(table: &'a toml::Table, keys: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = keys.split_first()?;
    let v = table.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup(v.as_table()?, rest)
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return;
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    if let toml::Value::Table(t) = entry {
        set_path(t, rest, value);
    }
}

/// An environment value keeps the type of the setting it overrides: text stays text
/// (a terminal id of `12` is not a number), anything else is read as a TOML value.
fn env_value(raw: &str, existing: Option<&toml::Value>) -> toml::Value {
    if matches!(existing, Some(toml::Value::String(_))) {
        return toml::Value::String(raw.to_string());
    }
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn syntax_error(text: &str, e: &toml::de::Error) -> FieldError {
    let where_ = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            format!("line {l}, column {c}")
        }
        None => "file".into(),
    };
    FieldError::new(
        where_,
        format!(
            "malformed TOML: {}; fix the syntax there (strings in \"quotes\", one key = value per line)",
            e.message().split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    )
}

fn deserialize_error(e: &serde_path_to_error::Error<toml::de::Error>) -> FieldError {
    let path = e.path().to_string();
    let field = if path.is_empty() || path == "." {
        "config".to_string()
    } else {
        path
    };
    // serde quotes the refused value ("invalid type: integer `5`"): not for a secret.
    let msg = if is_secret(&field) {
        "has the wrong type; write it as text in \"quotes\" (the value is not shown: it is a secret)".to_string()
    } else {
        e.inner()
            .message()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    FieldError::new(
        field,
        format!("{msg}; see the comments in config/kiosk.toml for the allowed keys and types"),
    )
}

fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Upper bounds of the numbers in [`Config`], enforced by [`Config::validate`] and stated
/// in the comments of config/kiosk.toml and packaging/kiosk.toml.
pub const MAX_TIMEOUT_S: f64 = 600.0;
pub const MAX_BODY_BYTES: i64 = 64 << 20;
pub const MAX_PIXELS: i64 = 8192;
pub const MAX_DPI: f64 = 600.0;
pub const MAX_IDLE_TIMEOUT_S: i64 = 3600;
/// One day, the bound of intervals.
pub const DAY_S: i64 = 86_400;
pub const MAX_STALE_AFTER_S: i64 = 30 * DAY_S;
pub const MAX_HEARTBEAT_S: i64 = 3600;
pub const MAX_RATINGS_SYNC_S: i64 = 3600;
pub const MAX_BATCH: i64 = 1000;
pub const MAX_RETRY_BASE_MS: i64 = 600_000;
pub const MAX_RETRY_MAX_S: i64 = DAY_S;
pub const MAX_PRINT_POLL_MS: i64 = 60_000;
pub const MAX_PRINT_POLL_MAX_S: i64 = 600;
pub const MAX_PRINT_GIVE_UP_S: i64 = 3600;
pub const MAX_LOG_FILE_BYTES: i64 = 256 << 20;
pub const MAX_KEEP_FILES: i64 = 100;

impl Config {
    /// Every problem found, each with its field and fix. Empty means valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, problem: String| errors.push(FieldError::new(field, problem));
        // Every number's upper bound: above it a value is a typo, and some (a sync interval
        // of 2^63 seconds) would overflow the workers' clocks.
        macro_rules! above {
            ($field:expr, $v:expr, $max:expr, $what:expr, $example:expr $(,)?) => {
                err(
                    $field,
                    format!(
                        "{} is above the limit of {} ({}); use e.g. {}",
                        $v, $max, $what, $example
                    ),
                )
            };
        }
        if self.terminal.id.trim().is_empty() {
            err(
                "terminal.id",
                "is empty; set the id the back office knows this terminal by, e.g. \"CN-TSL-001\""
                    .into(),
            );
        } else if !self
            .terminal
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            err(
                "terminal.id",
                format!(
                    "'{}' may only hold letters, digits, '-' and '_'",
                    self.terminal.id
                ),
            );
        }
        if self.terminal.name.trim().is_empty() {
            err(
                "terminal.name",
                "is empty; set the name shown on screen, e.g. \"天山路街道 1号机\"".into(),
            );
        }
        if self.location.centre.trim().is_empty() {
            err(
                "location.centre",
                "is empty; set the service centre's name (printed on cards)".into(),
            );
        }

        let b = &self.backoffice;
        if b.url.trim() != EMBEDDED {
            match url::Url::parse(b.url.trim()) {
                Err(e) => err(
                    "backoffice.url",
                    format!(
                        "'{}' is not a URL ({e}); write https://HOST/ or the word embedded",
                        b.url
                    ),
                ),
                Ok(u) => match (u.scheme(), u.host()) {
                    ("https", Some(_)) => {}
                    ("http", Some(h)) if is_loopback_host(&h) => {}
                    ("http", Some(h)) => err(
                        "backoffice.url",
                        format!(
                            "plain http to '{h}' is refused: resident data would cross the network unencrypted; use https:// (http is allowed only for loopback)"
                        ),
                    ),
                    (s, _) => err(
                        "backoffice.url",
                        format!(
                            "scheme '{s}' is not supported; use https://HOST/ or the word embedded"
                        ),
                    ),
                },
            }
            if b.token.trim().is_empty() {
                err(
                    "backoffice.token",
                    "is empty; set this terminal's bearer token issued by the back office".into(),
                );
            }
            match &b.public_key {
                None => err("backoffice.public_key", "is required unless backoffice.url is embedded; set the back office's Ed25519 key (base64), see `civic-backoffice --print-public-key`".into()),
                Some(k) if crate::api::offline_code::parse_public_key(k).is_err() => err("backoffice.public_key", "cannot be parsed: expected 32 bytes of base64 (44 characters ending in '='), as the back office prints it".into()),
                Some(_) => {}
            }
        } else if let Some(k) = &b.public_key
            && crate::api::offline_code::parse_public_key(k).is_err()
        {
            err("backoffice.public_key", "cannot be parsed: expected 32 bytes of base64; or remove it (embedded mode trusts its own key)".into());
        }
        for (field, v) in [
            ("backoffice.connect_timeout_s", b.connect_timeout_s),
            ("backoffice.total_timeout_s", b.total_timeout_s),
        ] {
            if v.is_finite() && v > MAX_TIMEOUT_S {
                above!(
                    field,
                    v.to_string(),
                    MAX_TIMEOUT_S.to_string(),
                    "ten minutes",
                    "5"
                );
            } else if !(v.is_finite() && v > 0.0) {
                err(
                    field,
                    format!(
                        "{v} is not a timeout; use a number of seconds above 0 and at most 600, e.g. 5"
                    ),
                );
            }
        }
        if b.connect_timeout_s > b.total_timeout_s {
            err(
                "backoffice.connect_timeout_s",
                format!(
                    "{} is longer than backoffice.total_timeout_s ({}); make it shorter",
                    b.connect_timeout_s, b.total_timeout_s
                ),
            );
        }
        if let Some(ca) = &b.ca_file {
            let p = self.resolve(ca);
            if !p.is_file() {
                err(
                    "backoffice.ca_file",
                    format!(
                        "'{}' does not exist; give the PEM file of the CA that signed the back office's certificate, or remove the key",
                        p.display()
                    ),
                );
            }
        }
        if b.max_body_bytes > MAX_BODY_BYTES {
            above!(
                "backoffice.max_body_bytes",
                b.max_body_bytes.to_string(),
                MAX_BODY_BYTES.to_string(),
                "64 MiB",
                "8388608",
            );
        } else if b.max_body_bytes < 1024 {
            err(
                "backoffice.max_body_bytes",
                format!(
                    "{} is too small; use at least 1024 (default 8388608)",
                    b.max_body_bytes
                ),
            );
        }
        if b.embedded_listen
            .parse::<std::net::SocketAddr>()
            .map(|a| !a.ip().is_loopback())
            .unwrap_or(true)
        {
            err(
                "backoffice.embedded_listen",
                format!(
                    "'{}' is not a loopback address; use 127.0.0.1:0 (any free port) or 127.0.0.1:PORT",
                    b.embedded_listen
                ),
            );
        }

        for (role, p) in [
            ("card", &self.printers.card),
            ("receipt", &self.printers.receipt),
            ("document", &self.printers.document),
        ] {
            if let Err(e) = PrinterUri::parse(&p.uri) {
                err(&format!("printers.{role}.uri"), e);
            }
            if let Some(ca) = &p.ca_file {
                let path = self.resolve(ca);
                if !p.uri.trim_start().starts_with("ipps://") {
                    err(
                        &format!("printers.{role}.ca_file"),
                        format!(
                            "is only used by an ipps:// printer, and printers.{role}.uri is '{}'; remove the key",
                            p.uri
                        ),
                    );
                } else if !path.is_file() {
                    err(
                        &format!("printers.{role}.ca_file"),
                        format!(
                            "'{}' does not exist; give the PEM file of the printer's certificate (CUPS: /etc/cups/ssl/<host>.crt) or of the CA that signed it, or remove the key",
                            path.display()
                        ),
                    );
                }
            }
        }

        let d = &self.display;
        if d.width > MAX_PIXELS {
            above!(
                "display.width",
                d.width.to_string(),
                MAX_PIXELS.to_string(),
                "pixels",
                "1080"
            );
        } else if d.width < 240 {
            err(
                "display.width",
                format!("{} pixels is not a screen width; use e.g. 1080", d.width),
            );
        }
        if d.height > MAX_PIXELS {
            above!(
                "display.height",
                d.height.to_string(),
                MAX_PIXELS.to_string(),
                "pixels",
                "1920"
            );
        } else if d.height < 240 {
            err(
                "display.height",
                format!("{} pixels is not a screen height; use e.g. 1920", d.height),
            );
        }
        if d.dpi.is_finite() && d.dpi > MAX_DPI {
            above!(
                "display.dpi",
                d.dpi.to_string(),
                MAX_DPI.to_string(),
                "pixels per inch",
                "102"
            );
        } else if !(d.dpi.is_finite() && d.dpi >= 50.0) {
            err(
                "display.dpi",
                format!(
                    "{} is not a panel density; use the panel's pixels per inch, e.g. 102 for a 21.5-inch 1080p panel",
                    d.dpi
                ),
            );
        }
        if d.idle_timeout_s > MAX_IDLE_TIMEOUT_S {
            above!(
                "display.idle_timeout_s",
                d.idle_timeout_s.to_string(),
                MAX_IDLE_TIMEOUT_S.to_string(),
                "one hour: a resident's data must not stay on screen longer",
                "90",
            );
        } else if d.idle_timeout_s <= 0 {
            err(
                "display.idle_timeout_s",
                format!(
                    "{} is not a timeout; use a positive number of seconds, e.g. 90",
                    d.idle_timeout_s
                ),
            );
        } else if d.idle_timeout_s < 20 {
            err(
                "display.idle_timeout_s",
                format!(
                    "{} s is too short for an elderly resident to read a screen; use at least 20, e.g. 90",
                    d.idle_timeout_s
                ),
            );
        }
        if !matches!(d.language.as_str(), "zh_CN" | "en") {
            err(
                "display.language",
                format!("'{}' is not offered; use \"zh_CN\" or \"en\"", d.language),
            );
        }

        if self.catalogue.sync_interval_s > DAY_S {
            above!(
                "catalogue.sync_interval_s",
                self.catalogue.sync_interval_s.to_string(),
                DAY_S.to_string(),
                "one day",
                "900",
            );
        } else if self.catalogue.sync_interval_s < 30 {
            err(
                "catalogue.sync_interval_s",
                format!(
                    "{} is too often; use at least 30 seconds, e.g. 900",
                    self.catalogue.sync_interval_s
                ),
            );
        }
        if self.catalogue.stale_after_s > MAX_STALE_AFTER_S {
            above!(
                "catalogue.stale_after_s",
                self.catalogue.stale_after_s.to_string(),
                MAX_STALE_AFTER_S.to_string(),
                "30 days",
                "86400",
            );
        } else if self.catalogue.stale_after_s <= 0 {
            err(
                "catalogue.stale_after_s",
                format!(
                    "{} is not an age; use a positive number of seconds, e.g. 86400 (one day)",
                    self.catalogue.stale_after_s
                ),
            );
        }
        if d.notices.len() > 5 {
            err(
                "display.notices",
                format!(
                    "{} notices do not fit on the home screen; use at most 5",
                    d.notices.len()
                ),
            );
        } else if let Some(n) = d
            .notices
            .iter()
            .find(|n| n.trim().is_empty() || n.chars().count() > 80)
        {
            err(
                "display.notices",
                format!(
                    "'{n}' is not a notice; use 1 to 80 characters, e.g. \"12月1日起本机可打印离线码卡片\""
                ),
            );
        }
        if self.heartbeat.interval_s > MAX_HEARTBEAT_S {
            above!(
                "heartbeat.interval_s",
                self.heartbeat.interval_s.to_string(),
                MAX_HEARTBEAT_S.to_string(),
                "one hour: the back office must see a dead terminal the same hour",
                "60",
            );
        } else if self.heartbeat.interval_s < 10 {
            err(
                "heartbeat.interval_s",
                format!(
                    "{} is outside 10..3600 seconds; use e.g. 60",
                    self.heartbeat.interval_s
                ),
            );
        }
        let r = &self.ratings;
        if r.reasons.is_empty() {
            err(
                "ratings.reasons",
                "is empty; a 差评 needs at least one reason to choose, e.g. [\"其他\"]".into(),
            );
        } else if let Some(bad) = r
            .reasons
            .iter()
            .find(|t| t.trim().is_empty() || t.chars().count() > 12)
        {
            err(
                "ratings.reasons",
                format!("'{bad}' is not a reason tag; use 1 to 12 characters, e.g. \"等候时间长\""),
            );
        }
        if r.sync_interval_s > MAX_RATINGS_SYNC_S {
            above!(
                "ratings.sync_interval_s",
                r.sync_interval_s.to_string(),
                MAX_RATINGS_SYNC_S.to_string(),
                "one hour: 差评 are followed up the same day",
                "60",
            );
        } else if r.sync_interval_s < 5 {
            err(
                "ratings.sync_interval_s",
                format!(
                    "{} is too often; use at least 5 seconds, e.g. 60",
                    r.sync_interval_s
                ),
            );
        }
        if r.batch_size > MAX_BATCH {
            above!(
                "ratings.batch_size",
                r.batch_size.to_string(),
                MAX_BATCH.to_string(),
                "ratings per upload the back office takes",
                "200",
            );
        } else if r.batch_size < 1 {
            err(
                "ratings.batch_size",
                format!(
                    "{} ratings per upload is outside 1..1000 (the back office's limit); use e.g. 200",
                    r.batch_size
                ),
            );
        }
        let p = &self.printers;
        for (field, v, lo, max, what, example) in [
            (
                "printers.poll_ms",
                p.poll_ms,
                10,
                MAX_PRINT_POLL_MS,
                "a minute",
                "2000",
            ),
            (
                "printers.poll_max_s",
                p.poll_max_s,
                1,
                MAX_PRINT_POLL_MAX_S,
                "ten minutes",
                "30",
            ),
            (
                "printers.give_up_s",
                p.give_up_s,
                1,
                MAX_PRINT_GIVE_UP_S,
                "an hour",
                "300",
            ),
        ] {
            if v > max {
                above!(field, v.to_string(), max.to_string(), what, example);
            } else if v < lo {
                err(
                    field,
                    format!(
                        "{v} is below {lo}: a held job would ask the printer without pause or never wait; use e.g. {example}"
                    ),
                );
            }
        }
        if r.retry_base_ms > MAX_RETRY_BASE_MS {
            above!(
                "ratings.retry_base_ms",
                r.retry_base_ms.to_string(),
                MAX_RETRY_BASE_MS.to_string(),
                "ten minutes",
                "1000",
            );
        } else if r.retry_base_ms < 10 {
            err(
                "ratings.retry_base_ms",
                format!(
                    "{} ms is too short a first retry; use at least 10, e.g. 1000",
                    r.retry_base_ms
                ),
            );
        }
        if r.retry_max_s > MAX_RETRY_MAX_S {
            above!(
                "ratings.retry_max_s",
                r.retry_max_s.to_string(),
                MAX_RETRY_MAX_S.to_string(),
                "one day",
                "300",
            );
        } else if r.retry_max_s < 1
            || r.retry_max_s.saturating_mul(1000) < r.retry_base_ms.min(MAX_RETRY_BASE_MS)
        {
            err(
                "ratings.retry_max_s",
                format!(
                    "{} s must be at least 1 and not below ratings.retry_base_ms; use e.g. 300",
                    r.retry_max_s
                ),
            );
        }
        if let Some(h) = &self.technician.pin_hash
            && !h.starts_with("$argon2")
        {
            err("technician.pin_hash", "is not an argon2 hash (a PHC string starting with $argon2); set PINs with `civic-kiosk set-pin`, never a PIN here in plain text".into());
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            err(
                "storage.data_dir",
                "is empty; use e.g. /var/lib/civic-kiosk".into(),
            );
        }
        if !self.storage.runtime_dir.as_os_str().is_empty()
            && self.runtime_dir().starts_with(self.data_dir())
        {
            err(
                "storage.runtime_dir",
                "is inside storage.data_dir: the day key would sit beside the keys it protects; use a tmpfs such as /run/civic-kiosk, or leave it empty".into(),
            );
        }
        if self.offline_code.require_staff == Some(true)
            && let Some(k) = self.identity.keypad
            && k != Keypad::Staff
        {
            err(
                "identity.keypad",
                format!(
                    "is \"{}\" but the deprecated offline_code.require_staff = true asks for \"staff\"; remove offline_code.require_staff and keep the one you mean",
                    k.name()
                ),
            );
        }
        let reader = self.identity.reader.trim();
        if !reader.is_empty()
            && let Err(e) = civic_devices::reader::ReaderUri::parse(reader)
        {
            err("identity.reader", e.to_string());
        }
        if let Err(e) = civic_devices::scanner::ScannerUri::parse(&self.identity.scanner) {
            err("identity.scanner", e.to_string());
        }
        if self.log.dir.as_os_str().is_empty() {
            err("log.dir", "is empty; use e.g. /var/log/civic-kiosk".into());
        }
        if self.log.level.parse::<log::LevelFilter>().is_err() {
            err(
                "log.level",
                format!(
                    "'{}' is not a level; use error, warn, info, debug or trace",
                    self.log.level
                ),
            );
        }
        if self.log.keep_files > MAX_KEEP_FILES {
            above!(
                "log.keep_files",
                self.log.keep_files.to_string(),
                MAX_KEEP_FILES.to_string(),
                "old log files",
                "5",
            );
        } else if self.log.keep_files < 0 {
            err(
                "log.keep_files",
                format!(
                    "{} is not a count; use 0 (no old files) or more, e.g. 5",
                    self.log.keep_files
                ),
            );
        }
        if self.log.max_file_bytes > MAX_LOG_FILE_BYTES {
            above!(
                "log.max_file_bytes",
                self.log.max_file_bytes.to_string(),
                MAX_LOG_FILE_BYTES.to_string(),
                "256 MiB: logs live on the terminal's flash",
                "4194304",
            );
        } else if self.log.max_file_bytes < 4096 {
            err(
                "log.max_file_bytes",
                format!(
                    "{} is too small; use at least 4096 (default 4194304)",
                    self.log.max_file_bytes
                ),
            );
        }
        errors
    }

    /// A path from the config, made absolute against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.storage.data_dir)
    }

    /// `storage.runtime_dir` resolved (empty when not set: see [`crate::daykey::runtime_dir`]).
    pub fn runtime_dir(&self) -> PathBuf {
        if self.storage.runtime_dir.as_os_str().is_empty() {
            PathBuf::new()
        } else {
            self.resolve(&self.storage.runtime_dir)
        }
    }

    pub fn log_dir(&self) -> PathBuf {
        self.resolve(&self.log.dir)
    }

    pub fn is_embedded(&self) -> bool {
        self.backoffice.url.trim() == EMBEDDED
    }

    /// How a typed ID number is treated: `identity.keypad`, else the deprecated
    /// `offline_code.require_staff = true` as `staff`, else `staff` with a reader and
    /// `open` without one.
    pub fn keypad(&self) -> Keypad {
        match (self.identity.keypad, self.offline_code.require_staff) {
            (Some(k), _) => k,
            (None, Some(true)) => Keypad::Staff,
            (None, _) if !self.identity.reader.trim().is_empty() => Keypad::Staff,
            (None, _) => Keypad::Open,
        }
    }

    /// What is valid but should change: deprecated keys, each with its replacement.
    pub fn warnings(&self) -> Vec<FieldError> {
        let mut w = Vec::new();
        if let Some(v) = self.offline_code.require_staff {
            w.push(FieldError::new(
                "offline_code.require_staff",
                format!(
                    "is deprecated; use identity.keypad = \"{}\" (read as that now){}",
                    if v { "staff" } else { self.keypad().name() },
                    if v {
                        ""
                    } else {
                        ": require_staff = false changes nothing, remove it"
                    }
                ),
            ));
        }
        w
    }

    // The conversions below clamp to the validator's bounds: a config that was never
    // validated (a test's, a struct literal) still cannot panic a worker.
    pub fn connect_timeout(&self) -> std::time::Duration {
        seconds_f64(self.backoffice.connect_timeout_s, 3.0)
    }

    pub fn total_timeout(&self) -> std::time::Duration {
        seconds_f64(self.backoffice.total_timeout_s, 10.0)
    }

    /// `backoffice.max_body_bytes` as the client takes it.
    pub fn max_body_bytes(&self) -> u64 {
        self.backoffice.max_body_bytes.clamp(1024, MAX_BODY_BYTES) as u64
    }

    /// `log.max_file_bytes` as the logger takes it.
    pub fn log_max_file_bytes(&self) -> u64 {
        self.log.max_file_bytes.clamp(4096, MAX_LOG_FILE_BYTES) as u64
    }

    /// `log.keep_files` as the logger takes it.
    pub fn log_keep_files(&self) -> u32 {
        self.log.keep_files.clamp(0, MAX_KEEP_FILES) as u32
    }

    /// A printer role's URI, parsed (validation guarantees it parses). A relative `pdf://`
    /// folder is resolved against the data dir.
    pub fn printer_uri(&self, role: PrinterRole) -> PrinterUri {
        let section = self.printer(role);
        match PrinterUri::parse(&section.uri) {
            Ok(PrinterUri::Pdf { dir }) if dir.is_relative() => PrinterUri::Pdf {
                dir: self.data_dir().join(dir),
            },
            Ok(u) => u,
            Err(_) => PrinterUri::Pdf {
                dir: self.data_dir().join("spool"),
            },
        }
    }

    /// The one place printer job options are made from the config: the role's QR mode
    /// and `ca_file`, the terminal id as the user, `printers.poll_ms` / `poll_max_s` /
    /// `give_up_s`, the default timeouts.
    pub fn job_options(&self, role: PrinterRole) -> crate::print::JobOptions {
        let p = &self.printers;
        let ms = |v: i64| std::time::Duration::from_millis(u64::try_from(v).unwrap_or(0));
        crate::print::JobOptions {
            qr: self.printer(role).qr,
            user: self.terminal.id.clone(),
            ca_file: self.printer_ca_file(role),
            waits: crate::print::job::Waits {
                poll: ms(p.poll_ms),
                poll_max: ms(p.poll_max_s.saturating_mul(1000)),
                give_up: ms(p.give_up_s.saturating_mul(1000)),
            },
            ..Default::default()
        }
    }

    /// The role's `printers.<role>.ca_file`, resolved against the config's folder.
    pub fn printer_ca_file(&self, role: PrinterRole) -> Option<PathBuf> {
        self.printer(role).ca_file.as_ref().map(|p| self.resolve(p))
    }

    pub fn printer(&self, role: PrinterRole) -> &PrinterSection {
        match role {
            PrinterRole::Card => &self.printers.card,
            PrinterRole::Receipt => &self.printers.receipt,
            PrinterRole::Document => &self.printers.document,
        }
    }
}

fn seconds_f64(v: f64, fallback: f64) -> std::time::Duration {
    let v = if v.is_finite() && v > 0.0 {
        v.min(MAX_TIMEOUT_S)
    } else {
        fallback
    };
    std::time::Duration::from_secs_f64(v)
}

/// What a printer is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterRole {
    /// 离线码 cards (85.6 × 54 mm).
    Card,
    /// Receipt slips (80 mm roll).
    Receipt,
    /// A4 documents.
    Document,
}

impl PrinterRole {
    pub const ALL: [PrinterRole; 3] = [
        PrinterRole::Card,
        PrinterRole::Receipt,
        PrinterRole::Document,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PrinterRole::Card => "card",
            PrinterRole::Receipt => "receipt",
            PrinterRole::Document => "document",
        }
    }
}

pub use civic_platform::fs::save_atomic;

/// The effective config, shared with running parts that watch it.
#[derive(Clone)]
pub struct ConfigHandle {
    layers: Arc<Mutex<Layers>>,
    tx: Arc<watch::Sender<Arc<Config>>>,
}

/// Whether running parts read `key` again when the config changes, so a change applies
/// at once (the idle timer, the sync workers' next wait, the home notices, the 差评
/// reasons); anything else applies when the terminal restarts. The `live` column of the
/// one table of settable keys, [`crate::api::SETTABLE`].
pub fn applied_live(key: &str) -> bool {
    crate::api::settable(key).is_some_and(|s| s.live)
}

impl ConfigHandle {
    pub fn new(layers: Layers) -> Result<Self, ConfigError> {
        let config = layers.effective()?;
        let (tx, _rx) = watch::channel(Arc::new(config));
        Ok(Self {
            layers: Arc::new(Mutex::new(layers)),
            tx: Arc::new(tx),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Layers> {
        self.layers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The config in force now.
    pub fn current(&self) -> Arc<Config> {
        self.tx.borrow().clone()
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.tx.subscribe()
    }

    /// Replaces the live layer. A layer that fails validation changes nothing.
    pub fn set_live(&self, live: toml::Table) -> Result<Arc<Config>, ConfigError> {
        let mut layers = self.lock();
        let config = Arc::new(layers.set_live(live)?);
        self.tx.send_replace(config.clone());
        Ok(config)
    }

    /// Saves one setting into the settings layer (validated with every layer, saved
    /// atomically) and puts the result in force: running parts that read it live see it
    /// now (see [`applied_live`]). Blocking file I/O: call it off the UI thread.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<SettingChanged, SetError> {
        let mut layers = self.lock();
        let changed = layers.set(Target::Settings, key, value)?;
        self.tx.send_replace(Arc::new(changed.config.clone()));
        Ok(changed)
    }

    /// The settings layer's file.
    pub fn settings_path(&self) -> PathBuf {
        self.lock().settings_path().to_path_buf()
    }

    /// Each non-default value's layer (see [`Layers::origin_map`]).
    pub fn origin_map(&self) -> BTreeMap<String, String> {
        self.lock().origin_map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(text: &str, env: &[(&str, &str)]) -> Result<Layers, ConfigError> {
        Layers::from_parts(
            Path::new("config/kiosk.toml"),
            text,
            env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
        )
    }

    fn first_line(text: &str) -> String {
        layers(text, &[]).unwrap_err().lines()[0].clone()
    }

    #[test]
    fn shipped_config_is_valid() {
        let text = include_str!("../../../config/kiosk.toml");
        let c = layers(text, &[]).unwrap().effective().unwrap();
        assert!(c.is_embedded());
        assert_eq!(c.base_dir, Path::new("config"));
    }

    #[test]
    fn bad_values_name_the_field_and_fix() {
        let l = first_line("[printers.card]\nuri = \"lpt://x\"\n");
        assert!(
            l.contains("printers.card.uri: unknown scheme 'lpt'; use escpos+tcp://"),
            "{l}"
        );
        let l = first_line("[display]\nidle_timeout_s = -5\n");
        assert!(
            l.contains("display.idle_timeout_s") && l.contains("positive"),
            "{l}"
        );
        let l = first_line("[display\nwidth = 3\n");
        assert!(l.contains("line 1") && l.contains("malformed TOML"), "{l}");
        let l = first_line(
            "[backoffice]\nurl = \"http://198.51.100.7/\"\ntoken = \"t\"\npublic_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
        );
        assert!(
            l.contains("backoffice.url") && l.contains("use https://"),
            "{l}"
        );
        let l = first_line("[backoffice]\nconnect_timeout_s = -1\n");
        assert!(l.contains("backoffice.connect_timeout_s"), "{l}");
        let l = first_line("[printers.card]\nuri = \"escpos+tcp://\"\n");
        assert!(
            l.contains("printers.card.uri") && l.contains("needs a host"),
            "{l}"
        );
        let l = first_line(
            "[backoffice]\nurl = \"https://bo.example/\"\ntoken = \"t\"\npublic_key = \"nope\"\n",
        );
        assert!(
            l.contains("backoffice.public_key") && l.contains("base64"),
            "{l}"
        );
        let l = first_line("[display]\ndpi = \"high\"\n");
        assert!(l.contains("display.dpi"), "{l}");
        let l = first_line("[display]\nwidht = 3\n");
        assert!(l.contains("widht"), "{l}");
    }

    #[test]
    fn loopback_http_is_allowed_and_https_needs_key() {
        let ok = "[backoffice]\nurl = \"http://127.0.0.1:8080/\"\ntoken = \"t\"\npublic_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";
        assert!(layers(ok, &[]).is_ok());
        let l = first_line("[backoffice]\nurl = \"https://bo.example/\"\ntoken = \"t\"\n");
        assert!(l.contains("backoffice.public_key: is required"), "{l}");
    }

    #[test]
    fn env_overrides_keep_types_and_live_layer_wins() {
        let l = layers(
            "[terminal]\nid = \"A-1\"\n",
            &[
                ("CIVIC_KIOSK__DISPLAY__IDLE_TIMEOUT_S", "120"),
                ("CIVIC_KIOSK__TERMINAL__ID", "12"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        let c = l.effective().unwrap();
        assert_eq!(c.display.idle_timeout_s, 120);
        assert_eq!(c.terminal.id, "12");
        let handle = ConfigHandle::new(l).unwrap();
        let mut rx = handle.subscribe();
        let mut live = toml::Table::new();
        live.insert(
            "display".into(),
            toml::Value::Table(toml::toml! { idle_timeout_s = 45 }),
        );
        handle.set_live(live).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().display.idle_timeout_s, 45);
        // An invalid live layer is refused and nothing changes.
        let mut bad = toml::Table::new();
        bad.insert(
            "display".into(),
            toml::Value::Table(toml::toml! { idle_timeout_s = -1 }),
        );
        assert!(handle.set_live(bad).is_err());
        assert_eq!(handle.current().display.idle_timeout_s, 45);
    }

    #[test]
    fn save_is_atomic_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kiosk.toml");
        save_atomic(&p, b"a = 1\n").unwrap();
        save_atomic(&p, b"a = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a = 2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Every number of the schema (each integer or float leaf of the defaults, so a field
    /// added later is covered), set to i64::MAX, is refused by validation with its bound.
    #[test]
    fn every_number_at_i64_max_is_refused_with_its_bound() {
        let mut numeric = Vec::new();
        fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<(String, String)>) {
            for (k, v) in t {
                match v {
                    toml::Value::Table(t) => walk(&format!("{prefix}{k}."), t, out),
                    toml::Value::Integer(_) | toml::Value::Float(_) => {
                        out.push((prefix.trim_end_matches('.').to_string(), k.clone()))
                    }
                    _ => {}
                }
            }
        }
        walk("", &defaults_table(), &mut numeric);
        assert!(numeric.len() >= 15, "{numeric:?}");
        for (section, field) in numeric {
            let text = format!("[{section}]\n{field} = {}\n", i64::MAX);
            let e = layers(&text, &[]).expect_err(&text);
            let lines = e.lines();
            let key = format!("{section}.{field}");
            let line = lines
                .iter()
                .find(|l| l.contains(&format!("{key}: ")))
                .unwrap_or_else(|| panic!("{key}: not refused: {lines:?}"));
            assert!(
                line.contains("is above the limit of ") && line.contains("use e.g."),
                "{line}"
            );
            // The shipped files' comments state the same bound.
            let bound = line
                .split("is above the limit of ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .unwrap_or_default();
            for (name, shipped) in [
                (
                    "config/kiosk.toml",
                    include_str!("../../../config/kiosk.toml"),
                ),
                (
                    "packaging/kiosk.toml",
                    include_str!("../../../packaging/kiosk.toml"),
                ),
            ] {
                assert!(
                    shipped
                        .lines()
                        .any(|l| l.starts_with('#') && l.contains(bound)),
                    "{name} does not state {key}'s bound {bound}"
                );
            }
        }
    }

    #[test]
    fn every_type_error_is_reported_in_one_run() {
        let text = "[display]\ndpi = \"high\"\nwidth = \"wide\"\nwidht = 3\n\
                    [ratings]\nbatch_size = true\nretry_max_s = 9223372036854775807\n\
                    [log]\nkeep_files = \"five\"\n";
        let lines = layers(text, &[]).unwrap_err().lines();
        for want in [
            "display.dpi: invalid type",
            "display.width: invalid type",
            "display.widht: unknown field",
            "ratings.batch_size: invalid type",
            "ratings.retry_max_s: 9223372036854775807 is above the limit of 86400",
            "log.keep_files: invalid type",
        ] {
            assert!(lines.iter().any(|l| l.contains(want)), "{want}: {lines:#?}");
        }
        assert_eq!(lines.len(), 6, "{lines:#?}");
    }

    #[test]
    fn settings_layer_sits_between_file_and_environment_and_names_its_file() {
        let file = "[display]\nidle_timeout_s = 100\n[heartbeat]\ninterval_s = 30\n";
        let settings = "[display]\nidle_timeout_s = 120\n[ratings]\nsync_interval_s = 30\n";
        let l = Layers::from_parts_with_settings(
            Path::new("/etc/ck/kiosk.toml"),
            file,
            settings,
            [(
                "CIVIC_KIOSK__RATINGS__SYNC_INTERVAL_S".to_string(),
                "40".to_string(),
            )],
        )
        .unwrap();
        let c = l.effective().unwrap();
        assert_eq!(c.display.idle_timeout_s, 120, "settings win over the file");
        assert_eq!(
            c.ratings.sync_interval_s, 40,
            "the environment wins over settings"
        );
        assert_eq!(c.heartbeat.interval_s, 30);
        let o = l.origin_map();
        assert_eq!(
            o["display.idle_timeout_s"],
            "settings (/var/lib/civic-kiosk/settings.toml)"
        );
        assert_eq!(
            o["ratings.sync_interval_s"],
            "environment (CIVIC_KIOSK__RATINGS__SYNC_INTERVAL_S)"
        );
        assert_eq!(o["heartbeat.interval_s"], "file (/etc/ck/kiosk.toml)");
        assert!(!o.contains_key("display.width"), "defaults are not listed");
        // The live layer wins over all of them.
        let mut l = l;
        let c = l
            .set_live(toml::toml! { [display] idle_timeout_s = 45 })
            .unwrap();
        assert_eq!(c.display.idle_timeout_s, 45);
        assert_eq!(
            l.origin_map()["display.idle_timeout_s"],
            "back office (remote config, live)"
        );
        // A bad settings value is refused naming the settings file; a secret there too.
        let e = Layers::from_parts_with_settings(
            Path::new("/etc/ck/kiosk.toml"),
            "",
            "[display]\nidle_timeout_s = 5\n[backoffice]\ntoken = \"t0k-zz\"\n",
            Vec::new(),
        )
        .unwrap_err();
        let lines = e.lines();
        assert!(
            lines.iter().any(|l| l.starts_with(
                "/var/lib/civic-kiosk/settings.toml: display.idle_timeout_s: 5 s is too short"
            )),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l
                .starts_with("/var/lib/civic-kiosk/settings.toml: backoffice.token: is a secret")),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains("t0k-zz")), "{lines:?}");
    }

    #[test]
    fn secrets_are_never_shown() {
        let text = "[backoffice]\ntoken = \"t0k-secret-1\"\n[technician]\npin_hash = \"$argon2id$v=19$zz\"\n";
        let l = layers(text, &[]).unwrap();
        let c = l.effective().unwrap();
        let debug = format!("{c:?} {l:?}");
        assert!(
            !debug.contains("t0k-secret-1") && !debug.contains("$argon2id"),
            "{debug}"
        );
        let shown: Vec<String> = l
            .origins()
            .into_iter()
            .map(|(k, v, _)| format!("{k}={v}"))
            .collect();
        assert!(
            shown.contains(&"backoffice.token=(secret)".to_string()),
            "{shown:?}"
        );
        assert!(
            shown.iter().all(|s| !s.contains("t0k-secret-1")),
            "{shown:?}"
        );
        let e = first_line("[backoffice]\ntoken = 123456789\n");
        assert!(
            e.contains("backoffice.token") && !e.contains("123456789"),
            "{e}"
        );
        assert!(is_secret("backoffice.token") && is_secret("technician.pin_hash"));
        assert!(!is_secret("backoffice.public_key") && !is_secret("terminal.id"));
        let changed = SettingChanged {
            key: "backoffice.token".into(),
            old: Some("\"a\"".into()),
            new: "b".into(),
            config: c,
            file: PathBuf::from("/etc/ck/kiosk.toml"),
            target: Target::File,
            notes: Vec::new(),
        };
        assert_eq!(
            changed.audit_detail("cli"),
            "backoffice.token: changed (cli, /etc/ck/kiosk.toml)"
        );
    }

    #[test]
    fn save_keeps_mode_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "a = 1\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("kiosk.toml");
        std::os::unix::fs::symlink("real.toml", &link).unwrap();
        save_atomic(&link, b"a = 2\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "a = 2\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // A loop is refused, not followed for ever.
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(save_atomic(&a, b"x").is_err());
    }

    #[test]
    fn a_saved_setting_is_in_force_unless_a_later_layer_sets_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.toml");
        std::fs::write(
            &path,
            format!("[storage]\ndata_dir = {:?}\n", dir.path().join("data")),
        )
        .unwrap();
        let handle = ConfigHandle::new(Layers::read(&path, Vec::new()).unwrap()).unwrap();
        let mut rx = handle.subscribe();
        let c = handle.set_setting("display.idle_timeout_s", "120").unwrap();
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert_eq!(c.file, dir.path().join("data").join(SETTINGS_FILE));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().display.idle_timeout_s, 120);
        // The back office pushed the same key: it wins, and the save says so.
        handle
            .set_live(toml::toml! { [display] idle_timeout_s = 45 })
            .unwrap();
        let c = handle.set_setting("display.idle_timeout_s", "150").unwrap();
        assert_eq!(handle.current().display.idle_timeout_s, 45);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("back office") && n.contains("wins")),
            "{:?}",
            c.notes
        );
        let text = std::fs::read_to_string(&c.file).unwrap();
        assert!(
            text.starts_with("# civic-kiosk settings layer")
                && text.contains("idle_timeout_s = 150"),
            "the header stays on top: {text}"
        );
        // Saved all the same: without the push, it is the value.
        let reread = Layers::read(&path, Vec::new())
            .unwrap()
            .effective()
            .unwrap();
        assert_eq!(reread.display.idle_timeout_s, 150);
        // Refused values change nothing.
        assert!(handle.set_setting("display.idle_timeout_s", "5").is_err());
        assert!(handle.set_setting("backoffice.token", "x").is_err());
        assert!(handle.set_setting("storage.data_dir", "/tmp").is_err());
        assert_eq!(
            Layers::read(&path, Vec::new())
                .unwrap()
                .effective()
                .unwrap()
                .display
                .idle_timeout_s,
            150
        );
    }

    #[test]
    fn a_file_of_many_unknown_keys_is_answered_quickly() {
        let text: String = (0..5000).map(|i| format!("k{i} = 1\n")).collect();
        let started = std::time::Instant::now();
        let lines = layers(&text, &[]).unwrap_err().lines();
        assert_eq!(lines.len(), MAX_TYPE_ERRORS + 1, "{:?}", lines.last());
        assert!(lines[MAX_TYPE_ERRORS].contains("fix these and run check-config again"));
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    /// The problems `check-config` reports for a config whose card printer section is `card`.
    fn problems(dir: &std::path::Path, card: &str) -> Vec<String> {
        let text = format!("[printers.card]\n{card}\n");
        match Layers::from_parts(
            &dir.join("kiosk.toml"),
            &text,
            Vec::<(String, String)>::new(),
        ) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    }

    #[test]
    fn a_printer_ca_file_is_validated_like_the_back_office_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cups.crt"), "x").unwrap();
        assert_eq!(
            problems(
                dir.path(),
                "uri = \"ipps://cups.local/printers/card\"\nca_file = \"cups.crt\""
            ),
            Vec::<String>::new(),
            "relative to the config's folder"
        );
        let missing = problems(
            dir.path(),
            "uri = \"ipps://cups.local/printers/card\"\nca_file = \"gone.crt\"",
        );
        assert!(
            missing
                .iter()
                .any(|l| l.contains("printers.card.ca_file") && l.contains("does not exist")),
            "{missing:?}"
        );
        let not_ipps = problems(
            dir.path(),
            "uri = \"escpos+tcp://10.0.0.5:9100\"\nca_file = \"cups.crt\"",
        );
        assert!(
            not_ipps
                .iter()
                .any(|l| l.contains("printers.card.ca_file")
                    && l.contains("only used by an ipps://")),
            "{not_ipps:?}"
        );
    }
}
