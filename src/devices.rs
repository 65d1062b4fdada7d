//! The identity devices of this terminal: the 二代身份证 reader and a serial code scanner
//! (`civic-devices`), started from `[identity]`, their events turned into the flows'
//! [`IdentityEvent`]s, their health for `diagnose`, `identity test` and the heartbeat.
//!
//! What a reader reads goes only into the session value (through the UI's channel): the
//! log gets the technician's text of a fault and counts, never a name or number.

use std::time::Duration;

use civic_devices::reader::{ReaderEvent, ReaderFault, ReaderHandle, ReaderOptions, ReaderUri};
use civic_devices::scanner::{ScanEvent, ScannerHandle, ScannerUri};
use civic_devices::{DeviceHealth, DeviceState, Validity};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::flow::{CardRead, IdentityEvent, ReaderProblem};

/// The running devices; dropping it stops their threads.
pub struct Devices {
    reader: Option<(ReaderUri, ReaderHandle)>,
    scanner: Option<(String, ScannerHandle)>,
}

/// One device's state as the heartbeat and `status` report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceReport {
    pub kind: &'static str,
    pub uri: String,
    pub health: DeviceHealth,
}

impl Devices {
    /// Starts what `[identity]` names (a config that validated names valid URIs; a bad
    /// one is logged and not started). Answers the devices and the channel of their
    /// events for the UI (`None` when nothing runs).
    pub fn start(
        config: &Config,
        runtime: &tokio::runtime::Handle,
    ) -> (Devices, Option<mpsc::UnboundedReceiver<IdentityEvent>>) {
        let (ui_tx, ui_rx) = mpsc::unbounded_channel();
        let mut devices = Devices {
            reader: None,
            scanner: None,
        };
        match reader_uri(config) {
            Ok(Some(uri)) => {
                let (tx, mut rx) = mpsc::channel::<ReaderEvent>(16);
                let handle =
                    civic_devices::reader::spawn_reader(uri.clone(), ReaderOptions::default(), tx);
                log::info!("ID card reader {uri} started");
                let ui = ui_tx.clone();
                runtime.spawn(async move {
                    while let Some(ev) = rx.recv().await {
                        if ui.send(reader_event(ev)).is_err() {
                            return;
                        }
                    }
                });
                devices.reader = Some((uri, handle));
            }
            Ok(None) => {}
            Err(e) => log::error!("identity.reader: {e}; no ID card reader runs"),
        }
        match ScannerUri::parse(&config.identity.scanner) {
            Ok(Some(ScannerUri::Serial { path, baud })) => {
                let (tx, mut rx) = mpsc::channel::<ScanEvent>(16);
                let handle = civic_devices::scanner::spawn_serial_scanner(path.clone(), baud, tx);
                log::info!("code scanner serial://{path}?baud={baud} started");
                let ui = ui_tx.clone();
                runtime.spawn(async move {
                    while let Some(ev) = rx.recv().await {
                        match ev {
                            ScanEvent::Code(code) => {
                                log::info!("code scanned ({} characters)", code.chars().count());
                                if ui.send(IdentityEvent::Scanned(code)).is_err() {
                                    return;
                                }
                            }
                            // The scanner thread logged them, once each.
                            ScanEvent::Fault(_) | ScanEvent::Recovered => {}
                        }
                    }
                });
                devices.scanner = Some((format!("serial://{path}?baud={baud}"), handle));
            }
            Ok(Some(ScannerUri::Keyboard)) | Ok(None) => {}
            Err(e) => log::error!("identity.scanner: {e}; no code scanner runs"),
        }
        let any = devices.reader.is_some() || devices.scanner.is_some();
        (devices, any.then_some(ui_rx))
    }

    /// The devices' states, for the heartbeat.
    pub fn reports(&self) -> Vec<DeviceReport> {
        let mut out = Vec::new();
        if let Some((uri, h)) = &self.reader {
            out.push(DeviceReport {
                kind: "id_reader",
                uri: uri.to_string(),
                health: h.health(),
            });
        }
        if let Some((uri, h)) = &self.scanner {
            out.push(DeviceReport {
                kind: "code_scanner",
                uri: uri.clone(),
                health: h.health(),
            });
        }
        out
    }

    /// The devices' states as the heartbeat carries them.
    pub fn states(&self) -> Vec<crate::api::DeviceState> {
        self.reports()
            .into_iter()
            .map(|r| crate::api::DeviceState {
                kind: if r.kind == "id_reader" {
                    crate::api::DeviceKind::IdReader
                } else {
                    crate::api::DeviceKind::CodeScanner
                },
                uri: r.uri,
                state: state_word(&r.health).into(),
                last_fault: r.health.last_fault,
                last_fault_at: r.health.last_fault_at,
            })
            .collect()
    }
}

