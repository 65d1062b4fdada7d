//! The driver and the task over pseudo-terminals, against responders that answer with
//! frames written out by hand from GA/T 467 (not produced by the crate's encoder).

use super::*;
use crate::gat467::{Sex, Validity};
use crate::test_support::{pty, recv_within, wait_until};
use chrono::NaiveDate;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;

const FIND: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22];
const SELECT: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x02, 0x21];
const READ: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x01, 0x32];

// Answers: header, length 00 04, SW1 SW2 SW3, checksum 00^04^SW1^SW2^SW3.
const FIND_OK: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x9F, 0x9B,
];
const NO_CARD: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
];
const SELECT_OK: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x90, 0x94,
];
const SELECT_FAILED: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x81, 0x85,
];
const READ_FAILED: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45,
];
// 0x33: information verification failed.
const READ_VERIFY_FAILED: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x33, 0x37,
];
// Find success with a checksum one off (9C instead of 9B).
const FIND_BAD_SUM: [u8; 11] = [
    0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x9F, 0x9C,
];

/// UCS-2LE of `s`, padded with spaces (20 00) to `bytes`.
fn ucs2(s: &str, bytes: usize) -> Vec<u8> {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.resize(bytes.max(v.len()), 0);
    for pair in v[s.encode_utf16().count() * 2..].chunks_exact_mut(2) {
        pair.copy_from_slice(&[0x20, 0x00]);
    }
    assert_eq!(v.len(), bytes);
    v
}

/// The read answer of the demo resident: 00 00 90, text length 01 00, photo length
/// 04 00, 256 text bytes, 1024 photo bytes, checksum. Length field 05 08 = 1288.
fn read_answer(number: &str, until: &str) -> Vec<u8> {
    let mut f = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90];
    f.extend_from_slice(&[0x01, 0x00, 0x04, 0x00]);
    f.extend(ucs2("王秀英", 30));
    f.extend(ucs2("2", 2));
    f.extend(ucs2("01", 4));
    f.extend(ucs2("19500101", 16));
    f.extend(ucs2("上海市徐汇区漕溪北路1号", 70));
    f.extend(ucs2(number, 36));
    f.extend(ucs2("上海市公安局徐汇分局", 30));
    f.extend(ucs2("20150101", 16));
    f.extend(ucs2(until, 16));
    f.extend(ucs2("", 36));
    f.extend(std::iter::repeat_n(0x77u8, 1024));
    let mut sum = 0u8;
    for b in &f[5..] {
        sum ^= b;
    }
    f.push(sum);
    assert_eq!(f.len(), 5 + 2 + 1288);
    f
}

const DEMO: &str = "310105195001011231";

fn opts() -> ReaderOptions {
    ReaderOptions {
        answer_timeout: Duration::from_millis(500),
        poll: Duration::from_millis(20),
        absent_after: 3,
        max_requests_per_sec: 0,
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
    }
}

fn uri(path: &str) -> ReaderUri {
    ReaderUri {
        path: path.to_string(),
        baud: 115_200,
    }
}

/// Expects each request in turn and writes its answer chunks (10 ms apart); `None`
/// stays silent. Returns the master when the script is done.
/// Each request expected, and the chunks of its answer (`None`: no answer).
type Script = Vec<([u8; 10], Option<Vec<Vec<u8>>>)>;

