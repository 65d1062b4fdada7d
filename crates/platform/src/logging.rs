//! Logging through `log`: the systemd journal under systemd, else stderr plus a size-rotated file; a last-line scrubber for ID and phone numbers; the panic hook.
//!
//! Under systemd (`JOURNAL_STREAM` names our stderr) records go to the journal with their
//! priority (error 3, warning 4, info 5, debug 6, trace 7) and nothing is written to the
//! log file: the journal already keeps, rotates and ships them, and the file would only
//! wear the flash twice. Elsewhere (a shell, the CLI, tests) stderr and `kiosk.log`.
//!
//! PII types mask themselves (see `identity`); the scrubber is a second net for a number
//! that reached a message as plain text: any 18-character or (with a plausible birth
//! date) 15-digit ID-number shape and any 11-digit mobile shape, also written in groups
//! with spaces or dashes, is masked before the line is written anywhere.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub dir: Option<PathBuf>,
    pub level: log::LevelFilter,
    pub max_file_bytes: u64,
    pub keep_files: u32,
    pub stderr: bool,
}

struct FileSink {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
    keep: u32,
}

impl FileSink {
    fn open(dir: &Path, max: u64, keep: u32) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("kiosk.log");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path,
            file,
            written,
            max,
            keep,
        })
    }

    fn write_line(&mut self, line: &str) {
        if self.written + line.len() as u64 > self.max && self.written > 0 {
            self.rotate();
        }
        if self.file.write_all(line.as_bytes()).is_ok() {
            self.written += line.len() as u64;
        }
    }

    /// kiosk.log → kiosk.log.1 → … → kiosk.log.N (the oldest is dropped).
    fn rotate(&mut self) {
        let _ = self.file.flush();
        let numbered = |n: u32| self.path.with_extension(format!("log.{n}"));
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            let _ = std::fs::rename(&self.path, numbered(1));
        }
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .open(&self.path)
        {
            self.file = f;
            self.written = 0;
        }
    }
}

/// The last warning or error this crate logged (scrubbed, with its time), for the
/// maintenance screen.
static LAST_PROBLEM: Mutex<Option<String>> = Mutex::new(None);

/// The last warning or error this process logged, as written (time, level, target, message).
pub fn last_problem() -> Option<String> {
    LAST_PROBLEM
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// How many of the newest lines [`recent_lines`] keeps.
pub const RECENT_LINES: usize = 200;

/// The newest lines this process logged (scrubbed, as written), for the maintenance page:
/// under systemd the journal has them too, but the page cannot read it.
static RECENT: Mutex<std::collections::VecDeque<String>> =
    Mutex::new(std::collections::VecDeque::new());

/// The newest `n` lines this process logged, oldest first, as written (scrubbed).
pub fn recent_lines(n: usize) -> Vec<String> {
    let recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    recent
        .iter()
        .skip(recent.len().saturating_sub(n))
        .cloned()
        .collect()
}

fn remember(line: &str) {
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if recent.len() == RECENT_LINES {
        recent.pop_front();
    }
    recent.push_back(line.to_string());
}

/// The process logger.
pub struct Logger {
    level: log::LevelFilter,
    stderr: bool,
    file: Option<Mutex<FileSink>>,
    /// Set under systemd: then neither stderr nor the file is written.
    journal: Option<systemd_journal_logger::JournalLog>,
}

/// Whether this process runs under systemd with its stderr connected to the journal:
/// `JOURNAL_STREAM` is set and names the device and inode of our stderr (a child whose
/// stderr was redirected elsewhere inherits the variable, but not the match).
pub fn under_journal() -> bool {
    std::env::var_os("JOURNAL_STREAM").is_some() && systemd_journal_logger::connected_to_journal()
}

impl Logger {
    /// Builds a logger; a log folder that cannot be opened is reported and stderr is kept.
    pub fn new(settings: &LogSettings) -> (Self, Option<String>) {
        let mut warning = None;
        if under_journal() {
            match systemd_journal_logger::JournalLog::new() {
                Ok(journal) => {
                    return (
                        Self {
                            level: settings.level,
                            stderr: false,
                            file: None,
                            journal: Some(journal),
                        },
                        None,
                    );
                }
                Err(e) => {
                    warning = Some(format!(
                        "JOURNAL_STREAM is set but the journal socket cannot be used ({e}); logging to stderr and the file"
                    ));
                }
            }
        }
        let file = settings.dir.as_ref().and_then(|dir| {
            match FileSink::open(dir, settings.max_file_bytes.max(4096), settings.keep_files) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    warning = Some(format!(
                        "log.dir: cannot open {}: {e}; logging to stderr only",
                        dir.display()
                    ));
                    None
                }
            }
        });
        (
            Self {
                level: settings.level,
                stderr: settings.stderr,
                file,
                journal: None,
            },
            warning,
        )
    }
}

