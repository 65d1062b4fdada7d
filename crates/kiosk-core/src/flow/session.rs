//! The resident's session as one value, and the terminal that ends it by dropping it.
//!
//! [`Session`] holds everything a resident typed, chose or was shown: the page, the
//! search, every flow, 长者模式 and the language, the 帮办 staff member, the print jobs
//! still waiting. [`Terminal`] owns the session of the moment; when it ends (idle, 退出帮办,
//! 退出维护模式) the terminal replaces it with `Session::new`, so nothing of one resident
//! can reach the next: there is no list of fields to reset.

use std::time::Duration;

use crate::api::Rating;
use crate::identity::IdNumber;
use crate::pin::StaffId;
use crate::resident::{IdSource, Resident};

use super::assist::{Assist, AssistEffect, AssistEvent, StaffEnd};
use super::browse::{Browse, BrowseEffect, BrowseEvent, GuidePrint};
use super::card::{CardEffect, CardEvent, CardFlow};
use super::help::{HelpEffect, HelpEvent, HelpFlow};
use super::identity::{
    Identity, IdentityEffect, IdentityEvent, IdentityOutcome, ReaderState, Wedge,
};
use super::maintenance::{Maintenance, MaintenanceEffect, MaintenanceEnd, MaintenanceEvent, Pin};
use super::mine::{Mine, MineEffect, MineEvent};
use super::nav::{EndReason, Nav, NavEffect, NavEvent, Page};
use super::rating::{RatingEffect, RatingEvent, RatingFlow};
use super::{Moment, Settings};

/// Everything that goes into the session: the resident's taps and typing, the ticker,
/// and the answers to effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Nav(NavEvent),
    Browse(BrowseEvent),
    Card(CardEvent),
    Rating(RatingEvent),
    Help(HelpEvent),
    Assist(AssistEvent),
    Maintenance(MaintenanceEvent),
    /// The reader, the scanners, and their answers.
    Identity(IdentityEvent),
    /// 我的: answers.
    Mine(MineEvent),
    /// A key pressed on a physical keyboard (`text` as the window system sends it): only
    /// a keyboard-wedge scanner types here; its bursts become [`IdentityEvent::Scanned`]
    /// and nothing else is typed anywhere.
    Key(String),
    /// 长者模式 / 标准模式.
    ToggleLarge,
    /// 中文 / English.
    ToggleLanguage,
}

/// What the shell runs for the session, off the UI thread; answers come back as
/// [`Event`]s through [`Terminal::answer`] with the command's [`Ticket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Search the catalogue; answer `BrowseEvent::SearchAnswered`.
    Search(String),
    /// Print a guide; report `BrowseEvent::GuidePrinted`.
    PrintGuide { code: String, bundle: bool },
    /// Answer `CardEvent::Looked`.
    LookupResident(IdNumber),
    /// The issuance flow; report `CardEvent::PrintHeld`, answer `CardEvent::Issued`.
    IssueAndPrint {
        id: IdNumber,
        source: IdSource,
        reissue: bool,
        staff: Option<StaffId>,
    },
    /// Answer `CardEvent::LostReported`.
    ReportLost { id: IdNumber, source: IdSource },
    /// Answer `IdentityEvent::CodeResolved`.
    ResolveCode(String),
    /// Answer `IdentityEvent::CardChecked`.
    CheckCard(String),
    /// Answer `IdentityEvent::SessionOpened`.
    OpenResidentSession(IdNumber),
    /// End a resident session at the back office (no answer).
    CloseResidentSession(String),
    /// Answer `MineEvent::Loaded`.
    LoadApplications(String),
    /// Commit to the outbox and wake the uploader; answer `RatingEvent::Stored`.
    StoreRating(Box<Rating>),
    /// Send a help request; answer `HelpEvent::Answered`.
    CallStaff { page: Page },
    /// Answer `MaintenanceEvent::LockChecked`.
    CheckPinLock,
    /// Answer `MaintenanceEvent::PinChecked`.
    VerifyPin(Pin),
    /// Answer `MaintenanceEvent::SettingSaved`.
    SaveSetting { key: String, value: String },
    /// Audit `maintenance_left`.
    AuditMaintenanceLeft(MaintenanceEnd),
    /// Audit `staff_signed_out`.
    AuditStaffSignedOut { staff: StaffId, how: StaffEnd },
    /// Audit, then stop the terminal program. Sent once.
    StopTerminal,
    /// The session ended with a print job still waiting (a card or a guide held by the
    /// printer): cancel it, never print it for the next person.
    CancelPrints,
    /// The session ended (log it; the screen already shows the fresh session).
    SessionEnded(EndReason),
}

/// Which session a command belongs to. An answer carrying an older ticket is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

/// An effect, with the ticket its answer must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub ticket: Ticket,
    pub effect: Effect,
}

/// A print job sent in this session and not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMark {
    Waiting,
    /// The printer cannot print now (paper, cover); the job waits.
    Held,
}

/// Print jobs this session sent that have not ended. Kept apart from the pages: a job
/// still waiting belongs to the session even when the resident moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prints {
    /// Card jobs sent and not ended.
    pub card_jobs: u32,
    /// The printer holds a card job.
    pub card_held: bool,
    pub guide: Option<JobMark>,
}

impl Prints {
    pub fn any(&self) -> bool {
        self.card_jobs > 0 || self.guide.is_some()
    }
    /// A job waits for the printer.
    pub fn held(&self) -> bool {
        self.card_held || self.guide == Some(JobMark::Held)
    }
}

