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
use super::card::{CardEffect, CardEvent, CardFlow, PrintWait};
use super::certificate::{CertEffect, CertEvent, CertFlow, CertOutcome};
use super::finish::{Finish, FinishEffect, FinishEvent, Printed, Task, TaskDone};
use super::help::{HelpEffect, HelpEvent, HelpFlow};
use super::identity::{
    Identity, IdentityEffect, IdentityEvent, IdentityOutcome, ReaderState, Wedge,
};
use super::maintenance::{
    Maintenance, MaintenanceEffect, MaintenanceEnd, MaintenanceEvent, Pin, Tool,
};
use super::mine::{Mine, MineEffect, MineEvent};
use super::nav::{EndReason, Nav, NavEffect, NavEvent, Page};
use super::quick::{QuickEffect, QuickEvent, QuickFlow, ReceiptOutcome};
use super::rating::{RatedCase, RatingEffect, RatingEvent, RatingFlow};
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
    /// 证明打印.
    Certificate(CertEvent),
    /// 快办.
    Quick(QuickEvent),
    /// The end of a task.
    Finish(FinishEvent),
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
    /// Ask for the certificate with this resident token, lay it out, print it on the
    /// document printer; report `CertEvent::Held`, answer `CertEvent::Done`.
    PrintCertificate {
        token: String,
        request: crate::api::CertificateRequest,
    },
    /// Answer `QuickEvent::Loaded`.
    LoadQuickForms(String),
    /// File a 快办 submission (retrying with its id), then print the receipt; answer
    /// `QuickEvent::Submitted`, report `QuickEvent::ReceiptHeld`, answer
    /// `QuickEvent::ReceiptDone`.
    SubmitQuick {
        token: String,
        item_id: String,
        submission: crate::api::QuickSubmission,
    },
    /// The resident cancelled the document job the printer holds (a certificate, a
    /// receipt): cancel it, the session goes on.
    CancelDocument,
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
    /// Run a maintenance tool; answer `MaintenanceEvent::ToolDone`.
    RunTool(Tool),
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
    /// A certificate or a 快办 receipt.
    pub document: Option<JobMark>,
}

impl Prints {
    pub fn any(&self) -> bool {
        self.card_jobs > 0 || self.guide.is_some() || self.document.is_some()
    }
    /// A job waits for the printer.
    pub fn held(&self) -> bool {
        self.card_held || self.guide == Some(JobMark::Held) || self.document == Some(JobMark::Held)
    }
}