/// Installs the process logger. Call once; later calls change nothing and return false.
pub fn init(settings: &LogSettings) -> bool {
    let (logger, warning) = Logger::new(settings);
    let level = logger.level;
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return false;
    }
    log::set_max_level(level);
    INSTALLED.store(true, std::sync::atomic::Ordering::Release);
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    true
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = scrub(&record.args().to_string());
        let line = format!(
            "{} {:<5} {}: {message}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            record.level(),
            record.target(),
        );
        // Ours only: a library's complaint (winit about XSETTINGS, say) is not what a
        // technician should read as the terminal's last error.
        if record.level() <= log::Level::Warn && is_ours(record.target()) {
            *LAST_PROBLEM.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(line.trim_end().to_string());
        }
        remember(line.trim_end());
        if let Some(journal) = &self.journal {
            // The same record with the scrubbed message: the journal never sees the original.
            let sent = journal.journal_send(
                &log::Record::builder()
                    .level(record.level())
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .args(format_args!("{message}"))
                    .build(),
            );
            if sent.is_err() {
                // journald gone (restarting): stderr is the journal's stream too.
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            return;
        }
        if self.stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if let Some(f) = &self.file {
            f.lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_line(&line);
        }
    }

    fn flush(&self) {
        if let Some(f) = &self.file {
            let _ = f.lock().unwrap_or_else(|p| p.into_inner()).file.flush();
        }
    }
}

/// One run of digits (with an `X` check character where an ID number may end) that
/// stands alone on its right: `end` is exclusive.
#[derive(Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
    digits: usize,
    x: bool,
}

fn group_at(chars: &[char], start: usize) -> Option<Group> {
    let mut j = start;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    let digits = j - start;
    if digits == 0 {
        return None;
    }
    let x = j < chars.len() && matches!(chars[j], 'X' | 'x');
    let end = if x { j + 1 } else { j };
    // A letter or digit right after it: part of a longer token (a UUID, a hex string).
    if end < chars.len() && chars[end].is_ascii_alphanumeric() {
        return None;
    }
    Some(Group {
        start,
        end,
        digits,
        x,
    })
}

/// The digits of groups, without separators.
fn digits_of(chars: &[char], groups: &[Group]) -> String {
    groups
        .iter()
        .flat_map(|g| chars[g.start..g.end].iter())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Month 01-12 and day 01-31 at `at` in `s` (a birth date inside an ID number).
fn plausible_month_day(s: &str, at: usize) -> bool {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    matches!(num(at..at + 2), Some(1..=12)) && matches!(num(at + 2..at + 4), Some(1..=31))
}

/// What a chain of groups is, if it is one of the shapes the scrubber masks.
fn mask_for(chars: &[char], groups: &[Group]) -> Option<String> {
    let lens: Vec<usize> = groups.iter().map(|g| g.digits).collect();
    // Only the last group may carry the X, and only an 18-character ID number has one.
    if groups[..groups.len() - 1].iter().any(|g| g.x) {
        return None;
    }
    let x = groups[groups.len() - 1].x;
    let s = digits_of(chars, groups);
    match (lens.as_slice(), x) {
        // Second generation ID number, 18 characters: 310105194506150021, 31010519450615002X.
        ([18], false) | ([17], true) => Some(format!("{}***********{}", &s[..3], &s[14..])),
        // The same in groups (310105 19450615 0021, 310105-19450615-002X), when the middle
        // group is a plausible birth date: three groups of other numbers are common.
        ([6, 8, 4], false) | ([6, 8, 3], true) if plausible_month_day(&s, 10) => {
            Some(format!("{}***********{}", &s[..3], &s[14..]))
        }
        // First generation, 15 digits (area, YYMMDD, sequence): only with a plausible
        // birth date, so that 15-digit order numbers stay readable.
        ([15], false) | ([6, 6, 3], false) if plausible_month_day(&s, 8) => {
            Some(format!("{}********{}", &s[..3], &s[11..]))
        }
        // Mobile number: 13812345678, 138-1234-5678, 138 1234 5678.
        ([11], false) | ([3, 4, 4], false) if s.starts_with('1') => {
            Some(format!("{}****{}", &s[..3], &s[7..]))
        }
        _ => None,
    }
}

/// Masks ID-number and mobile-number shapes that stand alone (not inside a longer run of
/// letters and digits): 18-character ID numbers (17 digits then a digit or X), 15-digit
/// first-generation ID numbers with a plausible birth date, 11-digit mobile numbers
/// starting with 1, and the same numbers written in groups separated by single spaces or
/// dashes (`310105 19450615 0021`, `310105-450615-002`, `138-1234-5678`). Dates, times,
/// UUIDs and order numbers of other shapes pass unchanged.
pub fn scrub(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let left_free = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let first = if chars[i].is_ascii_digit() && left_free {
            group_at(&chars, i)
        } else {
            None
        };
        let Some(first) = first else {
            // Inside a longer token: copy it whole, so its digits are not taken for a
            // number of their own.
            if chars[i].is_ascii_alphanumeric() {
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    out.push(chars[i]);
                    i += 1;
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        };
        // The chain of groups after it with one and the same separator, up to three.
        let mut chain = vec![first];
        if let Some(&sep) = chars.get(first.end).filter(|c| matches!(c, ' ' | '-')) {
            while chain.len() < 3 {
                let last = chain[chain.len() - 1];
                if last.x || chars.get(last.end) != Some(&sep) {
                    break;
                }
                match chars.get(last.end + 1) {
                    Some(c) if c.is_ascii_digit() => {}
                    _ => break,
                }
                match group_at(&chars, last.end + 1) {
                    Some(g) => chain.push(g),
                    None => break,
                }
            }
        }
        // The longest shape first: `138 1234 5678` is one phone number, not 138 then more.
        let mut done = false;
        for n in (1..=chain.len()).rev() {
            if let Some(masked) = mask_for(&chars, &chain[..n]) {
                out.push_str(&masked);
                i = chain[n - 1].end;
                done = true;
                break;
            }
        }
        if !done {
            out.extend(&chars[first.start..first.end]);
            i = first.end;
        }
    }
    out
}

/// Set once [`init`] installed this module's logger: the panic hook then logs through it.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The log line for a panic: the thread's name, the place, the message (scrubbed by the
/// logger like every other line).
pub fn panic_line(
    thread: Option<&str>,
    location: Option<&std::panic::Location<'_>>,
    payload: &(dyn std::any::Any + Send),
) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let place = location
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown place".into());
    format!(
        "panic in thread '{}' at {place}: {message}",
        thread.unwrap_or("<unnamed>")
    )
}