/// One resident's session. `Session::new` is a fresh start (the attract screen); two
/// sessions are equal when a resident would find the same in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    nav: Nav,
    browse: Browse,
    card: CardFlow,
    rating: RatingFlow,
    help: HelpFlow,
    assist: Assist,
    maintenance: Maintenance,
    /// Who the resident is (card or code), notices, the scanned card's check.
    identity: Identity,
    /// 我的.
    mine: Mine,
    /// 长者模式.
    large: bool,
    english: bool,
    prints: Prints,
}

impl Session {
    /// A fresh session on the attract screen, with the configured 长者模式 and language.
    pub fn new(settings: &Settings, now: Duration) -> Self {
        Self {
            nav: Nav::new(settings.idle_timeout, settings.idle_countdown, now),
            browse: Browse::default(),
            card: CardFlow::default(),
            rating: RatingFlow::default(),
            help: HelpFlow::default(),
            assist: Assist::default(),
            maintenance: Maintenance::default(),
            identity: Identity::default(),
            mine: Mine::default(),
            large: settings.large_font,
            english: settings.english,
            prints: Prints::default(),
        }
    }

    pub fn nav(&self) -> &Nav {
        &self.nav
    }
    pub fn page(&self) -> Page {
        self.nav.page()
    }
    pub fn browse(&self) -> &Browse {
        &self.browse
    }
    pub fn card(&self) -> &CardFlow {
        &self.card
    }
    pub fn rating(&self) -> &RatingFlow {
        &self.rating
    }
    pub fn help(&self) -> &HelpFlow {
        &self.help
    }
    pub fn assist(&self) -> &Assist {
        &self.assist
    }
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    pub fn mine(&self) -> &Mine {
        &self.mine
    }
    /// The resident identified by card or code in this session.
    pub fn resident(&self) -> Option<&Resident> {
        self.identity.resident()
    }
    /// 长者模式 (`Theme.large`).
    pub fn large(&self) -> bool {
        self.large
    }
    pub fn english(&self) -> bool {
        self.english
    }
    pub fn prints(&self) -> &Prints {
        &self.prints
    }

    /// Runs one event; returns the effects and, when the event ends the session, why.
    pub(crate) fn handle(
        &mut self,
        event: Event,
        settings: &Settings,
        at: Moment,
    ) -> (Vec<Effect>, Option<EndReason>) {
        let mut fx = Vec::new();
        let mut end = None;
        match event {
            Event::Nav(ev) => {
                if ev == NavEvent::Tick {
                    self.nav.set_timeout(settings.idle_timeout);
                }
                // 离线码: the ID typed is kept only while that page is open; a resident
                // identified by card or code is looked up at once.
                if ev == NavEvent::Go(Page::OfflineCode) {
                    self.card = CardFlow::default();
                    if let Some(r) = self.identity.resident() {
                        let ev = CardEvent::Identified(r.id.clone(), r.source);
                        fx.extend(self.card_event(ev, settings));
                    }
                }
                if ev == NavEvent::Go(Page::Mine) {
                    fx.extend(self.open_mine());
                }
                for n in self.nav.handle(ev, at.monotonic) {
                    match n {
                        NavEffect::Left { from, to } => fx.extend(self.page_changed(from, to)),
                        NavEffect::End(r) => end = Some(r),
                    }
                }
            }
            Event::Browse(ev) => {
                if let BrowseEvent::GuidePrinted(state) = &ev {
                    self.prints.guide = match state {
                        GuidePrint::Printing => Some(JobMark::Waiting),
                        GuidePrint::Held => Some(JobMark::Held),
                        _ => None,
                    };
                }
                for b in self.browse.handle(ev) {
                    match b {
                        BrowseEffect::Search(q) => fx.push(Effect::Search(q)),
                        BrowseEffect::Show(page) => fx.extend(self.show(page)),
                        BrowseEffect::PrintGuide { code, bundle } => {
                            self.prints.guide = Some(JobMark::Waiting);
                            fx.push(Effect::PrintGuide { code, bundle });
                        }
                    }
                }
            }
            Event::Card(ev) => {
                match &ev {
                    CardEvent::PrintHeld(_, held) if self.prints.card_jobs > 0 => {
                        self.prints.card_held = *held != super::card::PrintWait::None;
                    }
                    CardEvent::Issued(..) => {
                        self.prints.card_jobs = self.prints.card_jobs.saturating_sub(1);
                        if self.prints.card_jobs == 0 {
                            self.prints.card_held = false;
                        }
                    }
                    _ => {}
                }
                fx.extend(self.card_event(ev, settings));
            }
            Event::Identity(ev) => {
                if Identity::wakes(&ev) && self.nav.page() == Page::Attract {
                    for n in self.nav.handle(NavEvent::Wake, at.monotonic) {
                        if let NavEffect::Left { from, to } = n {
                            fx.extend(self.page_changed(from, to));
                        }
                    }
                } else if Identity::wakes(&ev) {
                    self.nav.handle(NavEvent::Activity, at.monotonic);
                }
                let today = at.wall.with_timezone(&chrono::Local).date_naive();
                for o in self.identity.handle(ev, today) {
                    match o {
                        IdentityOutcome::Effect(IdentityEffect::ResolveCode(c)) => {
                            fx.push(Effect::ResolveCode(c))
                        }
                        IdentityOutcome::Effect(IdentityEffect::CheckCard(c)) => {
                            fx.push(Effect::CheckCard(c))
                        }
                        IdentityOutcome::Effect(IdentityEffect::OpenSession(id)) => {
                            fx.push(Effect::OpenResidentSession(id))
                        }
                        IdentityOutcome::Effect(IdentityEffect::CloseSession(t)) => {
                            fx.push(Effect::CloseResidentSession(t))
                        }
                        IdentityOutcome::SessionReady => {
                            if self.nav.page() == Page::Mine {
                                fx.extend(self.open_mine());
                            }
                        }
                        IdentityOutcome::ShowCheck => fx.extend(self.show(Page::CardCheck)),
                        IdentityOutcome::Identified => {
                            if self.nav.page() == Page::OfflineCode
                                && let Some(r) = self.identity.resident()
                            {
                                let ev = CardEvent::Identified(r.id.clone(), r.source);
                                fx.extend(self.card_event(ev, settings));
                            }
                        }
                    }
                }
            }
            Event::Mine(ev) => self.mine.handle(ev),
            // Filtered by the terminal's wedge: never reaches a session.
            Event::Key(_) => {}
            Event::Rating(ev) => {
                let out = self.rating.handle(
                    ev,
                    settings,
                    self.browse.shown_item(),
                    self.assist.staff(),
                    at,
                );
                for r in out {
                    match r {
                        RatingEffect::ShowPage => fx.extend(self.show(Page::Rating)),
                        RatingEffect::StoreRating(rating) => fx.push(Effect::StoreRating(rating)),
                    }
                }
            }
            Event::Help(ev) => {
                for h in self.help.handle(ev, self.nav.page(), settings.backoffice) {
                    let HelpEffect::CallStaff { page } = h;
                    fx.push(Effect::CallStaff { page });
                }
            }
            Event::Assist(ev) => {
                let out = self.assist.handle(ev);
                end = self.assisted(out, &mut fx).or(end);
            }
            Event::Maintenance(ev) => {
                for m in self.maintenance.handle(ev, settings) {
                    match m {
                        MaintenanceEffect::ShowPad => {
                            // The pad and maintenance end like a resident session: on idle.
                            self.nav.arm(at.monotonic);
                            fx.extend(self.show(Page::Technician));
                        }
                        MaintenanceEffect::CheckLock => fx.push(Effect::CheckPinLock),
                        MaintenanceEffect::VerifyPin(pin) => fx.push(Effect::VerifyPin(pin)),
                        MaintenanceEffect::SaveSetting { key, value } => {
                            fx.push(Effect::SaveSetting { key, value })
                        }
                        MaintenanceEffect::MaintenanceLeft(how) => {
                            fx.push(Effect::AuditMaintenanceLeft(how))
                        }
                        MaintenanceEffect::StopTerminal => fx.push(Effect::StopTerminal),
                        MaintenanceEffect::StaffAccepted(id) => {
                            let out = self.assist.handle(AssistEvent::SignedIn(id));
                            end = self.assisted(out, &mut fx).or(end);
                            self.nav.arm(at.monotonic);
                            fx.extend(self.show(Page::Home));
                        }
                        MaintenanceEffect::EndSession => end = Some(EndReason::MaintenanceLeft),
                    }
                }
            }
            Event::ToggleLarge => self.large = !self.large,
            Event::ToggleLanguage => self.english = !self.english,
        }
        (fx, end)
    }