fn responder(mut master: File, script: Script) -> JoinHandle<File> {
    std::thread::spawn(move || {
        for (want, answer) in script {
            let mut got = [0u8; 10];
            master.read_exact(&mut got).unwrap();
            assert_eq!(got, want, "request bytes");
            for chunk in answer.unwrap_or_default() {
                master.write_all(&chunk).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        master
    })
}

fn one(a: &[u8]) -> Option<Vec<Vec<u8>>> {
    Some(vec![a.to_vec()])
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn reads_a_card_from_split_answers_with_garbage() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let answer = read_answer(DEMO, "20350101");
    let script = vec![
        (
            FIND,
            Some(vec![
                vec![0x00, 0x13, 0xAA, 0xAA],
                FIND_OK[..6].to_vec(),
                FIND_OK[6..].to_vec(),
            ]),
        ),
        (SELECT, one(&SELECT_OK)),
        (
            READ,
            Some(vec![
                answer[..3].to_vec(),
                answer[3..700].to_vec(),
                answer[700..].to_vec(),
            ]),
        ),
    ];
    let r = responder(p.master, script);
    let (card, timings) = reader.read_once().unwrap().unwrap();
    r.join().unwrap();
    assert_eq!(card.name.expose_name(), "王秀英");
    assert_eq!(card.number.expose_id_number(), DEMO);
    assert_eq!(card.sex, Sex::Female);
    assert_eq!(card.birth, ymd(1950, 1, 1));
    assert_eq!(card.valid_from, ymd(2015, 1, 1));
    assert_eq!(card.valid_until, Validity::Until(ymd(2035, 1, 1)));
    assert!(timings.read_ms >= 10, "{timings:?}");
    assert!(timings.total_ms() < 2000, "{timings:?}");
}

#[test]
fn no_card_is_none() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let r = responder(p.master, vec![(FIND, one(&NO_CARD))]);
    assert_eq!(reader.read_once().unwrap(), None);
    r.join().unwrap();
}

#[test]
fn stale_input_is_dropped_before_a_command() {
    let mut p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    // A late answer to an earlier command, lying in the input queue.
    p.master.write_all(&FIND_OK).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let r = responder(p.master, vec![(FIND, one(&NO_CARD))]);
    assert!(!reader.find().unwrap());
    r.join().unwrap();
}

#[test]
fn wrong_checksum_is_a_checksum_fault() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let r = responder(p.master, vec![(FIND, one(&FIND_BAD_SUM))]);
    let e = reader.read_once().unwrap_err();
    r.join().unwrap();
    assert_eq!(
        e,
        ReaderFault::Checksum {
            path: p.path.clone(),
            command: "find card (20 01)",
            expected: 0x9B,
            got: 0x9C
        }
    );
    assert!(e.to_string().contains(&p.path), "{e}");
    assert!(e.to_string().contains("baud rate"), "{e}");
}

#[test]
fn read_failing_after_find_is_removed() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let r = responder(
        p.master,
        vec![
            (FIND, one(&FIND_OK)),
            (SELECT, one(&SELECT_OK)),
            (READ, one(&READ_FAILED)),
        ],
    );
    let e = reader.read_once().unwrap_err();
    r.join().unwrap();
    assert_eq!(e, ReaderFault::Removed);
    assert_eq!(
        e.resident_message_zh(),
        "读卡时身份证被移开，请重新放置身份证"
    );
    assert_eq!(
        e.resident_message_en(),
        "The ID card was moved during reading. Please place it again."
    );
}

#[test]
fn select_failing_after_find_is_removed() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let r = responder(
        p.master,
        vec![(FIND, one(&FIND_OK)), (SELECT, one(&SELECT_FAILED))],
    );
    assert_eq!(reader.read_once().unwrap_err(), ReaderFault::Removed);
    r.join().unwrap();
}

#[test]
fn other_read_status_is_removed_only_if_find_no_longer_finds() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    let r = responder(
        p.master,
        vec![
            (FIND, one(&FIND_OK)),
            (SELECT, one(&SELECT_OK)),
            (READ, one(&READ_VERIFY_FAILED)),
            (FIND, one(&NO_CARD)),
            (FIND, one(&FIND_OK)),
            (SELECT, one(&SELECT_OK)),
            (READ, one(&READ_VERIFY_FAILED)),
            (FIND, one(&FIND_OK)),
        ],
    );
    assert_eq!(reader.read_once().unwrap_err(), ReaderFault::Removed);
    let e = reader.read_once().unwrap_err();
    r.join().unwrap();
    assert_eq!(
        e,
        ReaderFault::Status {
            path: p.path.clone(),
            command: "read text and photo (30 01)",
            sw: [0x00, 0x00, 0x33],
            meaning: "information verification failed",
        }
    );
    assert!(e.to_string().contains("00 00 33"), "{e}");
    assert_eq!(
        e.resident_message_zh(),
        "无法识别此证件，请放置第二代居民身份证"
    );
    assert!(!e.is_device_fault());
}

