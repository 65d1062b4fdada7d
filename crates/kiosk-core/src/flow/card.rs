//! 离线码 card flow: the resident's ID card on the reader (or a scanned code, or a number typed where `identity.keypad` allows), the masked name the back office answers confirmed, and the printed card taken (or 补办 / 挂失).
//!
//! The ID number is checked here before anything is sent. Issuing (once a day, the
//! signature check, printing, the audit) is one effect, [`CardEffect::IssueAndPrint`],
//! run by the issuance flow the CLI shares; this flow only shows where it got to.

use std::fmt;

use crate::api::ResidentLookup;
use crate::config::Keypad;
use crate::identity::{IdNumber, IdNumberError};
use crate::pin::StaffId;
use crate::resident::{IdSource, TypedRefusal};
use crate::session::IdEntry;

use super::Settings;

/// Where the card flow is (`OfflineCodeAdapter.step` today: the number in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardStep {
    /// (0) Typing the ID number.
    #[default]
    Entry,
    /// (1) Asking the back office (a lookup, or a 挂失).
    Checking,
    /// (2) "王*英，是您本人吗？"; with `has_card`, 补办 and 挂失 are offered.
    Confirm,
    /// (3) Not eligible; `reason` says why, in the back office's words.
    NotEligible,
    /// (4) Issuing and printing; `held` while the printer cannot print.
    Printing,
    /// (5) "请取走您的卡片".
    TakeCard,
    /// (6) Failed; `failure` says why.
    Failed,
    /// (7) The old card was reported lost (voided).
    ReportedLost,
}

/// Why the card flow failed (`OfflineCodeAdapter.failure` with step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardFailure {
    /// (1) The back office cannot be reached (or none is configured, or no trusted key).
    Network,
    /// (2) The issued code did not verify against the trusted key: nothing printed.
    CodeRefused,
    /// (3) The printer failed; the card stays valid and 重试 prints the same card.
    Printer,
    /// (4) The back office said no; `reason` has its words.
    Refused,
    /// (5) A card was already printed here today for this person.
    AlreadyIssuedToday,
    /// (6) A typed number and no 帮办 staff signed in (`identity.keypad = "staff"`, or
    /// 补办 / 挂失 by a typed number).
    StaffRequired,
    /// (7) The printer failed for good: the card was not printed and is voided.
    NotPrinted,
    /// (8) The card printer cannot print this card (no card size, no PDF, an attribute
    /// it rejected): "暂停：打印机不支持", never "缺纸".
    PrinterUnsupported,
    /// (9) `identity.keypad = "off"`: "请将身份证放在读卡器上，或扫描随申码".
    IdCardRequired,
}

/// What a card job waits for, as the resident is told (`OfflineCodeAdapter.held` and
/// `held-unsupported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrintWait {
    /// Not waiting: printing, or not started.
    #[default]
    None,
    /// Paper out, cover open, an error, the printer unreachable: "打印机缺纸，请联系工作人员".
    Printer,
    /// The printer does not take this card: "暂停：打印机不支持".
    Unsupported,
}

impl PrintWait {
    /// How a print job's state shows to the resident: the one map of job states into
    /// the card flow.
    pub fn of(state: &crate::print::job::JobState) -> Self {
        use crate::print::job::JobState;
        match state {
            JobState::Unsupported(_) => PrintWait::Unsupported,
            JobState::Held(_) | JobState::Retrying(_) => PrintWait::Printer,
            JobState::Printing
            | JobState::Printed(_)
            | JobState::Cancelled
            | JobState::Failed(_) => PrintWait::None,
        }
    }
}

/// Why the typed ID number is not valid (`OfflineCodeAdapter.error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdProblem {
    /// (1)
    WrongLength,
    /// (2)
    BadCharacter,
    /// (3)
    ImpossibleDate,
    /// (4)
    FutureDate,
    /// (5)
    BadChecksum,
}

impl From<&IdNumberError> for IdProblem {
    fn from(e: &IdNumberError) -> Self {
        match e {
            IdNumberError::WrongLength(_) => IdProblem::WrongLength,
            IdNumberError::BadCharacter => IdProblem::BadCharacter,
            IdNumberError::ImpossibleDate => IdProblem::ImpossibleDate,
            IdNumberError::FutureDate => IdProblem::FutureDate,
            IdNumberError::BadChecksum => IdProblem::BadChecksum,
        }
    }
}

/// The back office's answer to a lookup, as the shell classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutcome {
    Found(ResidentLookup),
    /// Not reachable, or a retryable error.
    Network,
    /// It answered no, in these words.
    Refused(String),
}