    /// 我的 opened (or the resident token arrived while it is open).
    fn open_mine(&mut self) -> Vec<Effect> {
        let id = &self.identity;
        self.mine
            .open(id.resident().is_some(), id.token(), id.opening())
            .into_iter()
            .map(|MineEffect::LoadApplications(t)| Effect::LoadApplications(t))
            .collect()
    }

    fn card_event(&mut self, ev: CardEvent, settings: &Settings) -> Vec<Effect> {
        let mut fx = Vec::new();
        for c in self.card.handle(ev, settings, self.assist.staff()) {
            fx.push(match c {
                CardEffect::LookupResident(id) => Effect::LookupResident(id),
                CardEffect::IssueAndPrint {
                    id,
                    source,
                    reissue,
                    staff,
                } => {
                    self.prints.card_jobs += 1;
                    Effect::IssueAndPrint {
                        id,
                        source,
                        reissue,
                        staff,
                    }
                }
                CardEffect::ReportLost { id, source } => Effect::ReportLost { id, source },
            });
        }
        fx
    }

    fn assisted(&mut self, out: Vec<AssistEffect>, fx: &mut Vec<Effect>) -> Option<EndReason> {
        let mut end = None;
        for a in out {
            match a {
                AssistEffect::StaffSignedOut { staff, how } => {
                    fx.push(Effect::AuditStaffSignedOut { staff, how })
                }
                AssistEffect::EndSession => end = Some(EndReason::StaffSignedOut),
            }
        }
        end
    }

    fn show(&mut self, page: Page) -> Vec<Effect> {
        let mut fx = Vec::new();
        for n in self.nav.show(page) {
            if let NavEffect::Left { from, to } = n {
                fx.extend(self.page_changed(from, to));
            }
        }
        fx
    }

    /// Closes what the page left had open.
    fn page_changed(&mut self, from: Page, to: Page) -> Vec<Effect> {
        let mut fx = Vec::new();
        if from == Page::Technician && to != Page::Technician {
            for m in self.maintenance.page_left() {
                if let MaintenanceEffect::MaintenanceLeft(how) = m {
                    fx.push(Effect::AuditMaintenanceLeft(how));
                }
            }
        }
        if from == Page::OfflineCode && to != Page::OfflineCode {
            self.card = CardFlow::default();
        }
        fx
    }

