//! Identity at the terminal: the ID card on the reader, a scanned code, the keyboard-wedge
//! scanner's bursts, and the quick check of a scanned 离线码 card.
//!
//! The reader task and the scanners live in the shell; what they report comes in as
//! [`IdentityEvent`]s. A card read or a code resolved becomes the session's
//! [`Resident`] (dropped with the session). A card that stays on the reader after a
//! session ends starts nothing: the reader task reports a card only when it is placed
//! (`civic_devices::reader`), and [`ReaderState`] outlives sessions in the
//! [`super::Terminal`] only to remind the resident to take it.

use std::time::Duration;

use chrono::NaiveDate;

use crate::api::CardState;
use crate::identity::{IdNumber, PersonName};
use crate::resident::{IdSource, Resident};

/// A card the reader read (the shell's copy of the reader's answer, without the photo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRead {
    pub id: IdNumber,
    pub name: PersonName,
    /// The last valid day; `None` for 长期.
    pub valid_until: Option<NaiveDate>,
}

/// What went wrong at the reader, in the resident's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderProblem {
    /// The card was moved or taken away during the read: "请重新放置身份证".
    Moved,
    /// The reader answered, but the card could not be read (a bad checksum, a status,
    /// unparsable text): "无法读取身份证，请重新放置".
    Unreadable,
    /// The reader is unplugged or silent: "读卡器暂时无法使用，请联系工作人员".
    Unavailable,
}

/// The back office's answer to a scanned 随申码 / 电子身份证 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    Found(Resident),
    NotFound,
    Expired,
    Network,
}

/// What the terminal found about a scanned 离线码 card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The signature does not verify, or the text is not a card: not a card of ours.
    Forged,
    /// The signature verifies. `state` is the back office's (`None`: it could not be
    /// asked; the card's own dates are shown).
    Verified {
        card_id: String,
        masked_name: String,
        masked_id: String,
        expires_on: NaiveDate,
        state: Option<CardState>,
        voided_reason: Option<String>,
    },
    /// The back office knows no such card.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEvent {
    /// The reader read a card just placed on it.
    CardRead(CardRead),
    /// The card was taken off the reader.
    CardLifted,
    /// A read failed.
    ReaderFailed(ReaderProblem),
    /// The reader works again after a fault.
    ReaderRecovered,
    /// A scanner read this text (a serial scanner's line, or a keyboard-wedge burst).
    Scanned(String),
    /// Answer to [`IdentityEffect::ResolveCode`].
    CodeResolved(String, ResolveOutcome),
    /// Answer to [`IdentityEffect::CheckCard`].
    CardChecked(String, CheckOutcome),
    /// "知道了" on a notice.
    Dismiss,
    /// Answer to [`IdentityEffect::OpenSession`]: the resident token, or `None` when the
    /// back office could not open one (我的 is then unavailable; the rest works).
    SessionOpened(IdNumber, Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEffect {
    /// `POST /residents/resolve-code`; answer [`IdentityEvent::CodeResolved`].
    ResolveCode(String),
    /// Verify a scanned 离线码 card and ask its status; answer [`IdentityEvent::CardChecked`].
    CheckCard(String),
    /// Open the resident's session at the back office; answer [`IdentityEvent::SessionOpened`].
    OpenSession(IdNumber),
    /// End a resident session at the back office (the resident left, or another one was
    /// identified): its token is dropped here either way.
    CloseSession(String),
}

/// The resident token: a bearer credential, shown by nobody (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({} chars)", self.0.len())
    }
}

/// A message over the page (a dialog with "知道了"), or "正在识别…".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// "身份证已过期，请到窗口办理".
    IdExpired,
    Reader(ReaderProblem),
    /// "正在识别…" while the back office resolves a code.
    Resolving,
    /// "未找到此码对应的信息，请确认后重试".
    CodeNotFound,
    /// "此码已过期，请刷新随申码后重新扫描".
    CodeExpired,
    /// "无法识别此码".
    CodeUnreadable,
    /// "网络异常，暂时无法识别此码".
    CodeNetwork,
}

