//! The terminal's identity devices: 二代身份证 readers speaking GA/T 467 and code scanners.
//! No UI here: each device runs on its own named thread (blocking serial I/O) and sends
//! events into a `tokio::sync::mpsc` channel; its health is shared for the status page.
//!
//! # GA/T 467 (module [`gat467`])
//!
//! The terminal talks to the reader's SAM in frames. To the reader:
//! `AA AA AA 96 69`, a 2-byte big-endian length (cmd + para + data + checksum), the
//! command byte, the parameter byte, data, and an XOR checksum over the length bytes
//! through the data. Find card is `AA AA AA 96 69 00 03 20 01 22`, select card `20 02`,
//! read text and photo `30 01`. The answer has the same header, a length counting the
//! three status bytes SW1 SW2 SW3, the data and the checksum; SW3 `90` is success, `9F`
//! a found card, `80` no card, `81` a failed select, `41` a failed read. The read answer
//! carries 256 bytes of UCS-2LE text (name, sex, nation, birth, address, number,
//! authority, validity) and a 1024-byte WLT photo. The photo is vendor-licensed: it is
//! neither decoded nor kept, and of the text only name, number, sex, birth date and
//! validity are kept ([`IdCard`]); address and authority are dropped at parsing.
//! `Debug` of every value that holds a person shows masked values only.
//!
//! # The reader task ([`reader::spawn_reader`])
//!
//! - **Budget.** One request in flight at a time (the thread waits for each answer or
//!   its timeout, 1 s by default). A find every `poll` (300 ms) and, when a card
//!   appears, select and read right behind it. A sliding one-second window caps the
//!   requests at `max_requests_per_sec` (4): the find after a read waits if needed.
//! - **Presence.** A card counts as present from its successful read until find has
//!   answered "no card" `absent_after` (3) consecutive times, about a second at the
//!   default poll; then `Removed`. While a card is present, find answering "card found"
//!   triggers no read and no second `Placed`: only removing and placing again does. A
//!   real reader may answer "no card" to find for a card it has already read until the
//!   card is lifted; with this rule such a reader reports `Removed` after about a
//!   second while the card still lies there, and still never a second `Placed` for it,
//!   because find keeps answering "no card" until the card leaves the field. A simulator
//!   that keeps answering "card found" keeps the card present. After a device fault (a
//!   silent or unplugged reader) with a card present, the next "card found" reads the
//!   card again to check it is the same (same ID number: no event; another card:
//!   `Removed`, then `Placed`).
//! - **Faults.** A fault is sent once: the same fault again before a recovery sends
//!   nothing (an unplugged reader counts as one fault whatever the OS error says). The
//!   first poll cycle that completes without a fault after one sends `Recovered`. A card
//!   taken away between find and the end of the read (select answering `81`, read
//!   answering `41`, or another status after which find answers `80`) is
//!   `Fault(Removed)`, followed by `Recovered` at the next find that answers; the next
//!   placement reads again. A card whose text does not parse is `Fault(Malformed)` once
//!   and is not read again until it leaves. A fault of the reader (silent, unplugged,
//!   bad checksum, a SAM status) keeps a present card present.
//! - **Backoff.** When the device cannot be opened or goes away (EIO, hang-up), the task
//!   reopens it after 1 s, doubling to 30 s, sleeping on the stop channel between tries
//!   (no CPU while waiting). It recovers by itself when the device comes back.
//!
//! # Scanners (module [`scanner`])
//!
//! A serial scanner sends one code a line (CR, LF or CRLF). Lines are trimmed, empty ones
//! skipped, a line over 2048 bytes or one that is not UTF-8 is a fault for that scan
//! only (the scanner's state stays `Ready`). Unplugging follows the reader's backoff.
//! `keyboard` scanners type into the UI and need nothing here.

pub mod gat467;
pub mod reader;
pub mod scanner;
#[cfg(test)]
mod test_support;

pub use gat467::{IdCard, Sex, Validity};
pub use reader::{
    Reader, ReaderEvent, ReaderFault, ReaderHandle, ReaderOptions, ReaderUri, Timings, spawn_reader,
};
pub use scanner::{ScanEvent, ScannerHandle, ScannerUri, spawn_serial_scanner};

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why a device URI is not usable. The message names the field and shows an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UriError(pub String);

/// A device's state for the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Opening, or no answer yet.
    Starting,
    /// Answering, no card on it.
    Ready,
    /// A card read and still on the reader.
    CardPresent,
    /// The last poll failed (see `last_fault`).
    Fault,
}