/// How issuing and printing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Printed,
    AlreadyIssuedToday,
    Network,
    Refused(String),
    /// The issued code did not verify: nothing printed.
    CodeRefused,
    PrintFailed,
    /// The printer failed for good; the card was voided at the back office.
    NotPrinted,
    /// The keypad rule refused a typed number (the config changed after the confirm):
    /// the issuance flow refused.
    StaffRequired,
    /// The session ended while the job waited: nothing printed, nothing to show.
    Cancelled,
}

/// How a 挂失 ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostOutcome {
    Voided,
    Network,
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEvent {
    /// A key of the ID keypad: a digit, or X as the 18th character.
    Key(String),
    Backspace,
    /// Clear, and "不是，重新输入".
    Clear,
    /// 重新输入 after a refusal (not eligible, not found, refused): back to the keypad
    /// with the digits typed so far, to correct one rather than type all 18 again.
    Edit,
    /// 下一步: check the number, then ask the back office.
    Submit,
    /// "是本人，打印卡片".
    Confirm,
    /// "补办新卡（旧卡作废）".
    Reissue,
    /// "挂失旧卡".
    ReportLost,
    /// "重试" after the printer failed: the same card is asked for again and printed.
    Retry,
    /// The resident was identified by their ID card or a scanned code (the session's
    /// resident): look them up at once, nothing typed.
    Identified(IdNumber, IdSource),
    /// Answer to [`CardEffect::LookupResident`] for this number.
    Looked(IdNumber, LookupOutcome),
    /// While printing the card of this number: what the job waits for now
    /// ([`PrintWait::of`] its state; `None` when it prints again).
    PrintHeld(IdNumber, PrintWait),
    /// Answer to [`CardEffect::IssueAndPrint`] for this number.
    Issued(IdNumber, IssueOutcome),
    /// Answer to [`CardEffect::ReportLost`] for this number.
    LostReported(IdNumber, LostOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEffect {
    /// Ask who this is (masked name) and whether a card may be printed.
    LookupResident(IdNumber),
    /// Run the issuance flow: once a day unless `reissue`, issue, verify, print, audit.
    /// Answer [`CardEvent::PrintHeld`] while it waits and [`CardEvent::Issued`] at the end.
    IssueAndPrint {
        id: IdNumber,
        source: IdSource,
        reissue: bool,
        /// The 帮办 staff member signed in, named in the audit.
        staff: Option<StaffId>,
    },
    /// Void the resident's valid card (audited with the card id).
    ReportLost { id: IdNumber, source: IdSource },
}

/// The ID number being typed. `Debug` shows how many characters, never which.
#[derive(Clone, Default)]
struct IdDigits(IdEntry);

impl PartialEq for IdDigits {
    fn eq(&self, other: &Self) -> bool {
        self.0.display() == other.0.display()
    }
}
impl Eq for IdDigits {}
impl fmt::Debug for IdDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdDigits({} typed)", self.0.len())
    }
}

/// Which answer the flow waits for: an answer of another kind, or for another number
/// (late, from a step the resident already left), is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Waiting {
    #[default]
    Nothing,
    Lookup,
    Issue,
    Lost,
}

/// The card flow. `CardFlow::default()` is its start (the page opened).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CardFlow {
    entry: IdDigits,
    /// Who the flow acts for, and how they were identified: set at 下一步 for a typed
    /// number, or at once by a card or code.
    who: Option<(IdNumber, IdSource)>,
    problem: Option<IdProblem>,
    step: CardStep,
    failure: Option<CardFailure>,
    masked_name: String,
    reason: String,
    has_card: bool,
    held: PrintWait,
    waiting: Waiting,
    /// The issuance asked for was a reissue (a 重试 asks for the same).
    reissue: bool,
}

/// What the 离线码 page shows. `Debug` masks the number typed.
#[derive(Clone, PartialEq, Eq)]
pub struct CardView {
    pub step: CardStep,
    /// The number as typed, in groups of 6-8-4 (shown to the resident, who is typing it).
    pub id_entry: String,
    /// All 18 characters typed: 下一步 is enabled.
    pub complete: bool,
    /// With [`CardStep::Entry`]: why the number was not accepted.
    pub problem: Option<IdProblem>,
    /// With [`CardStep::Failed`].
    pub failure: Option<CardFailure>,
    pub masked_name: String,
    pub reason: String,
    pub has_card: bool,
    /// Waiting for the printer ("打印机缺纸，请联系工作人员").
    pub held: bool,
    /// Waiting for a printer that does not take the card ("暂停：打印机不支持").
    pub held_unsupported: bool,
    /// The keypad may be used now (`identity.keypad`, staff signed in); otherwise the
    /// entry step asks for the ID card or a code.
    pub keypad: bool,
    /// The resident was identified by the ID card on the reader.
    pub by_card: bool,
    /// … or by a scanned code.
    pub by_code: bool,
    /// 补办 and 挂失 may be offered: identified by card or code, or staff signed in.
    pub change_allowed: bool,
}