/// Where the scanned-card check is (`CardCheckAdapter.step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckStep {
    /// Nothing scanned in this session.
    #[default]
    None,
    Checking,
    /// "有效期至 …".
    Valid,
    /// "已挂失，已失效" (or 已补办新卡，此卡已失效).
    Voided,
    /// "已过期".
    Expired,
    /// "此卡无效（无法验证）".
    Forged,
    /// Signed by us, but the back office could not be asked: "有效期至 …（未能联网确认）".
    Unconfirmed,
}

/// The scanned 离线码 card's check, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CardCheck {
    pub step: CheckStep,
    pub masked_name: String,
    pub masked_id: String,
    pub expires_on: Option<NaiveDate>,
    /// With [`CheckStep::Voided`]: reported lost (挂失), not reissued.
    pub lost: bool,
    waiting_for: Option<String>,
}

impl CardCheck {
    fn start(&mut self, code: &str) {
        *self = CardCheck {
            step: CheckStep::Checking,
            waiting_for: Some(code.to_string()),
            ..CardCheck::default()
        };
    }

    fn answered(&mut self, code: &str, outcome: CheckOutcome, today: NaiveDate) {
        if self.waiting_for.as_deref() != Some(code) {
            return;
        }
        self.waiting_for = None;
        match outcome {
            CheckOutcome::Forged | CheckOutcome::Unknown => self.step = CheckStep::Forged,
            CheckOutcome::Verified {
                masked_name,
                masked_id,
                expires_on,
                state,
                voided_reason,
                ..
            } => {
                self.masked_name = masked_name;
                self.masked_id = masked_id;
                self.expires_on = Some(expires_on);
                self.lost = voided_reason.as_deref() == Some("reported_lost");
                self.step = match state {
                    Some(CardState::Voided) => CheckStep::Voided,
                    Some(CardState::Expired) => CheckStep::Expired,
                    _ if expires_on < today => CheckStep::Expired,
                    Some(CardState::Valid) => CheckStep::Valid,
                    None => CheckStep::Unconfirmed,
                };
            }
        }
    }
}

/// Which kind of code a scan holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    /// A 离线码 card (`CK1.` / `CK2.`): checked on the terminal.
    OfflineCard,
    /// A 随申码 / 电子身份证 code: resolved by the back office.
    ResidentCode,
    /// Not a code anyone here knows (empty, too long, control characters).
    Unreadable,
}

/// The longest code sent to the back office (the contract's limit).
pub const MAX_CODE_BYTES: usize = 512;

pub fn classify(code: &str) -> ScanKind {
    if code.is_empty()
        || code.len() > 4096
        || !code.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        ScanKind::Unreadable
    } else if code.starts_with("CK1.") || code.starts_with("CK2.") {
        ScanKind::OfflineCard
    } else if code.len() <= MAX_CODE_BYTES {
        ScanKind::ResidentCode
    } else {
        ScanKind::Unreadable
    }
}

/// The reader as the terminal knows it between sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderState {
    /// A card lies on the reader (read, and not lifted since).
    pub card_present: bool,
    /// The reader is unplugged or silent.
    pub unavailable: bool,
}

impl ReaderState {
    pub(crate) fn observe(&mut self, ev: &IdentityEvent) {
        match ev {
            IdentityEvent::CardRead(_) => {
                self.card_present = true;
                self.unavailable = false;
            }
            IdentityEvent::CardLifted => self.card_present = false,
            IdentityEvent::ReaderFailed(ReaderProblem::Unavailable) => {
                self.unavailable = true;
                self.card_present = false;
            }
            IdentityEvent::ReaderFailed(_) => self.card_present = false,
            IdentityEvent::ReaderRecovered => self.unavailable = false,
            _ => {}
        }
    }
}