#[test]
fn unparsable_text_is_malformed_without_id_data() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    // Check character 2 where 1 is right.
    let answer = read_answer("310105195001011232", "20350101");
    let r = responder(
        p.master,
        vec![
            (FIND, one(&FIND_OK)),
            (SELECT, one(&SELECT_OK)),
            (READ, one(&answer)),
        ],
    );
    let e = reader.read_once().unwrap_err();
    r.join().unwrap();
    assert!(matches!(e, ReaderFault::Malformed(_)), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("3101051950"), "{text}");
    assert!(!text.contains("王秀英"), "{text}");
}

#[test]
fn silence_is_silent_within_the_timeout() {
    let p = pty();
    let o = ReaderOptions {
        answer_timeout: Duration::from_millis(300),
        ..opts()
    };
    let mut reader = Reader::open(&uri(&p.path), &o).unwrap();
    let r = responder(p.master, vec![(FIND, None)]);
    let t = Instant::now();
    let e = reader.read_once().unwrap_err();
    let took = t.elapsed();
    let _master = r.join().unwrap();
    assert_eq!(
        e,
        ReaderFault::Silent {
            path: p.path.clone(),
            command: "find card (20 01)",
            timeout_ms: 300
        }
    );
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_millis(1000), "{took:?}");
    assert_eq!(
        e.resident_message_zh(),
        "读卡器暂时无法使用，请联系工作人员"
    );
}

#[test]
fn closed_master_is_unplugged() {
    let p = pty();
    let mut reader = Reader::open(&uri(&p.path), &opts()).unwrap();
    // Reads the find, then hangs up.
    let r = responder(p.master, vec![(FIND, None)]);
    let h = std::thread::spawn(move || drop(r.join().unwrap()));
    let t = Instant::now();
    let e = reader.read_once().unwrap_err();
    h.join().unwrap();
    assert!(
        matches!(&e, ReaderFault::Unplugged { path, .. } if *path == p.path),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(450), "not a timeout");
    assert!(e.to_string().contains("dialout"), "{e}");
    drop(p.slave);
}

#[test]
fn missing_device_is_unplugged() {
    let u = ReaderUri::parse("gat467+serial:///dev/civic-no-such-reader").unwrap();
    let e = Reader::open(&u, &opts()).unwrap_err();
    assert!(matches!(e, ReaderFault::Unplugged { .. }), "{e:?}");
    assert!(e.to_string().contains("/dev/civic-no-such-reader"), "{e}");
    assert_eq!(
        e.resident_message_en(),
        "The card reader is not available at the moment. Please ask the staff for help."
    );
}