impl fmt::Debug for CardView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardView")
            .field("step", &self.step)
            .field("id_entry", &format_args!("{} chars", self.id_entry.len()))
            .field("complete", &self.complete)
            .field("problem", &self.problem)
            .field("failure", &self.failure)
            .field("masked_name", &self.masked_name)
            .field("reason", &self.reason)
            .field("has_card", &self.has_card)
            .field("held", &self.held)
            .field("held_unsupported", &self.held_unsupported)
            .field("keypad", &self.keypad)
            .field("by_card", &self.by_card)
            .field("by_code", &self.by_code)
            .field("change_allowed", &self.change_allowed)
            .finish()
    }
}

impl CardFlow {
    pub fn step(&self) -> CardStep {
        self.step
    }

    /// The page's view, with the keypad rule of `keypad` and whether staff are signed in.
    pub fn view(&self, keypad: Keypad, staff: bool) -> CardView {
        let source = self.who.as_ref().map(|w| w.1);
        CardView {
            keypad: crate::resident::typed_allowed(keypad, false, staff).is_ok(),
            by_card: source == Some(IdSource::Card),
            by_code: source == Some(IdSource::Code),
            change_allowed: staff || source.is_some_and(IdSource::proven),
            step: self.step,
            id_entry: self.entry.0.display(),
            complete: self.entry.0.len() == 18,
            problem: self.problem,
            failure: self.failure,
            masked_name: self.masked_name.clone(),
            reason: self.reason.clone(),
            has_card: self.has_card,
            held: self.held == PrintWait::Printer,
            held_unsupported: self.held == PrintWait::Unsupported,
        }
    }

    /// The card was printed: the page offers "评价本次服务".
    pub fn printed(&self) -> bool {
        self.step == CardStep::TakeCard
    }

    /// The answer is for the resident the flow acts for.
    fn is_for(&self, id: &IdNumber) -> bool {
        self.who.as_ref().map(|w| &w.0) == Some(id)
    }

    /// The keypad rule refused: the failure the page shows.
    fn refused(&mut self, why: TypedRefusal) {
        self.fail(
            match why {
                TypedRefusal::KeypadOff => CardFailure::IdCardRequired,
                TypedRefusal::StaffRequired | TypedRefusal::StaffRequiredForReissue => {
                    CardFailure::StaffRequired
                }
            },
            String::new(),
        )
    }

    fn look_up(&mut self, id: IdNumber, source: IdSource) -> Vec<CardEffect> {
        self.problem = None;
        self.failure = None;
        self.masked_name.clear();
        self.reason.clear();
        self.has_card = false;
        self.step = CardStep::Checking;
        self.waiting = Waiting::Lookup;
        self.who = Some((id.clone(), source));
        vec![CardEffect::LookupResident(id)]
    }

    fn fail(&mut self, failure: CardFailure, reason: String) {
        self.step = CardStep::Failed;
        self.failure = Some(failure);
        self.reason = reason;
        self.waiting = Waiting::Nothing;
        self.held = PrintWait::None;
    }

    fn edit(&mut self, f: impl FnOnce(&mut IdEntry)) {
        f(&mut self.entry.0);
        // Back to typing: what the back office said about an earlier number goes.
        self.who = None;
        self.step = CardStep::Entry;
        self.problem = None;
        self.failure = None;
        self.masked_name.clear();
        self.reason.clear();
        self.has_card = false;
        self.waiting = Waiting::Nothing;
    }