/// Installs (once per process) a panic hook that writes every panic, on any thread, to
/// the log as an error with the thread's name and place, scrubbed, and flushes it; with
/// `RUST_BACKTRACE` set, the backtrace follows.
///
/// Why the default hook is replaced, not chained: it prints the panic message unscrubbed
/// to stderr, which under systemd is the journal, and a message may hold an ID or phone
/// number. This hook does what it did (message, place, thread, a backtrace when asked
/// for), scrubbed: through the logger once [`init`] ran, else straight to stderr.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let line = panic_line(
                std::thread::current().name(),
                info.location(),
                info.payload(),
            );
            let bt = std::backtrace::Backtrace::capture();
            let bt = (bt.status() == std::backtrace::BacktraceStatus::Captured).then_some(bt);
            if INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
                log::error!(target: "civic_kiosk::panic", "{line}");
                if let Some(bt) = bt {
                    log::error!(target: "civic_kiosk::panic", "backtrace:\n{bt}");
                }
                log::logger().flush();
            } else {
                // No logger (a panic during start-up, a one-shot CLI command).
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "civic-kiosk: {}", scrub(&line));
                if let Some(bt) = bt {
                    let _ = writeln!(err, "{bt}");
                }
            }
        }));
    });
}

/// The last `n` lines of the current log file, for the maintenance screen.
pub fn tail(dir: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("kiosk.log"))?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    Ok(lines[lines.len().saturating_sub(n)..].to_vec())
}