    /// Ends the session (consuming it): a print job still waiting is cancelled, staff
    /// signed in are signed out and maintenance closes, each audited.
    pub(crate) fn end(self, reason: EndReason) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.prints.any() {
            fx.push(Effect::CancelPrints);
        }
        for a in self.assist.end() {
            if let AssistEffect::StaffSignedOut { staff, how } = a {
                fx.push(Effect::AuditStaffSignedOut { staff, how });
            }
        }
        for m in self.maintenance.end() {
            if let MaintenanceEffect::MaintenanceLeft(how) = m {
                fx.push(Effect::AuditMaintenanceLeft(how));
            }
        }
        if let Some(IdentityEffect::CloseSession(t)) = self.identity.end() {
            fx.push(Effect::CloseResidentSession(t));
        }
        fx.push(Effect::SessionEnded(reason));
        fx
    }
}

/// The terminal's side of the UI: the session of the moment, and what outlives it.
#[derive(Debug, Clone)]
pub struct Terminal {
    settings: Settings,
    session: Session,
    /// Counts sessions: answers for an ended one are dropped.
    ticket: Ticket,
    /// The technician stopped the terminal program (the process then exits with
    /// `EXIT_TECHNICIAN`). Not a resident value: it outlives the session.
    exit_requested: bool,
    /// The ID-card reader: a card lying on it outlives the session that read it (the
    /// next one is reminded to take it, and it starts no session of its own).
    reader: ReaderState,
    /// The keyboard-wedge scanner's bursts.
    wedge: Wedge,
}