#[test]
fn uri_parses_and_displays() {
    let u = ReaderUri::parse("gat467+serial:///dev/ttyUSB0?baud=115200").unwrap();
    assert_eq!(
        u,
        ReaderUri {
            path: "/dev/ttyUSB0".into(),
            baud: 115_200
        }
    );
    assert_eq!(u.to_string(), "gat467+serial:///dev/ttyUSB0?baud=115200");
    let u = ReaderUri::parse("gat467+serial:///dev/ttyS1").unwrap();
    assert_eq!(u.baud, 115_200);
    assert_eq!(ReaderUri::parse(&u.to_string()).unwrap(), u);
    let u: ReaderUri = "gat467+serial:///dev/ttyS1?baud=9600".parse().unwrap();
    assert_eq!(u.baud, 9600);
    for (bad, field) in [
        ("/dev/ttyUSB0", "scheme"),
        ("serial:///dev/ttyUSB0", "scheme"),
        ("gat467+serial://dev/ttyUSB0", "path"),
        ("gat467+serial://", "path"),
        ("gat467+serial:///dev/ttyUSB0?baud=fast", "baud"),
        ("gat467+serial:///dev/ttyUSB0?baud=0", "baud"),
        ("gat467+serial:///dev/ttyUSB0?parity=none", "query"),
    ] {
        let e = ReaderUri::parse(bad).unwrap_err().0;
        assert!(e.contains(field), "{bad}: {e}");
        assert!(
            e.contains("gat467+serial:///dev/ttyUSB0?baud=115200"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn budget_spaces_requests_to_the_cap() {
    let mut b = Budget::new(4);
    let t = Instant::now();
    for _ in 0..6 {
        b.take();
    }
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(990), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let mut unlimited = Budget::new(0);
    let t = Instant::now();
    for _ in 0..100 {
        unlimited.take();
    }
    assert!(t.elapsed() < Duration::from_millis(50));
}

/// A scripted reader for the task: answers by its flags, checks every request.
#[derive(Default)]
struct Sim {
    card_on: AtomicBool,
    silent: AtomicBool,
    /// The next read answers 41 and the card leaves.
    fail_read: AtomicBool,
    /// At the next request, hang up.
    unplug: AtomicBool,
    /// Reads answer a text whose ID number fails its check character.
    malformed: AtomicBool,
    reads: AtomicU32,
    requests: AtomicU32,
    bad_request: AtomicBool,
}

fn run_sim(mut master: File, sim: Arc<Sim>) {
    std::thread::spawn(move || {
        loop {
            let mut req = [0u8; 10];
            if master.read_exact(&mut req).is_err() {
                return;
            }
            sim.requests.fetch_add(1, Ordering::SeqCst);
            if sim.unplug.swap(false, Ordering::SeqCst) {
                return;
            }
            if sim.silent.load(Ordering::SeqCst) {
                continue;
            }
            let answer = match req {
                FIND if sim.card_on.load(Ordering::SeqCst) => FIND_OK.to_vec(),
                FIND => NO_CARD.to_vec(),
                SELECT => SELECT_OK.to_vec(),
                READ if sim.fail_read.swap(false, Ordering::SeqCst) => {
                    sim.card_on.store(false, Ordering::SeqCst);
                    READ_FAILED.to_vec()
                }
                READ => {
                    sim.reads.fetch_add(1, Ordering::SeqCst);
                    if sim.malformed.load(Ordering::SeqCst) {
                        read_answer("310105195001011232", "长期")
                    } else {
                        read_answer(DEMO, "长期")
                    }
                }
                _ => {
                    sim.bad_request.store(true, Ordering::SeqCst);
                    continue;
                }
            };
            if master.write_all(&answer).is_err() {
                return;
            }
        }
    });
}

type Rx = tokio::sync::mpsc::Receiver<ReaderEvent>;

fn expect_placed(rx: &mut Rx) -> IdCard {
    match recv_within(rx, Duration::from_secs(3)) {
        Some(ReaderEvent::Placed(card)) => card,
        other => panic!("expected Placed, got {other:?}"),
    }
}

fn expect(rx: &mut Rx, want: &ReaderEvent) {
    let got = recv_within(rx, Duration::from_secs(3));
    assert_eq!(got.as_ref(), Some(want));
}

fn expect_quiet(rx: &mut Rx, d: Duration) {
    let got = recv_within(rx, d);
    assert!(got.is_none(), "expected no event, got {got:?}");
}

#[test]
fn task_places_once_while_the_card_stays_and_again_after_remove_and_place() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = spawn_reader(uri(&p.path), opts(), tx);
    assert!(wait_until(Duration::from_secs(3), || handle.health().state
        == DeviceState::Ready));
    sim.card_on.store(true, Ordering::SeqCst);
    let card = expect_placed(&mut rx);
    assert_eq!(card.number.expose_id_number(), DEMO);
    assert_eq!(card.valid_until, Validity::LongTerm);
    // About 25 finds answered "card found": no second Placed, no second read.
    let before = sim.requests.load(Ordering::SeqCst);
    expect_quiet(&mut rx, Duration::from_millis(500));
    assert!(sim.requests.load(Ordering::SeqCst) >= before + 5);
    assert_eq!(sim.reads.load(Ordering::SeqCst), 1);
    let h = handle.health();
    assert_eq!(h.state, DeviceState::CardPresent);
    assert_eq!(h.reads_ok, 1);
    assert!(h.last_read_ms.is_some());
    sim.card_on.store(false, Ordering::SeqCst);
    expect(&mut rx, &ReaderEvent::Removed);
    assert!(wait_until(Duration::from_secs(1), || handle.health().state
        == DeviceState::Ready));
    sim.card_on.store(true, Ordering::SeqCst);
    expect_placed(&mut rx);
    assert_eq!(sim.reads.load(Ordering::SeqCst), 2);
    assert!(!sim.bad_request.load(Ordering::SeqCst));
    handle.stop();
}

#[test]
fn task_reports_silence_once_then_recovers() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let o = ReaderOptions {
        answer_timeout: Duration::from_millis(100),
        ..opts()
    };
    let handle = spawn_reader(uri(&p.path), o, tx);
    assert!(wait_until(Duration::from_secs(3), || handle.health().state
        == DeviceState::Ready));
    sim.silent.store(true, Ordering::SeqCst);
    match recv_within(&mut rx, Duration::from_secs(2)) {
        Some(ReaderEvent::Fault(ReaderFault::Silent { path, .. })) => assert_eq!(path, p.path),
        other => panic!("expected Fault(Silent), got {other:?}"),
    }
    // Several more silent finds: reported once.
    expect_quiet(&mut rx, Duration::from_millis(500));
    let h = handle.health();
    assert_eq!(h.state, DeviceState::Fault);
    assert!(h.last_fault.unwrap().contains("did not answer"));
    assert!(h.last_fault_at.is_some());
    sim.silent.store(false, Ordering::SeqCst);
    expect(&mut rx, &ReaderEvent::Recovered);
    assert!(wait_until(Duration::from_secs(1), || handle.health().state
        == DeviceState::Ready));
    handle.stop();
}

#[test]
fn task_keeps_a_card_that_stays_through_a_fault() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    sim.card_on.store(true, Ordering::SeqCst);
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let o = ReaderOptions {
        answer_timeout: Duration::from_millis(100),
        ..opts()
    };
    let handle = spawn_reader(uri(&p.path), o, tx);
    expect_placed(&mut rx);
    sim.silent.store(true, Ordering::SeqCst);
    assert!(matches!(
        recv_within(&mut rx, Duration::from_secs(2)),
        Some(ReaderEvent::Fault(ReaderFault::Silent { .. }))
    ));
    sim.silent.store(false, Ordering::SeqCst);
    expect(&mut rx, &ReaderEvent::Recovered);
    // Read again to check it is the same card: no event.
    expect_quiet(&mut rx, Duration::from_millis(400));
    assert_eq!(sim.reads.load(Ordering::SeqCst), 2);
    assert_eq!(handle.health().state, DeviceState::CardPresent);
    handle.stop();
}

#[test]
fn task_card_taken_away_mid_read_is_a_fault_and_the_next_placement_reads() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    sim.fail_read.store(true, Ordering::SeqCst);
    sim.card_on.store(true, Ordering::SeqCst);
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = spawn_reader(uri(&p.path), opts(), tx);
    expect(&mut rx, &ReaderEvent::Fault(ReaderFault::Removed));
    // The next find answers "no card": the reader works.
    expect(&mut rx, &ReaderEvent::Recovered);
    expect_quiet(&mut rx, Duration::from_millis(200));
    sim.card_on.store(true, Ordering::SeqCst);
    expect_placed(&mut rx);
    assert_eq!(sim.reads.load(Ordering::SeqCst), 1);
    handle.stop();
}

