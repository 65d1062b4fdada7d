//! The sim over its pseudo-terminal, from a test "host" that opens the slave device as
//! the terminal does and writes literal frames, bytes written out by hand; and the
//! `gat467-sim` binary driven through stdin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gat467_sim::{ProtocolError, Sim, SimCard, SimFault};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

const FIND: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22];
const SELECT: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x02, 0x21];
const READ: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x01, 0x32];
const FIND_BAD_CHECKSUM: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x23];

const FOUND: [u8; 15] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0x00, 0x00, 0x00, 0x00, 0x97,
];
const NO_CARD: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
];
const SELECTED: [u8; 19] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x0C, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x9C,
];
const SELECT_FAILED: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x81, 0x85,
];
const READ_FAILED: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45,
];
const BAD_CHECKSUM: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x10, 0x14,
];
const BAD_LENGTH: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x11, 0x15,
];
const UNKNOWN: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x21, 0x25,
];

const WAIT: Duration = Duration::from_secs(3);

/// The terminal's side: the slave device opened read-write, no controlling tty.
struct Host {
    file: File,
}

impl Host {
    fn open(path: &Path) -> Host {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NOCTTY.bits())
            .open(path)
            .unwrap();
        Host { file }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.file.write_all(bytes).unwrap();
    }

    /// Whether a byte comes within `timeout`.
    fn readable(&self, timeout: Duration) -> bool {
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::try_from(timeout).unwrap()).unwrap();
        n > 0
    }

    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                self.readable(left),
                "only {got} of {n} bytes: {:02X?}",
                &out[..got]
            );
            let k = self.file.read(&mut out[got..]).unwrap();
            assert!(k > 0, "hang-up after {got} of {n} bytes");
            got += k;
        }
        out
    }

    /// One answer frame, by its length field.
    fn recv(&mut self) -> Vec<u8> {
        let mut frame = self.read_exact(7);
        assert_eq!(&frame[..5], &[0xAA, 0xAA, 0xAA, 0x96, 0x69], "{frame:02X?}");
        let len = u16::from_be_bytes([frame[5], frame[6]]) as usize;
        frame.extend(self.read_exact(len));
        frame
    }

    fn ask(&mut self, command: &[u8]) -> Vec<u8> {
        self.send(command);
        self.recv()
    }

    /// Nothing comes for a while.
    fn quiet(&self, dur: Duration) -> bool {
        !self.readable(dur)
    }
}

fn start(card: Option<SimCard>) -> (Sim, Host) {
    let sim = Sim::start(card).unwrap();
    let host = Host::open(sim.path());
    (sim, host)
}