impl Terminal {
    pub fn new(settings: Settings, now: Duration) -> Self {
        let session = Session::new(&settings, now);
        Self {
            settings,
            session,
            ticket: Ticket(0),
            exit_requested: false,
            reader: ReaderState::default(),
            wedge: Wedge::default(),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// The config changed live (remote config, the maintenance page): the idle timeout
    /// applies at the next tick, the rest from the next event; 长者模式 and language
    /// defaults from the next session.
    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }
    /// The ticket commands of the current session carry.
    pub fn ticket(&self) -> Ticket {
        self.ticket
    }
    pub fn exit_requested(&self) -> bool {
        self.exit_requested
    }
    pub fn reader(&self) -> ReaderState {
        self.reader
    }

    /// A tap, a key or the ticker.
    pub fn handle(&mut self, event: Event, at: Moment) -> Vec<Command> {
        let event = match event {
            Event::Key(text) => {
                if !self.settings.wedge {
                    return Vec::new();
                }
                match self.wedge.key(&text, at.monotonic) {
                    Some(code) => Event::Identity(IdentityEvent::Scanned(code)),
                    None => return Vec::new(),
                }
            }
            Event::Identity(ev) => {
                self.reader.observe(&ev);
                Event::Identity(ev)
            }
            e => e,
        };
        let (fx, end) = self.session.handle(event, &self.settings, at);
        let ticket = self.ticket;
        let mut out: Vec<Command> = fx
            .into_iter()
            .filter(|e| self.once(e))
            .map(|effect| Command { ticket, effect })
            .collect();
        if let Some(reason) = end {
            out.extend(self.end_session(reason, at));
        }
        out
    }

    /// The answer to a command: dropped if its session has ended.
    pub fn answer(&mut self, ticket: Ticket, event: Event, at: Moment) -> Vec<Command> {
        if ticket != self.ticket {
            return Vec::new();
        }
        self.handle(event, at)
    }

    /// Ends the session now, as if `reason` had happened (the screenshot tool and tests
    /// start each page from a fresh session this way).
    pub fn end_now(&mut self, reason: EndReason, at: Moment) -> Vec<Command> {
        self.end_session(reason, at)
    }

    /// StopTerminal is sent once.
    fn once(&mut self, e: &Effect) -> bool {
        if *e == Effect::StopTerminal {
            if self.exit_requested {
                return false;
            }
            self.exit_requested = true;
        }
        true
    }

    /// Drops the session for a fresh one; returns what the old one leaves to do.
    fn end_session(&mut self, reason: EndReason, at: Moment) -> Vec<Command> {
        let fresh = Session::new(&self.settings, at.monotonic);
        let old = std::mem::replace(&mut self.session, fresh);
        let ticket = self.ticket;
        self.ticket = Ticket(ticket.0.wrapping_add(1));
        old.end(reason)
            .into_iter()
            .map(|effect| Command { ticket, effect })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ResidentLookup;
    use crate::config::Keypad;
    use crate::flow::card::{CardStep, IssueOutcome, LookupOutcome};
    use crate::flow::maintenance::PinAnswer;
    use crate::flow::rating::{RatingSource, RatingStep};
    use crate::flow::testing::{ID, PHONE, at, settings};
    use crate::flow::{HelpState, SearchAnswer, ShownItem};

    const STAFF: &str = "S1024";
    const QUERY: &str = "jzz";

    fn run(t: &mut Terminal, events: Vec<Event>, secs: u64) -> Vec<Command> {
        let mut out = Vec::new();
        for e in events {
            out.extend(t.handle(e, at(secs)));
        }
        out
    }

    fn effects(cmds: &[Command]) -> Vec<Effect> {
        cmds.iter().map(|c| c.effect.clone()).collect()
    }

    fn keys(s: &str, ev: fn(String) -> Event) -> Vec<Event> {
        s.chars().map(|c| ev(c.to_string())).collect()
    }

    fn id() -> IdNumber {
        IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"))
    }

    fn staff() -> StaffId {
        StaffId::parse(STAFF).unwrap_or_else(|e| panic!("{e}"))
    }

    fn found() -> Event {
        Event::Card(CardEvent::Looked(
            id(),
            LookupOutcome::Found(ResidentLookup {
                masked_name: "王*英".into(),
                masked_id: "110***********002X".into(),
                eligible: true,
                basis: None,
                reason: None,
                active_card: None,
            }),
        ))
    }

    /// One whole session: 帮办 sign-in, a search, a card with the ID typed and its job
    /// held by the printer, a 差评 with a callback number. Returns the card's command.
    fn full_session(t: &mut Terminal) -> Command {
        run(t, vec![Event::Nav(NavEvent::Wake)], 0);
        // 帮办: the hidden gesture, a staff PIN.
        let fx = run(t, vec![Event::Maintenance(MaintenanceEvent::Open)], 1);
        assert_eq!(effects(&fx), vec![Effect::CheckPinLock]);
        assert_eq!(t.session().page(), Page::Technician);
        let mut ev = keys("135790", |k| Event::Maintenance(MaintenanceEvent::Key(k)));
        ev.push(Event::Maintenance(MaintenanceEvent::Submit));
        let fx = run(t, ev, 2);
        assert!(matches!(&effects(&fx)[..], [Effect::VerifyPin(_)]));
        run(
            t,
            vec![Event::Maintenance(MaintenanceEvent::PinChecked(
                PinAnswer::Staff(staff()),
            ))],
            3,
        );
        assert_eq!(t.session().assist().staff(), Some(&staff()));
        assert_eq!(t.session().page(), Page::Home);
        // 长者模式 and English.
        run(t, vec![Event::ToggleLarge, Event::ToggleLanguage], 4);
        assert!(t.session().large() && t.session().english());
        // A search.
        run(t, vec![Event::Nav(NavEvent::Go(Page::Search))], 5);
        let fx = run(
            t,
            keys(QUERY, |k| Event::Browse(BrowseEvent::TypeKey(k))),
            6,
        );
        assert_eq!(effects(&fx).last(), Some(&Effect::Search(QUERY.into())));
        run(
            t,
            vec![
                Event::Browse(BrowseEvent::SearchAnswered(SearchAnswer {
                    query: QUERY.into(),
                    items: vec!["310105-JZZ-001".into()],
                    ..SearchAnswer::default()
                })),
                Event::Browse(BrowseEvent::OpenItem(ShownItem {
                    code: "310105-JZZ-001".into(),
                    name: "居住证办理".into(),
                })),
            ],
            7,
        );
        assert_eq!(t.session().page(), Page::Item);
        // The card: ID typed, looked up, confirmed; the printer holds the job.
        run(t, vec![Event::Nav(NavEvent::Go(Page::OfflineCode))], 8);
        let mut ev = keys(ID, |k| Event::Card(CardEvent::Key(k)));
        ev.push(Event::Card(CardEvent::Submit));
        let fx = run(t, ev, 9);
        assert!(matches!(&effects(&fx)[..], [Effect::LookupResident(_)]));
        run(t, vec![found()], 10);
        let fx = run(t, vec![Event::Card(CardEvent::Confirm)], 11);
        let [card] = &fx[..] else {
            panic!("one card job: {fx:?}");
        };
        assert!(matches!(
            &card.effect,
            Effect::IssueAndPrint { staff: Some(s), reissue: false, .. } if *s == staff()
        ));
        run(
            t,
            vec![Event::Card(CardEvent::PrintHeld(
                id(),
                crate::flow::card::PrintWait::Printer,
            ))],
            12,
        );
        assert!(t.session().card().view(Keypad::Open, false).held);
        assert!(t.session().prints().held());
        // Home, then a 差评 of the terminal with a callback number.
        run(t, vec![Event::Nav(NavEvent::Back)], 13);
        assert_eq!(t.session().page(), Page::Home);
        let mut ev = vec![
            Event::Rating(RatingEvent::Open(RatingSource::Terminal)),
            Event::Rating(RatingEvent::Choose(1)),
            Event::Rating(RatingEvent::Next),
            Event::Rating(RatingEvent::ToggleReason(0)),
            Event::Rating(RatingEvent::ToggleCallback),
            Event::Rating(RatingEvent::Next),
        ];
        ev.extend(keys(PHONE, |k| Event::Rating(RatingEvent::PhoneKey(k))));
        ev.push(Event::Rating(RatingEvent::Next));
        let fx = run(t, ev, 14);
        let Some(Effect::StoreRating(r)) = effects(&fx).pop() else {
            panic!("a rating: {fx:?}");
        };
        assert_eq!(r.staff.as_deref(), Some(STAFF));
        assert_eq!(t.session().page(), Page::Rating);
        run(
            t,
            vec![
                Event::Rating(RatingEvent::Stored(crate::flow::SaveOutcome::Saved)),
                Event::Nav(NavEvent::Activity),
            ],
            15,
        );
        assert_eq!(t.session().rating().step(), RatingStep::Thanks);
        card.clone()
    }

    /// Nothing the resident typed or chose is anywhere in the terminal's value.
    fn assert_no_resident_value(t: &Terminal) {
        let all = format!("{t:?}");
        for secret in [
            ID,
            "19491231",
            PHONE,
            "1380",
            QUERY,
            STAFF,
            "王*英",
            "居住证",
        ] {
            assert!(!all.contains(secret), "{secret:?} left in {all}");
        }
    }

    #[test]
    fn idle_timeout_ends_a_full_session_and_nothing_of_it_remains() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        let card = full_session(&mut t);
        // What was typed is there, but never in clear (the query, the ID, the number).
        assert_eq!(t.session().browse().query(), QUERY);
        let before = format!("{t:?}");
        assert!(before.contains(STAFF), "{before}");
        for typed in [ID, PHONE, QUERY] {
            assert!(!before.contains(typed), "{typed:?} in clear: {before}");
        }
        // The countdown, then the end.
        assert_eq!(
            run(&mut t, vec![Event::Nav(NavEvent::Tick)], 15 + 89),
            vec![]
        );
        run(&mut t, vec![Event::Nav(NavEvent::Tick)], 15 + 92);
        assert_eq!(t.session().nav().countdown(), 8);
        let fx = run(&mut t, vec![Event::Nav(NavEvent::Tick)], 15 + 100);
        assert_eq!(
            effects(&fx),
            vec![
                Effect::CancelPrints,
                Effect::AuditStaffSignedOut {
                    staff: staff(),
                    how: StaffEnd::SessionEnded
                },
                Effect::SessionEnded(EndReason::Idle),
            ]
        );
        assert!(fx.iter().all(|c| c.ticket == card.ticket));
        assert_eq!(
            t.session(),
            &Session::new(&settings(), Duration::from_secs(7))
        );
        assert_no_resident_value(&t);
        // The cancelled card's answer comes late: dropped.
        assert_eq!(
            t.answer(
                card.ticket,
                Event::Card(CardEvent::Issued(id(), IssueOutcome::Cancelled)),
                at(116)
            ),
            vec![]
        );
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
    }

    #[test]
    fn the_next_session_starts_clean() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        full_session(&mut t);
        run(&mut t, vec![Event::Nav(NavEvent::Tick)], 200);
        assert!(!t.session().nav().is_open());
        run(&mut t, vec![Event::Nav(NavEvent::Wake)], 300);
        let s = t.session();
        assert!(!s.large() && !s.english(), "the configured defaults");
        assert_eq!(s.assist().staff(), None);
        assert_eq!(s.browse().query(), "");
        assert_eq!(s.browse().shown_item(), None);
        run(
            &mut t,
            vec![Event::Nav(NavEvent::Go(Page::OfflineCode))],
            301,
        );
        assert_eq!(t.session().card().view(Keypad::Open, false).id_entry, "");
        run(
            &mut t,
            vec![Event::Rating(RatingEvent::Open(RatingSource::Terminal))],
            302,
        );
        assert_eq!(
            t.session().rating().step(),
            RatingStep::Level,
            "rated by the last resident, not by this one"
        );
        // Configured 长者模式 starts every session large.
        let mut t = Terminal::new(
            Settings {
                large_font: true,
                ..settings()
            },
            Duration::ZERO,
        );
        run(
            &mut t,
            vec![Event::Nav(NavEvent::Wake), Event::ToggleLarge],
            1,
        );
        assert!(!t.session().large());
        run(&mut t, vec![Event::Nav(NavEvent::Tick)], 1000);
        assert!(t.session().large());
    }