/// The item code a certificate's rating carries.
pub fn certificate_item_code(kind: crate::api::CertificateKind) -> String {
    format!("certificate-{}", kind.name().replace('_', "-"))
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
    /// 我的: 办件进度.
    mine: Mine,
    certificate: CertFlow,
    quick: QuickFlow,
    /// The end of the task of the moment.
    finish: Finish,
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
            certificate: CertFlow::default(),
            quick: QuickFlow::default(),
            finish: Finish::default(),
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
    pub fn certificate(&self) -> &CertFlow {
        &self.certificate
    }
    pub fn quick(&self) -> &QuickFlow {
        &self.quick
    }
    pub fn finish(&self) -> &Finish {
        &self.finish
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
                    let out = self.finish.tick(at.monotonic);
                    end = self.finished(out, settings, at, &mut fx).or(end);
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
                if ev == NavEvent::Go(Page::Applications) {
                    fx.extend(self.open_mine());
                }
                if ev == NavEvent::Go(Page::Certificates) {
                    self.certificate = CertFlow::default();
                }
                if ev == NavEvent::Go(Page::Quick) {
                    fx.extend(self.open_quick());
                }
                for n in self.nav.handle(ev, at.monotonic) {
                    match n {
                        NavEffect::Left { from, to } => fx.extend(self.page_changed(from, to)),
                        NavEffect::End(r) => end = Some(r),
                    }
                }
            }
            Event::Browse(ev) => {
                let guide_printed = ev == BrowseEvent::GuidePrinted(GuidePrint::Printed);
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
                // A guide printed: the result says where to take it, then 结束办理 /
                // 继续办理, as every task ends.
                if let Some(done) = self.guide_done().filter(|_| guide_printed) {
                    let out = self.finish.start(done, at.monotonic);
                    end = self.finished(out, settings, at, &mut fx).or(end);
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
                        IdentityOutcome::SessionReady => match self.nav.page() {
                            Page::Applications => fx.extend(self.open_mine()),
                            Page::Quick => fx.extend(self.open_quick()),
                            _ => {}
                        },
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
            Event::Certificate(ev) => {
                let kind = self.certificate.kind();
                match &ev {
                    CertEvent::Held(w) if self.prints.document.is_some() => {
                        self.prints.document = Some(if *w == PrintWait::None {
                            JobMark::Waiting
                        } else {
                            JobMark::Held
                        });
                    }
                    CertEvent::Done(_) => self.prints.document = None,
                    _ => {}
                }
                let printed = match &ev {
                    CertEvent::Done(CertOutcome::Printed { case_no }) => Some(case_no.clone()),
                    _ => None,
                };
                for c in self.certificate.handle(ev) {
                    match c {
                        CertEffect::Print(request) => match self.identity.token() {
                            Some(token) => {
                                self.prints.document = Some(JobMark::Waiting);
                                fx.push(Effect::PrintCertificate {
                                    token: token.to_string(),
                                    request,
                                });
                            }
                            None => {
                                let problem = super::certificate::CertProblem::Network;
                                self.certificate
                                    .handle(CertEvent::Done(CertOutcome::Failed(problem)));
                            }
                        },
                        CertEffect::Cancel => fx.push(Effect::CancelDocument),
                    }
                }
                if let (Some(case_no), Some(kind)) = (printed, kind) {
                    let done = TaskDone {
                        task: Task::Certificate(kind),
                        printed: Printed::Yes,
                        case_no: case_no.clone(),
                        next_steps: String::new(),
                        next_steps_en: String::new(),
                        rate: Some(RatedCase {
                            case_no,
                            item_code: certificate_item_code(kind),
                            item_name: kind.title().to_string(),
                            item_name_en: kind.title_en().to_string(),
                        }),
                    };
                    let out = self.finish.start(done, at.monotonic);
                    end = self.finished(out, settings, at, &mut fx).or(end);
                }
            }
            Event::Quick(ev) => {
                match &ev {
                    QuickEvent::ReceiptHeld(w) if self.prints.document.is_some() => {
                        self.prints.document = Some(if *w == PrintWait::None {
                            JobMark::Waiting
                        } else {
                            JobMark::Held
                        });
                    }
                    QuickEvent::ReceiptDone(_) => self.prints.document = None,
                    // Not filed: no receipt will print.
                    QuickEvent::Submitted(Err(_)) => self.prints.document = None,
                    _ => {}
                }
                let done = match (&ev, self.quick.receipt()) {
                    (QuickEvent::ReceiptDone(outcome), Some(r)) => Some(TaskDone {
                        task: Task::Quick {
                            name: r.item_name.clone(),
                            name_en: r.item_name_en.clone(),
                        },
                        printed: match outcome {
                            ReceiptOutcome::Printed => Printed::Yes,
                            ReceiptOutcome::Failed => Printed::Failed,
                            ReceiptOutcome::Cancelled => Printed::Cancelled,
                        },
                        case_no: r.case_no.clone(),
                        next_steps: r.next_steps.clone(),
                        next_steps_en: r.next_steps_en.clone(),
                        rate: Some(RatedCase {
                            case_no: r.case_no.clone(),
                            item_code: r.item_code.clone(),
                            item_name: r.item_name.clone(),
                            item_name_en: r.item_name_en.clone(),
                        }),
                    }),
                    _ => None,
                };
                let today = at.wall.with_timezone(&chrono::Local).date_naive();
                let made = crate::ratings::new_rating_id(at.wall);
                for q in self.quick.handle(ev, today, || made) {
                    match q {
                        QuickEffect::Load => {
                            if let Some(t) = self.identity.token() {
                                fx.push(Effect::LoadQuickForms(t.to_string()));
                            }
                        }
                        QuickEffect::Submit {
                            item_id,
                            submission,
                        } => match self.identity.token() {
                            Some(token) => {
                                self.prints.document = Some(JobMark::Waiting);
                                fx.push(Effect::SubmitQuick {
                                    token: token.to_string(),
                                    item_id,
                                    submission,
                                });
                            }
                            None => {
                                let problem = super::quick::QuickProblem::SessionEnded;
                                self.quick.handle(
                                    QuickEvent::Submitted(Err(problem)),
                                    today,
                                    || made,
                                );
                            }
                        },
                        QuickEffect::CancelReceipt => fx.push(Effect::CancelDocument),
                    }
                }
                if let Some(done) = done {
                    self.quick = QuickFlow::default();
                    let out = self.finish.start(done, at.monotonic);
                    end = self.finished(out, settings, at, &mut fx).or(end);
                }
            }
            Event::Finish(ev) => {
                // 结束办理 on the card's "请取走您的卡片": the card's task ends as every
                // task does (its result was that page; it was rated there or not at all).
                if ev == FinishEvent::EndVisit
                    && self.finish.step() == super::finish::FinishStep::None
                    && self.card.step() == super::card::CardStep::TakeCard
                {
                    let done = TaskDone {
                        task: Task::Card,
                        printed: Printed::Yes,
                        case_no: String::new(),
                        next_steps: String::new(),
                        next_steps_en: String::new(),
                        rate: None,
                    };
                    let out = self.finish.start(done, at.monotonic);
                    end = self.finished(out, settings, at, &mut fx).or(end);
                }
                let out = self.finish.handle(ev, at.monotonic);
                end = self.finished(out, settings, at, &mut fx).or(end);
            }
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
                let local = at.wall.with_timezone(&chrono::Local);
                let now = (
                    chrono::Timelike::hour(&local),
                    chrono::Timelike::minute(&local),
                );
                for h in self
                    .help
                    .handle(ev, self.nav.page(), settings.backoffice, now)
                {
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
                        MaintenanceEffect::RunTool(tool) => fx.push(Effect::RunTool(tool)),
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

    /// The end of a guide printed from the page shown (an item's or a 一件事's).
    fn guide_done(&self) -> Option<TaskDone> {
        // A 一件事's guide has no name here: the result says "办事指南".
        let (name, name_en) = match (self.browse.shown_item(), self.browse.shown_bundle()) {
            (_, Some(_)) => (String::new(), String::new()),
            (Some(item), None) => (item.name.clone(), String::new()),
            (None, None) => return None,
        };
        Some(TaskDone {
            task: Task::Guide { name, name_en },
            printed: Printed::Yes,
            case_no: String::new(),
            next_steps: String::new(),
            next_steps_en: String::new(),
            rate: None,
        })
    }

    /// Runs what the end of a task asks for; returns the session's end, if it asks.
    fn finished(
        &mut self,
        out: Vec<FinishEffect>,
        settings: &Settings,
        at: Moment,
        fx: &mut Vec<Effect>,
    ) -> Option<EndReason> {
        let mut end = None;
        for f in out {
            match f {
                FinishEffect::ShowResult => fx.extend(self.show(Page::Done)),
                FinishEffect::OpenRating(case) => {
                    self.nav.handle(NavEvent::Activity, at.monotonic);
                    for r in
                        self.rating
                            .handle(RatingEvent::OpenCase(case), settings, None, None, at)
                    {
                        if r == RatingEffect::ShowPage {
                            fx.extend(self.show(Page::Rating));
                        }
                    }
                }
                FinishEffect::Continue(Task::Guide { .. } | Task::Card) => {
                    fx.extend(self.show(Page::Home))
                }
                FinishEffect::Continue(_) => fx.extend(self.show(Page::Mine)),
                FinishEffect::EndSession => end = Some(EndReason::Finished),
            }
        }
        end
    }

    /// 快办 opened (or the resident token arrived while it is open).
    fn open_quick(&mut self) -> Vec<Effect> {
        let id = &self.identity;
        let token = id.token().map(str::to_string);
        self.quick
            .open(id.resident().is_some(), token.is_some(), id.opening())
            .into_iter()
            .filter_map(|q| match (q, &token) {
                (QuickEffect::Load, Some(t)) => Some(Effect::LoadQuickForms(t.clone())),
                _ => None,
            })
            .collect()
    }

    /// 办件进度 opened (or the resident token arrived while it is open).
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
        // The end of a task is over once the resident goes elsewhere (首页, 返回): only the
        // rating it opened and the result page belong to it.
        let finishing = matches!(to, Page::Done | Page::Rating);
        if matches!(from, Page::Done | Page::Rating) && !finishing {
            self.finish.left();
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
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Applications)), at(2));
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
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Applications)), at(6));
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