/// `identity.reader`: `None` when empty.
fn reader_uri(config: &Config) -> Result<Option<ReaderUri>, civic_devices::UriError> {
    let s = config.identity.reader.trim();
    if s.is_empty() {
        Ok(None)
    } else {
        ReaderUri::parse(s).map(Some)
    }
}

/// The reader's event as the flows take it; faults are logged for the technician here.
pub fn reader_event(ev: ReaderEvent) -> IdentityEvent {
    match ev {
        ReaderEvent::Placed(card) => {
            log::info!("ID card read");
            IdentityEvent::CardRead(CardRead {
                valid_until: match card.valid_until {
                    Validity::Until(d) => Some(d),
                    Validity::LongTerm => None,
                },
                id: card.number,
                name: card.name,
            })
        }
        ReaderEvent::Removed => IdentityEvent::CardLifted,
        ReaderEvent::Fault(f) => {
            log::warn!("{f}");
            IdentityEvent::ReaderFailed(problem(&f))
        }
        ReaderEvent::Recovered => {
            log::info!("ID card reader: working again");
            IdentityEvent::ReaderRecovered
        }
    }
}

/// What a fault means to the resident. A fault of the line while only polling for a
/// card (find) is the reader's: nobody is told (no card was placed) and the entry page
/// says the reader is unavailable; the same fault answering a select or a read is about
/// the card just placed: "无法读取身份证，请重新放置".
pub fn problem(f: &ReaderFault) -> ReaderProblem {
    let polling = |command: &str| command == civic_devices::gat467::Command::Find.name();
    match f {
        ReaderFault::Removed => ReaderProblem::Moved,
        ReaderFault::Checksum { command, .. } | ReaderFault::Status { command, .. }
            if !polling(command) =>
        {
            ReaderProblem::Unreadable
        }
        f if f.is_device_fault() => ReaderProblem::Unavailable,
        _ => ReaderProblem::Unreadable,
    }
}

/// `identity test`: one card read, its masked name, validity and timings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestReport {
    pub reader: String,
    pub ok: bool,
    /// The card on the reader (masked), when one was read.
    pub masked_name: Option<String>,
    pub masked_id: Option<String>,
    /// `2035-01-01` or `长期`.
    pub valid_until: Option<String>,
    pub expired: Option<bool>,
    /// The SAM's status of the read answer (`00 00 90` success).
    pub sam_status: Option<String>,
    pub timings_ms: Option<civic_devices::reader::Timings>,
    /// Why nothing was read, for the technician.
    pub fault: Option<String>,
}

/// Reads one card from the configured reader, waiting up to `wait` for one.
pub fn test_read(config: &Config, wait: Duration) -> Result<TestReport, String> {
    let uri = match reader_uri(config) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return Err(
                "identity.reader is empty: no ID card reader is configured here (e.g. gat467+serial:///dev/ttyUSB0?baud=115200)"
                    .into(),
            );
        }
        Err(e) => return Err(format!("identity.reader: {e}")),
    };
    let mut report = TestReport {
        reader: uri.to_string(),
        ok: false,
        masked_name: None,
        masked_id: None,
        valid_until: None,
        expired: None,
        sam_status: None,
        timings_ms: None,
        fault: None,
    };
    let opts = ReaderOptions::default();
    let mut reader = match civic_devices::reader::Reader::open(&uri, &opts) {
        Ok(r) => r,
        Err(f) => {
            report.fault = Some(f.to_string());
            return Ok(report);
        }
    };
    let until = std::time::Instant::now() + wait;
    loop {
        match reader.read_once() {
            Ok(Some((card, timings))) => {
                let today = chrono::Local::now().date_naive();
                report.ok = true;
                report.masked_name = Some(card.name.masked());
                report.masked_id = Some(card.number.masked());
                report.valid_until = Some(match card.valid_until {
                    Validity::Until(d) => d.format("%Y-%m-%d").to_string(),
                    Validity::LongTerm => "长期".into(),
                });
                report.expired = Some(card.expired(today));
                report.sam_status = Some("00 00 90".into());
                report.timings_ms = Some(timings);
                return Ok(report);
            }
            Ok(None) if std::time::Instant::now() < until => {
                std::thread::sleep(opts.poll);
            }
            Ok(None) => {
                report.fault = Some(format!(
                    "no card on the reader within {} s: place a resident ID card on {} and run it again (or --wait SECS)",
                    wait.as_secs(),
                    uri
                ));
                return Ok(report);
            }
            Err(f) => {
                report.fault = Some(f.to_string());
                return Ok(report);
            }
        }
    }
}