fn ucs2(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[test]
fn find_select_read() {
    let (sim, mut host) = start(None);
    assert!(sim.path().starts_with("/dev/pts"), "{:?}", sim.path());
    assert_eq!(
        sim.url(),
        format!("gat467+serial://{}?baud=115200", sim.path().display())
    );
    assert_eq!(host.ask(&FIND), NO_CARD);
    assert_eq!(host.ask(&SELECT), SELECT_FAILED);
    assert_eq!(host.ask(&READ), READ_FAILED);

    sim.place(SimCard::demo());
    assert_eq!(host.ask(&FIND), FOUND);
    assert_eq!(host.ask(&SELECT), SELECTED);
    let read = host.ask(&READ);
    assert_eq!(read.len(), 1295);
    assert_eq!(
        &read[..14],
        &[
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90, 0x01, 0x00, 0x04, 0x00
        ]
    );
    let text = &read[14..270];
    assert_eq!(ucs2(&text[..30]), format!("王秀英{}", " ".repeat(12)));
    assert_eq!(ucs2(&text[30..32]), "2");
    assert_eq!(ucs2(&text[122..158]), "310105195001011231");
    assert_eq!(ucs2(&text[204..220]), "20350101");
    let checksum = read[5..1294].iter().fold(0, |a, b| a ^ b);
    assert_eq!(read[1294], checksum);

    let counts = sim.counts();
    assert_eq!((counts.finds, counts.selects, counts.reads), (2, 2, 2));
    assert_eq!(sim.protocol_errors(), vec![]);
    assert_eq!(
        sim.frames(),
        [FIND, SELECT, READ, FIND, SELECT, READ]
            .map(Vec::from)
            .to_vec()
    );
}

/// The terminal closes and reopens the device: the line stays up (the sim holds a slave
/// descriptor), in raw mode.
#[test]
fn reopen_keeps_the_line() {
    let (sim, mut host) = start(Some(SimCard::long_term()));
    assert_eq!(host.ask(&FIND), FOUND);
    drop(host);
    std::thread::sleep(Duration::from_millis(50));
    let mut host = Host::open(sim.path());
    assert_eq!(host.ask(&SELECT), SELECTED);
    let read = host.ask(&READ);
    assert_eq!(
        ucs2(&read[14 + 204..14 + 220]),
        format!("长期{}", " ".repeat(6))
    );
    assert_eq!(sim.protocol_errors(), vec![]);
}

#[test]
fn bad_host_frames_are_answered_and_recorded() {
    let (sim, mut host) = start(Some(SimCard::demo()));
    assert_eq!(host.ask(&FIND_BAD_CHECKSUM), BAD_CHECKSUM);
    let errors = sim.protocol_errors();
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(
            &errors[0],
            ProtocolError::BadChecksum {
                got: 0x23,
                expected: 0x22,
                ..
            }
        ),
        "{errors:?}"
    );
    assert!(
        errors[0].to_string().contains("bad checksum"),
        "{}",
        errors[0]
    );
    // The reader is in step again.
    assert_eq!(host.ask(&FIND), FOUND);

    // Unknown command 12 34.
    assert_eq!(
        host.ask(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x12, 0x34, 0x25]),
        UNKNOWN
    );
    // 30 10 (fingerprint read): this reader lacks it, answers 0x21, no violation.
    assert_eq!(
        host.ask(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x10, 0x23]),
        UNKNOWN
    );
    // Length field 1.
    assert_eq!(
        host.ask(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x01]),
        BAD_LENGTH
    );
    // Find with a data byte it does not take.
    assert_eq!(
        host.ask(&[
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x20, 0x01, 0x00, 0x25
        ]),
        BAD_LENGTH
    );
    // A frame cut short: answered 0x11 when the line has been quiet a while.
    let sent = Instant::now();
    assert_eq!(host.ask(&FIND[..8]), BAD_LENGTH);
    assert!(sent.elapsed() >= Duration::from_millis(400));

    let errors = sim.protocol_errors();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert!(matches!(
        errors[1],
        ProtocolError::UnknownCommand {
            cmd: 0x12,
            para: 0x34,
            ..
        }
    ));
    assert_eq!(errors[2], ProtocolError::LengthTooShort(1));
    assert!(matches!(
        errors[3],
        ProtocolError::UnexpectedData { len: 1, .. }
    ));
    assert_eq!(errors[4], ProtocolError::Incomplete { len: 3, got: 1 });
    assert_eq!(sim.frames().len(), 7);
    assert_eq!(host.ask(&FIND), FOUND);
}