    pub fn handle(
        &mut self,
        event: CardEvent,
        settings: &Settings,
        staff: Option<&StaffId>,
    ) -> Vec<CardEffect> {
        match event {
            CardEvent::Key(k) => self.edit(|e| e.key(&k)),
            CardEvent::Backspace => self.edit(IdEntry::backspace),
            CardEvent::Clear => self.edit(IdEntry::clear),
            CardEvent::Edit
                if matches!(self.step, CardStep::NotEligible | CardStep::Failed)
                    && self.waiting == Waiting::Nothing
                    && !self.entry.0.display().is_empty() =>
            {
                self.edit(|_| {})
            }
            CardEvent::Submit if self.step == CardStep::Entry => match self.entry.0.parse() {
                Err(e) => self.problem = Some(IdProblem::from(&e)),
                Ok(_) if !settings.backoffice => self.fail(CardFailure::Network, String::new()),
                Ok(id) => {
                    if let Err(why) =
                        crate::resident::typed_allowed(settings.keypad, false, staff.is_some())
                    {
                        self.refused(why);
                        return Vec::new();
                    }
                    return self.look_up(id, IdSource::Typed);
                }
            },
            CardEvent::Identified(id, source)
                if !matches!(
                    self.step,
                    CardStep::Checking | CardStep::Printing | CardStep::TakeCard
                ) =>
            {
                if !settings.backoffice {
                    self.fail(CardFailure::Network, String::new());
                    return Vec::new();
                }
                self.entry = IdDigits::default();
                return self.look_up(id, source);
            }
            CardEvent::Confirm | CardEvent::Reissue | CardEvent::Retry
                if self.step == CardStep::Confirm
                    || (event == CardEvent::Retry
                        && self.step == CardStep::Failed
                        && self.failure == Some(CardFailure::Printer)) =>
            {
                let reissue = match event {
                    CardEvent::Retry => self.reissue,
                    e => e == CardEvent::Reissue,
                };
                let Some((id, source)) = self.who.clone() else {
                    return Vec::new();
                };
                let rule =
                    crate::resident::allowed(source, settings.keypad, reissue, staff.is_some());
                if !(settings.backoffice && settings.trusted_key) {
                    self.fail(CardFailure::Network, String::new());
                } else if let Err(why) = rule {
                    // A typed number is not proof of who is standing there.
                    self.refused(why);
                } else {
                    self.step = CardStep::Printing;
                    self.failure = None;
                    self.held = PrintWait::None;
                    self.waiting = Waiting::Issue;
                    self.reissue = reissue;
                    return vec![CardEffect::IssueAndPrint {
                        id,
                        source,
                        reissue,
                        staff: staff.cloned(),
                    }];
                }
            }
            CardEvent::ReportLost if self.step == CardStep::Confirm => {
                let Some((id, source)) = self.who.clone() else {
                    return Vec::new();
                };
                if !settings.backoffice {
                    self.fail(CardFailure::Network, String::new());
                } else if let Err(why) =
                    crate::resident::allowed(source, settings.keypad, true, staff.is_some())
                {
                    self.refused(why);
                } else {
                    self.step = CardStep::Checking;
                    self.waiting = Waiting::Lost;
                    return vec![CardEffect::ReportLost { id, source }];
                }
            }
            CardEvent::Looked(id, answer)
                if self.waiting == Waiting::Lookup && self.is_for(&id) =>
            {
                self.waiting = Waiting::Nothing;
                match answer {
                    LookupOutcome::Found(who) => {
                        self.masked_name = who.masked_name;
                        self.has_card = who.active_card.is_some();
                        if who.eligible {
                            self.step = CardStep::Confirm;
                            self.reason.clear();
                        } else {
                            self.step = CardStep::NotEligible;
                            self.reason = who.reason.unwrap_or_default();
                        }
                    }
                    LookupOutcome::Network => self.fail(CardFailure::Network, String::new()),
                    LookupOutcome::Refused(m) => self.fail(CardFailure::Refused, m),
                }
            }
            CardEvent::PrintHeld(id, held)
                if self.waiting == Waiting::Issue && self.is_for(&id) =>
            {
                self.held = held
            }
            CardEvent::Issued(id, outcome)
                if self.waiting == Waiting::Issue && self.is_for(&id) =>
            {
                self.waiting = Waiting::Nothing;
                // A job that waited on a printer that does not take the card and then
                // gave up failed for that reason, not for paper.
                let unsupported = self.held == PrintWait::Unsupported;
                self.held = PrintWait::None;
                match outcome {
                    IssueOutcome::Printed => self.step = CardStep::TakeCard,
                    IssueOutcome::AlreadyIssuedToday => {
                        self.fail(CardFailure::AlreadyIssuedToday, String::new())
                    }
                    IssueOutcome::Network => self.fail(CardFailure::Network, String::new()),
                    IssueOutcome::Refused(m) => self.fail(CardFailure::Refused, m),
                    IssueOutcome::CodeRefused => self.fail(CardFailure::CodeRefused, String::new()),
                    IssueOutcome::PrintFailed | IssueOutcome::NotPrinted if unsupported => {
                        self.fail(CardFailure::PrinterUnsupported, String::new())
                    }
                    IssueOutcome::PrintFailed => self.fail(CardFailure::Printer, String::new()),
                    IssueOutcome::NotPrinted => self.fail(CardFailure::NotPrinted, String::new()),
                    IssueOutcome::StaffRequired => {
                        self.fail(CardFailure::StaffRequired, String::new())
                    }
                    // Only reaches a session that is ending: nothing changes on screen.
                    IssueOutcome::Cancelled => {}
                }
            }
            CardEvent::LostReported(id, outcome)
                if self.waiting == Waiting::Lost && self.is_for(&id) =>
            {
                self.waiting = Waiting::Nothing;
                self.has_card = false;
                match outcome {
                    LostOutcome::Voided => self.step = CardStep::ReportedLost,
                    LostOutcome::Network => self.fail(CardFailure::Network, String::new()),
                    LostOutcome::Refused(m) => self.fail(CardFailure::Refused, m),
                }
            }
            // A tap the page does not offer in this step, or an answer nobody waits for.
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testing::{ID, settings};

    fn id() -> IdNumber {
        IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"))
    }

    fn typed(id: &str) -> CardFlow {
        let mut c = CardFlow::default();
        for ch in id.chars() {
            c.handle(CardEvent::Key(ch.to_string()), &settings(), None);
        }
        c
    }

    fn found(eligible: bool, active_card: Option<&str>) -> LookupOutcome {
        LookupOutcome::Found(ResidentLookup {
            masked_name: "王*英".into(),
            masked_id: "110***********002X".into(),
            eligible,
            basis: None,
            reason: (!eligible).then(|| "未满60周岁".to_string()),
            active_card: active_card.map(str::to_string),
        })
    }

    /// Typed, looked up, eligible: at the confirm step.
    fn at_confirm(active_card: Option<&str>) -> CardFlow {
        let mut c = typed(ID);
        let fx = c.handle(CardEvent::Submit, &settings(), None);
        assert!(matches!(&fx[..], [CardEffect::LookupResident(_)]));
        c.handle(
            CardEvent::Looked(id(), found(true, active_card)),
            &settings(),
            None,
        );
        c
    }

    /// Identified by the ID card, looked up: at the confirm step, nothing typed.
    fn by_card(active_card: Option<&str>) -> CardFlow {
        let mut c = CardFlow::default();
        let fx = c.handle(
            CardEvent::Identified(id(), IdSource::Card),
            &settings(),
            None,
        );
        assert_eq!(fx, vec![CardEffect::LookupResident(id())]);
        c.handle(
            CardEvent::Looked(id(), found(true, active_card)),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::Confirm);
        c
    }

    #[test]
    fn a_typed_number_changes_a_card_only_with_staff() {
        let mut c = at_confirm(Some("card-1"));
        assert!(!c.view(Keypad::Open, false).change_allowed);
        assert_eq!(c.handle(CardEvent::Reissue, &settings(), None), vec![]);
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::StaffRequired)
        );
        let mut c = at_confirm(Some("card-1"));
        assert_eq!(c.handle(CardEvent::ReportLost, &settings(), None), vec![]);
        assert_eq!(c.step(), CardStep::Failed);
        let staff = StaffId::parse("S1024").ok();
        let mut c = at_confirm(Some("card-1"));
        assert!(c.view(Keypad::Open, true).change_allowed);
        let fx = c.handle(CardEvent::ReportLost, &settings(), staff.as_ref());
        assert!(matches!(
            &fx[..],
            [CardEffect::ReportLost {
                source: IdSource::Typed,
                ..
            }]
        ));
        // By card: offered to anyone.
        let c = by_card(Some("card-1"));
        let v = c.view(Keypad::Off, false);
        assert!(v.change_allowed && v.by_card && !v.keypad);
    }

