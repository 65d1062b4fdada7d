//! Terminal configuration: defaults, TOML file, `CIVIC_KIOSK__SECTION__KEY` overrides and a live layer; validation that names the field and the fix; atomic save.
//!
//! Layers, later ones winning: built-in defaults, the file, environment overrides, then the
//! live layer (settings the back office pushes). The effective config is published through a
//! `tokio::sync::watch` channel ([`ConfigHandle`]), so running parts see a change without a
//! restart. A config that fails validation is never published.

use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackofficeSection {
    pub url: String,
    pub token: String,
    pub connect_timeout_s: f64,
    pub total_timeout_s: f64,
    pub ca_file: Option<PathBuf>,
    pub public_key: Option<String>,
    pub max_body_bytes: u64,
    pub embedded_listen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrintersSection {
    pub card: PrinterSection,
    pub receipt: PrinterSection,
    pub document: PrinterSection,
}

/// How a printer model prints QR codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrMode {
    /// ESC/POS `GS ( k` (Epson-compatible).
    Native,
    /// A raster image (`GS v 0`), for printers whose QR command differs.
    Raster,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrinterSection {
    pub uri: String,
    pub qr: QrMode,
    /// `ipps://` only: the PEM certificate (or CA) to trust for this printer instead of
    /// the system's roots (CUPS signs its own certificates).
    pub ca_file: Option<PathBuf>,
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
    /// A 帮办 staff member must be signed in (staff PIN) before a card is issued here: for
    /// terminals without an ID-card reader, where the typed number is not proof enough.
    pub require_staff: bool,
}

/// The heartbeat to the back office (health, audit entries, remote config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatSection {
    pub interval_s: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TechnicianSection {
    pub pin_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub dir: PathBuf,
    pub level: String,
    pub max_file_bytes: u64,
    pub keep_files: u32,
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
        };
        Self {
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
                .map(|e| format!("{}: {e}", path.display()))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Keys a settings edit refuses, with the way to change them instead.
const NOT_SET_HERE: [(&str, &str); 1] = [(
    "technician.pin_hash",
    "a PIN is never typed in as a setting; use `civic-kiosk set-pin`",
)];

/// One setting changed in a config file by [`set_in_file`].
#[derive(Debug, Clone)]
pub struct SettingChanged {
    pub key: String,
    /// The value written before (as TOML), or None when the file relied on the default.
    pub old: Option<String>,
    pub new: String,
    /// The whole config as now saved.
    pub config: Config,
}

impl SettingChanged {
    /// The audit entry's detail: key, old → new, and how.
    pub fn audit_detail(&self, how: &str) -> String {
        format!(
            "{}: {} → {} ({how})",
            self.key,
            self.old.as_deref().unwrap_or("(default)"),
            self.new
        )
    }
}

/// Sets `key` (`section.field`, or `printers.card.uri`) to `value` (TOML syntax: 120,
/// true, "text", ["a"]; anything else is a string) in the config file at `path`, keeping
/// its comments; the whole config is validated as `check-config` would (with `env`
/// overrides) and saved atomically. On refusal: the lines to show, nothing saved.
pub fn set_in_file(
    path: &Path,
    key: &str,
    value: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<SettingChanged, Vec<String>> {
    let at = |msg: String| vec![format!("{}: {msg}", path.display())];
    if let Some((_, why)) = NOT_SET_HERE.iter().find(|(k, _)| *k == key) {
        return Err(at(format!("{key}: {why}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| at(format!("{e}")))?;
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(at(format!(
            "'{key}' is not a setting; write section.field, e.g. display.idle_timeout_s"
        )));
    }
    let new_value: toml_edit::Value = value
        .parse()
        .unwrap_or_else(|_| toml_edit::Value::from(value));
    let mut table = doc.as_table_mut();
    for section in &parts[..parts.len() - 1] {
        let entry = table
            .entry(section)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        match entry.as_table_mut() {
            Some(t) => table = t,
            None => return Err(at(format!("{key}: '{section}' is not a section"))),
        }
    }
    let field = parts[parts.len() - 1];
    let old = table
        .get(field)
        .and_then(|i| i.as_value())
        .map(|v| v.to_string().trim().to_string());
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
    let new_text = doc.to_string();
    let config = Layers::from_parts(path, &new_text, env)
        .and_then(|l| l.effective())
        .map_err(|e| e.lines())?;
    // The key must be one the config reads (not a typo the file would keep).
    let known: Option<toml::Table> = toml::to_string(&config).ok().and_then(|t| t.parse().ok());
    let mut t = known.as_ref();
    for section in &parts[..parts.len() - 1] {
        t = t.and_then(|t| t.get(*section)).and_then(|v| v.as_table());
    }
    if t.is_none_or(|t| !t.contains_key(field)) {
        return Err(at(format!("'{key}' is not a setting civic-kiosk reads")));
    }
    save_atomic(path, new_text.as_bytes()).map_err(|e| at(e.to_string()))?;
    Ok(SettingChanged {
        key: key.to_string(),
        old,
        new: value.to_string(),
        config,
    })
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

/// The layers before the live one, kept so the live layer can be re-applied.
#[derive(Debug, Clone)]
pub struct Layers {
    pub path: PathBuf,
    /// Defaults merged with the file and the environment overrides.
    merged: toml::Table,
    /// Settings pushed by the back office (applied last).
    live: toml::Table,
}

impl Layers {
    /// Reads the file and the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_parts(path, &text, std::env::vars())
    }

    /// Builds the layers from file text and `(name, value)` environment pairs.
    pub fn from_parts(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let invalid = |errors| ConfigError::Invalid {
            path: path.to_path_buf(),
            errors,
        };
        let file: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(vec![syntax_error(text, &e)]))?;
        let mut merged = defaults_table();
        merge(&mut merged, file);
        let mut errors = Vec::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
            if keys.iter().any(String::is_empty) {
                errors.push(FieldError {
                    field: name.clone(),
                    problem: "empty key in environment override; write CIVIC_KIOSK__SECTION__KEY"
                        .into(),
                });
                continue;
            }
            let existing = lookup(&merged, &keys);
            let value = env_value(&raw, existing);
            set_path(&mut merged, &keys, value);
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let layers = Self {
            path: path.to_path_buf(),
            merged,
            live: toml::Table::new(),
        };
        layers.effective()?;
        Ok(layers)
    }

    /// The validated config these layers give.
    pub fn effective(&self) -> Result<Config, ConfigError> {
        let mut table = self.merged.clone();
        merge(&mut table, self.live.clone());
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Invalid {
                path: self.path.clone(),
                errors: vec![deserialize_error(&e)],
            })?;
        config.base_dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let errors = config.validate();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: self.path.clone(),
                errors,
            })
        }
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
}

/// Loads and validates a config file with the process environment applied.
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
    let before = &text[..offset.min(text.len())];
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
    FieldError {
        field: where_,
        problem: format!(
            "malformed TOML: {}; fix the syntax there (strings in \"quotes\", one key = value per line)",
            e.message().split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    }
}

fn deserialize_error(e: &serde_path_to_error::Error<toml::de::Error>) -> FieldError {
    let path = e.path().to_string();
    let msg = e
        .inner()
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let field = if path.is_empty() || path == "." {
        "config".to_string()
    } else {
        path
    };
    FieldError {
        field,
        problem: format!(
            "{msg}; see the comments in config/kiosk.toml for the allowed keys and types"
        ),
    }
}

fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl Config {
    /// Every problem found, each with its field and fix. Empty means valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, problem: String| {
            errors.push(FieldError {
                field: field.into(),
                problem,
            })
        };
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
            if !(v.is_finite() && v > 0.0 && v <= 600.0) {
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
        if b.max_body_bytes < 1024 {
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
        if !(240..=8192).contains(&d.width) {
            err(
                "display.width",
                format!("{} pixels is not a screen width; use e.g. 1080", d.width),
            );
        }
        if !(240..=8192).contains(&d.height) {
            err(
                "display.height",
                format!("{} pixels is not a screen height; use e.g. 1920", d.height),
            );
        }
        if !(d.dpi.is_finite() && (50.0..=600.0).contains(&d.dpi)) {
            err(
                "display.dpi",
                format!(
                    "{} is not a panel density; use the panel's pixels per inch, e.g. 102 for a 21.5-inch 1080p panel",
                    d.dpi
                ),
            );
        }
        if d.idle_timeout_s <= 0 {
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

        if self.catalogue.sync_interval_s < 30 {
            err(
                "catalogue.sync_interval_s",
                format!(
                    "{} is too often; use at least 30 seconds, e.g. 900",
                    self.catalogue.sync_interval_s
                ),
            );
        }
        if self.catalogue.stale_after_s <= 0 {
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
        if !(10..=3600).contains(&self.heartbeat.interval_s) {
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
        if r.sync_interval_s < 5 {
            err(
                "ratings.sync_interval_s",
                format!(
                    "{} is too often; use at least 5 seconds, e.g. 60",
                    r.sync_interval_s
                ),
            );
        }
        if !(1..=1000).contains(&r.batch_size) {
            err(
                "ratings.batch_size",
                format!(
                    "{} ratings per upload is outside 1..1000 (the back office's limit); use e.g. 200",
                    r.batch_size
                ),
            );
        }
        if r.retry_base_ms < 10 {
            err(
                "ratings.retry_base_ms",
                format!(
                    "{} ms is too short a first retry; use at least 10, e.g. 1000",
                    r.retry_base_ms
                ),
            );
        }
        if r.retry_max_s < 1 || r.retry_max_s * 1000 < r.retry_base_ms {
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
        if self.log.max_file_bytes < 4096 {
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

    pub fn log_dir(&self) -> PathBuf {
        self.resolve(&self.log.dir)
    }

    pub fn is_embedded(&self) -> bool {
        self.backoffice.url.trim() == EMBEDDED
    }

    pub fn connect_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.backoffice.connect_timeout_s)
    }

    pub fn total_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.backoffice.total_timeout_s)
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

    pub fn printer(&self, role: PrinterRole) -> &PrinterSection {
        match role {
            PrinterRole::Card => &self.printers.card,
            PrinterRole::Receipt => &self.printers.receipt,
            PrinterRole::Document => &self.printers.document,
        }
    }
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

/// Writes `contents` to `path` atomically: a temp file in the same folder, fsync, rename,
/// fsync of the folder. A crash leaves either the old file or the new one, never half.
pub fn save_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The effective config, shared with running parts that watch it.
#[derive(Clone)]
pub struct ConfigHandle {
    layers: Arc<Mutex<Layers>>,
    tx: Arc<watch::Sender<Arc<Config>>>,
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
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let config = Arc::new(layers.set_live(live)?);
        self.tx.send_replace(config.clone());
        Ok(config)
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
        let text = include_str!("../config/kiosk.toml");
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
}
