//! The contract's field limits (lengths, counts, time window) and the checks of the request types against them, shared by both sides.
//!
//! The back office refuses what breaks them with the codes in [`codes`]: a rating is
//! answered `rejected` with its code (the rest of the batch goes on); any other request is
//! answered `422` with the code as `error`. The terminal can check the same rules before it
//! sends, so nothing it makes is refused for a limit it could not know.

use chrono::{DateTime, Duration, Utc};

use super::{CodeRecord, DeviceState, Heartbeat, HelpRequest, Rating, ResolveCodeRequest};

/// Largest request body, in bytes (a remote config has its own, smaller one:
/// [`super::REMOTE_CONFIG_MAX_BYTES`]). A full batch of [`MAX_BATCH_RATINGS`] ratings at
/// their longest fits.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Longest request target (path and query), in bytes. The longest real one, a FAQ search,
/// is a few hundred.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Ratings in one `POST /api/v1/ratings`.
pub const MAX_BATCH_RATINGS: usize = 1000;

/// An identifier: `terminal_id`, `item_code`, `case_number` (办件编号), `staff`, a help
/// request's `page`. Real ones are under 30 characters (`310105-GA-0001`, `CN-TSL-001`).
pub const MAX_ID_CHARS: usize = 64;
/// A rating's free-text comment.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Reason tags on one 差评: more than any terminal offers (six by default).
pub const MAX_REASONS: usize = 20;
/// One reason tag: the terminal's config allows 1 to 12 characters (`ratings.reasons`).
pub const MAX_REASON_CHARS: usize = 12;
/// Printers in one heartbeat (a terminal has a card, a receipt and a document printer).
pub const MAX_HEARTBEAT_PRINTERS: usize = 16;
/// Audit entries in one heartbeat (the terminal ships at most 500 at a time).
pub const MAX_HEARTBEAT_AUDIT: usize = 500;
/// A heartbeat's `version` string.
pub const MAX_VERSION_CHARS: usize = 64;
/// Identity devices in one heartbeat (a terminal has an ID-card reader and a code scanner).
pub const MAX_HEARTBEAT_DEVICES: usize = 8;
/// A device's `uri` (`/dev/ttyUSB0`, `hid:0483:5750`, `tcp://10.0.0.5:9100`).
pub const MAX_DEVICE_URI_CHARS: usize = 256;
/// A device's `state` (`card_present` is the longest of today's).
pub const MAX_DEVICE_STATE_CHARS: usize = 32;
/// A device's `last_fault`, in words.
pub const MAX_FAULT_CHARS: usize = 500;
/// A resident code a scanner read (随申码, 电子身份证), in bytes: real ones are a few
/// hundred at most.
pub const MAX_CODE_BYTES: usize = 512;

/// No rating is older than this instant (2026-01-01T00:00:00Z, Unix seconds): the product
/// did not exist before 2026, so an older `rated_at` is a terminal clock that was never
/// set (an RTC's 1970 or 2000), not a resident.
pub const RATED_AT_EARLIEST_UNIX_S: i64 = 1_767_225_600;
/// How far ahead of the back office's clock a `rated_at` (or a help request's
/// `requested_at`) may be: one day. A refused rating is not counted (the terminal keeps it
/// as dead, with the reason), so the window only refuses what no drifting clock makes (a
/// year ahead), while `diagnose` already flags a skew over 60 s for the technician.
pub const MAX_AHEAD_S: i64 = 24 * 60 * 60;

/// Seconds a resident's session token lives from when it was opened (10 minutes).
pub const RESIDENT_TOKEN_TTL_S: i64 = 600;