/// The identity part of a session: who the resident is, the notice shown, the scanned
/// card's check, and the code being resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    resident: Option<Resident>,
    notice: Option<Notice>,
    check: CardCheck,
    resolving: Option<String>,
    /// The resident's session at the back office (我的), once opened.
    token: Option<Token>,
    /// Being opened.
    opening: bool,
}

/// What the session does after an identity event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityOutcome {
    /// Run this effect.
    Effect(IdentityEffect),
    /// A resident is now identified (the card page looks them up when it is open).
    Identified,
    /// A scanned card is being checked: show the check page.
    ShowCheck,
    /// The resident token arrived (or could not be had): 我的 may load now.
    SessionReady,
}

impl Identity {
    pub fn resident(&self) -> Option<&Resident> {
        self.resident.as_ref()
    }
    pub fn notice(&self) -> Option<Notice> {
        self.notice
    }
    pub fn check(&self) -> &CardCheck {
        &self.check
    }
    /// The resident token for 我的, once the back office opened the session.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.0.as_str())
    }
    /// The session is being opened.
    pub fn opening(&self) -> bool {
        self.opening
    }

    /// Someone is identified: their own session at the back office replaces any other.
    fn identified(&mut self, r: Resident, out: &mut Vec<IdentityOutcome>) {
        if let Some(old) = self.token.take() {
            out.push(IdentityOutcome::Effect(IdentityEffect::CloseSession(old.0)));
        }
        self.opening = true;
        out.push(IdentityOutcome::Effect(IdentityEffect::OpenSession(
            r.id.clone(),
        )));
        self.resident = Some(r);
        out.push(IdentityOutcome::Identified);
    }

    /// What the session leaves to do when it ends: close the resident's session.
    pub(crate) fn end(self) -> Option<IdentityEffect> {
        self.token.map(|t| IdentityEffect::CloseSession(t.0))
    }

    /// Whether this event is something a resident did (it wakes the attract screen).
    pub fn wakes(ev: &IdentityEvent) -> bool {
        matches!(
            ev,
            IdentityEvent::CardRead(_)
                | IdentityEvent::Scanned(_)
                | IdentityEvent::ReaderFailed(ReaderProblem::Moved | ReaderProblem::Unreadable)
        )
    }

    pub(crate) fn handle(&mut self, ev: IdentityEvent, today: NaiveDate) -> Vec<IdentityOutcome> {
        let mut out = Vec::new();
        match ev {
            IdentityEvent::CardRead(card) => {
                if card.valid_until.is_some_and(|d| d < today) {
                    // An expired card identifies nobody here.
                    self.notice = Some(Notice::IdExpired);
                } else {
                    self.notice = None;
                    let r = Resident {
                        masked_name: card.name.masked(),
                        id: card.id,
                        name: Some(card.name),
                        source: IdSource::Card,
                        valid_until: card.valid_until,
                    };
                    self.identified(r, &mut out);
                }
            }
            IdentityEvent::ReaderFailed(p @ (ReaderProblem::Moved | ReaderProblem::Unreadable)) => {
                self.notice = Some(Notice::Reader(p))
            }
            // An unplugged reader is the technician's: the pages say it where it matters.
            IdentityEvent::ReaderFailed(ReaderProblem::Unavailable)
            | IdentityEvent::ReaderRecovered
            | IdentityEvent::CardLifted => {}
            IdentityEvent::Scanned(code) => match classify(&code) {
                ScanKind::OfflineCard => {
                    self.notice = None;
                    self.check.start(&code);
                    out.push(IdentityOutcome::ShowCheck);
                    out.push(IdentityOutcome::Effect(IdentityEffect::CheckCard(code)));
                }
                ScanKind::ResidentCode => {
                    self.notice = Some(Notice::Resolving);
                    self.resolving = Some(code.clone());
                    out.push(IdentityOutcome::Effect(IdentityEffect::ResolveCode(code)));
                }
                ScanKind::Unreadable => self.notice = Some(Notice::CodeUnreadable),
            },
            IdentityEvent::CodeResolved(code, outcome) => {
                if self.resolving.as_deref() != Some(code.as_str()) {
                    return out;
                }
                self.resolving = None;
                self.notice = match outcome {
                    ResolveOutcome::Found(r) => {
                        self.identified(r, &mut out);
                        None
                    }
                    ResolveOutcome::NotFound => Some(Notice::CodeNotFound),
                    ResolveOutcome::Expired => Some(Notice::CodeExpired),
                    ResolveOutcome::Network => Some(Notice::CodeNetwork),
                };
            }
            IdentityEvent::CardChecked(code, outcome) => self.check.answered(&code, outcome, today),
            IdentityEvent::SessionOpened(id, token) => {
                if self.opening && self.resident.as_ref().is_some_and(|r| r.id == id) {
                    self.opening = false;
                    self.token = token.map(Token);
                    out.push(IdentityOutcome::SessionReady);
                } else if let Some(t) = token {
                    // For a resident no longer here: close it at once.
                    out.push(IdentityOutcome::Effect(IdentityEffect::CloseSession(t)));
                }
            }
            IdentityEvent::Dismiss => {
                if self.notice == Some(Notice::Resolving) {
                    self.resolving = None;
                }
                self.notice = None;
            }
        }
        out
    }
}