#[test]
fn split_writes_and_garbage() {
    let (sim, mut host) = start(Some(SimCard::demo()));
    for piece in [&FIND[..2], &FIND[2..6], &FIND[6..9], &FIND[9..]] {
        host.send(piece);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(host.recv(), FOUND);
    // Byte by byte, the read too.
    for b in SELECT {
        host.send(&[b]);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(host.recv(), SELECTED);
    assert_eq!(sim.protocol_errors(), vec![]);

    // Line noise, then a frame; and two frames in one write.
    let mut noisy = vec![0x00, 0xFF, 0xAA, 0x96];
    noisy.extend_from_slice(&FIND);
    noisy.extend_from_slice(&SELECT);
    host.send(&noisy);
    assert_eq!(host.recv(), FOUND);
    assert_eq!(host.recv(), SELECTED);
    assert_eq!(
        sim.protocol_errors(),
        vec![ProtocolError::Garbage(vec![0x00, 0xFF, 0xAA, 0x96])]
    );
    assert!(
        host.quiet(Duration::from_millis(100)),
        "noise is not answered"
    );
    assert_eq!(host.ask(&READ).len(), 1295);
}

#[test]
fn every_fault() {
    let (sim, mut host) = start(Some(SimCard::demo()));

    sim.set_fault(SimFault::BadChecksumOnce);
    let mut wrong = FOUND;
    wrong[14] = 0x68;
    assert_eq!(host.ask(&FIND), wrong);
    assert_eq!(sim.fault(), SimFault::None);
    assert_eq!(host.ask(&FIND), FOUND, "once");

    sim.set_fault(SimFault::StatusOnce(0x41));
    assert_eq!(host.ask(&SELECT), READ_FAILED);
    assert_eq!(host.ask(&FIND), FOUND, "once");

    sim.set_fault(SimFault::Silent);
    host.send(&FIND);
    host.send(&SELECT);
    assert!(host.quiet(Duration::from_millis(300)));
    assert_eq!(sim.fault(), SimFault::Silent, "until cleared");
    sim.set_fault(SimFault::None);
    assert_eq!(host.ask(&READ).len(), 1295, "selected while silent");

    sim.set_fault(SimFault::RemoveDuringRead);
    assert_eq!(host.ask(&FIND), FOUND);
    assert_eq!(host.ask(&SELECT), SELECT_FAILED);
    assert_eq!(host.ask(&READ), READ_FAILED);
    assert_eq!(host.ask(&FIND), NO_CARD);
    assert_eq!(host.ask(&FIND), NO_CARD, "until placed again");
    assert_eq!(sim.card(), None);
    sim.place(SimCard::demo());
    assert_eq!(host.ask(&FIND), FOUND);
    assert_eq!(host.ask(&SELECT), SELECTED);

    // The faults strike error answers too.
    sim.set_fault(SimFault::StatusOnce(0x90));
    assert_eq!(
        host.ask(&FIND_BAD_CHECKSUM),
        [
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x90, 0x94
        ]
    );

    let counts = sim.counts();
    assert_eq!((counts.finds, counts.selects, counts.reads), (8, 4, 2));
    assert_eq!(sim.protocol_errors().len(), 1);
}

#[test]
fn unplug_hangs_up_the_host() {
    let (sim, mut host) = start(Some(SimCard::demo()));
    assert_eq!(host.ask(&FIND), FOUND);
    let path = sim.path().to_path_buf();
    sim.unplug();
    assert!(sim.is_unplugged());
    // A read ends at once: end of file on Linux (0 bytes), EIO elsewhere.
    assert!(
        host.readable(Duration::from_secs(1)),
        "hang-up is signalled"
    );
    let mut buf = [0u8; 16];
    match host.file.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => {}
        other => panic!("read after unplug: {other:?}"),
    }
    let e = host.file.write_all(&FIND).unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(nix::libc::EIO),
        "write after unplug: {e}"
    );
    // No replug on the same path: the pty is gone.
    drop(host);
    assert!(
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .is_err()
    );
    // Control and inspection still work; unplug again is a no-op.
    sim.place(SimCard::expired());
    sim.unplug();
    assert_eq!(sim.counts().finds, 1);
    assert_eq!(sim.frames(), vec![FIND.to_vec()]);
    // A new sim, a new path.
    let (sim2, mut host2) = start(Some(SimCard::demo()));
    assert_eq!(host2.ask(&FIND), FOUND);
    drop(sim2);
}

/// The binary: `path=` first, control lines from stdin, `status` as JSON, exit at EOF.
#[test]
fn binary_driven_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gat467-sim"))
        .args(["--card", "none"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let path = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("path="))
        .unwrap_or_else(|| panic!("first line {line:?}"))
        .to_owned();
    let mut host = Host::open(Path::new(&path));
    assert_eq!(host.ask(&FIND), NO_CARD);

    let mut status = |stdin: &mut std::process::ChildStdin| {
        writeln!(stdin, "status").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    writeln!(stdin, "place expired").unwrap();
    writeln!(stdin, "fault status 41").unwrap();
    writeln!(stdin, "jump").unwrap();
    let s = status(&mut stdin);
    assert_eq!(s["card"], "王秀英 310105195001011231");
    assert_eq!(s["fault"], "status 41");
    assert_eq!(host.ask(&FIND), READ_FAILED);
    assert_eq!(host.ask(&FIND), FOUND);
    assert_eq!(host.ask(&SELECT), SELECTED);
    let read = host.ask(&READ);
    assert_eq!(ucs2(&read[14 + 188..14 + 204]), "20050101");
    assert_eq!(host.ask(&FIND_BAD_CHECKSUM), BAD_CHECKSUM);

    let s = status(&mut stdin);
    assert_eq!(s["finds"], 3);
    assert_eq!(s["selects"], 1);
    assert_eq!(s["reads"], 1);
    assert_eq!(s["frames"], 6);
    assert_eq!(s["unplugged"], false);
    let errors = s["protocol_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].as_str().unwrap().starts_with("bad checksum"),
        "{errors:?}"
    );

    writeln!(stdin, "remove").unwrap();
    writeln!(stdin, "fault silent").unwrap();
    assert_eq!(status(&mut stdin)["card"], serde_json::Value::Null);
    host.send(&FIND);
    assert!(host.quiet(Duration::from_millis(200)));
    writeln!(stdin, "fault none").unwrap();
    writeln!(stdin, "unplug").unwrap();
    assert_eq!(status(&mut stdin)["unplugged"], true);

    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "gat467-sim: unknown command 'jump': expected place, remove, fault, unplug, status or quit\n"
    );
}

#[test]
fn binary_rejects_an_unknown_card() {
    let out = Command::new(env!("CARGO_BIN_EXE_gat467-sim"))
        .args(["--card", "gold"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("gold"));
}