#[test]
fn task_reports_an_unreadable_card_once_and_reads_it_no_more_until_it_leaves() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    sim.malformed.store(true, Ordering::SeqCst);
    sim.card_on.store(true, Ordering::SeqCst);
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = spawn_reader(uri(&p.path), opts(), tx);
    match recv_within(&mut rx, Duration::from_secs(3)) {
        Some(ReaderEvent::Fault(f @ ReaderFault::Malformed(_))) => {
            assert_eq!(
                f.resident_message_zh(),
                "无法读取此身份证，请重新放置，或联系工作人员"
            );
        }
        other => panic!("expected Fault(Malformed), got {other:?}"),
    }
    expect(&mut rx, &ReaderEvent::Recovered);
    expect_quiet(&mut rx, Duration::from_millis(300));
    assert_eq!(sim.reads.load(Ordering::SeqCst), 1);
    // It leaves: never announced, so no Removed.
    sim.card_on.store(false, Ordering::SeqCst);
    expect_quiet(&mut rx, Duration::from_millis(300));
    sim.malformed.store(false, Ordering::SeqCst);
    sim.card_on.store(true, Ordering::SeqCst);
    expect_placed(&mut rx);
    assert_eq!(sim.reads.load(Ordering::SeqCst), 2);
    handle.stop();
}

