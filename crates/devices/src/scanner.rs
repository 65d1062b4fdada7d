//! Code scanners: the URI and the serial scanner task (one code a line).

use std::fmt;
use std::io::{ErrorKind, Read};
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::mpsc::Sender;

use crate::{
    Backoff, DeviceHealth, DeviceState, DeviceThread, SharedHealth, StopSignal, UriError,
    parse_baud, split_uri,
};

const FORMS: &str = "serial:///dev/ttyACM0?baud=9600, keyboard, or empty for none";
const DEFAULT_BAUD: u32 = 9600;

/// The longest code a line may carry, in bytes.
pub const MAX_CODE_LEN: usize = 2048;

/// Where codes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerUri {
    /// `serial:///dev/ttyACM0?baud=9600` (baud defaults to 9600).
    Serial { path: String, baud: u32 },
    /// `keyboard`: the scanner types into the focused field (USB HID); nothing to run.
    Keyboard,
}

impl ScannerUri {
    /// `Ok(None)` for an empty setting (no scanner).
    pub fn parse(uri: &str) -> Result<Option<Self>, UriError> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Ok(None);
        }
        if uri == "keyboard" {
            return Ok(Some(ScannerUri::Keyboard));
        }
        let Some((scheme, path, query)) = split_uri(uri) else {
            return Err(UriError(format!(
                "scanner URI: {uri:?} is not one of the accepted forms: {FORMS}"
            )));
        };
        if scheme != "serial" {
            return Err(UriError(format!(
                "scanner URI scheme: {scheme:?} is not supported; accepted forms: {FORMS}"
            )));
        }
        if !path.starts_with('/') || path.len() < 2 {
            return Err(UriError(format!(
                "scanner URI path: {path:?} is not an absolute device path; accepted forms: {FORMS}"
            )));
        }
        let mut baud = DEFAULT_BAUD;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("baud", v)) => baud = parse_baud(v, "serial:///dev/ttyACM0?baud=9600")?,
                _ => {
                    return Err(UriError(format!(
                        "scanner URI query: {pair:?} is not known, only baud=<rate>; accepted forms: {FORMS}"
                    )));
                }
            }
        }
        Ok(Some(ScannerUri::Serial {
            path: path.to_string(),
            baud,
        }))
    }
}

impl FromStr for ScannerUri {
    type Err = UriError;
    /// Unlike [`ScannerUri::parse`], an empty string is an error here.
    fn from_str(s: &str) -> Result<Self, UriError> {
        Self::parse(s)?
            .ok_or_else(|| UriError(format!("scanner URI: empty; accepted forms: {FORMS}")))
    }
}

impl fmt::Display for ScannerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScannerUri::Serial { path, baud } => write!(f, "serial://{path}?baud={baud}"),
            ScannerUri::Keyboard => f.write_str("keyboard"),
        }
    }
}

/// What a serial scanner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// One scanned code, trimmed, not empty.
    Code(String),
    /// A scan that could not be used, or the scanner went away (technician text).
    Fault(String),
    /// The scanner is open again after it went away.
    Recovered,
}

/// Reopen delays of the serial scanner task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerOptions {
    /// First reopen delay (1 s); doubles each time.
    pub backoff_initial: Duration,
    /// Longest reopen delay (30 s).
    pub backoff_max: Duration,
}

impl Default for ScannerOptions {
    fn default() -> Self {
        Self {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Splits bytes into lines (CR, LF or CRLF), trimmed, empty ones skipped.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
    too_long: bool,
}

/// Why a line is no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineFault {
    TooLong,
    NotUtf8,
}

impl Lines {
    /// Splits `bytes` into codes. An over-long line is reported as soon as it passes
    /// the cap (a scanner that never ends its line still shows up), then skipped up to
    /// its end.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Vec<Result<String, LineFault>>) {
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                if !self.too_long {
                    match std::str::from_utf8(&self.buf) {
                        Ok(s) => {
                            let s = s.trim();
                            if !s.is_empty() {
                                out.push(Ok(s.to_string()));
                            }
                        }
                        Err(_) => out.push(Err(LineFault::NotUtf8)),
                    }
                }
                self.too_long = false;
                self.buf.clear();
            } else if self.too_long {
            } else if self.buf.len() >= MAX_CODE_LEN {
                out.push(Err(LineFault::TooLong));
                self.too_long = true;
                self.buf.clear();
            } else {
                self.buf.push(b);
            }
        }
    }
}

/// What opening a serial scanner's port once shows (`diagnose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It opens: the device is there and nobody else holds it.
    Opens,
    /// Another program holds it (the running terminal, usually).
    InUse,
    /// It cannot be opened: the technician's text.
    Fails(String),
}