    #[test]
    fn happy_path_types_confirms_prints_and_shows_take_the_card() {
        let mut c = typed(ID);
        let v = c.view(Keypad::Open, false);
        assert_eq!(v.id_entry, "110105 19491231 002X");
        assert!(v.complete);
        let fx = c.handle(CardEvent::Submit, &settings(), None);
        let [CardEffect::LookupResident(sent)] = &fx[..] else {
            panic!("one lookup: {fx:?}");
        };
        assert_eq!(sent.expose_id_number(), ID);
        assert_eq!(c.step(), CardStep::Checking);
        c.handle(
            CardEvent::Looked(id(), found(true, None)),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::Confirm);
        assert_eq!(c.view(Keypad::Open, false).masked_name, "王*英");
        assert!(!c.view(Keypad::Open, false).has_card);
        let fx = c.handle(CardEvent::Confirm, &settings(), None);
        assert!(matches!(
            &fx[..],
            [CardEffect::IssueAndPrint {
                reissue: false,
                staff: None,
                ..
            }]
        ));
        assert_eq!(c.step(), CardStep::Printing);
        c.handle(
            CardEvent::PrintHeld(id(), PrintWait::Printer),
            &settings(),
            None,
        );
        assert!(c.view(Keypad::Open, false).held, "缺纸: the page says so");
        c.handle(
            CardEvent::PrintHeld(id(), PrintWait::None),
            &settings(),
            None,
        );
        assert!(!c.view(Keypad::Open, false).held);
        c.handle(
            CardEvent::Issued(id(), IssueOutcome::Printed),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::TakeCard);
        assert!(c.printed());
    }