    #[test]
    fn staff_sign_out_ends_the_session_once() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        full_session(&mut t);
        let fx = run(&mut t, vec![Event::Assist(AssistEvent::SignOut)], 20);
        assert_eq!(
            effects(&fx),
            vec![
                Effect::AuditStaffSignedOut {
                    staff: staff(),
                    how: StaffEnd::SignedOut
                },
                Effect::CancelPrints,
                Effect::SessionEnded(EndReason::StaffSignedOut),
            ]
        );
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
        assert_no_resident_value(&t);
    }

    #[test]
    fn ending_now_drops_the_session_like_the_idle_timeout() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        let card = full_session(&mut t);
        let fx = t.end_now(EndReason::Idle, at(20));
        assert_eq!(
            effects(&fx),
            vec![
                Effect::CancelPrints,
                Effect::AuditStaffSignedOut {
                    staff: staff(),
                    how: StaffEnd::SessionEnded
                },
                Effect::SessionEnded(EndReason::Idle),
            ]
        );
        assert_ne!(t.ticket(), card.ticket);
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
        assert_no_resident_value(&t);
    }

    fn into_maintenance(t: &mut Terminal) {
        run(t, vec![Event::Maintenance(MaintenanceEvent::Open)], 1);
        run(
            t,
            vec![
                Event::Maintenance(MaintenanceEvent::Key("2".into())),
                Event::Maintenance(MaintenanceEvent::Submit),
                Event::Maintenance(MaintenanceEvent::PinChecked(PinAnswer::Technician(
                    Box::default(),
                ))),
            ],
            2,
        );
        assert!(t.session().maintenance().is_unlocked());
    }

    #[test]
    fn maintenance_leave_stop_page_change_and_idle() {
        // 退出维护模式: audited, the session ends.
        let mut t = Terminal::new(settings(), Duration::ZERO);
        into_maintenance(&mut t);
        let fx = run(&mut t, vec![Event::Maintenance(MaintenanceEvent::Leave)], 3);
        assert_eq!(
            effects(&fx),
            vec![
                Effect::AuditMaintenanceLeft(MaintenanceEnd::Left),
                Effect::SessionEnded(EndReason::MaintenanceLeft)
            ]
        );
        assert_eq!(t.session().page(), Page::Attract);
        // 关闭终端程序: once.
        into_maintenance(&mut t);
        let stop = Event::Maintenance(MaintenanceEvent::ExitTerminal);
        assert_eq!(
            effects(&run(&mut t, vec![stop.clone()], 3)),
            vec![Effect::StopTerminal]
        );
        assert_eq!(run(&mut t, vec![stop], 4), vec![]);
        assert!(t.exit_requested());
        // Another page: closes, audited, the session goes on.
        let fx = run(&mut t, vec![Event::Nav(NavEvent::Go(Page::Home))], 5);
        assert_eq!(
            effects(&fx),
            vec![Effect::AuditMaintenanceLeft(MaintenanceEnd::Left)]
        );
        assert!(!t.session().maintenance().is_unlocked());
        // Idle with maintenance open: closed, audited as the session's end.
        into_maintenance(&mut t);
        let fx = run(&mut t, vec![Event::Nav(NavEvent::Tick)], 1000);
        assert_eq!(
            effects(&fx),
            vec![
                Effect::AuditMaintenanceLeft(MaintenanceEnd::SessionEnded),
                Effect::SessionEnded(EndReason::Idle)
            ]
        );
        assert!(t.exit_requested(), "outlives the session");
    }

    #[test]
    fn idle_mid_card_flow_drops_the_number_and_the_late_answer() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        run(
            &mut t,
            vec![
                Event::Nav(NavEvent::Wake),
                Event::Nav(NavEvent::Go(Page::OfflineCode)),
            ],
            0,
        );
        let mut ev = keys(ID, |k| Event::Card(CardEvent::Key(k)));
        ev.push(Event::Card(CardEvent::Submit));
        let lookup = run(&mut t, ev, 1);
        assert_eq!(t.session().card().step(), CardStep::Checking);
        let fx = run(&mut t, vec![Event::Nav(NavEvent::Tick)], 200);
        assert_eq!(effects(&fx), vec![Effect::SessionEnded(EndReason::Idle)]);
        assert_eq!(t.answer(lookup[0].ticket, found(), at(201)), vec![]);
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
        assert_no_resident_value(&t);
    }

    #[test]
    fn idle_mid_rating_drops_the_number_typed_and_the_late_save() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        let mut ev = vec![
            Event::Nav(NavEvent::Wake),
            Event::Rating(RatingEvent::Open(RatingSource::Terminal)),
            Event::Rating(RatingEvent::Choose(2)),
            Event::Rating(RatingEvent::Next),
            Event::Rating(RatingEvent::ToggleReason(1)),
            Event::Rating(RatingEvent::ToggleCallback),
            Event::Rating(RatingEvent::Next),
        ];
        ev.extend(keys(&PHONE[..7], |k| {
            Event::Rating(RatingEvent::PhoneKey(k))
        }));
        run(&mut t, ev, 0);
        assert_eq!(t.session().rating().step(), RatingStep::Phone);
        assert_eq!(
            t.session().rating().view(t.settings()).phone_entry,
            PHONE[..7]
        );
        let old = t.ticket();
        run(&mut t, vec![Event::Nav(NavEvent::Tick)], 100);
        assert_ne!(t.ticket(), old);
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
        assert_no_resident_value(&t);
        assert_eq!(
            t.answer(
                old,
                Event::Rating(RatingEvent::Stored(crate::flow::SaveOutcome::Saved)),
                at(101)
            ),
            vec![]
        );
        assert_eq!(t.session().rating().step(), RatingStep::Level);
    }

    #[test]
    fn leaving_the_card_page_forgets_the_number_but_not_the_job() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        run(
            &mut t,
            vec![
                Event::Nav(NavEvent::Wake),
                Event::Nav(NavEvent::Go(Page::OfflineCode)),
            ],
            0,
        );
        let mut ev = keys(ID, |k| Event::Card(CardEvent::Key(k)));
        ev.extend([
            Event::Card(CardEvent::Submit),
            found(),
            Event::Card(CardEvent::Confirm),
        ]);
        run(&mut t, ev, 1);
        assert_eq!(t.session().prints().card_jobs, 1);
        run(&mut t, vec![Event::Nav(NavEvent::Go(Page::Home))], 2);
        assert_eq!(t.session().card(), &CardFlow::default());
        assert!(
            t.session().prints().any(),
            "the job is still this session's"
        );
        // Its end clears the mark, but does not bring the page back.
        run(
            &mut t,
            vec![Event::Card(CardEvent::Issued(id(), IssueOutcome::Printed))],
            3,
        );
        assert!(!t.session().prints().any());
        assert_eq!(t.session().card(), &CardFlow::default());
    }

    #[test]
    fn rating_the_card_and_the_item_shown() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        run(
            &mut t,
            vec![
                Event::Nav(NavEvent::Wake),
                Event::Browse(BrowseEvent::OpenItem(ShownItem {
                    code: "A1".into(),
                    name: "甲".into(),
                })),
                Event::Rating(RatingEvent::Open(RatingSource::ShownItem)),
            ],
            0,
        );
        assert_eq!(t.session().page(), Page::Rating);
        assert_eq!(
            t.session().rating().view(t.settings()).service,
            crate::flow::RatedService::Item(ShownItem {
                code: "A1".into(),
                name: "甲".into()
            })
        );
    }

    #[test]
    fn guide_jobs_are_cancelled_with_the_session_and_help_names_the_page() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        run(&mut t, vec![Event::Nav(NavEvent::Wake)], 0);
        let fx = run(&mut t, vec![Event::Help(HelpEvent::Call)], 1);
        assert_eq!(effects(&fx), vec![Effect::CallStaff { page: Page::Home }]);
        let ticket = fx[0].ticket;
        t.answer(ticket, Event::Help(HelpEvent::Answered(true)), at(2));
        assert_eq!(t.session().help().state(), HelpState::Coming);
        run(
            &mut t,
            vec![
                Event::Browse(BrowseEvent::PrintGuide("A1".into())),
                Event::Browse(BrowseEvent::GuidePrinted(GuidePrint::Held)),
            ],
            3,
        );
        assert!(t.session().prints().held());
        let fx = run(&mut t, vec![Event::Nav(NavEvent::Tick)], 1000);
        assert_eq!(
            effects(&fx),
            vec![Effect::CancelPrints, Effect::SessionEnded(EndReason::Idle)]
        );
        assert_eq!(t.session().help().state(), HelpState::None);
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;
    use crate::flow::identity::{CardRead, Notice, ReaderProblem, ResolveOutcome};
    use crate::flow::testing::{ID, at, settings};
    use crate::identity::PersonName;

    fn card() -> Event {
        Event::Identity(IdentityEvent::CardRead(CardRead {
            id: IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}")),
            name: PersonName::new("王秀英"),
            valid_until: None,
        }))
    }

    fn effects(cmds: &[Command]) -> Vec<Effect> {
        cmds.iter().map(|c| c.effect.clone()).collect()
    }

    #[test]
    fn a_card_wakes_the_terminal_and_the_card_page_looks_it_up_with_nothing_typed() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        t.handle(card(), at(1));
        assert_eq!(t.session().page(), Page::Home);
        assert_eq!(
            t.session().resident().map(|r| r.source),
            Some(IdSource::Card)
        );
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::OfflineCode)), at(2));
        assert!(
            matches!(&effects(&fx)[..], [Effect::LookupResident(id)] if id.expose_id_number() == ID)
        );
        assert!(t.reader().card_present);
        // The session ends (idle): the resident goes with it, the card is still there.
        t.end_now(EndReason::Idle, at(3));
        assert!(t.session().resident().is_none());
        assert_eq!(t.session().page(), Page::Attract);
        assert!(
            t.reader().card_present,
            "the next resident is reminded to take it"
        );
        t.handle(Event::Identity(IdentityEvent::CardLifted), at(4));
        assert!(!t.reader().card_present);
    }

    #[test]
    fn the_resident_session_opens_with_the_card_serves_mine_and_closes_with_the_session() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        let fx = t.handle(card(), at(1));
        assert!(
            matches!(&effects(&fx)[..], [Effect::OpenResidentSession(id)] if id.expose_id_number() == ID),
            "{fx:?}"
        );
        // 我的 opened before the back office answered: it waits, then loads.
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Mine)), at(2));
        assert!(effects(&fx).is_empty());
        assert_eq!(
            t.session().mine().step(),
            crate::flow::mine::MineStep::Loading
        );
        let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
        let fx = t.handle(
            Event::Identity(IdentityEvent::SessionOpened(id, Some("tok".into()))),
            at(3),
        );
        assert_eq!(effects(&fx), vec![Effect::LoadApplications("tok".into())]);
        // The session ends: the resident session is closed at the back office.
        let fx = t.end_now(EndReason::Idle, at(4));
        assert!(effects(&fx).contains(&Effect::CloseResidentSession("tok".into())));
        assert_eq!(t.session().identity().token(), None);
        // Nobody identified: 我的 asks for the card.
        t.handle(Event::Nav(NavEvent::Wake), at(5));
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Mine)), at(6));
        assert!(fx.is_empty());
        assert_eq!(
            t.session().mine().step(),
            crate::flow::mine::MineStep::NeedsIdentity
        );
    }

    #[test]
    fn an_expired_card_identifies_nobody() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        t.handle(
            Event::Identity(IdentityEvent::CardRead(CardRead {
                id: IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}")),
                name: PersonName::new("王秀英"),
                valid_until: chrono::NaiveDate::from_ymd_opt(2020, 1, 1),
            })),
            at(1),
        );
        assert_eq!(t.session().identity().notice(), Some(Notice::IdExpired));
        assert!(t.session().resident().is_none());
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::OfflineCode)), at(2));
        assert!(effects(&fx).is_empty(), "nothing looked up: {fx:?}");
    }

    #[test]
    fn an_unplugged_reader_wakes_nobody_and_a_moved_card_says_so() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        t.handle(
            Event::Identity(IdentityEvent::ReaderFailed(ReaderProblem::Unavailable)),
            at(1),
        );
        assert_eq!(t.session().page(), Page::Attract);
        assert!(t.reader().unavailable);
        t.handle(
            Event::Identity(IdentityEvent::ReaderFailed(ReaderProblem::Moved)),
            at(2),
        );
        assert_eq!(t.session().page(), Page::Home);
        assert_eq!(
            t.session().identity().notice(),
            Some(Notice::Reader(ReaderProblem::Moved))
        );
    }

    #[test]
    fn a_wedge_burst_on_the_search_page_types_nothing_and_resolves_the_code() {
        let mut t = Terminal::new(
            Settings {
                wedge: true,
                ..settings()
            },
            Duration::ZERO,
        );
        t.handle(Event::Nav(NavEvent::Wake), at(1));
        t.handle(Event::Nav(NavEvent::Go(Page::Search)), at(1));
        let mut fx = Vec::new();
        for c in "SSM:DEMO:WANGXIUYING".chars() {
            fx.extend(t.handle(Event::Key(c.to_string()), at(2)));
        }
        assert!(fx.is_empty());
        fx.extend(t.handle(Event::Key("\n".into()), at(2)));
        assert_eq!(
            effects(&fx),
            vec![Effect::ResolveCode("SSM:DEMO:WANGXIUYING".into())]
        );
        assert_eq!(t.session().browse().query(), "");
        let ticket = fx[0].ticket;
        t.answer(
            ticket,
            Event::Identity(IdentityEvent::CodeResolved(
                "SSM:DEMO:WANGXIUYING".into(),
                ResolveOutcome::Found(Resident {
                    id: IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}")),
                    name: None,
                    masked_name: "王*英".into(),
                    source: IdSource::Code,
                    valid_until: None,
                }),
            )),
            at(3),
        );
        assert_eq!(
            t.session().resident().map(|r| r.masked_name.as_str()),
            Some("王*英")
        );
        // Without a keyboard scanner configured, keys do nothing at all.
        let mut plain = Terminal::new(settings(), Duration::ZERO);
        for c in "SSM:DEMO:X\n".chars() {
            assert!(plain.handle(Event::Key(c.to_string()), at(1)).is_empty());
        }
    }
}