/// A device's health, shared between its thread and the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceHealth {
    pub state: DeviceState,
    /// The technician's text of the last fault (no personal data).
    pub last_fault: Option<String>,
    pub last_fault_at: Option<DateTime<Utc>>,
    /// Cards read (reader) or codes scanned (scanner).
    pub reads_ok: u64,
    /// Duration of the last card read, find to read answer.
    pub last_read_ms: Option<u64>,
}

impl Default for DeviceHealth {
    fn default() -> Self {
        Self {
            state: DeviceState::Starting,
            last_fault: None,
            last_fault_at: None,
            reads_ok: 0,
            last_read_ms: None,
        }
    }
}

#[derive(Clone, Default)]
pub(crate) struct SharedHealth(Arc<Mutex<DeviceHealth>>);

impl SharedHealth {
    pub(crate) fn get(&self) -> DeviceHealth {
        match self.0.lock() {
            Ok(h) => h.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut DeviceHealth)) {
        match self.0.lock() {
            Ok(mut h) => f(&mut h),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub(crate) fn fault(&self, text: String) {
        self.update(|h| {
            h.state = DeviceState::Fault;
            h.last_fault = Some(text);
            h.last_fault_at = Some(Utc::now());
        });
    }

    pub(crate) fn state(&self, state: DeviceState) {
        self.update(|h| h.state = state);
    }
}

/// Reopen delays: `initial`, doubling, at most `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Self {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The delay to wait now; the one after is doubled.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// The device thread's side of the stop signal: the handle sends `()` or is dropped.
pub(crate) struct StopSignal(mpsc::Receiver<()>);

impl StopSignal {
    /// Waits up to `d`; true if the thread must stop.
    pub(crate) fn wait(&self, d: Duration) -> bool {
        !matches!(self.0.recv_timeout(d), Err(RecvTimeoutError::Timeout))
    }

    /// True if the thread must stop, without waiting.
    pub(crate) fn stopped(&self) -> bool {
        self.wait(Duration::ZERO)
    }
}

/// A device thread: stops on `stop()` (waits for it) or on drop (does not wait).
pub(crate) struct DeviceThread {
    stop: Option<mpsc::Sender<()>>,
    join: Option<JoinHandle<()>>,
    health: SharedHealth,
}

impl DeviceThread {
    pub(crate) fn spawn(
        name: &str,
        health: SharedHealth,
        body: impl FnOnce(StopSignal) + Send + 'static,
    ) -> Self {
        let (stop, rx) = mpsc::channel();
        let join = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(StopSignal(rx)));
        let join = match join {
            Ok(j) => Some(j),
            Err(e) => {
                log::error!("{name}: cannot start the device thread: {e}");
                health.fault(format!("cannot start the device thread {name}: {e}"));
                None
            }
        };
        Self {
            stop: Some(stop),
            join,
            health,
        }
    }

    pub(crate) fn health(&self) -> DeviceHealth {
        self.health.get()
    }

    pub(crate) fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Splits `scheme://path?query` into its parts, `None` without `://`.
pub(crate) fn split_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Some((scheme, path, query))
}

/// A `baud` value: a positive integer up to 4 Mbit/s.
pub(crate) fn parse_baud(v: &str, example: &str) -> Result<u32, UriError> {
    match v.parse::<u32>() {
        Ok(b) if (1..=4_000_000).contains(&b) => Ok(b),
        _ => Err(UriError(format!(
            "baud: {v:?} is not a baud rate (a positive integer such as 9600 or 115200); example: {example}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let d: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn health_is_serialize() {
        fn is_serialize<T: Serialize>(_: &T) {}
        let h = DeviceHealth::default();
        is_serialize(&h);
        assert_eq!(h.state, DeviceState::Starting);
    }

    #[test]
    fn uri_parts() {
        assert_eq!(
            split_uri("gat467+serial:///dev/ttyUSB0?baud=9600"),
            Some(("gat467+serial", "/dev/ttyUSB0", "baud=9600"))
        );
        assert_eq!(split_uri("serial:///dev/x"), Some(("serial", "/dev/x", "")));
        assert_eq!(split_uri("/dev/x"), None);
        assert!(parse_baud("0", "e").is_err());
        assert!(parse_baud("x", "e").unwrap_err().0.starts_with("baud:"));
        assert_eq!(parse_baud("9600", "e"), Ok(9600));
    }
}