#[cfg(test)]
mod mine_tests {
    use super::*;
    use crate::api::{
        Application, ApplicationStatus, CertificateKind, CertificateRequest, ChoiceOption,
        FieldDef, FieldKind, Prefilled, QuickForm, QuickItem, QuickMaterial, QuickReceipt,
        StatusStep,
    };
    use crate::flow::certificate::{CertEvent, CertOutcome, CertStep};
    use crate::flow::finish::{FinishEvent, FinishStep, RESULT_HOLD};
    use crate::flow::identity::CardRead;
    use crate::flow::quick::{QuickEvent, QuickStep, ReceiptOutcome};
    use crate::flow::rating::{RatedService, RatingStep, SaveOutcome};
    use crate::flow::testing::{ID, PHONE, at, settings};
    use crate::identity::PersonName;

    const TOKEN: &str = "tok-6f1c";
    const CASE: &str = "CN310105-2026-Q000042";
    const CERT_CASE: &str = "CN310105-2026-Z000007";

    fn effects(cmds: &[Command]) -> Vec<Effect> {
        cmds.iter().map(|c| c.effect.clone()).collect()
    }

    /// A card on the reader, and the resident session open at the back office.
    fn identified(t: &mut Terminal) {
        let id = IdNumber::parse(ID).unwrap_or_else(|e| panic!("{e}"));
        t.handle(
            Event::Identity(IdentityEvent::CardRead(CardRead {
                id: id.clone(),
                name: PersonName::new("王秀英"),
                valid_until: None,
            })),
            at(1),
        );
        t.handle(
            Event::Identity(IdentityEvent::SessionOpened(id, Some(TOKEN.into()))),
            at(1),
        );
        assert_eq!(t.session().identity().token(), Some(TOKEN));
    }