/// The stable error codes of a refusal; `docs/api.md` lists them.
pub mod codes {
    /// A text field over its length limit (the message names the field and the limit).
    pub const FIELD_TOO_LONG: &str = "field_too_long";
    /// A required text field that is empty or only spaces.
    pub const FIELD_EMPTY: &str = "field_empty";
    /// A list over its count limit (reasons, printers, audit entries).
    pub const TOO_MANY_VALUES: &str = "too_many_values";
    /// A time outside the window: before [`super::RATED_AT_EARLIEST_UNIX_S`] or more than
    /// [`super::MAX_AHEAD_S`] ahead of the back office's clock.
    pub const TIME_OUT_OF_RANGE: &str = "time_out_of_range";
    /// Reason tags on a rating that is not a 差评.
    pub const REASONS_NOT_ALLOWED: &str = "reasons_not_allowed";
    /// A callback (回访) on a rating that is not a 差评: only 1 and 2 stars may ask for one.
    pub const CALLBACK_NOT_ALLOWED: &str = "callback_not_allowed";
    /// A callback without the resident's consent.
    pub const CALLBACK_WITHOUT_CONSENT: &str = "callback_without_consent";
    /// A rating id that is not a UUIDv7.
    pub const NOT_UUID_V7: &str = "not_uuid_v7";
    /// A `terminal_id` other than the token's terminal.
    pub const TERMINAL_MISMATCH: &str = "terminal_mismatch";
    /// A rating id already stored with other content.
    pub const ID_REUSED: &str = "id_reused";
    /// A resident code with a character outside printable ASCII (0x20 to 0x7E).
    pub const CODE_NOT_PRINTABLE: &str = "code_not_printable";
    /// A resident code the back office does not know (404).
    pub const CODE_NOT_FOUND: &str = "code_not_found";
    /// A resident code past its expiry (410): the resident shows a fresh one.
    pub const CODE_EXPIRED: &str = "code_expired";
    /// A resident call without the `X-Resident-Token` header (401).
    pub const RESIDENT_TOKEN_MISSING: &str = "resident_token_missing";
    /// A resident token the back office does not know, or whose session ended (401).
    pub const RESIDENT_TOKEN_INVALID: &str = "resident_token_invalid";
    /// A resident token past its expiry (401): the resident identifies again.
    pub const RESIDENT_TOKEN_EXPIRED: &str = "resident_token_expired";
    /// A resident token issued to another terminal (403).
    pub const RESIDENT_TOKEN_OTHER_TERMINAL: &str = "resident_token_other_terminal";
    /// A verification code whose signature does not hold: changed, or made up (422).
    pub const DOCUMENT_TAMPERED: &str = "document_tampered";
    /// A well-signed verification code of a document the back office does not hold (404).
    pub const DOCUMENT_NOT_FOUND: &str = "document_not_found";
    /// A certificate period other than 12, 24 or 36 months (422).
    pub const PERIOD_NOT_OFFERED: &str = "period_not_offered";
    /// The resident has no record of this kind to certify (404).
    pub const NO_RECORDS: &str = "no_records";
    /// A 快办 item id the back office does not define (404).
    pub const QUICK_ITEM_NOT_FOUND: &str = "quick_item_not_found";
    /// A 快办 submission whose values do not fit the item's fields (422, with
    /// [`crate::api::FieldErrors`]).
    pub const FIELDS_INVALID: &str = "fields_invalid";
    /// A 快办 submission from a resident the item is not for (422; the message says why).
    pub const NOT_ELIGIBLE: &str = "not_eligible";
    /// A `submission_id` already filed for another item or other values (409).
    pub const SUBMISSION_ID_REUSED: &str = "submission_id_reused";
    /// A rating of a 办件 (`case_number`) that was rated before: one 办件, one rating.
    pub const CASE_ALREADY_RATED: &str = "case_already_rated";
}

/// Why a request breaks the contract: a stable code from [`codes`] and words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    pub code: &'static str,
    pub message: String,
}

