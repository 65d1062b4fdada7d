//! The GA/T 467 reader on a serial line: the URI, a blocking driver ([`Reader`]) and the
//! polling task ([`spawn_reader`]) that turns its answers into events.

use std::collections::VecDeque;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::str::FromStr;
use std::time::{Duration, Instant};

use civic_contract::identity::IdNumber;
use serde::Serialize;
use serialport::SerialPort;
use tokio::sync::mpsc::Sender;

use crate::gat467::{
    self, Answer, Command, DecodeError, Decoder, IdCard, SW3_FIND_OK, SW3_NO_CARD, SW3_OK,
    SW3_READ_FAILED, SW3_SELECT_FAILED,
};
use crate::{
    Backoff, DeviceHealth, DeviceState, DeviceThread, SharedHealth, StopSignal, UriError,
    parse_baud, split_uri,
};

const SCHEME: &str = "gat467+serial";
const EXAMPLE: &str = "gat467+serial:///dev/ttyUSB0?baud=115200";
const DEFAULT_BAUD: u32 = 115_200;

/// Where the reader is: `gat467+serial:///dev/ttyUSB0?baud=115200` (baud defaults to
/// 115200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderUri {
    pub path: String,
    pub baud: u32,
}

impl ReaderUri {
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let uri = uri.trim();
        let Some((scheme, path, query)) = split_uri(uri) else {
            return Err(UriError(format!(
                "reader URI: {uri:?} has no scheme; example: {EXAMPLE}"
            )));
        };
        if scheme != SCHEME {
            return Err(UriError(format!(
                "reader URI scheme: {scheme:?} is not supported, only {SCHEME}; example: {EXAMPLE}"
            )));
        }
        if !path.starts_with('/') || path.len() < 2 {
            return Err(UriError(format!(
                "reader URI path: {path:?} is not an absolute device path; example: {EXAMPLE}"
            )));
        }
        let mut baud = DEFAULT_BAUD;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("baud", v)) => baud = parse_baud(v, EXAMPLE)?,
                _ => {
                    return Err(UriError(format!(
                        "reader URI query: {pair:?} is not known, only baud=<rate>; example: {EXAMPLE}"
                    )));
                }
            }
        }
        Ok(Self {
            path: path.to_string(),
            baud,
        })
    }
}

impl FromStr for ReaderUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, UriError> {
        Self::parse(s)
    }
}

impl fmt::Display for ReaderUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}://{}?baud={}", self.path, self.baud)
    }
}

/// Timeouts and pacing of the driver and the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Waiting for one answer (default 1 s).
    pub answer_timeout: Duration,
    /// Between two finds of the task (default 300 ms).
    pub poll: Duration,
    /// Consecutive "no card" answers after which a read card counts as removed (3).
    pub absent_after: u32,
    /// At most this many requests in any one second (4); 0 for no cap.
    pub max_requests_per_sec: u32,
    /// First reopen delay after an unplug or a failed open (1 s); doubles each time.
    pub backoff_initial: Duration,
    /// Longest reopen delay (30 s).
    pub backoff_max: Duration,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            answer_timeout: Duration::from_secs(1),
            poll: Duration::from_millis(300),
            absent_after: 3,
            max_requests_per_sec: 4,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Milliseconds of each step of one card read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Timings {
    pub find_ms: u64,
    pub select_ms: u64,
    pub read_ms: u64,
}

impl Timings {
    pub fn total_ms(&self) -> u64 {
        self.find_ms + self.select_ms + self.read_ms
    }
}