    fn form() -> QuickForm {
        QuickForm {
            item: QuickItem {
                id: "senior-allowance".into(),
                item_code: "310105-MZ-0031".into(),
                name: "老年综合津贴申请".into(),
                name_en: "Senior allowance".into(),
                who: "年满65周岁的本市户籍老年人".into(),
                who_en: String::new(),
                fields: vec![
                    FieldDef {
                        key: "bank".into(),
                        label: "发放银行".into(),
                        label_en: "Bank".into(),
                        kind: FieldKind::Choice {
                            options: vec![ChoiceOption {
                                value: "bosh".into(),
                                label: "上海银行".into(),
                                label_en: "Bank of Shanghai".into(),
                            }],
                        },
                        required: true,
                        hint: None,
                        hint_en: None,
                    },
                    FieldDef {
                        key: "mobile".into(),
                        label: "联系电话".into(),
                        label_en: "Mobile".into(),
                        kind: FieldKind::Mobile,
                        required: true,
                        hint: None,
                        hint_en: None,
                    },
                ],
                prefills: vec!["name".into()],
                materials: vec![QuickMaterial {
                    name: "户口簿".into(),
                    name_en: String::new(),
                    held: true,
                }],
                next_steps: "次月起按月发放".into(),
                next_steps_en: String::new(),
            },
            prefilled: vec![Prefilled {
                key: "name".into(),
                label: "姓名".into(),
                label_en: "Name".into(),
                shown: "王*英".into(),
            }],
            not_eligible: None,
            not_eligible_en: None,
        }
    }

    fn receipt() -> QuickReceipt {
        QuickReceipt {
            case_no: CASE.into(),
            item_id: "senior-allowance".into(),
            item_code: "310105-MZ-0031".into(),
            item_name: "老年综合津贴申请".into(),
            item_name_en: String::new(),
            submitted_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
            next_steps: "次月起按月发放".into(),
            next_steps_en: String::new(),
            repeated: false,
        }
    }

