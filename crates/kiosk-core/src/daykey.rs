//! The day key: a random secret, new every day, that keys the once-a-day rule and the issuance request ids with HMAC-SHA-256, and is never written beside what it keys.
//!
//! The store keeps, for the one-card-per-person-per-day rule, an HMAC of the ID number
//! under this secret, never the number or an unkeyed hash of it (an unkeyed hash of an
//! 18-digit number whose region, birth year and last digits are known is a few million
//! guesses away). The secret lives in the runtime directory (`storage.runtime_dir`, a
//! tmpfs such as `/run/civic-kiosk`), so the terminal and the technician's CLI share it,
//! and a copy of the data directory holds nothing to test guesses against. A reboot loses
//! it: that only resets the day's limit. With no runtime directory it is kept in memory
//! (this process only; logged once).

use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::Config;

/// The file in the runtime directory: `<day> <64 hex digits>`.
pub const FILE: &str = "day-key";

/// Today's secret, or the reason it is memory-only.
#[derive(Clone)]
pub struct DayKey {
    day: chrono::NaiveDate,
    secret: [u8; 32],
}

impl std::fmt::Debug for DayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DayKey({}, …)", self.day)
    }
}

impl DayKey {
    /// HMAC-SHA-256 of `parts` (joined by U+001F) under the secret.
    pub fn mac(&self, parts: &[&str]) -> [u8; 32] {
        // A 32-byte key is always a valid HMAC key.
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                m.update(&[0x1f]);
            }
            m.update(p.as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    pub fn day(&self) -> chrono::NaiveDate {
        self.day
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

fn fresh(day: chrono::NaiveDate) -> DayKey {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    DayKey { day, secret }
}

fn parse(text: &str) -> Option<DayKey> {
    let (day, hex) = text.trim().split_once(' ')?;
    let day = day.parse().ok()?;
    if hex.len() != 64 {
        return None;
    }
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(DayKey { day, secret })
}

fn text_of(k: &DayKey) -> String {
    let hex: String = k.secret.iter().map(|b| format!("{b:02x}")).collect();
    format!("{} {hex}\n", k.day)
}

/// The runtime directory the day key lives in: `storage.runtime_dir` when set; else
/// systemd's `$RUNTIME_DIRECTORY`, `/run/civic-kiosk` when it can be made, or
/// `$XDG_RUNTIME_DIR/civic-kiosk`. `None`: none of them (memory only).
pub fn runtime_dir(config: &Config) -> Option<PathBuf> {
    if !config.storage.runtime_dir.as_os_str().is_empty() {
        return Some(config.runtime_dir());
    }
    if let Some(d) = std::env::var_os("RUNTIME_DIRECTORY") {
        // systemd may list several, separated by ':'; ours is the first.
        let first = d.to_string_lossy().split(':').next().map(PathBuf::from);
        if let Some(p) = first.filter(|p| p.is_absolute()) {
            return Some(p);
        }
    }
    let system = PathBuf::from("/run/civic-kiosk");
    if std::fs::create_dir_all(&system).is_ok() && writable(&system) {
        return Some(system);
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("civic-kiosk"))
}

fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Memory-only keys when there is no runtime directory (this process only).
static MEMORY: Mutex<Option<DayKey>> = Mutex::new(None);

fn memory_key(day: chrono::NaiveDate) -> DayKey {
    let mut m = MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    match &*m {
        Some(k) if k.day == day => k.clone(),
        _ => {
            let k = fresh(day);
            *m = Some(k.clone());
            k
        }
    }
}

/// Today's key for this terminal: read from the runtime directory, made (and written,
/// mode 0600) when missing or of another day. Blocking (small file I/O): call it off the
/// async workers.
pub fn today_key(config: &Config) -> DayKey {
    let day = today();
    let Some(dir) = runtime_dir(config) else {
        warn_once(
            "no runtime directory (storage.runtime_dir, /run/civic-kiosk or $XDG_RUNTIME_DIR): the day key is kept in memory, so the CLI and the terminal each count one card a day on their own",
        );
        return memory_key(day);
    };
    match key_in(&dir, day) {
        Ok(k) => k,
        Err(e) => {
            warn_once(&format!(
                "day key in {}: {e}; kept in memory instead (fix: make the folder writable for the terminal's user)",
                dir.display()
            ));
            memory_key(day)
        }
    }
}

/// The key for `day` in `dir`, made when missing or stale. Two processes that make one at
/// once both end up using the one the file holds.
pub fn key_in(dir: &Path, day: chrono::NaiveDate) -> std::io::Result<DayKey> {
    let path = dir.join(FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some(k) = parse(&text)
        && k.day == day
    {
        return Ok(k);
    }
    create_private_dir(dir)?;
    warn_if_not_memory_backed(dir);
    let k = fresh(day);
    let tmp = dir.join(format!(".{FILE}.{}", std::process::id()));
    write_private(&tmp, text_of(&k).as_bytes())?;
    std::fs::rename(&tmp, &path)?;
    // Whoever renamed last won: use what is there now.
    let text = std::fs::read_to_string(&path)?;
    parse(&text)
        .filter(|k| k.day == day)
        .ok_or_else(|| std::io::Error::other(format!("{} is not a day key", path.display())))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn warn_if_not_memory_backed(dir: &Path) {
    if !civic_platform::sys::is_memory_backed(dir).unwrap_or(true) {
        warn_once(&format!(
            "the day key's folder {} is not a tmpfs: the key would survive a reboot there and could be copied with the disk; use a tmpfs such as /run/civic-kiosk (storage.runtime_dir)",
            dir.display()
        ));
    }
}

fn warn_once(message: &str) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if !said.iter().any(|s| s == message) {
        log::warn!("{message}");
        said.push(message.to_string());
    }
}

/// Hex of the first 16 bytes of a MAC, the form the store keeps.
pub fn short_hex(mac: &[u8; 32]) -> String {
    mac.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_a_day_shared_through_the_folder_and_new_the_next_day() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let d1 = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let a = key_in(&run, d1).unwrap();
        let b = key_in(&run, d1).unwrap();
        assert_eq!(a.mac(&["x"]), b.mac(&["x"]), "the same day: the same key");
        let text = std::fs::read_to_string(run.join(FILE)).unwrap();
        assert!(text.starts_with("2026-12-01 "));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(run.join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the terminal's user reads it");
        let d2 = d1.succ_opt().unwrap();
        let c = key_in(&run, d2).unwrap();
        assert_ne!(a.mac(&["x"]), c.mac(&["x"]), "rotated the next day");
        assert_ne!(a.mac(&["x"]), a.mac(&["y"]));
        assert_ne!(a.mac(&["a", "b"]), a.mac(&["ab"]), "parts are separated");
        // A damaged file is replaced, not trusted.
        std::fs::write(run.join(FILE), "2026-12-02 zz").unwrap();
        let e = key_in(&run, d2).unwrap();
        assert_eq!(e.day(), d2);
    }

    #[test]
    fn configured_runtime_dir_is_used_and_memory_keys_last_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.storage.runtime_dir = dir.path().join("rt");
        assert_eq!(runtime_dir(&c), Some(dir.path().join("rt")));
        let k = today_key(&c);
        assert!(dir.path().join("rt").join(FILE).exists());
        assert_eq!(today_key(&c).mac(&["p"]), k.mac(&["p"]));
        let m = memory_key(today());
        assert_eq!(memory_key(today()).mac(&["p"]), m.mac(&["p"]));
    }
}