/// A log target of this workspace's crates (`civic_kiosk`, `civic_kiosk_core`,
/// `civic_print`, `civic_backoffice` …), not of a library.
fn is_ours(target: &str) -> bool {
    target.starts_with("civic_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

    #[test]
    fn a_panic_line_names_thread_and_place() {
        let payload: Box<dyn std::any::Any + Send> =
            Box::new(String::from("bad 310105194506150021"));
        let here = std::panic::Location::caller();
        let line = panic_line(Some("kiosk-core"), Some(here), payload.as_ref());
        assert!(
            line.starts_with("panic in thread 'kiosk-core' at crates/platform/src/logging.rs:"),
            "{line}"
        );
        // The logger scrubs it like any line.
        assert!(scrub(&line).ends_with("bad 310***********0021"), "{line}");
        let line = panic_line(None, None, &42u8);
        assert_eq!(
            line,
            "panic in thread '<unnamed>' at an unknown place: (no message)"
        );
    }

    #[test]
    fn scrub_masks_first_generation_ids() {
        assert_eq!(scrub("证号 310105450615002 到"), "证号 310********5002 到");
        assert_eq!(scrub("310105450615002"), "310********5002");
        // Grouped as printed on old cards and forms: 6-6-3.
        assert_eq!(scrub("id 310105 450615 002."), "id 310********5002.");
        assert_eq!(scrub("id 310105-450615-002"), "id 310********5002");
    }

    #[test]
    fn scrub_masks_grouped_ids_and_phones() {
        assert_eq!(
            scrub("身份证 310105 19450615 0021 已读"),
            "身份证 310***********0021 已读"
        );
        assert_eq!(scrub("(310105-19450615-0021)"), "(310***********0021)");
        assert_eq!(scrub("310105-19450615-002X"), "310***********002X");
        assert_eq!(scrub("310105 19450615 002x,"), "310***********002X,");
        assert_eq!(scrub("电话 138-1234-5678。"), "电话 138****5678。");
        assert_eq!(scrub("电话 138 1234 5678"), "电话 138****5678");
        assert_eq!(scrub("+86 138 1234 5678"), "+86 138****5678");
        assert_eq!(scrub("call 13812345678 now"), "call 138****5678 now");
        // A phone followed by more numbers is still masked.
        assert_eq!(scrub("138 1234 5678 2 people"), "138****5678 2 people");
    }

    #[test]
    fn scrub_leaves_dates_times_uuids_and_order_numbers() {
        for text in [
            "2026-11-26",
            "2026-11-26 08:10:00",
            "2026-11-26T08:10:00.123Z",
            "20261126 081000",
            "uuid 019ac1f2-3b4c-7d5e-8f60-0123456789ab",
            "uuid 01234567-1234-7123-8123-123456789012",
            "办件编号 SH20261126000123",
            "办件编号 310105-GA-0001",
            "order 202611260001234",
            "order 123456789012345",
            "case 2026-1126-0001",
            "seq 12-3456-7890",
            "200 1234 5678",
            "price 1 234 567",
            "port 127.0.0.1:8443",
            "310105 19451315 0021",
            "v7: 100000 keys",
            "card C7M2K9Q4XR8T1VB6Z",
            "hash 31010519450615002131",
        ] {
            assert_eq!(scrub(text), text, "left as it is");
        }
    }

    #[test]
    fn scrub_masks_ids_and_phones_only() {
        assert_eq!(
            scrub("id 31010519500101123X ok"),
            "id 310***********123X ok"
        );
        assert_eq!(scrub("tel:13812345678."), "tel:138****5678.");
        assert_eq!(
            scrub("order 123456789012 and 2026-11-26"),
            "order 123456789012 and 2026-11-26"
        );
        assert_eq!(scrub("uuid 0199a0b1c2d3"), "uuid 0199a0b1c2d3");
    }

    #[test]
    fn file_rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            dir: Some(dir.path().to_path_buf()),
            level: log::LevelFilter::Trace,
            max_file_bytes: 4096,
            keep_files: 2,
            stderr: false,
        };
        let (logger, warning) = Logger::new(&settings);
        assert!(warning.is_none());
        for i in 0..300 {
            logger.log(
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target("t")
                    .args(format_args!("line {i} {}", "x".repeat(40)))
                    .build(),
            );
        }
        logger.flush();
        assert!(dir.path().join("kiosk.log.1").exists());
        assert!(dir.path().join("kiosk.log.2").exists());
        assert!(!dir.path().join("kiosk.log.3").exists());
        assert!(
            std::fs::metadata(dir.path().join("kiosk.log"))
                .unwrap()
                .len()
                <= 4096
        );
        let last = tail(dir.path(), 1).unwrap();
        assert!(last[0].contains("line 299"), "{last:?}");
        assert!(
            last_problem().is_none_or(|p| !p.contains("line 2")),
            "info lines are not problems"
        );
        logger.log(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("civic_kiosk::print")
                .args(format_args!("printer gone for 31010519500101123X"))
                .build(),
        );
        logger.log(
            &log::Record::builder()
                .level(log::Level::Error)
                .target("winit::platform_impl")
                .args(format_args!("display is 0mm"))
                .build(),
        );
        let p = last_problem().unwrap();
        assert!(p.contains("WARN") && p.contains("printer gone"), "{p}");
        assert!(p.contains("310***********123X"), "scrubbed: {p}");
        // The maintenance page's recent lines: as written, scrubbed, bounded.
        let recent = recent_lines(RECENT_LINES + 10);
        assert!(recent.len() <= RECENT_LINES);
        assert!(
            recent
                .iter()
                .any(|l| l.contains("printer gone for 310***********123X")),
            "{recent:?}"
        );
        assert!(!recent.iter().any(|l| l.contains("31010519500101123X")));
        assert!(recent.last().unwrap().contains("display is 0mm"));
        assert_eq!(recent_lines(1).len(), 1);
    }
}
