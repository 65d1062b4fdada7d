//! Properties over generated input (proptest): the config parser, the ID validator, the
//! back-office answer decoding and the ESC/POS status parsing never panic, and keep their
//! promises. The same four are fuzz targets (`fuzz/`, `scripts/fuzz.sh`).

use proptest::prelude::*;

use civic_kiosk::api::{
    Callback, Catalogue, Channel, IssuedCode, Rating, RatingBatchResult, RatingLevel, RemoteConfig,
};
use civic_kiosk::config::Layers;
use civic_kiosk::identity::{IdNumber, IdNumberError, PhoneNumber, check_char};
use civic_kiosk::print::escpos::Status;

fn config_path() -> std::path::PathBuf {
    std::path::PathBuf::from("/etc/civic-kiosk/kiosk.toml")
}

/// TOML-ish text built from the config's own sections and keys, with values of any type.
fn config_text() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "terminal",
        "backoffice",
        "display",
        "printers.card",
        "ratings",
        "heartbeat",
        "catalogue",
        "log",
        "storage",
        "nonsense",
    ]);
    let key = prop::sample::select(vec![
        "id",
        "url",
        "token",
        "idle_timeout_s",
        "dpi",
        "uri",
        "qr",
        "reasons",
        "batch_size",
        "interval_s",
        "level",
        "data_dir",
        "width",
        "language",
        "xyz",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        any::<bool>().prop_map(|v| v.to_string()),
        "[a-z:/.0-9 ]{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec("[\\u{4e00}-\\u{9fa5}]{0,14}", 0..4).prop_map(|v| format!("{v:?}")),
        "[\\[\\]{}=\"'#\\n]{0,6}",
    ];
    prop::collection::vec((section, key, value), 0..8).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(s, k, v)| format!("[{s}]\n{k} = {v}\n"))
            .collect()
    })
}

/// A valid ID number: region, a real birth date, sequence, check character.
fn valid_id() -> impl Strategy<Value = String> {
    (
        110000u32..660000,
        1900i32..2020,
        1u32..13,
        1u32..29,
        0u32..1000,
    )
        .prop_map(|(region, y, m, d, seq)| {
            let first17 = format!("{region:06}{y:04}{m:02}{d:02}{seq:03}");
            let c = check_char(first17.as_bytes()).unwrap() as char;
            format!("{first17}{c}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text: a config or a list of problems, each naming the file; never a panic.
    #[test]
    fn config_parser_answers_every_input(text in ".{0,300}") {
        if let Err(e) = Layers::from_parts(&config_path(), &text, Vec::<(String, String)>::new())
            .and_then(|l| l.effective())
        {
            let lines = e.lines();
            prop_assert!(!lines.is_empty());
            for l in lines {
                prop_assert!(l.contains("kiosk.toml"), "{l}");
            }
        }
    }

    /// Config-shaped text with wrong types and values: either valid (and then it
    /// validates clean) or refused with the field named.
    #[test]
    fn config_errors_name_a_field(text in config_text()) {
        match Layers::from_parts(&config_path(), &text, Vec::<(String, String)>::new())
            .and_then(|l| l.effective())
        {
            Ok(c) => prop_assert!(c.validate().is_empty()),
            Err(e) => {
                for l in e.lines() {
                    prop_assert!(l.starts_with("/etc/civic-kiosk/kiosk.toml"), "{l}");
                }
            }
        }
    }

    /// Any string: an ID or one of the named errors; never a panic.
    #[test]
    fn id_parser_answers_every_input(s in ".{0,40}") {
        let _ = IdNumber::parse(&s);
    }

    /// Every valid number parses, masks itself, and any single changed digit is caught.
    #[test]
    fn valid_ids_parse_and_one_changed_digit_is_caught(
        id in valid_id(), pos in 0usize..17, delta in 1u8..10,
    ) {
        let parsed = IdNumber::parse(&id);
        // A date like 02-30 is impossible: then it must say so.
        match parsed {
            Err(IdNumberError::ImpossibleDate) => return Ok(()),
            Err(e) => prop_assert!(false, "{id}: {e}"),
            Ok(p) => {
                prop_assert_eq!(p.expose_id_number(), id.as_str());
                let masked = p.masked();
                prop_assert!(!masked.contains(&id[3..14]));
                let shown = format!("{p:?} {p}");
                prop_assert!(!shown.contains(&id));
            }
        }
        let mut b = id.into_bytes();
        b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(b).unwrap();
        prop_assert!(IdNumber::parse(&changed).is_err(), "{changed} accepted");
    }

    /// Any bytes as a back-office answer: decoded or refused, never a panic.
    #[test]
    fn api_answers_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = serde_json::from_slice::<RatingBatchResult>(&bytes);
        let _ = serde_json::from_slice::<IssuedCode>(&bytes);
        let _ = serde_json::from_slice::<Catalogue>(&bytes);
        let _ = serde_json::from_slice::<RemoteConfig>(&bytes);
    }

    /// A rating survives the wire unchanged (the outbox relies on it to send the same body).
    #[test]
    fn ratings_round_trip(
        level in 1u8..6, reasons in prop::collection::vec("[\\u{4e00}-\\u{9fa5}]{1,8}", 0..3),
        comment in prop::option::of(".{0,50}"), phone in prop::option::of(13_000_000_000u64..19_999_999_999),
        ms in 0i64..4_000_000_000_000,
    ) {
        let at = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let r = Rating {
            id: civic_kiosk::ratings::new_rating_id(at),
            terminal_id: "CN-TSL-001".into(),
            item_code: "ITEM".into(),
            case_number: None,
            channel: Channel::SelfServiceTerminal,
            level: RatingLevel::try_from(level).unwrap(),
            reasons,
            comment,
            rated_at: at,
            callback: phone
                .and_then(|p| PhoneNumber::parse(&p.to_string()).ok())
                .map(|phone| Callback { consent: true, phone }),
            staff: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: Rating = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }

    /// ESC/POS status: an answer without the fixed bits (0xx1xx10) is unknown, never
    /// ready; a status byte says exactly: a job may start when there is paper, the cover
    /// is closed and no error is set; the state and the technician's detail agree.
    #[test]
    fn escpos_status_bits(printer in any::<u8>(), cause in any::<u8>(), paper in any::<u8>()) {
        let s = Status::from_bytes(printer, cause, paper);
        let fixed = |b: u8| b & 0b1001_0011 == 0b0001_0010;
        if !(fixed(printer) && fixed(cause) && fixed(paper)) {
            prop_assert!(s.unknown);
            prop_assert_eq!(s.state_name(), "unknown");
            prop_assert!(!s.paper_end && !s.cover_open && !s.error && !s.offline);
            prop_assert!(s.technician_detail().contains("not a status byte"));
            return Ok(());
        }
        prop_assert!(!s.unknown);
        prop_assert_eq!(s.can_print(), !(s.paper_end || s.cover_open || s.error));
        prop_assert_eq!(s.paper_end, cause & 0x20 != 0 || paper & 0x60 != 0);
        prop_assert_eq!(s.cover_open, cause & 0x04 != 0);
        prop_assert_eq!(s.offline, printer & 0x08 != 0);
        let state = s.state_name();
        prop_assert_eq!(state == "ready", !s.paper_end && !s.cover_open && !s.error && !s.offline && !s.paper_near_end);
        let detail = s.technician_detail();
        prop_assert_eq!(detail.contains("paper end"), s.paper_end);
        prop_assert_eq!(detail.contains("cover open"), s.cover_open);
    }
}