/// Why the reader could not read. `Display` is for technicians (device, cause, fix);
/// [`ReaderFault::resident_message_zh`] and `_en` for residents. No fault carries ID data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderFault {
    #[error(
        "ID card reader {path} is unplugged or cannot be opened ({detail}). Check the reader's USB or serial cable and power, that {path} exists (ls -l {path}) and that the service user may open it (group dialout); the terminal reopens it by itself."
    )]
    Unplugged { path: String, detail: String },
    /// Another program holds the port (serialport's exclusive `flock`): usually the
    /// running terminal, when a technician tests the reader from the command line.
    #[error(
        "ID card reader {path} is in use by another program (most likely the running terminal, which holds it while it runs). Stop it (systemctl stop civic-kiosk) to test the reader from the command line, or see the reader's state in the heartbeat."
    )]
    InUse { path: String },
    #[error(
        "ID card reader {path} did not answer {command} within {timeout_ms} ms. Check the cable, that the device is a GA/T 467 reader and the baud rate in the reader URI (e.g. gat467+serial://{path}?baud=115200)."
    )]
    Silent {
        path: String,
        command: &'static str,
        timeout_ms: u64,
    },
    #[error(
        "ID card reader {path} answered {command} with a wrong checksum (byte {got:#04x}, computed {expected:#04x}). Check the baud rate in the reader URI and the cable (a loose connector, interference)."
    )]
    Checksum {
        path: String,
        command: &'static str,
        expected: u8,
        got: u8,
    },
    #[error(
        "ID card reader {path} answered {command} with status {} ({meaning}). {}",
        hex3(sw),
        status_fix(sw[2])
    )]
    Status {
        path: String,
        command: &'static str,
        sw: [u8; 3],
        meaning: &'static str,
    },
    #[error(
        "The ID card was taken away during the read (found, then select or read failed). Nothing to fix unless it happens with every card: then check the reader's placement area."
    )]
    Removed,
    #[error(
        "The ID card's text could not be parsed ({0}). The card may be damaged or not a resident ID card; if every card fails, the reader's firmware may not be GA/T 467."
    )]
    Malformed(String),
}

fn hex3(sw: &[u8; 3]) -> String {
    format!("{:02X} {:02X} {:02X}", sw[0], sw[1], sw[2])
}

fn status_fix(sw3: u8) -> &'static str {
    match sw3 {
        0x10 | 0x11 | 0x21 | 0x24 => {
            "The SAM did not understand the frame: check the baud rate and that the device is a GA/T 467 reader."
        }
        0x23 | 0x60 | 0x66 => {
            "The reader's SAM module is faulty or not authorised: call the reader's vendor."
        }
        0x31..=0x33 | 0x40 | 0x91 => {
            "The card is damaged or not a genuine resident ID card; if every card fails, call the reader's vendor."
        }
        _ => {
            "See the reader's manual for this status; if it persists, replug or replace the reader."
        }
    }
}

impl ReaderFault {
    /// Plain words for the resident, in Chinese.
    pub fn resident_message_zh(&self) -> &'static str {
        match self {
            ReaderFault::Removed => "读卡时身份证被移开，请重新放置身份证",
            ReaderFault::Malformed(_) => "无法读取此身份证，请重新放置，或联系工作人员",
            ReaderFault::Status { sw, .. } if is_card_status(sw[2]) => {
                "无法识别此证件，请放置第二代居民身份证"
            }
            ReaderFault::Unplugged { .. }
            | ReaderFault::InUse { .. }
            | ReaderFault::Silent { .. }
            | ReaderFault::Checksum { .. }
            | ReaderFault::Status { .. } => "读卡器暂时无法使用，请联系工作人员",
        }
    }

    /// Plain words for the resident, in English.
    pub fn resident_message_en(&self) -> &'static str {
        match self {
            ReaderFault::Removed => "The ID card was moved during reading. Please place it again.",
            ReaderFault::Malformed(_) => {
                "This ID card could not be read. Please place it again or ask the staff for help."
            }
            ReaderFault::Status { sw, .. } if is_card_status(sw[2]) => {
                "This card is not recognised. Please place a second-generation resident ID card."
            }
            ReaderFault::Unplugged { .. }
            | ReaderFault::InUse { .. }
            | ReaderFault::Silent { .. }
            | ReaderFault::Checksum { .. }
            | ReaderFault::Status { .. } => {
                "The card reader is not available at the moment. Please ask the staff for help."
            }
        }
    }

    /// Whether the fault is the reader's (or its line's) rather than the card's.
    pub fn is_device_fault(&self) -> bool {
        match self {
            ReaderFault::Removed | ReaderFault::Malformed(_) => false,
            ReaderFault::Status { sw, .. } => !is_card_status(sw[2]),
            ReaderFault::Unplugged { .. }
            | ReaderFault::InUse { .. }
            | ReaderFault::Silent { .. }
            | ReaderFault::Checksum { .. } => true,
        }
    }

    /// The same fault for reporting once: an unplugged device is one fault whatever the
    /// OS said each time.
    fn same_as(&self, other: &ReaderFault) -> bool {
        match (self, other) {
            (ReaderFault::Unplugged { path: a, .. }, ReaderFault::Unplugged { path: b, .. }) => {
                a == b
            }
            _ => self == other,
        }
    }
}