/// Opens the port once, as the scanner task would, and closes it.
pub fn probe_serial(path: &str, baud: u32) -> Probe {
    match serialport::new(path, baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .open()
    {
        Ok(_) => Probe::Opens,
        Err(e) if e.description.contains("exclusive lock") => Probe::InUse,
        Err(e) => Probe::Fails(unplugged(path, &e.to_string())),
    }
}

/// The running scanner task: stops on [`ScannerHandle::stop`] (waits) or on drop.
pub struct ScannerHandle {
    thread: DeviceThread,
}

impl ScannerHandle {
    pub fn health(&self) -> DeviceHealth {
        self.thread.health()
    }

    pub fn stop(mut self) {
        self.thread.stop();
    }
}

/// Starts a serial scanner task (thread `scanner-serial`) with the default backoff.
pub fn spawn_serial_scanner(
    path: impl Into<String>,
    baud: u32,
    tx: Sender<ScanEvent>,
) -> ScannerHandle {
    spawn_serial_scanner_with(path, baud, ScannerOptions::default(), tx)
}

/// [`spawn_serial_scanner`] with other reopen delays.
pub fn spawn_serial_scanner_with(
    path: impl Into<String>,
    baud: u32,
    opts: ScannerOptions,
    tx: Sender<ScanEvent>,
) -> ScannerHandle {
    let path = path.into();
    let health = SharedHealth::default();
    let h = health.clone();
    let thread = DeviceThread::spawn("scanner-serial", health, move |stop| {
        run(&path, baud, &opts, &tx, &h, &stop);
    });
    ScannerHandle { thread }
}

/// How often the thread looks at the stop signal while the scanner is quiet.
const READ_SLICE: Duration = Duration::from_millis(200);

fn unplugged(path: &str, detail: &str) -> String {
    format!(
        "code scanner {path} is unplugged or cannot be opened ({detail}). Check the scanner's cable, that {path} exists (ls -l {path}) and that the service user may open it (group dialout); the terminal reopens it by itself."
    )
}

fn run(
    path: &str,
    baud: u32,
    opts: &ScannerOptions,
    tx: &Sender<ScanEvent>,
    health: &SharedHealth,
    stop: &StopSignal,
) {
    let mut backoff = Backoff::new(opts.backoff_initial, opts.backoff_max);
    // A device fault was sent and no `Recovered` yet.
    let mut faulted = false;
    let send = |e: ScanEvent| tx.blocking_send(e).is_ok();
    let device_fault = |text: String, faulted: &mut bool| -> bool {
        health.fault(text.clone());
        if *faulted {
            return true;
        }
        log::warn!("{text}");
        *faulted = true;
        send(ScanEvent::Fault(text))
    };
    loop {
        if stop.stopped() {
            return;
        }
        let port = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(READ_SLICE)
            .open();
        let mut port = match port {
            Ok(p) => p,
            Err(e) => {
                if !device_fault(unplugged(path, &e.to_string()), &mut faulted) {
                    return;
                }
                if stop.wait(backoff.next_delay()) {
                    return;
                }
                continue;
            }
        };
        let _ = port.clear(serialport::ClearBuffer::Input);
        health.state(DeviceState::Ready);
        if faulted {
            faulted = false;
            log::info!("code scanner {path} works again");
            if !send(ScanEvent::Recovered) {
                return;
            }
        }
        let mut lines = Lines::default();
        let mut buf = [0u8; 256];
        let mut out = Vec::new();
        let detail = loop {
            if stop.stopped() {
                return;
            }
            match port.read(&mut buf) {
                Ok(0) => break "end of file".to_string(),
                Ok(n) => {
                    backoff.reset();
                    lines.push(&buf[..n], &mut out);
                    for r in out.drain(..) {
                        let e = match r {
                            Ok(code) => {
                                health.update(|h| h.reads_ok += 1);
                                ScanEvent::Code(code)
                            }
                            Err(f) => {
                                let text = match f {
                                    LineFault::TooLong => format!(
                                        "code scanner {path}: code too long (over {MAX_CODE_LEN} bytes without a line end; the rest of the line is skipped); check that the scanner ends each code with CR or LF"
                                    ),
                                    LineFault::NotUtf8 => format!(
                                        "code scanner {path}: the code is not UTF-8 text; set the scanner's output to UTF-8"
                                    ),
                                };
                                log::warn!("{text}");
                                health.update(|h| {
                                    h.last_fault = Some(text.clone());
                                    h.last_fault_at = Some(chrono::Utc::now());
                                });
                                ScanEvent::Fault(text)
                            }
                        };
                        if !send(e) {
                            return;
                        }
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    backoff.reset();
                }
                Err(e) => break e.to_string(),
            }
        };
        drop(port);
        if !device_fault(unplugged(path, &detail), &mut faulted) {
            return;
        }
        if stop.wait(backoff.next_delay()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
