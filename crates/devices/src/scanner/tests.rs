use super::*;
use crate::test_support::{pty, recv_within, wait_until};
use std::io::Write;

#[test]
fn uri_forms() {
    assert_eq!(ScannerUri::parse("").unwrap(), None);
    assert_eq!(ScannerUri::parse("  ").unwrap(), None);
    assert_eq!(
        ScannerUri::parse("keyboard").unwrap(),
        Some(ScannerUri::Keyboard)
    );
    let s = ScannerUri::parse("serial:///dev/ttyACM0").unwrap().unwrap();
    assert_eq!(
        s,
        ScannerUri::Serial {
            path: "/dev/ttyACM0".into(),
            baud: 9600
        }
    );
    assert_eq!(s.to_string(), "serial:///dev/ttyACM0?baud=9600");
    let s = ScannerUri::parse("serial:///dev/ttyUSB1?baud=115200")
        .unwrap()
        .unwrap();
    assert_eq!(ScannerUri::parse(&s.to_string()).unwrap(), Some(s));
    assert_eq!(
        "keyboard".parse::<ScannerUri>().unwrap(),
        ScannerUri::Keyboard
    );
    assert!("".parse::<ScannerUri>().is_err());
    for (bad, field) in [
        ("hid", "scanner URI"),
        ("usb:///dev/x", "scheme"),
        ("serial://ttyACM0", "path"),
        ("serial:///dev/ttyACM0?baud=-1", "baud"),
        ("serial:///dev/ttyACM0?speed=9600", "query"),
    ] {
        let e = ScannerUri::parse(bad).unwrap_err().0;
        assert!(e.contains(field), "{bad}: {e}");
        assert!(e.contains("serial:///dev/ttyACM0?baud=9600"), "{bad}: {e}");
    }
}

fn lines(chunks: &[&[u8]]) -> Vec<Result<String, LineFault>> {
    let mut l = Lines::default();
    let mut out = Vec::new();
    for c in chunks {
        l.push(c, &mut out);
    }
    out
}

#[test]
fn line_ends_trim_and_empty_lines() {
    assert_eq!(
        lines(&[
            b"AB",
            b"C\r\n",
            b"\n\r  D 1 \n",
            b"\r\n",
            b"E\r",
            b"pending"
        ]),
        [Ok("ABC".into()), Ok("D 1".into()), Ok("E".into())]
    );
}

#[test]
fn line_cap_and_utf8() {
    let exact = vec![b'x'; MAX_CODE_LEN];
    let over = vec![b'x'; MAX_CODE_LEN + 1];
    assert_eq!(
        lines(&[&exact, b"\n", &over, b"\n", b"ok\n"]),
        [
            Ok("x".repeat(MAX_CODE_LEN)),
            Err(LineFault::TooLong),
            Ok("ok".into())
        ]
    );
    // Reported at the cap, before the line ends.
    assert_eq!(lines(&[&over]), [Err(LineFault::TooLong)]);
    assert_eq!(
        lines(&[&[0xFF, 0xFE, b'\n'], "二维码\n".as_bytes()]),
        [Err(LineFault::NotUtf8), Ok("二维码".into())]
    );
}

#[test]
fn serial_scanner_on_a_pty() {
    let mut p = pty();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = spawn_serial_scanner(p.path.clone(), 9600, tx);
    assert!(wait_until(Duration::from_secs(3), || handle.health().state
        == DeviceState::Ready));
    let d = Duration::from_secs(3);
    p.master.write_all(b"CK1:abc\r\nSH-0001\n").unwrap();
    assert_eq!(
        recv_within(&mut rx, d),
        Some(ScanEvent::Code("CK1:abc".into()))
    );
    assert_eq!(
        recv_within(&mut rx, d),
        Some(ScanEvent::Code("SH-0001".into()))
    );
    let mut long = vec![b'A'; 3000];
    long.push(b'\n');
    p.master.write_all(&long).unwrap();
    match recv_within(&mut rx, d) {
        Some(ScanEvent::Fault(t)) => {
            assert!(t.contains("code too long"), "{t}");
            assert!(t.contains(&p.path), "{t}");
        }
        other => panic!("expected Fault, got {other:?}"),
    }
    p.master.write_all(b"NEXT\r").unwrap();
    assert_eq!(
        recv_within(&mut rx, d),
        Some(ScanEvent::Code("NEXT".into()))
    );
    p.master.write_all(&[0xC3, 0x28, b'\n']).unwrap();
    assert!(matches!(
        recv_within(&mut rx, d),
        Some(ScanEvent::Fault(t)) if t.contains("UTF-8")
    ));
    let h = handle.health();
    assert_eq!(h.reads_ok, 3);
    assert_eq!(h.state, DeviceState::Ready);
    assert!(h.last_fault.is_some());
    handle.stop();
}

#[test]
fn serial_scanner_reopens_after_unplug() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("scanner");
    let p1 = pty();
    std::os::unix::fs::symlink(&p1.path, &link).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = ScannerOptions {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
    };
    let path = link.to_string_lossy().into_owned();
    let handle = spawn_serial_scanner_with(path.clone(), 9600, opts, tx);
    assert!(wait_until(Duration::from_secs(3), || handle.health().state
        == DeviceState::Ready));
    drop(p1.master);
    std::fs::remove_file(&link).unwrap();
    match recv_within(&mut rx, Duration::from_secs(2)) {
        Some(ScanEvent::Fault(t)) => assert!(t.contains("unplugged"), "{t}"),
        other => panic!("expected Fault, got {other:?}"),
    }
    // Failed reopens while it is away: one fault.
    assert_eq!(recv_within(&mut rx, Duration::from_millis(500)), None);
    assert_eq!(handle.health().state, DeviceState::Fault);
    let mut p2 = pty();
    std::os::unix::fs::symlink(&p2.path, &link).unwrap();
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(2)),
        Some(ScanEvent::Recovered)
    );
    p2.master.write_all(b"AFTER\n").unwrap();
    assert_eq!(
        recv_within(&mut rx, Duration::from_secs(2)),
        Some(ScanEvent::Code("AFTER".into()))
    );
    handle.stop();
    drop(p1.slave);
}

#[test]
fn a_probe_tells_there_in_use_and_gone() {
    let p = crate::test_support::pty();
    assert_eq!(probe_serial(&p.path, 9600), Probe::Opens);
    let (tx, _rx) = tokio::sync::mpsc::channel(4);
    let h = spawn_serial_scanner(p.path.clone(), 9600, tx);
    assert!(crate::test_support::wait_until(
        std::time::Duration::from_secs(5),
        || probe_serial(&p.path, 9600) == Probe::InUse
    ));
    h.stop();
    assert!(matches!(
        probe_serial("/dev/civic-no-such-scanner", 9600),
        Probe::Fails(t) if t.contains("/dev/civic-no-such-scanner")
    ));
    drop(p.slave);
}