fn is_card_status(sw3: u8) -> bool {
    matches!(sw3, 0x31..=0x33 | 0x40 | 0x91)
}

/// At most `max` requests in any one second (sliding window).
#[derive(Debug)]
struct Budget {
    max: u32,
    sent: VecDeque<Instant>,
}

impl Budget {
    fn new(max: u32) -> Self {
        Self {
            max,
            sent: VecDeque::new(),
        }
    }

    /// Waits until one more request fits, then counts it.
    fn take(&mut self) {
        if self.max == 0 {
            return;
        }
        let window = Duration::from_secs(1);
        loop {
            let now = Instant::now();
            while self
                .sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                self.sent.pop_front();
            }
            if self.sent.len() < self.max as usize {
                self.sent.push_back(now);
                return;
            }
            match self.sent.front() {
                Some(first) => std::thread::sleep((*first + window).saturating_duration_since(now)),
                None => return,
            }
        }
    }
}

/// A GA/T 467 reader on an open serial line (8N1, no flow control, raw).
pub struct Reader {
    port: Box<dyn SerialPort>,
    path: String,
    decoder: Decoder,
    answer_timeout: Duration,
    budget: Budget,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Reader {
    pub fn open(uri: &ReaderUri, opts: &ReaderOptions) -> Result<Reader, ReaderFault> {
        let port = serialport::new(uri.path.as_str(), uri.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(opts.answer_timeout)
            .open()
            .map_err(|e| {
                // serialport says so in words only (ErrorKind::NoDevice otherwise too).
                if e.description.contains("exclusive lock") {
                    ReaderFault::InUse {
                        path: uri.path.clone(),
                    }
                } else {
                    ReaderFault::Unplugged {
                        path: uri.path.clone(),
                        detail: e.to_string(),
                    }
                }
            })?;
        Ok(Reader {
            port,
            path: uri.path.clone(),
            decoder: Decoder::new(),
            answer_timeout: opts.answer_timeout,
            budget: Budget::new(opts.max_requests_per_sec),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn unplugged(&self, e: &std::io::Error) -> ReaderFault {
        ReaderFault::Unplugged {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    fn silent(&self, cmd: Command) -> ReaderFault {
        ReaderFault::Silent {
            path: self.path.clone(),
            command: cmd.name(),
            timeout_ms: ms(self.answer_timeout),
        }
    }

    fn status(&self, cmd: Command, a: &Answer) -> ReaderFault {
        ReaderFault::Status {
            path: self.path.clone(),
            command: cmd.name(),
            sw: a.sw,
            meaning: gat467::sw3_meaning(a.sw3()),
        }
    }

    /// Drops stale input, writes one command frame, waits for one answer.
    pub fn transact(&mut self, cmd: Command) -> Result<Answer, ReaderFault> {
        self.budget.take();
        let _ = self.port.clear(serialport::ClearBuffer::Input);
        self.decoder.reset();
        if let Err(e) = self.port.write_all(&cmd.frame()) {
            return Err(match e.kind() {
                ErrorKind::TimedOut => self.silent(cmd),
                _ => self.unplugged(&e),
            });
        }
        let deadline = Instant::now() + self.answer_timeout;
        let mut buf = [0u8; 512];
        let result = loop {
            let now = Instant::now();
            if now >= deadline {
                break Err(self.silent(cmd));
            }
            let _ = self.port.set_timeout(deadline - now);
            match self.port.read(&mut buf) {
                Ok(0) => {
                    break Err(self.unplugged(&std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "end of file",
                    )));
                }
                Ok(n) => {
                    self.decoder.push(&buf[..n]);
                    let mut answer = None;
                    while let Some(r) = self.decoder.next_answer() {
                        match r {
                            Ok(a) => {
                                answer = Some(Ok(a));
                                break;
                            }
                            Err(DecodeError::Checksum { expected, got }) => {
                                answer = Some(Err(ReaderFault::Checksum {
                                    path: self.path.clone(),
                                    command: cmd.name(),
                                    expected,
                                    got,
                                }));
                                break;
                            }
                            // Noise that looked like a header: keep looking.
                            Err(DecodeError::BadLength(_)) => {}
                        }
                    }
                    if let Some(a) = answer {
                        break a;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => break Err(self.unplugged(&e)),
            }
        };
        buf.fill(0);
        result
    }

    /// Find card: `Ok(true)` found, `Ok(false)` no card.
    pub fn find(&mut self) -> Result<bool, ReaderFault> {
        let a = self.transact(Command::Find)?;
        match a.sw3() {
            SW3_FIND_OK => Ok(true),
            SW3_NO_CARD => Ok(false),
            _ => Err(self.status(Command::Find, &a)),
        }
    }

    /// After a failed select or read: if find now says "no card", the card was taken
    /// away (`Removed`); otherwise `fault` stands.
    fn removed_or(&mut self, fault: ReaderFault) -> ReaderFault {
        match self.find() {
            Ok(false) => ReaderFault::Removed,
            Ok(true) => fault,
            Err(e) if e.is_device_fault() => e,
            Err(_) => fault,
        }
    }

    /// Select card. A select that fails (`81`) right after a find means the card left.
    pub fn select(&mut self) -> Result<(), ReaderFault> {
        let a = self.transact(Command::Select)?;
        match a.sw3() {
            SW3_OK => Ok(()),
            SW3_SELECT_FAILED => Err(ReaderFault::Removed),
            _ => {
                let f = self.status(Command::Select, &a);
                Err(self.removed_or(f))
            }
        }
    }

    /// Read text and photo; the photo is dropped unread.
    pub fn read_card(&mut self) -> Result<IdCard, ReaderFault> {
        let a = self.transact(Command::ReadTextPhoto)?;
        match a.sw3() {
            SW3_OK => gat467::parse_read_data(&a.data).map_err(|e| ReaderFault::Malformed(e.0)),
            SW3_READ_FAILED => Err(ReaderFault::Removed),
            _ => {
                let f = self.status(Command::ReadTextPhoto, &a);
                Err(self.removed_or(f))
            }
        }
    }

    /// Select and read a card that find has just found.
    fn read_found(&mut self, find_ms: u64) -> Result<(IdCard, Timings), ReaderFault> {
        let t = Instant::now();
        self.select()?;
        let select_ms = ms(t.elapsed());
        let t = Instant::now();
        let card = self.read_card()?;
        Ok((
            card,
            Timings {
                find_ms,
                select_ms,
                read_ms: ms(t.elapsed()),
            },
        ))
    }

    /// Find, select, read: `Ok(None)` when there is no card.
    pub fn read_once(&mut self) -> Result<Option<(IdCard, Timings)>, ReaderFault> {
        let t = Instant::now();
        if !self.find()? {
            return Ok(None);
        }
        self.read_found(ms(t.elapsed())).map(Some)
    }
}

/// What the reader task reports, on changes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card appeared and was read.
    Placed(IdCard),
    /// The card read last went away.
    Removed,
    /// A read failed (each distinct fault once until `Recovered`).
    Fault(ReaderFault),
    /// A poll cycle completed without a fault after a fault.
    Recovered,
}

/// The running reader task: stops on [`ReaderHandle::stop`] (waits for the thread, at
/// most about one answer timeout) or on drop (does not wait).
pub struct ReaderHandle {
    thread: DeviceThread,
}

impl ReaderHandle {
    pub fn health(&self) -> DeviceHealth {
        self.thread.health()
    }

    pub fn stop(mut self) {
        self.thread.stop();
    }
}

/// Starts the reader task on a thread named `gat467-reader`.
pub fn spawn_reader(uri: ReaderUri, opts: ReaderOptions, tx: Sender<ReaderEvent>) -> ReaderHandle {
    let health = SharedHealth::default();
    let h = health.clone();
    let thread = DeviceThread::spawn("gat467-reader", health, move |stop| {
        let backoff = Backoff::new(opts.backoff_initial, opts.backoff_max);
        Task {
            uri,
            opts,
            tx,
            health: h,
            stop,
            reader: None,
            backoff,
            card: None,
            fault: None,
        }
        .run();
    });
    ReaderHandle { thread }
}

/// A card the task considers on the reader.
struct Present {
    /// `None` for a card whose text did not parse.
    number: Option<IdNumber>,
    /// `Placed` was sent for it.
    announced: bool,
    /// Consecutive "no card" answers.
    misses: u32,
    /// A device fault happened since: read it again to check it is the same card.
    verify: bool,
}

struct Task {
    uri: ReaderUri,
    opts: ReaderOptions,
    tx: Sender<ReaderEvent>,
    health: SharedHealth,
    stop: StopSignal,
    reader: Option<Reader>,
    backoff: Backoff,
    card: Option<Present>,
    fault: Option<ReaderFault>,
}

/// The receiver is gone: the task ends.
struct Closed;

impl Task {
    fn send(&self, e: ReaderEvent) -> Result<(), Closed> {
        self.tx.blocking_send(e).map_err(|_| Closed)
    }

    fn report(&mut self, f: ReaderFault) -> Result<(), Closed> {
        self.health.fault(f.to_string());
        if self.fault.as_ref().is_some_and(|old| old.same_as(&f)) {
            return Ok(());
        }
        log::warn!("{f}");
        self.fault = Some(f.clone());
        self.send(ReaderEvent::Fault(f))
    }

    fn run(mut self) {
        loop {
            if self.stop.stopped() {
                return;
            }
            let wait = match self.step() {
                Ok(w) => w,
                Err(Closed) => return,
            };
            if self.stop.wait(wait) {
                return;
            }
        }
    }

    /// One poll; answers how long to wait before the next.
    fn step(&mut self) -> Result<Duration, Closed> {
        if self.reader.is_none() {
            match Reader::open(&self.uri, &self.opts) {
                Ok(r) => self.reader = Some(r),
                Err(f) => {
                    self.report(f)?;
                    return Ok(self.backoff.next_delay());
                }
            }
        }
        let mut events = Vec::new();
        match self.cycle(&mut events) {
            Ok(()) => {
                self.backoff.reset();
                if self.fault.take().is_some() {
                    log::info!("ID card reader {} works again", self.uri.path);
                    self.send(ReaderEvent::Recovered)?;
                }
                for e in events {
                    self.send(e)?;
                }
                let present = self.card.as_ref().is_some_and(|c| c.announced);
                self.health.state(if present {
                    DeviceState::CardPresent
                } else {
                    DeviceState::Ready
                });
                Ok(self.opts.poll)
            }
            Err(f) => {
                for e in events {
                    self.send(e)?;
                }
                let unplugged =
                    matches!(f, ReaderFault::Unplugged { .. } | ReaderFault::InUse { .. });
                if f.is_device_fault()
                    && let Some(c) = &mut self.card
                {
                    c.verify = true;
                }
                self.report(f)?;
                if unplugged {
                    self.reader = None;
                    Ok(self.backoff.next_delay())
                } else {
                    Ok(self.opts.poll)
                }
            }
        }
    }

    /// Find, and read a card that is new (or must be verified).
    fn cycle(&mut self, events: &mut Vec<ReaderEvent>) -> Result<(), ReaderFault> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(());
        };
        let t = Instant::now();
        if !reader.find()? {
            if let Some(c) = &mut self.card {
                c.misses = c.misses.saturating_add(1);
                if c.misses >= self.opts.absent_after.max(1) {
                    if c.announced {
                        events.push(ReaderEvent::Removed);
                    }
                    self.card = None;
                }
            }
            return Ok(());
        }
        if let Some(c) = &mut self.card
            && !c.verify
        {
            c.misses = 0;
            return Ok(());
        }
        let find_ms = ms(t.elapsed());
        match reader.read_found(find_ms) {
            Ok((card, timings)) => {
                if let Some(old) = self.card.take() {
                    if old.number.as_ref() == Some(&card.number) {
                        self.card = Some(Present {
                            verify: false,
                            misses: 0,
                            ..old
                        });
                        return Ok(());
                    }
                    if old.announced {
                        events.push(ReaderEvent::Removed);
                    }
                }
                let total = timings.total_ms();
                log::info!("ID card read in {total} ms");
                self.health.update(|h| {
                    h.reads_ok += 1;
                    h.last_read_ms = Some(total);
                });
                self.card = Some(Present {
                    number: Some(card.number.clone()),
                    announced: true,
                    misses: 0,
                    verify: false,
                });
                events.push(ReaderEvent::Placed(card));
                Ok(())
            }
            Err(f) => {
                let card_fault = matches!(f, ReaderFault::Removed | ReaderFault::Malformed(_));
                // The card checked after a device fault is gone or unreadable.
                if card_fault && self.card.take().is_some_and(|c| c.announced) {
                    events.push(ReaderEvent::Removed);
                }
                if matches!(f, ReaderFault::Malformed(_)) {
                    // Not read again until it leaves.
                    self.card = Some(Present {
                        number: None,
                        announced: false,
                        misses: 0,
                        verify: false,
                    });
                }
                Err(f)
            }
        }
    }
}

#[cfg(test)]
mod tests;