impl Violation {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The earliest acceptable `rated_at`.
pub fn rated_at_earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(RATED_AT_EARLIEST_UNIX_S, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// At most `max` characters (not bytes: a Chinese comment of 500 characters is 1500 bytes).
fn max_chars(field: &str, value: &str, max: usize) -> Result<(), Violation> {
    // Counting stops past the limit, so a megabyte-long value costs no more than a short one.
    if value.chars().nth(max).is_some() {
        return Err(Violation::new(
            codes::FIELD_TOO_LONG,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn not_empty(field: &str, value: &str) -> Result<(), Violation> {
    if value.trim().is_empty() {
        return Err(Violation::new(
            codes::FIELD_EMPTY,
            format!("{field} is empty"),
        ));
    }
    Ok(())
}

fn max_count(field: &str, n: usize, max: usize) -> Result<(), Violation> {
    if n > max {
        return Err(Violation::new(
            codes::TOO_MANY_VALUES,
            format!("{field} has {n} entries; at most {max}"),
        ));
    }
    Ok(())
}

/// `at` is neither before 2026 nor more than [`MAX_AHEAD_S`] after `now`.
fn in_window(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Violation> {
    let earliest = rated_at_earliest();
    if at < earliest {
        return Err(Violation::new(
            codes::TIME_OUT_OF_RANGE,
            format!("{field} {at} is before {earliest}: the terminal's clock is not set"),
        ));
    }
    if at > now + Duration::seconds(MAX_AHEAD_S) {
        return Err(Violation::new(
            codes::TIME_OUT_OF_RANGE,
            format!(
                "{field} {at} is more than {MAX_AHEAD_S} s ahead of the back office's clock ({now}): the terminal's clock is fast"
            ),
        ));
    }
    Ok(())
}

impl Rating {
    /// The contract's rules for one rating, on the receiver's clock `now`: identifiers and
    /// texts within their lengths, reasons and a callback only on a 差评 (levels 1 and 2),
    /// a callback only with consent, `rated_at` within the window. (That `terminal_id` is
    /// the sender's own is for the receiver to check: it knows the token.)
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Violation> {
        if self.id.get_version_num() != 7 {
            return Err(Violation::new(
                codes::NOT_UUID_V7,
                "id must be a UUIDv7 created when the rating was made",
            ));
        }
        max_chars("terminal_id", &self.terminal_id, MAX_ID_CHARS)?;
        not_empty("item_code", &self.item_code)?;
        max_chars("item_code", &self.item_code, MAX_ID_CHARS)?;
        if let Some(case) = &self.case_number {
            max_chars("case_number", case, MAX_ID_CHARS)?;
        }
        if let Some(staff) = &self.staff {
            max_chars("staff", staff, MAX_ID_CHARS)?;
        }
        if let Some(comment) = &self.comment {
            max_chars("comment", comment, MAX_COMMENT_CHARS)?;
        }
        let bad = self.level.is_bad();
        if !bad && !self.reasons.is_empty() {
            return Err(Violation::new(
                codes::REASONS_NOT_ALLOWED,
                "reasons are only given with a 差评 (level 1 or 2)",
            ));
        }
        max_count("reasons", self.reasons.len(), MAX_REASONS)?;
        for reason in &self.reasons {
            not_empty("a reason", reason)?;
            max_chars("a reason", reason, MAX_REASON_CHARS)?;
        }
        if let Some(callback) = &self.callback {
            if !bad {
                return Err(Violation::new(
                    codes::CALLBACK_NOT_ALLOWED,
                    format!(
                        "a callback (回访) is only offered on a 差评 (level 1 or 2), not on level {}",
                        self.level as u8
                    ),
                ));
            }
            if !callback.consent {
                return Err(Violation::new(
                    codes::CALLBACK_WITHOUT_CONSENT,
                    "callback given without the resident's consent",
                ));
            }
        }
        in_window("rated_at", self.rated_at, now)
    }
}

impl HelpRequest {
    /// Identifiers within their lengths, `requested_at` within the window on `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Violation> {
        max_chars("terminal_id", &self.terminal_id, MAX_ID_CHARS)?;
        not_empty("page", &self.page)?;
        max_chars("page", &self.page, MAX_ID_CHARS)?;
        in_window("requested_at", self.requested_at, now)
    }
}

impl Heartbeat {
    /// Identifiers within their lengths, the lists within their counts, each device's
    /// texts within theirs. (Texts inside audit entries are bounded by the body's size
    /// only: a terminal's audit detail has no length rule of its own, and a refused
    /// heartbeat would stop its reporting. A device's texts are bounded, and
    /// [`DeviceState::within_limits`] lets the terminal cut them before it sends.)
    pub fn check(&self) -> Result<(), Violation> {
        max_chars("terminal_id", &self.terminal_id, MAX_ID_CHARS)?;
        max_chars("version", &self.version, MAX_VERSION_CHARS)?;
        max_count("printers", self.printers.len(), MAX_HEARTBEAT_PRINTERS)?;
        max_count("audit", self.audit.len(), MAX_HEARTBEAT_AUDIT)?;
        max_count("devices", self.devices.len(), MAX_HEARTBEAT_DEVICES)?;
        self.devices.iter().try_for_each(DeviceState::check)
    }
}

impl DeviceState {
    /// `uri` and `state` not empty, and every text within its length.
    pub fn check(&self) -> Result<(), Violation> {
        not_empty("a device's uri", &self.uri)?;
        max_chars("a device's uri", &self.uri, MAX_DEVICE_URI_CHARS)?;
        not_empty("a device's state", &self.state)?;
        max_chars("a device's state", &self.state, MAX_DEVICE_STATE_CHARS)?;
        if let Some(fault) = &self.last_fault {
            max_chars("a device's last_fault", fault, MAX_FAULT_CHARS)?;
        }
        Ok(())
    }

    /// The same state with every text cut to its limit (`…` marks a cut), so a long
    /// driver message never gets a heartbeat refused. (An empty `uri` or `state` stays
    /// empty: that is the terminal's to fill.)
    pub fn within_limits(mut self) -> Self {
        cut(&mut self.uri, MAX_DEVICE_URI_CHARS);
        cut(&mut self.state, MAX_DEVICE_STATE_CHARS);
        if let Some(fault) = &mut self.last_fault {
            cut(fault, MAX_FAULT_CHARS);
        }
        self
    }
}

/// Cuts `s` to at most `max` characters, the last one `…` when cut.
fn cut(s: &mut String, max: usize) {
    if max == 0 {
        s.clear();
    } else if let Some((at, _)) = s.char_indices().nth(max) {
        let keep = s[..at].char_indices().nth(max - 1).map_or(at, |(i, _)| i);
        s.truncate(keep);
        s.push('…');
    }
}

/// A resident code: 1 to [`MAX_CODE_BYTES`] bytes, every one printable ASCII.
fn check_code(code: &str) -> Result<(), Violation> {
    if code.len() > MAX_CODE_BYTES {
        return Err(Violation::new(
            codes::FIELD_TOO_LONG,
            format!("code is {} bytes; at most {MAX_CODE_BYTES}", code.len()),
        ));
    }
    not_empty("code", code)?;
    if let Some(at) = code.bytes().position(|b| !(0x20..=0x7e).contains(&b)) {
        return Err(Violation::new(
            codes::CODE_NOT_PRINTABLE,
            format!(
                "code has a byte outside printable ASCII at offset {at}: a scanner reads ASCII only (strip its line ending before sending)"
            ),
        ));
    }
    Ok(())
}

impl ResolveCodeRequest {
    /// The code is 1 to [`MAX_CODE_BYTES`] bytes of printable ASCII.
    pub fn check(&self) -> Result<(), Violation> {
        check_code(&self.code)
    }
}

impl CodeRecord {
    /// The code is 1 to [`MAX_CODE_BYTES`] bytes of printable ASCII.
    pub fn check(&self) -> Result<(), Violation> {
        check_code(&self.code)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::api::{Callback, Channel, RatingLevel};
    use crate::identity::PhoneNumber;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn rating(level: u8) -> Rating {
        let at = now() - Duration::minutes(3);
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            at.timestamp() as u64,
            at.timestamp_subsec_nanos(),
        );
        let bad = level <= 2;
        Rating {
            id: uuid::Uuid::new_v7(ts),
            terminal_id: "CN-TSL-001".into(),
            item_code: "310105-GA-0001".into(),
            case_number: None,
            channel: Channel::SelfServiceTerminal,
            level: RatingLevel::try_from(level).unwrap(),
            reasons: if bad {
                vec!["等候时间长".into()]
            } else {
                vec![]
            },
            comment: Some("排队一个小时".into()),
            rated_at: at,
            callback: bad.then(|| Callback {
                consent: true,
                phone: PhoneNumber::parse("13812345678").unwrap(),
            }),
            staff: None,
        }
    }

    fn code(r: &Rating) -> Option<&'static str> {
        r.check(now()).err().map(|v| v.code)
    }

    #[test]
    fn a_rating_as_a_terminal_makes_it_passes() {
        for level in 1..=5 {
            assert_eq!(code(&rating(level)), None, "level {level}");
        }
    }

    #[test]
    fn each_limit_has_its_code() {
        let mut r = rating(1);
        r.item_code = "A".repeat(MAX_ID_CHARS);
        assert_eq!(code(&r), None, "exactly at the limit");
        r.item_code.push('A');
        assert_eq!(code(&r), Some(codes::FIELD_TOO_LONG));

        let mut r = rating(1);
        r.comment = Some("很".repeat(MAX_COMMENT_CHARS));
        assert_eq!(
            code(&r),
            None,
            "500 Chinese characters are 1500 bytes, and fine"
        );
        r.comment = Some("很".repeat(MAX_COMMENT_CHARS + 1));
        assert_eq!(code(&r), Some(codes::FIELD_TOO_LONG));

        let mut r = rating(2);
        r.reasons = vec!["其他".into(); MAX_REASONS];
        assert_eq!(code(&r), None);
        r.reasons.push("其他".into());
        assert_eq!(code(&r), Some(codes::TOO_MANY_VALUES));
        r.reasons = vec!["一二三四五六七八九十一二三".into()];
        assert_eq!(code(&r), Some(codes::FIELD_TOO_LONG));
        r.reasons = vec![" ".into()];
        assert_eq!(code(&r), Some(codes::FIELD_EMPTY));

        let mut r = rating(5);
        r.callback = rating(1).callback;
        assert_eq!(code(&r), Some(codes::CALLBACK_NOT_ALLOWED));
        let mut r = rating(3);
        r.callback = rating(1).callback;
        assert_eq!(
            code(&r),
            Some(codes::CALLBACK_NOT_ALLOWED),
            "基本满意 is no 差评"
        );
        let mut r = rating(1);
        r.callback.as_mut().unwrap().consent = false;
        assert_eq!(code(&r), Some(codes::CALLBACK_WITHOUT_CONSENT));
        let mut r = rating(4);
        r.reasons = vec!["其他".into()];
        assert_eq!(code(&r), Some(codes::REASONS_NOT_ALLOWED));
    }

    #[test]
    fn rated_at_must_be_in_the_window() {
        let mut r = rating(4);
        r.rated_at = DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(code(&r), Some(codes::TIME_OUT_OF_RANGE));
        r.rated_at = rated_at_earliest() - Duration::seconds(1);
        assert_eq!(code(&r), Some(codes::TIME_OUT_OF_RANGE));
        r.rated_at = rated_at_earliest();
        assert_eq!(code(&r), None);
        r.rated_at = now() + Duration::seconds(MAX_AHEAD_S);
        assert_eq!(code(&r), None, "a few minutes fast is tolerated");
        r.rated_at = now() + Duration::seconds(MAX_AHEAD_S + 1);
        assert_eq!(code(&r), Some(codes::TIME_OUT_OF_RANGE));
        assert_eq!(
            rated_at_earliest().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn help_and_heartbeat_are_bounded() {
        let mut h = HelpRequest {
            id: uuid::Uuid::nil(),
            terminal_id: "CN-TSL-001".into(),
            page: "offline_code".into(),
            requested_at: now(),
        };
        assert!(h.check(now()).is_ok());
        h.page = "p".repeat(MAX_ID_CHARS + 1);
        assert_eq!(h.check(now()).unwrap_err().code, codes::FIELD_TOO_LONG);
        h.page = "home".into();
        h.requested_at = rated_at_earliest() - Duration::days(1);
        assert_eq!(h.check(now()).unwrap_err().code, codes::TIME_OUT_OF_RANGE);

        let mut hb: Heartbeat = serde_json::from_str(
            r#"{"terminal_id": "CN-TSL-001", "version": "0.1.0", "uptime_s": 1, "printers": [],
                "outbox_depth": 0, "last_sync": null, "catalogue_version": null,
                "catalogue_age_s": null, "free_disk_bytes": null, "clock_skew_ms": null}"#,
        )
        .unwrap();
        assert!(hb.check().is_ok());
        hb.printers = vec![
            crate::api::PrinterState {
                role: "card".into(),
                state: "ready".into(),
                detail: None,
            };
            MAX_HEARTBEAT_PRINTERS + 1
        ];
        assert_eq!(hb.check().unwrap_err().code, codes::TOO_MANY_VALUES);

        hb.printers.clear();
        let reader = DeviceState {
            kind: crate::api::DeviceKind::IdReader,
            uri: "/dev/ttyUSB0".into(),
            state: "ready".into(),
            last_fault: None,
            last_fault_at: None,
        };
        hb.devices = vec![reader.clone(); MAX_HEARTBEAT_DEVICES];
        assert!(hb.check().is_ok());
        hb.devices.push(reader.clone());
        assert_eq!(hb.check().unwrap_err().code, codes::TOO_MANY_VALUES);

        let long = DeviceState {
            uri: "u".repeat(MAX_DEVICE_URI_CHARS + 1),
            state: "状".repeat(MAX_DEVICE_STATE_CHARS + 1),
            last_fault: Some("故".repeat(MAX_FAULT_CHARS * 3)),
            ..reader.clone()
        };
        hb.devices = vec![long.clone()];
        assert_eq!(hb.check().unwrap_err().code, codes::FIELD_TOO_LONG);
        let cut = long.within_limits();
        assert_eq!(cut.uri.chars().count(), MAX_DEVICE_URI_CHARS);
        assert_eq!(cut.state.chars().count(), MAX_DEVICE_STATE_CHARS);
        assert!(cut.last_fault.as_deref().unwrap().ends_with('…'));
        hb.devices = vec![cut];
        assert!(
            hb.check().is_ok(),
            "what within_limits gives is never refused"
        );
        assert_eq!(
            reader.clone().within_limits(),
            reader,
            "short texts are kept"
        );

        hb.devices = vec![DeviceState {
            state: " ".into(),
            ..reader
        }];
        assert_eq!(hb.check().unwrap_err().code, codes::FIELD_EMPTY);
    }

    #[test]
    fn a_resident_code_is_short_printable_ascii() {
        let check = |code: &str| {
            ResolveCodeRequest { code: code.into() }
                .check()
                .err()
                .map(|v| v.code)
        };
        assert_eq!(check("SSM:DEMO:WANGXIUYING"), None);
        assert_eq!(check(&"A".repeat(MAX_CODE_BYTES)), None);
        assert_eq!(
            check(&"A".repeat(MAX_CODE_BYTES + 1)),
            Some(codes::FIELD_TOO_LONG)
        );
        assert_eq!(check(""), Some(codes::FIELD_EMPTY));
        assert_eq!(check("   "), Some(codes::FIELD_EMPTY));
        assert_eq!(check("SSM:王秀英"), Some(codes::CODE_NOT_PRINTABLE));
        assert_eq!(check("SSM:DEMO\r\n"), Some(codes::CODE_NOT_PRINTABLE));
        assert_eq!(check("SSM:\u{0}"), Some(codes::CODE_NOT_PRINTABLE));
        // 171 three-byte characters are 513 bytes: the byte limit, not the count.
        assert_eq!(check(&"码".repeat(171)), Some(codes::FIELD_TOO_LONG));
        let debug = format!(
            "{:?}",
            ResolveCodeRequest {
                code: "SSM:DEMO:WANGXIUYING".into()
            }
        );
        assert!(!debug.contains("WANGXIUYING"), "{debug}");
    }
}
