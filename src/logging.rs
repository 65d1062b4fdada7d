//! Logging through `log`: stderr plus a size-rotated file, with a last-line scrubber for ID and phone numbers.
//!
//! PII types mask themselves (see `identity`); the scrubber is a second net for a number
//! that reached a message as plain text: any 18-character ID-number shape and any
//! 11-digit mobile shape is masked before the line is written anywhere.

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

/// The process logger.
pub struct Logger {
    level: log::LevelFilter,
    stderr: bool,
    file: Option<Mutex<FileSink>>,
}

impl Logger {
    /// Builds a logger; a log folder that cannot be opened is reported and stderr is kept.
    pub fn new(settings: &LogSettings) -> (Self, Option<String>) {
        let mut warning = None;
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
        let line = format!(
            "{} {:<5} {}: {}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            record.level(),
            record.target(),
            scrub(&record.args().to_string())
        );
        // Ours only: a library's complaint (winit about XSETTINGS, say) is not what a
        // technician should read as the terminal's last error.
        if record.level() <= log::Level::Warn && record.target().starts_with("civic_kiosk") {
            *LAST_PROBLEM.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(line.trim_end().to_string());
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

/// Masks ID-number shapes (17 digits then a digit or X) and mobile shapes (11 digits
/// starting with 1) that stand alone, i.e. not inside a longer run of digits.
pub fn scrub(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut run = j - i;
            if run == 17 && j < chars.len() && (chars[j] == 'X' || chars[j] == 'x') {
                j += 1;
                run += 1;
            }
            let standalone = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            let s: String = chars[i..j].iter().collect();
            if standalone && run == 18 {
                out.push_str(&format!("{}***********{}", &s[..3], &s[14..]));
            } else if standalone && run == 11 && s.starts_with('1') {
                out.push_str(&format!("{}****{}", &s[..3], &s[7..]));
            } else {
                out.push_str(&s);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The last `n` lines of the current log file, for the maintenance screen.
pub fn tail(dir: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("kiosk.log"))?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    Ok(lines[lines.len().saturating_sub(n)..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

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
    }
}