/// Recognises a keyboard-wedge scanner among key presses: a burst of at least
/// [`Wedge::MIN_LEN`] characters, each within [`Wedge::MAX_GAP`] of the one before,
/// ended by Enter. Nothing a wedge types reaches a field: the terminal has no physical
/// keyboard, so every other key is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wedge {
    buf: String,
    last: Option<Duration>,
}

impl Wedge {
    /// Scanners type a character every 1–20 ms; people need 80 ms or more.
    pub const MAX_GAP: Duration = Duration::from_millis(40);
    pub const MIN_LEN: usize = 4;
    const MAX_LEN: usize = 4096;

    /// One key press (`text` as the window system sends it) at `at`; answers the code
    /// when it ends a burst.
    pub fn key(&mut self, text: &str, at: Duration) -> Option<String> {
        // Shift, Control, Alt, AltGr, CapsLock, Meta (left and right): a scanner presses
        // Shift for every capital letter and for ':'; they keep the burst going.
        if text.chars().count() == 1 && text.chars().all(|c| ('\u{10}'..='\u{18}').contains(&c)) {
            if self
                .last
                .is_some_and(|l| at.saturating_sub(l) <= Self::MAX_GAP)
            {
                self.last = Some(at);
            }
            return None;
        }
        let in_burst = self
            .last
            .is_some_and(|l| at.saturating_sub(l) <= Self::MAX_GAP);
        self.last = Some(at);
        if !in_burst {
            self.buf.clear();
        }
        if text == "\n" || text == "\r" || text == "\r\n" {
            let code = std::mem::take(&mut self.buf);
            self.last = None;
            return (in_burst && code.chars().count() >= Self::MIN_LEN).then_some(code);
        }
        let printable = !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if !printable || self.buf.len() + text.len() > Self::MAX_LEN {
            // A special key (arrows, function keys arrive as private-use characters), or
            // no scanner would type this much: not a scan.
            self.buf.clear();
            self.last = None;
            return None;
        }
        self.buf.push_str(text);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn type_at(w: &mut Wedge, s: &str, start: u64, gap: u64) -> Option<String> {
        let mut t = start;
        let mut got = None;
        for c in s.chars() {
            got = w.key(&c.to_string(), ms(t));
            t += gap;
        }
        got.or_else(|| w.key("\n", ms(t)))
    }

    #[test]
    fn a_fast_burst_ending_with_enter_is_a_scan() {
        let mut w = Wedge::default();
        assert_eq!(
            type_at(&mut w, "SSM:DEMO:WANGXIUYING", 1000, 5).as_deref(),
            Some("SSM:DEMO:WANGXIUYING")
        );
        // The next scan starts clean.
        assert_eq!(
            type_at(&mut w, "CK2.abc.def", 5000, 0).as_deref(),
            Some("CK2.abc.def")
        );
    }

    #[test]
    fn a_person_typing_is_not_a_scan() {
        let mut w = Wedge::default();
        assert_eq!(type_at(&mut w, "310105", 0, 150), None);
        // Too short, or a pause inside the burst, or a lone Enter.
        assert_eq!(type_at(&mut w, "abc", 10_000, 5), None);
        let mut w2 = Wedge::default();
        for (i, c) in "SSM:DEMO".chars().enumerate() {
            w2.key(&c.to_string(), ms(i as u64 * 5));
        }
        assert_eq!(w2.key("\n", ms(500)), None);
        assert_eq!(w2.key("\n", ms(505)), None);
    }

    #[test]
    fn shift_pressed_for_capitals_keeps_a_burst() {
        let mut w = Wedge::default();
        let mut t = 0;
        for c in "SSM:DEMO".chars() {
            if c.is_ascii_uppercase() || c == ':' {
                assert_eq!(w.key("\u{10}", ms(t)), None);
                t += 3;
            }
            assert_eq!(w.key(&c.to_string(), ms(t)), None);
            t += 5;
        }
        assert_eq!(w.key("\n", ms(t)).as_deref(), Some("SSM:DEMO"));
    }

    #[test]
    fn a_special_key_breaks_a_burst() {
        let mut w = Wedge::default();
        for (i, c) in "SSM:D".chars().enumerate() {
            w.key(&c.to_string(), ms(i as u64));
        }
        w.key("\u{F700}", ms(6));
        assert_eq!(type_at(&mut w, "EMO", 7, 1), None);
    }

    #[test]
    fn scans_are_classified() {
        assert_eq!(classify("CK2.e30.sig"), ScanKind::OfflineCard);
        assert_eq!(classify("CK1.e30.sig"), ScanKind::OfflineCard);
        assert_eq!(classify("SSM:DEMO:WANGXIUYING"), ScanKind::ResidentCode);
        assert_eq!(classify(""), ScanKind::Unreadable);
        assert_eq!(classify("王秀英"), ScanKind::Unreadable);
        assert_eq!(classify(&"A".repeat(600)), ScanKind::Unreadable);
        assert_eq!(classify("a\u{7}b"), ScanKind::Unreadable);
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default()
    }

    fn card(until: Option<NaiveDate>) -> CardRead {
        CardRead {
            id: IdNumber::parse("310105195001011231").unwrap(),
            name: PersonName::new("王秀英"),
            valid_until: until,
        }
    }

    #[test]
    fn a_card_identifies_unless_expired() {
        let mut i = Identity::default();
        let out = i.handle(IdentityEvent::CardRead(card(None)), today());
        assert_eq!(
            out,
            vec![
                IdentityOutcome::Effect(IdentityEffect::OpenSession(card(None).id)),
                IdentityOutcome::Identified
            ]
        );
        assert!(i.opening());
        let out = i.handle(
            IdentityEvent::SessionOpened(card(None).id, Some("tok".into())),
            today(),
        );
        assert_eq!(out, vec![IdentityOutcome::SessionReady]);
        assert_eq!(i.token(), Some("tok"));
        assert!(
            !format!("{i:?}").contains("tok\""),
            "the token is not in Debug"
        );
        // Another card: the first resident's session is closed.
        let out = i.handle(IdentityEvent::CardRead(card(None)), today());
        assert_eq!(
            out[0],
            IdentityOutcome::Effect(IdentityEffect::CloseSession("tok".into()))
        );
        assert_eq!(i.token(), None);
        assert_eq!(i.clone().end(), None, "nothing open yet to close");
        let r = i.resident().unwrap();
        assert_eq!(
            (r.masked_name.as_str(), r.source),
            ("王*英", IdSource::Card)
        );

        let mut e = Identity::default();
        let yesterday = today().pred_opt();
        assert!(
            e.handle(IdentityEvent::CardRead(card(yesterday)), today())
                .is_empty()
        );
        assert_eq!(e.notice(), Some(Notice::IdExpired));
        assert!(e.resident().is_none());
        // The last valid day still counts.
        let mut l = Identity::default();
        l.handle(IdentityEvent::CardRead(card(Some(today()))), today());
        assert!(l.resident().is_some());
    }

    #[test]
    fn a_code_resolves_to_a_resident_and_late_or_bad_answers_say_so() {
        let mut i = Identity::default();
        let out = i.handle(IdentityEvent::Scanned("SSM:X1".into()), today());
        assert_eq!(
            out,
            vec![IdentityOutcome::Effect(IdentityEffect::ResolveCode(
                "SSM:X1".into()
            ))]
        );
        assert_eq!(i.notice(), Some(Notice::Resolving));
        // An answer for another code is dropped.
        i.handle(
            IdentityEvent::CodeResolved("SSM:OTHER".into(), ResolveOutcome::NotFound),
            today(),
        );
        assert_eq!(i.notice(), Some(Notice::Resolving));
        i.handle(
            IdentityEvent::CodeResolved("SSM:X1".into(), ResolveOutcome::Expired),
            today(),
        );
        assert_eq!(i.notice(), Some(Notice::CodeExpired));
        i.handle(IdentityEvent::Dismiss, today());
        assert_eq!(i.notice(), None);
    }

    #[test]
    fn a_scanned_card_shows_its_validity_or_that_it_is_void() {
        let mut i = Identity::default();
        let exp = NaiveDate::from_ymd_opt(2027, 5, 31).unwrap_or_default();
        let verified = |state| CheckOutcome::Verified {
            card_id: "C1".into(),
            masked_name: "王*英".into(),
            masked_id: "310***********1231".into(),
            expires_on: exp,
            state,
            voided_reason: (state == Some(CardState::Voided)).then(|| "reported_lost".into()),
        };
        let out = i.handle(IdentityEvent::Scanned("CK2.a.b".into()), today());
        assert_eq!(out[0], IdentityOutcome::ShowCheck);
        assert_eq!(i.check().step, CheckStep::Checking);
        i.handle(
            IdentityEvent::CardChecked("CK2.a.b".into(), verified(Some(CardState::Valid))),
            today(),
        );
        assert_eq!(
            (i.check().step, i.check().expires_on),
            (CheckStep::Valid, Some(exp))
        );
        i.handle(IdentityEvent::Scanned("CK2.a.b".into()), today());
        i.handle(
            IdentityEvent::CardChecked("CK2.a.b".into(), verified(Some(CardState::Voided))),
            today(),
        );
        assert_eq!(i.check().step, CheckStep::Voided);
        assert!(i.check().lost);
        i.handle(IdentityEvent::Scanned("CK2.a.b".into()), today());
        i.handle(
            IdentityEvent::CardChecked("CK2.a.b".into(), verified(None)),
            today(),
        );
        assert_eq!(i.check().step, CheckStep::Unconfirmed);
        i.handle(IdentityEvent::Scanned("CK2.x.y".into()), today());
        i.handle(
            IdentityEvent::CardChecked("CK2.x.y".into(), CheckOutcome::Forged),
            today(),
        );
        assert_eq!(i.check().step, CheckStep::Forged);
    }

    #[test]
    fn the_reader_state_follows_the_card() {
        let mut r = ReaderState::default();
        r.observe(&IdentityEvent::CardRead(card(None)));
        assert!(r.card_present);
        r.observe(&IdentityEvent::CardLifted);
        assert!(!r.card_present);
        r.observe(&IdentityEvent::ReaderFailed(ReaderProblem::Unavailable));
        assert!(r.unavailable);
        r.observe(&IdentityEvent::ReaderRecovered);
        assert!(!r.unavailable);
    }
}