#[test]
fn task_reopens_an_unplugged_reader_with_backoff_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("reader");
    let p1 = pty();
    std::os::unix::fs::symlink(&p1.path, &link).unwrap();
    let sim1 = Arc::new(Sim::default());
    run_sim(p1.master, sim1.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let u = ReaderUri {
        path: link.to_string_lossy().into_owned(),
        baud: 115_200,
    };
    let handle = spawn_reader(u.clone(), opts(), tx);
    assert!(wait_until(Duration::from_secs(3), || handle.health().state
        == DeviceState::Ready));
    // Unplug: the device hangs up, and its node goes with it.
    sim1.unplug.store(true, Ordering::SeqCst);
    match recv_within(&mut rx, Duration::from_secs(2)) {
        Some(ReaderEvent::Fault(ReaderFault::Unplugged { path, .. })) => assert_eq!(path, u.path),
        other => panic!("expected Fault(Unplugged), got {other:?}"),
    }
    std::fs::remove_file(&link).unwrap();
    // Reopen attempts fail (no such file) while it is away: still one fault.
    expect_quiet(&mut rx, Duration::from_millis(600));
    assert_eq!(handle.health().state, DeviceState::Fault);
    // Plugged in again (another pty behind the same path).
    let p2 = pty();
    std::os::unix::fs::symlink(&p2.path, &link).unwrap();
    let sim2 = Arc::new(Sim::default());
    run_sim(p2.master, sim2.clone());
    expect(&mut rx, &ReaderEvent::Recovered);
    sim2.card_on.store(true, Ordering::SeqCst);
    expect_placed(&mut rx);
    handle.stop();
    drop((p1.slave, p2.slave));
}

#[test]
fn task_without_a_device_reports_once_and_stops_on_drop() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let u = ReaderUri::parse("gat467+serial:///dev/civic-no-such-reader").unwrap();
    let handle = spawn_reader(u, opts(), tx);
    assert!(matches!(
        recv_within(&mut rx, Duration::from_secs(2)),
        Some(ReaderEvent::Fault(ReaderFault::Unplugged { .. }))
    ));
    expect_quiet(&mut rx, Duration::from_millis(500));
    assert_eq!(handle.health().state, DeviceState::Fault);
    drop(handle);
    // The thread ends and drops its sender.
    assert!(wait_until(Duration::from_secs(2), || rx.is_closed()));
}

#[test]
fn task_respects_the_default_request_budget() {
    let p = pty();
    let sim = Arc::new(Sim::default());
    sim.card_on.store(true, Ordering::SeqCst);
    run_sim(p.master, sim.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle = spawn_reader(uri(&p.path), ReaderOptions::default(), tx);
    expect_placed(&mut rx);
    let start = sim.requests.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2000));
    let n = sim.requests.load(Ordering::SeqCst) - start;
    // Find, select, read, then a find every 300 ms: at most 4 in any second.
    assert!((4..=9).contains(&n), "{n} requests in 2 s");
    handle.stop();
}

#[test]
fn a_reader_held_by_another_program_is_in_use_not_unplugged() {
    let p = pty();
    let _first = Reader::open(&uri(&p.path), &opts()).unwrap();
    let e = Reader::open(&uri(&p.path), &opts()).unwrap_err();
    assert!(
        matches!(&e, ReaderFault::InUse { path } if *path == p.path),
        "{e:?}"
    );
    assert!(e.to_string().contains("systemctl stop civic-kiosk"), "{e}");
    assert!(e.is_device_fault());
    drop(p.slave);
}