    #[test]
    fn a_wrong_number_is_refused_before_anything_is_sent() {
        let cases = [
            ("1101051949123100", IdProblem::WrongLength),
            ("110105194912310021", IdProblem::BadChecksum),
            ("110105194902300021", IdProblem::ImpossibleDate),
            ("110105299912310021", IdProblem::FutureDate),
        ];
        for (id, want) in cases {
            let mut c = typed(id);
            assert_eq!(c.handle(CardEvent::Submit, &settings(), None), vec![]);
            assert_eq!(c.step(), CardStep::Entry, "{id}");
            assert_eq!(c.view(Keypad::Open, false).problem, Some(want), "{id}");
            c.handle(CardEvent::Backspace, &settings(), None);
            assert_eq!(
                c.view(Keypad::Open, false).problem,
                None,
                "typing clears the message"
            );
        }
        // X only as the 18th character: the keypad refuses it earlier.
        let c = typed("X1101");
        assert_eq!(c.view(Keypad::Open, false).id_entry, "1101");
    }

    #[test]
    fn every_failure_has_its_own_variant() {
        let fail = |c: &CardFlow| {
            (
                c.step(),
                c.view(Keypad::Open, false).failure,
                c.view(Keypad::Open, false).reason,
            )
        };
        // Lookup: network, and a refusal in the back office's words.
        let mut c = typed(ID);
        c.handle(CardEvent::Submit, &settings(), None);
        c.handle(
            CardEvent::Looked(id(), LookupOutcome::Network),
            &settings(),
            None,
        );
        assert_eq!(
            fail(&c),
            (CardStep::Failed, Some(CardFailure::Network), "".into())
        );
        let mut c = typed(ID);
        c.handle(CardEvent::Submit, &settings(), None);
        c.handle(
            CardEvent::Looked(id(), LookupOutcome::Refused("系统维护".into())),
            &settings(),
            None,
        );
        assert_eq!(
            fail(&c),
            (
                CardStep::Failed,
                Some(CardFailure::Refused),
                "系统维护".into()
            )
        );
        // Not eligible.
        let mut c = typed(ID);
        c.handle(CardEvent::Submit, &settings(), None);
        c.handle(
            CardEvent::Looked(id(), found(false, None)),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::NotEligible);
        assert_eq!(c.view(Keypad::Open, false).reason, "未满60周岁");
        // 重新输入: back to the keypad with every digit kept, to correct one.
        let typed_digits = c.view(Keypad::Open, false).id_entry;
        c.handle(CardEvent::Edit, &settings(), None);
        assert_eq!(c.step(), CardStep::Entry);
        assert_eq!(c.view(Keypad::Open, false).id_entry, typed_digits);
        assert_eq!(
            c.view(Keypad::Open, false).reason,
            "",
            "the old answer goes"
        );
        c.handle(CardEvent::Backspace, &settings(), None);
        c.handle(CardEvent::Key("X".into()), &settings(), None);
        assert_eq!(
            c.view(Keypad::Open, false).id_entry.replace(' ', "").len(),
            18,
            "one character changed, not all typed again"
        );
        // Not while a lookup is out.
        c.handle(CardEvent::Submit, &settings(), None);
        c.handle(CardEvent::Edit, &settings(), None);
        assert_eq!(c.step(), CardStep::Checking);
        // Issuing.
        for (outcome, want) in [
            (IssueOutcome::Network, CardFailure::Network),
            (IssueOutcome::CodeRefused, CardFailure::CodeRefused),
            (IssueOutcome::PrintFailed, CardFailure::Printer),
            (IssueOutcome::NotPrinted, CardFailure::NotPrinted),
            (
                IssueOutcome::AlreadyIssuedToday,
                CardFailure::AlreadyIssuedToday,
            ),
            (IssueOutcome::Refused("拒绝".into()), CardFailure::Refused),
            (IssueOutcome::StaffRequired, CardFailure::StaffRequired),
        ] {
            let mut c = at_confirm(None);
            c.handle(CardEvent::Confirm, &settings(), None);
            c.handle(
                CardEvent::PrintHeld(id(), PrintWait::Printer),
                &settings(),
                None,
            );
            c.handle(CardEvent::Issued(id(), outcome.clone()), &settings(), None);
            assert_eq!(
                c.view(Keypad::Open, false).failure,
                Some(want),
                "{outcome:?}"
            );
            assert_eq!(c.step(), CardStep::Failed);
            assert!(!c.view(Keypad::Open, false).held);
        }
        // 重试 after a printer failure asks for the same card again (a reissue stays a
        // reissue); after any other failure, or a final one, it does nothing.
        for reissue in [false, true] {
            let mut c = by_card(None);
            let ev = if reissue {
                CardEvent::Reissue
            } else {
                CardEvent::Confirm
            };
            c.handle(ev, &settings(), None);
            c.handle(
                CardEvent::Issued(id(), IssueOutcome::PrintFailed),
                &settings(),
                None,
            );
            assert_eq!(
                c.handle(CardEvent::Retry, &settings(), None),
                vec![CardEffect::IssueAndPrint {
                    id: id(),
                    source: IdSource::Card,
                    reissue,
                    staff: None
                }]
            );
            assert_eq!(
                (c.step(), c.view(Keypad::Open, false).failure),
                (CardStep::Printing, None)
            );
            c.handle(
                CardEvent::Issued(id(), IssueOutcome::Printed),
                &settings(),
                None,
            );
            assert_eq!(c.step(), CardStep::TakeCard);
            assert_eq!(c.handle(CardEvent::Retry, &settings(), None), vec![]);
        }
        for final_outcome in [IssueOutcome::NotPrinted, IssueOutcome::CodeRefused] {
            let mut c = at_confirm(None);
            c.handle(CardEvent::Confirm, &settings(), None);
            c.handle(CardEvent::Issued(id(), final_outcome), &settings(), None);
            assert_eq!(c.handle(CardEvent::Retry, &settings(), None), vec![]);
            assert_eq!(c.step(), CardStep::Failed);
        }
        // No back office, or no trusted key: network, and nothing is sent.
        let offline = Settings {
            backoffice: false,
            ..settings()
        };
        let mut c = typed(ID);
        assert_eq!(c.handle(CardEvent::Submit, &offline, None), vec![]);
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::Network)
        );
        let keyless = Settings {
            trusted_key: false,
            ..settings()
        };
        let mut c = at_confirm(None);
        assert_eq!(c.handle(CardEvent::Confirm, &keyless, None), vec![]);
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::Network)
        );
    }

    #[test]
    fn a_printer_that_does_not_take_the_card_is_not_paper_out() {
        use crate::print::job::JobState;
        use crate::print::status::Status;
        assert_eq!(
            PrintWait::of(&JobState::Unsupported("打印机不支持卡片尺寸".into())),
            PrintWait::Unsupported
        );
        assert_eq!(
            PrintWait::of(&JobState::Held(Status::from_bytes(0x12, 0x32, 0x72))),
            PrintWait::Printer
        );
        assert_eq!(
            PrintWait::of(&JobState::Retrying("refused".into())),
            PrintWait::Printer
        );
        assert_eq!(PrintWait::of(&JobState::Printing), PrintWait::None);
        let mut c = at_confirm(None);
        c.handle(CardEvent::Confirm, &settings(), None);
        c.handle(
            CardEvent::PrintHeld(id(), PrintWait::Unsupported),
            &settings(),
            None,
        );
        let v = c.view(Keypad::Open, false);
        assert!(v.held_unsupported && !v.held, "{v:?}");
        // It gave up (and the card was voided): the failure says the printer does not
        // take the card.
        c.handle(
            CardEvent::Issued(id(), IssueOutcome::NotPrinted),
            &settings(),
            None,
        );
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::PrinterUnsupported)
        );
        assert!(!c.view(Keypad::Open, false).held_unsupported);
        // Paper out, then given up: the printer failure as before.
        let mut c = at_confirm(None);
        c.handle(CardEvent::Confirm, &settings(), None);
        c.handle(
            CardEvent::PrintHeld(id(), PrintWait::Printer),
            &settings(),
            None,
        );
        c.handle(
            CardEvent::Issued(id(), IssueOutcome::PrintFailed),
            &settings(),
            None,
        );
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::Printer)
        );
    }

    #[test]
    fn a_staff_keypad_refuses_without_staff_and_names_them_with() {
        let strict = Settings {
            keypad: Keypad::Staff,
            ..settings()
        };
        // Typed with the keypad closed: refused at 下一步, nothing sent.
        let mut c = typed(ID);
        assert_eq!(c.handle(CardEvent::Submit, &strict, None), vec![]);
        assert_eq!(
            c.view(Keypad::Staff, false).failure,
            Some(CardFailure::StaffRequired)
        );
        assert!(!c.view(Keypad::Staff, false).keypad);
        assert!(c.view(Keypad::Staff, true).keypad);
        let off = Settings {
            keypad: Keypad::Off,
            ..settings()
        };
        let mut c = typed(ID);
        assert_eq!(c.handle(CardEvent::Submit, &off, None), vec![]);
        assert_eq!(
            c.view(Keypad::Off, false).failure,
            Some(CardFailure::IdCardRequired)
        );
        // The config changed after the lookup: refused at the confirm.
        let mut c = at_confirm(None);
        assert_eq!(c.handle(CardEvent::Confirm, &strict, None), vec![]);
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::StaffRequired)
        );
        let staff = StaffId::parse("S1024").ok();
        let mut c = at_confirm(None);
        let fx = c.handle(CardEvent::Confirm, &strict, staff.as_ref());
        assert!(matches!(
            &fx[..],
            [CardEffect::IssueAndPrint { staff: Some(s), .. }] if s.as_str() == "S1024"
        ));
    }

    #[test]
    fn a_resident_with_a_card_may_reissue_or_report_it_lost() {
        let mut c = by_card(Some("card-1"));
        assert!(c.view(Keypad::Open, false).has_card);
        let fx = c.handle(CardEvent::Reissue, &settings(), None);
        assert!(matches!(
            &fx[..],
            [CardEffect::IssueAndPrint {
                reissue: true,
                source: IdSource::Card,
                ..
            }]
        ));
        let mut c = by_card(Some("card-1"));
        let fx = c.handle(CardEvent::ReportLost, &settings(), None);
        assert!(matches!(&fx[..], [CardEffect::ReportLost { .. }]));
        assert_eq!(c.step(), CardStep::Checking);
        // A lookup answer is not what this step waits for.
        c.handle(
            CardEvent::Looked(id(), found(true, None)),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::Checking);
        c.handle(
            CardEvent::LostReported(id(), LostOutcome::Voided),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::ReportedLost);
        assert!(!c.view(Keypad::Open, false).has_card);
        let mut c = by_card(Some("card-1"));
        c.handle(CardEvent::ReportLost, &settings(), None);
        c.handle(
            CardEvent::LostReported(id(), LostOutcome::Network),
            &settings(),
            None,
        );
        assert_eq!(
            c.view(Keypad::Open, false).failure,
            Some(CardFailure::Network)
        );
    }

    #[test]
    fn not_me_clears_the_number_and_what_the_back_office_said() {
        let mut c = at_confirm(Some("card-1"));
        c.handle(CardEvent::Clear, &settings(), None);
        assert_eq!(c, CardFlow::default());
        // Taps the step does not offer do nothing.
        assert_eq!(c.handle(CardEvent::Confirm, &settings(), None), vec![]);
        assert_eq!(c.handle(CardEvent::ReportLost, &settings(), None), vec![]);
        assert_eq!(c, CardFlow::default());
    }

    #[test]
    fn late_answers_change_nothing() {
        let mut c = CardFlow::default();
        c.handle(
            CardEvent::Looked(id(), found(true, None)),
            &settings(),
            None,
        );
        c.handle(
            CardEvent::Issued(id(), IssueOutcome::Printed),
            &settings(),
            None,
        );
        c.handle(
            CardEvent::PrintHeld(id(), PrintWait::Printer),
            &settings(),
            None,
        );
        assert_eq!(c, CardFlow::default());
        // Cancelled (the session ended) leaves the page as it was.
        let mut c = at_confirm(None);
        c.handle(CardEvent::Confirm, &settings(), None);
        c.handle(
            CardEvent::Issued(id(), IssueOutcome::Cancelled),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::Printing);
    }

    #[test]
    fn an_answer_for_another_number_is_dropped() {
        // The resident typed one number, left, and typed another: the first lookup's
        // answer must not confirm the second person.
        let other = "310105195001011231";
        let mut c = typed(other);
        c.handle(CardEvent::Submit, &settings(), None);
        c.handle(
            CardEvent::Looked(id(), found(true, None)),
            &settings(),
            None,
        );
        assert_eq!(c.step(), CardStep::Checking);
        let mut c = at_confirm(None);
        c.handle(CardEvent::Confirm, &settings(), None);
        let theirs = IdNumber::parse(other).unwrap_or_else(|e| panic!("{e}"));
        c.handle(
            CardEvent::PrintHeld(theirs.clone(), PrintWait::Printer),
            &settings(),
            None,
        );
        c.handle(
            CardEvent::Issued(theirs, IssueOutcome::Printed),
            &settings(),
            None,
        );
        assert_eq!(
            (c.step(), c.view(Keypad::Open, false).held),
            (CardStep::Printing, false)
        );
    }

    #[test]
    fn debug_never_shows_the_number() {
        let c = at_confirm(None);
        let shown = format!("{c:?} {:?}", c.view(Keypad::Open, false));
        assert!(!shown.contains("19491231"), "{shown}");
        assert!(!shown.contains("110105"), "{shown}");
    }
}