    /// Fills and submits the 快办 form; returns the submission's command.
    fn submit_quick(t: &mut Terminal) -> Command {
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Quick)), at(10));
        assert_eq!(effects(&fx), vec![Effect::LoadQuickForms(TOKEN.into())]);
        let mut evs = vec![
            Event::Quick(QuickEvent::Loaded(Ok(vec![form()]))),
            Event::Quick(QuickEvent::Open(0)),
            Event::Quick(QuickEvent::Next),
            Event::Quick(QuickEvent::Choose(0)),
            Event::Quick(QuickEvent::Next),
        ];
        evs.extend(
            PHONE
                .chars()
                .map(|c| Event::Quick(QuickEvent::Key(c.into()))),
        );
        evs.push(Event::Quick(QuickEvent::Next));
        for e in evs {
            assert!(t.handle(e, at(11)).is_empty());
        }
        assert_eq!(t.session().quick().step(), QuickStep::Confirm);
        let fx = t.handle(Event::Quick(QuickEvent::Submit), at(12));
        assert!(
            t.handle(Event::Quick(QuickEvent::Submit), at(12))
                .is_empty(),
            "a double tap submits once"
        );
        let [cmd] = &fx[..] else { panic!("{fx:?}") };
        assert!(matches!(
            &cmd.effect,
            Effect::SubmitQuick { token, item_id, submission }
                if token == TOKEN && item_id == "senior-allowance"
                    && submission.values.get("mobile").map(String::as_str) == Some(PHONE)
        ));
        cmd.clone()
    }

    #[test]
    fn a_quick_submission_ends_in_its_rating_then_the_countdown_ends_the_session() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        identified(&mut t);
        let cmd = submit_quick(&mut t);
        t.answer(
            cmd.ticket,
            Event::Quick(QuickEvent::Submitted(Ok(receipt()))),
            at(13),
        );
        assert!(t.session().prints().any(), "the receipt is printing");
        t.answer(
            cmd.ticket,
            Event::Quick(QuickEvent::ReceiptDone(ReceiptOutcome::Printed)),
            at(14),
        );
        assert!(!t.session().prints().any());
        assert_eq!(t.session().page(), Page::Done);
        assert_eq!(t.session().finish().step(), FinishStep::Result);
        assert_eq!(
            t.session().quick().step(),
            QuickStep::NeedsIdentity,
            "the form is gone"
        );
        // The rating opens by itself, for this 办件.
        let hold = 14 + RESULT_HOLD.as_secs();
        t.handle(Event::Nav(NavEvent::Tick), at(hold));
        assert_eq!(t.session().page(), Page::Rating);
        assert!(matches!(
            t.session().rating().view(t.settings()).service,
            RatedService::Case(c) if c.case_no == CASE
        ));
        t.handle(Event::Rating(RatingEvent::Choose(5)), at(hold + 1));
        let fx = t.handle(Event::Rating(RatingEvent::Next), at(hold + 1));
        let [Effect::StoreRating(r)] = &effects(&fx)[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(r.case_number.as_deref(), Some(CASE));
        assert_eq!(r.item_code, "310105-MZ-0031");
        t.handle(
            Event::Rating(RatingEvent::Stored(SaveOutcome::Saved)),
            at(hold + 2),
        );
        t.handle(Event::Finish(FinishEvent::RatingDone), at(hold + 3));
        assert_eq!(
            (t.session().page(), t.session().finish().step()),
            (Page::Done, FinishStep::Choice)
        );
        // The same 办件 again: already rated.
        t.handle(
            Event::Rating(RatingEvent::OpenCase(crate::flow::rating::RatedCase {
                case_no: CASE.into(),
                item_code: "310105-MZ-0031".into(),
                item_name: "老年综合津贴申请".into(),
                item_name_en: "Senior citizens' allowance".into(),
            })),
            at(hold + 4),
        );
        assert_eq!(t.session().rating().step(), RatingStep::AlreadyRated);
        t.handle(Event::Nav(NavEvent::Go(Page::Done)), at(hold + 5));
        // 结束办理: five seconds, then a fresh session.
        t.handle(Event::Finish(FinishEvent::EndVisit), at(hold + 5));
        assert_eq!(t.session().finish().seconds_left(), 5);
        assert!(
            t.handle(Event::Nav(NavEvent::Tick), at(hold + 8))
                .is_empty()
        );
        let fx = t.handle(Event::Nav(NavEvent::Tick), at(hold + 10));
        let fx = effects(&fx);
        assert!(
            fx.contains(&Effect::CloseResidentSession(TOKEN.into())),
            "{fx:?}"
        );
        assert_eq!(fx.last(), Some(&Effect::SessionEnded(EndReason::Finished)));
        assert_eq!(t.session().page(), Page::Attract);
    }

    #[test]
    fn a_certificate_prints_held_then_done_and_nothing_of_mine_outlives_the_session() {
        let mut t = Terminal::new(settings(), Duration::ZERO);
        identified(&mut t);
        // 办件进度.
        let fx = t.handle(Event::Nav(NavEvent::Go(Page::Applications)), at(2));
        let [cmd] = &fx[..] else { panic!("{fx:?}") };
        t.answer(
            cmd.ticket,
            Event::Mine(MineEvent::Loaded(Ok(vec![Application {
                case_no: "CN310105-2026-000123".into(),
                item_code: "310105-RS-0008".into(),
                item_name: "社保卡补换".into(),
                submitted_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
                status: ApplicationStatus::Accepted,
                timeline: vec![StatusStep {
                    status: ApplicationStatus::Accepted,
                    at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
                }],
                missing: None,
                collect: None,
            }]))),
            at(3),
        );
        assert_eq!(t.session().mine().rows().len(), 1);
        // 证明打印: the printer runs out of paper, then prints.
        t.handle(Event::Nav(NavEvent::Go(Page::Certificates)), at(4));
        t.handle(
            Event::Certificate(CertEvent::Kind(CertificateKind::SocialInsurance)),
            at(4),
        );
        t.handle(Event::Certificate(CertEvent::Months(12)), at(4));
        let fx = t.handle(Event::Certificate(CertEvent::Print), at(5));
        assert_eq!(
            effects(&fx),
            vec![Effect::PrintCertificate {
                token: TOKEN.into(),
                request: CertificateRequest {
                    kind: CertificateKind::SocialInsurance,
                    months: 12
                }
            }]
        );
        t.handle(
            Event::Certificate(CertEvent::Held(PrintWait::Printer)),
            at(6),
        );
        assert!(t.session().prints().held());
        assert_eq!(
            t.session().certificate().step(),
            CertStep::Held(PrintWait::Printer)
        );
        t.handle(Event::Certificate(CertEvent::Held(PrintWait::None)), at(7));
        t.handle(
            Event::Certificate(CertEvent::Done(CertOutcome::Printed {
                case_no: CERT_CASE.into(),
            })),
            at(8),
        );
        assert_eq!(t.session().page(), Page::Done);
        let done = t
            .session()
            .finish()
            .done()
            .cloned()
            .unwrap_or_else(|| panic!());
        assert_eq!(
            done.rate.map(|r| r.item_name),
            Some("社会保险个人缴费记录".into())
        );
        // A 快办 half filled when the resident walks away.
        let cmd = submit_quick(&mut t);
        let before = format!("{t:?}");
        assert!(before.contains(CASE) || before.contains("senior-allowance"));
        assert!(!before.contains(PHONE), "a value never shows in Debug");
        assert!(!before.contains(TOKEN), "nor the token");
        // Idle: the session ends.
        let fx = t.end_now(EndReason::Idle, at(200));
        let fx = effects(&fx);
        assert!(fx.contains(&Effect::CancelPrints) || !t.session().prints().any());
        assert!(fx.contains(&Effect::CloseResidentSession(TOKEN.into())));
        assert_eq!(t.session(), &Session::new(&settings(), Duration::ZERO));
        let after = format!("{t:?}");
        for secret in [
            ID,
            PHONE,
            TOKEN,
            CASE,
            CERT_CASE,
            "CN310105-2026-000123",
            "王*英",
            "社保卡补换",
            "senior-allowance",
        ] {
            assert!(!after.contains(secret), "{secret:?} left in {after}");
        }
        // The late answer of the old session is dropped.
        assert!(
            t.answer(
                cmd.ticket,
                Event::Quick(QuickEvent::Submitted(Ok(receipt()))),
                at(201)
            )
            .is_empty()
        );
        assert_eq!(t.session().quick().receipt(), None);
    }
}