/// `diagnose`: the reader answers a find (a card need not be there). `Err` holds what
/// is wrong and the fix.
pub fn probe_reader(config: &Config) -> Option<Result<String, (String, String)>> {
    let uri = match reader_uri(config) {
        Ok(Some(u)) => u,
        Ok(None) => return None,
        Err(e) => {
            return Some(Err((
                format!("identity.reader: {e}"),
                "correct identity.reader (civic-kiosk config set identity.reader ...), then restart the terminal".into(),
            )));
        }
    };
    let opts = ReaderOptions::default();
    Some(
        civic_devices::reader::Reader::open(&uri, &opts)
            .and_then(|mut r| r.find())
            .map(|card| {
                format!(
                    "{uri}: answers ({})",
                    if card {
                        "a card is on it"
                    } else {
                        "no card on it"
                    }
                )
            })
            .or_else(|f| match f {
                // The running terminal holds it: there, and not ours to probe now.
                ReaderFault::InUse { .. } => Ok(format!(
                    "{uri}: in use by the running terminal (not probed from here; its state is in the heartbeat)"
                )),
                f => Err(f),
            })
            .map_err(|f| (format!("{uri}: {f}"), fault_fix(&f, &uri))),
    )
}

/// `diagnose`: a serial scanner's port opens; a keyboard-wedge scanner has nothing to
/// open (it types into the window). `None` without a scanner.
pub fn probe_scanner(config: &Config) -> Option<Result<String, (String, String)>> {
    use civic_devices::scanner::Probe;
    match ScannerUri::parse(&config.identity.scanner) {
        Ok(None) => None,
        Ok(Some(ScannerUri::Keyboard)) => Some(Ok(
            "keyboard: a keyboard-wedge scanner types into the window (nothing to open; scan a code on the touch screen to try it)".into(),
        )),
        Ok(Some(ScannerUri::Serial { path, baud })) => {
            let uri = format!("serial://{path}?baud={baud}");
            Some(match civic_devices::scanner::probe_serial(&path, baud) {
                Probe::Opens => Ok(format!("{uri}: opens")),
                Probe::InUse => Ok(format!(
                    "{uri}: in use by the running terminal (not probed from here)"
                )),
                Probe::Fails(why) => Err((
                    format!("{uri}: {why}"),
                    format!(
                        "plug the code scanner in and check that {path} exists and that the terminal's user may open it (group dialout); the terminal reopens it by itself"
                    ),
                )),
            })
        }
        Err(e) => Some(Err((
            format!("identity.scanner: {e}"),
            "correct identity.scanner (serial:///dev/ttyACM0?baud=9600, keyboard, or empty), then restart the terminal".into(),
        ))),
    }
}

/// What the technician does about a reader fault.
fn fault_fix(f: &ReaderFault, uri: &ReaderUri) -> String {
    match f {
        ReaderFault::Unplugged { path, .. } => format!(
            "plug the ID card reader in (USB or serial cable, power) and check that {path} exists (ls -l {path}) and that the terminal's user may open it (group dialout); the terminal reopens it by itself, no restart"
        ),
        ReaderFault::InUse { .. } => {
            "stop the running terminal (systemctl stop civic-kiosk) before testing the reader from the command line".into()
        }
        ReaderFault::Silent { .. } | ReaderFault::Checksum { .. } => format!(
            "check the cable and the baud rate in identity.reader ({uri}); the reader must speak GA/T 467"
        ),
        ReaderFault::Status { .. } => {
            "replug the reader; if its SAM keeps failing, call the reader's vendor".into()
        }
        ReaderFault::Removed | ReaderFault::Malformed(_) => {
            "place a resident ID card flat on the reader and run civic-kiosk identity test".into()
        }
    }
}

/// A device's state word for the heartbeat (`ready`, `card_present`, `fault`, `starting`).
pub fn state_word(h: &DeviceHealth) -> &'static str {
    match h.state {
        DeviceState::Starting => "starting",
        DeviceState::Ready => "ready",
        DeviceState::CardPresent => "card_present",
        DeviceState::Fault => "fault",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_map_to_what_the_resident_is_told() {
        assert_eq!(problem(&ReaderFault::Removed), ReaderProblem::Moved);
        assert_eq!(
            problem(&ReaderFault::Unplugged {
                path: "/dev/ttyUSB0".into(),
                detail: "gone".into()
            }),
            ReaderProblem::Unavailable
        );
        assert_eq!(
            problem(&ReaderFault::Malformed("number".into())),
            ReaderProblem::Unreadable
        );
        let checksum = |command| ReaderFault::Checksum {
            path: "/dev/ttyUSB0".into(),
            command,
            expected: 1,
            got: 2,
        };
        let find = civic_devices::gat467::Command::Find.name();
        let read = civic_devices::gat467::Command::ReadTextPhoto.name();
        assert_eq!(problem(&checksum(find)), ReaderProblem::Unavailable);
        assert_eq!(problem(&checksum(read)), ReaderProblem::Unreadable);
    }
}
