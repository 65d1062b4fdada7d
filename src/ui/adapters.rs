//! Wires the Slint globals to the core's [`flow::Terminal`]: callbacks become events, effects run on the runtime, answers come back with their ticket, and every change is rendered from the session.
//!
//! Nothing here decides what a resident sees next: that is the flows' (crate::flow).
//! This module only turns taps into [`Event`]s, runs each [`Effect`] off the UI thread
//! through the core (issuance, ratings, PINs, the catalogue, printing), sends its answer
//! back to the UI thread over a channel that a local task on the Slint event loop drains,
//! and renders the session ([`render`]) after every event and answer. It never reads a
//! property of the UI back.

use slint::ComponentHandle;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use super::render::{self, Rendered};
use super::*;
use crate::api::HelpRequest;
use crate::backoffice::Client;
use crate::catalog::sync::CatalogState;
use crate::catalog::{Catalog, DEFAULT_LIMIT};
use crate::config::{Config, PrinterRole};
use crate::flow::{
    self, BrowseEvent, CardEvent, Command, Effect, Event, HelpEvent, IssueOutcome, LookupOutcome,
    LostOutcome, MaintenanceEvent, Moment, NavEvent, PinAnswer, RatingEvent, SettingAnswer, Ticket,
};
use crate::pin::{self, Holder};

/// What the UI needs from the rest of the terminal.
pub struct UiDeps {
    pub runtime: tokio::runtime::Handle,
    pub config: watch::Receiver<Arc<Config>>,
    pub catalog: watch::Receiver<CatalogState>,
    /// Asks the catalogue worker for a sync now (the maintenance page's 刷新目录); `None`:
    /// no worker runs.
    pub catalogue_refresh: Option<mpsc::Sender<crate::catalog::sync::Refresh>>,
    /// The back office, for help requests; `None` when not reachable at start.
    pub client: Option<Client>,
    /// Monotonic time for the idle timer (Slint's mocked time in tests).
    pub clock: Rc<dyn Fn() -> Duration>,
    /// The key offline codes must verify against; `None`: printing cards is unavailable.
    pub trusted_key: Option<ed25519_dalek::VerifyingKey>,
    /// The local store (issuance audit, one card per person per day); `None` in demos.
    pub store: Option<Arc<std::sync::Mutex<crate::store::Store>>>,
    /// Wakes the ratings uploader when a rating is stored; `None` when none runs.
    pub ratings_waker: Option<crate::ratings::sync::Waker>,
    /// The config's layers: the maintenance page saves its settings into the settings
    /// layer through it and puts them in force. `None`: settings are read-only here.
    pub settings: Option<crate::config::ConfigHandle>,
    /// What the ID-card reader and a serial code scanner report (`crate::devices`);
    /// `None`: no such device runs.
    pub identity: Option<mpsc::UnboundedReceiver<flow::IdentityEvent>>,
}

/// The real monotonic clock.
pub fn system_clock() -> Rc<dyn Fn() -> Duration> {
    let origin = Instant::now();
    Rc::new(move || origin.elapsed())
}

/// An answer to a command, on its way back to the UI thread.
type Answer = (Ticket, Event);

/// The UI-thread side of the terminal: the core's [`flow::Terminal`] and what runs its
/// effects. Held by the callbacks (an `Rc`), never in a global.
pub struct UiController {
    window: slint::Weak<MainWindow>,
    runtime: tokio::runtime::Handle,
    config: watch::Receiver<Arc<Config>>,
    client: Option<Client>,
    /// The catalogue in force (not a resident value), and its generation: a new copy
    /// renders the browsing rows again.
    catalog: RefCell<Option<Arc<Catalog>>>,
    catalog_generation: Cell<u64>,
    /// The session of the moment, and what outlives it.
    terminal: RefCell<flow::Terminal>,
    rendered: RefCell<Rendered>,
    ticker: slint::Timer,
    clock: Rc<dyn Fn() -> Duration>,
    trusted_key: Option<ed25519_dalek::VerifyingKey>,
    store: Option<Arc<std::sync::Mutex<crate::store::Store>>>,
    ratings_waker: Option<crate::ratings::sync::Waker>,
    settings: Option<crate::config::ConfigHandle>,
    catalogue_refresh: Option<mpsc::Sender<crate::catalog::sync::Refresh>>,
    /// Fires when the session ends: a print job still waiting is cancelled, never printed.
    session_end: RefCell<watch::Sender<bool>>,
    /// Fires when the resident cancels the document job the printer holds (a certificate,
    /// a receipt), and with the session's end.
    document_cancel: RefCell<watch::Sender<bool>>,
    /// Answers from the runtime; drained on the UI thread.
    answers: mpsc::UnboundedSender<Answer>,
    /// The status bar's clock as last shown (set again only when the minute changes).
    clock_shown: RefCell<String>,
}

/// A document job running: its outcome at the end.
type DocumentJob =
    std::pin::Pin<Box<dyn std::future::Future<Output = crate::print::Outcome> + Send>>;

/// Tries of a 快办 submission whose answer did not arrive (each with the same submission
/// id: the back office files it once).
const SUBMIT_TRIES: u32 = 3;

/// Why the back office did not file a 快办 submission.
fn quick_problem(e: &crate::backoffice::ClientError) -> flow::quick::QuickProblem {
    use crate::api::limits::codes;
    use flow::quick::QuickProblem;
    if matches!(e.status, Some(401 | 403)) {
        QuickProblem::SessionEnded
    } else if e.code_is(codes::FIELDS_INVALID) {
        QuickProblem::Fields(
            e.field_errors()
                .unwrap_or_default()
                .iter()
                .map(|f| (f.key.clone(), f.message.clone()))
                .collect(),
        )
    } else if e.status.is_some_and(|s| (400..500).contains(&s)) {
        QuickProblem::Refused(e.message.clone())
    } else {
        QuickProblem::Network
    }
}

/// The flows' view of this terminal, from the config and the parts it runs with.
fn flow_settings(
    config: &Config,
    backoffice: bool,
    trusted_key: bool,
    store: bool,
    settings_writable: bool,
) -> flow::Settings {
    flow::Settings {
        idle_timeout: Duration::from_secs(
            config
                .display
                .idle_timeout_s
                .clamp(1, crate::config::MAX_IDLE_TIMEOUT_S) as u64,
        ),
        idle_countdown: Duration::from_secs(10),
        large_font: config.display.large_font,
        english: config.display.language == "en",
        terminal_id: config.terminal.id.clone(),
        rating_reasons: config.ratings.reasons.clone(),
        keypad: config.keypad(),
        wedge: config.identity.scanner.trim() == "keyboard",
        backoffice,
        trusted_key,
        store,
        settings_writable,
    }
}

/// The settings the maintenance page can change (whole numbers; the rest through
/// `civic-kiosk config set` over SSH): the rows of [`crate::api::SETTABLE`] it offers.
pub(crate) fn settings() -> impl Iterator<Item = &'static str> {
    crate::api::page_keys()
}

fn setting_value(config: &Config, key: &str) -> String {
    match key {
        "display.idle_timeout_s" => config.display.idle_timeout_s.to_string(),
        "heartbeat.interval_s" => config.heartbeat.interval_s.to_string(),
        "ratings.sync_interval_s" => config.ratings.sync_interval_s.to_string(),
        "catalogue.sync_interval_s" => config.catalogue.sync_interval_s.to_string(),
        _ => String::new(),
    }
}

fn setting_rows(config: &Config) -> Vec<flow::SettingRow> {
    settings()
        .map(|k| flow::SettingRow {
            key: k.to_string(),
            value: setting_value(config, k),
        })
        .collect()
}

/// Builds the controller and connects every callback. Call on the UI thread.
pub fn connect(window: &MainWindow, deps: UiDeps) -> Rc<UiController> {
    let config = deps.config.borrow().clone();
    window.global::<Theme>().set_dpi(config.display.dpi as f32);
    let finish = window.global::<FinishAdapter>();
    finish.set_document_slot(super::services::slot_place(config.printers.document.output));
    finish.set_receipt_slot(super::services::slot_place(config.printers.receipt.output));
    finish.set_card_slot(super::services::slot_place(config.printers.card.output));
    let status = window.global::<StatusAdapter>();
    status.set_terminal_name(config.terminal.name.as_str().into());
    let ia = window.global::<IdentityAdapter>();
    ia.set_reader(!config.identity.reader.trim().is_empty());
    ia.set_scanner(!config.identity.scanner.trim().is_empty());
    status.set_backoffice_up(deps.client.is_some());

    let settings = flow_settings(
        &config,
        deps.client.is_some(),
        deps.trusted_key.is_some(),
        deps.store.is_some(),
        deps.settings.is_some(),
    );
    let (answers, mut answers_rx) = mpsc::unbounded_channel::<Answer>();
    let ctl = Rc::new(UiController {
        window: window.as_weak(),
        runtime: deps.runtime.clone(),
        config: deps.config.clone(),
        client: deps.client,
        catalog: RefCell::new(None),
        catalog_generation: Cell::new(0),
        terminal: RefCell::new(flow::Terminal::new(settings, (deps.clock)())),
        rendered: RefCell::new(Rendered::default()),
        ticker: slint::Timer::default(),
        clock: deps.clock.clone(),
        trusted_key: deps.trusted_key,
        store: deps.store,
        ratings_waker: deps.ratings_waker,
        settings: deps.settings,
        catalogue_refresh: deps.catalogue_refresh,
        session_end: RefCell::new(watch::channel(false).0),
        document_cancel: RefCell::new(watch::channel(false).0),
        answers,
        clock_shown: RefCell::new(String::new()),
    });

    // Answers come back here, on the UI thread (a local task of the Slint event loop).
    {
        let weak = Rc::downgrade(&ctl);
        let drained = slint::spawn_local(async move {
            while let Some((ticket, event)) = answers_rx.recv().await {
                let Some(ctl) = weak.upgrade() else { return };
                ctl.answer(ticket, event);
            }
        });
        if let Err(e) = drained {
            log::error!("UI: answers cannot reach the UI thread: {e}");
        }
    }

    // The reader and the serial scanner: their events, on the UI thread.
    if let Some(mut rx) = deps.identity {
        let weak = Rc::downgrade(&ctl);
        let drained = slint::spawn_local(async move {
            while let Some(event) = rx.recv().await {
                let Some(ctl) = weak.upgrade() else { return };
                ctl.send(Event::Identity(event));
            }
        });
        if let Err(e) = drained {
            log::error!("UI: the ID-card reader cannot reach the UI thread: {e}");
        }
    }

    // Settings that may change live (the back office's remote config): notices on home.
    {
        let weak = window.as_weak();
        let mut rx = deps.config.clone();
        status.set_notices(render::strings(&config.display.notices));
        deps.runtime.spawn(async move {
            while rx.changed().await.is_ok() {
                let notices = rx.borrow_and_update().display.notices.clone();
                let sent = weak.upgrade_in_event_loop(move |w| {
                    w.global::<StatusAdapter>()
                        .set_notices(render::strings(&notices));
                });
                if sent.is_err() {
                    return;
                }
            }
        });
    }

    // The disk under the store: the status bar says when it is full (the maintenance page
    // names it and the fix), and a store that fell back to read-only is opened read-write
    // again once there is room. Checked at start, then every DISK_CHECK, on the runtime.
    if let Some(store) = ctl.store.clone() {
        let weak = window.as_weak();
        deps.runtime.spawn(async move {
            loop {
                let looked = crate::store::run(&store, |s| {
                    s.try_reopen_writable();
                    (s.dir().to_path_buf(), s.read_only().map(str::to_string))
                })
                .await;
                let Ok((dir, read_only)) = looked else { return };
                let disk = crate::health::disk(&dir);
                let full = disk.full || read_only.is_some();
                let detail = match (&read_only, full) {
                    (_, false) => String::new(),
                    (Some(why), true) if !disk.full => format!("store read-only: {why}"),
                    _ => disk.technician_detail(),
                };
                let sent = weak.upgrade_in_event_loop(move |w| {
                    let s = w.global::<StatusAdapter>();
                    s.set_disk_full(full);
                    s.set_disk_detail(detail.as_str().into());
                });
                if sent.is_err() {
                    return;
                }
                tokio::time::sleep(crate::health::DISK_CHECK).await;
            }
        });
    }

    // Catalogue: every new copy is built off the UI thread and applied on it.
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Arc<Catalog>, bool, String)>();
        let mut cat = deps.catalog.clone();
        let stale_after = Duration::from_secs(config.catalogue.stale_after_s.max(0) as u64);
        deps.runtime.spawn(async move {
            loop {
                let state = cat.borrow_and_update().clone();
                if let Some(catalog) = state.catalog {
                    let stale = state
                        .meta
                        .as_ref()
                        .is_some_and(|m| m.is_stale(chrono::Utc::now(), stale_after));
                    let updated = state
                        .meta
                        .as_ref()
                        .map(|m| {
                            m.fetched_at
                                .with_timezone(&chrono::Local)
                                .format("%Y-%m-%d %H:%M")
                                .to_string()
                        })
                        .unwrap_or_default();
                    if tx.send((catalog, stale, updated)).is_err() {
                        return;
                    }
                }
                if cat.changed().await.is_err() {
                    return;
                }
            }
        });
        let weak = Rc::downgrade(&ctl);
        let applied = slint::spawn_local(async move {
            while let Some((catalog, stale, updated)) = rx.recv().await {
                let Some(ctl) = weak.upgrade() else { return };
                if let Some(w) = ctl.window.upgrade() {
                    ctl.apply_catalog(&w, catalog, stale, updated);
                }
            }
        });
        if let Err(e) = applied {
            log::error!("UI: catalogue updates cannot reach the UI thread: {e}");
        }
    }

    connect_callbacks(window, &ctl);

    // One ticker: the clock and the idle timer.
    {
        let weak = Rc::downgrade(&ctl);
        ctl.ticker.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(250),
            move || {
                if let Some(ctl) = weak.upgrade() {
                    ctl.tick();
                }
            },
        );
        ctl.tick();
    }
    ctl
}

/// Each callback sends one event (the catalogue fills in what the flows need of it).
fn connect_callbacks(window: &MainWindow, ctl: &Rc<UiController>) {
    // `on!(global.on_x(args) => |k| event)`: the closure holds the controller as `k`;
    // `event` is an `Option<Event>` (None: nothing to send).
    macro_rules! on {
        ($g:ident . $on:ident ( $($a:ident),* ) => |$k:ident| $ev:expr) => {{
            let $k = ctl.clone();
            $g.$on(move |$($a),*| {
                let ev: Option<Event> = $ev;
                if let Some(ev) = ev {
                    $k.send(ev);
                }
            });
        }};
    }
    let nav = |e| Some(Event::Nav(e));
    let browse = |e| Some(Event::Browse(e));
    let card = |e| Some(Event::Card(e));
    let rating = |e| Some(Event::Rating(e));
    let tech = |e| Some(Event::Maintenance(e));

    let g = window.global::<Session>();
    on!(g.on_activity() => |_k| nav(NavEvent::Activity));

    let g = window.global::<SessionAdapter>();
    on!(g.on_wake() => |_k| nav(NavEvent::Wake));
    on!(g.on_go(p) => |_k| nav(NavEvent::Go(render::page_from(p))));
    on!(g.on_toggle_large() => |_k| Some(Event::ToggleLarge));
    on!(g.on_toggle_language() => |_k| Some(Event::ToggleLanguage));
    on!(g.on_more_time() => |_k| nav(NavEvent::MoreTime));
    on!(g.on_call_staff() => |_k| Some(Event::Help(HelpEvent::Call)));
    on!(g.on_dismiss_help() => |_k| Some(Event::Help(HelpEvent::Dismiss)));
    on!(g.on_hidden_gesture() => |_k| tech(MaintenanceEvent::Open));
    on!(g.on_staff_sign_out() => |_k| Some(Event::Assist(flow::AssistEvent::SignOut)));

    let g = window.global::<CatalogAdapter>();
    on!(g.on_type_key(k) => |_k| browse(BrowseEvent::TypeKey(k.to_string())));
    on!(g.on_backspace() => |_k| browse(BrowseEvent::Backspace));
    on!(g.on_clear_query() => |_k| browse(BrowseEvent::ClearQuery));
    on!(g.on_open_item(code) => |k| k.item_event(&code));
    on!(g.on_choose_audience(a) => |_k| browse(BrowseEvent::ChooseAudience(render::audience_from(a))));
    on!(g.on_open_theme(t) => |_k| browse(BrowseEvent::OpenTheme(t.to_string())));
    on!(g.on_open_bundle(code) => |k| k.bundle_event(&code));
    on!(g.on_print_guide(code) => |_k| browse(BrowseEvent::PrintGuide(code.to_string())));
    on!(g.on_print_bundle(code) => |_k| browse(BrowseEvent::PrintBundle(code.to_string())));

    let g = window.global::<OfflineCodeAdapter>();
    on!(g.on_key(d) => |_k| card(CardEvent::Key(d.to_string())));
    on!(g.on_backspace() => |_k| card(CardEvent::Backspace));
    on!(g.on_clear() => |_k| card(CardEvent::Clear));
    on!(g.on_edit() => |_k| card(CardEvent::Edit));
    on!(g.on_submit() => |_k| card(CardEvent::Submit));
    on!(g.on_confirm() => |_k| card(CardEvent::Confirm));
    on!(g.on_reissue() => |_k| card(CardEvent::Reissue));
    on!(g.on_report_lost() => |_k| card(CardEvent::ReportLost));
    on!(g.on_retry() => |_k| card(CardEvent::Retry));

    let g = window.global::<IdentityAdapter>();
    on!(g.on_dismiss() => |_k| Some(Event::Identity(flow::IdentityEvent::Dismiss)));
    on!(g.on_physical_key(text) => |_k| {
        log::trace!("physical key ({} bytes)", text.len());
        Some(Event::Key(text.to_string()))
    });

    let g = window.global::<RatingAdapter>();
    on!(g.on_open(src) => |_k| rating(RatingEvent::Open(render::rating_source(src))));
    on!(g.on_choose(level) => |_k| rating(RatingEvent::Choose(u8::try_from(level).unwrap_or(0))));
    on!(g.on_next() => |_k| rating(RatingEvent::Next));
    on!(g.on_back() => |_k| rating(RatingEvent::Back));
    on!(g.on_toggle_reason(i) => |_k| usize::try_from(i).ok().and_then(|i| rating(RatingEvent::ToggleReason(i))));
    on!(g.on_toggle_callback() => |_k| rating(RatingEvent::ToggleCallback));
    on!(g.on_phone_key(d) => |_k| rating(RatingEvent::PhoneKey(d.to_string())));
    on!(g.on_phone_backspace() => |_k| rating(RatingEvent::PhoneBackspace));
    on!(g.on_phone_clear() => |_k| rating(RatingEvent::PhoneClear));

    use flow::certificate::CertEvent;
    use flow::finish::FinishEvent;
    use flow::quick::QuickEvent;
    let cert = |e| Some(Event::Certificate(e));
    let quick = |e| Some(Event::Quick(e));
    let finish = |e| Some(Event::Finish(e));
    let g = window.global::<CertificateAdapter>();
    on!(g.on_choose_kind(i) => |_k| super::services::kind_from(i).and_then(|k| cert(CertEvent::Kind(k))));
    on!(g.on_choose_months(m) => |_k| u8::try_from(m).ok().and_then(|m| cert(CertEvent::Months(m))));
    on!(g.on_print() => |_k| cert(CertEvent::Print));
    on!(g.on_cancel() => |_k| cert(CertEvent::Cancel));
    on!(g.on_again() => |_k| cert(CertEvent::Again));

    let g = window.global::<QuickAdapter>();
    on!(g.on_open(i) => |_k| usize::try_from(i).ok().and_then(|i| quick(QuickEvent::Open(i))));
    on!(g.on_next() => |_k| quick(QuickEvent::Next));
    on!(g.on_back() => |_k| quick(QuickEvent::Back));
    on!(g.on_key(d) => |_k| quick(QuickEvent::Key(d.to_string())));
    on!(g.on_backspace() => |_k| quick(QuickEvent::Backspace));
    on!(g.on_clear() => |_k| quick(QuickEvent::Clear));
    on!(g.on_choose(i) => |_k| usize::try_from(i).ok().and_then(|i| quick(QuickEvent::Choose(i))));
    on!(g.on_pick_date(i) => |_k| usize::try_from(i).ok().and_then(|i| quick(QuickEvent::PickDate(i))));
    on!(g.on_submit() => |_k| quick(QuickEvent::Submit));
    on!(g.on_retry() => |_k| quick(QuickEvent::Retry));
    on!(g.on_cancel_receipt() => |_k| quick(QuickEvent::CancelReceipt));

    let g = window.global::<FinishAdapter>();
    on!(g.on_next() => |_k| finish(FinishEvent::Next));
    on!(g.on_rating_done() => |_k| finish(FinishEvent::RatingDone));
    on!(g.on_end_visit() => |_k| finish(FinishEvent::EndVisit));
    on!(g.on_keep_going() => |_k| finish(FinishEvent::KeepGoing));

    let g = window.global::<TechnicianAdapter>();
    on!(g.on_key(d) => |_k| tech(MaintenanceEvent::Key(d.to_string())));
    on!(g.on_backspace() => |_k| tech(MaintenanceEvent::Backspace));
    on!(g.on_clear() => |_k| tech(MaintenanceEvent::Clear));
    on!(g.on_submit() => |_k| tech(MaintenanceEvent::Submit));
    on!(g.on_exit_terminal() => |_k| tech(MaintenanceEvent::ExitTerminal));
    on!(g.on_leave() => |_k| tech(MaintenanceEvent::Leave));
    on!(g.on_edit_setting(key) => |_k| tech(MaintenanceEvent::EditSetting(key.to_string())));
    on!(g.on_setting_digit(d) => |_k| tech(MaintenanceEvent::SettingDigit(d.to_string())));
    on!(g.on_setting_backspace() => |_k| tech(MaintenanceEvent::SettingBackspace));
    on!(g.on_setting_clear() => |_k| tech(MaintenanceEvent::SettingClear));
    on!(g.on_save_setting() => |_k| tech(MaintenanceEvent::SaveSetting));
    on!(g.on_cancel_setting() => |_k| tech(MaintenanceEvent::CancelSetting));
    on!(g.on_run_tool(name) => |_k| flow::Tool::parse(name.as_str()).map(|t| Event::Maintenance(MaintenanceEvent::RunTool(t))));
}

impl UiController {
    fn now(&self) -> Moment {
        Moment {
            monotonic: (self.clock)(),
            wall: chrono::Utc::now(),
        }
    }

    /// A tap, a key or the ticker: into the terminal, then its effects, then the screen.
    pub fn send(self: &Rc<Self>, event: Event) {
        let now = self.now();
        let commands = self.terminal.borrow_mut().handle(event, now);
        self.run(commands);
        self.render();
    }

    /// An effect's answer (dropped by the terminal if its session has ended).
    fn answer(self: &Rc<Self>, ticket: Ticket, event: Event) {
        let now = self.now();
        let commands = self.terminal.borrow_mut().answer(ticket, event, now);
        self.run(commands);
        self.render();
    }

    fn render(&self) {
        let Some(w) = self.window.upgrade() else {
            return;
        };
        let terminal = self.terminal.borrow();
        let catalog = self.catalog.borrow();
        self.rendered.borrow_mut().render(
            &w,
            terminal.session(),
            terminal.settings(),
            terminal.reader(),
            catalog.as_deref(),
            self.catalog_generation.get(),
        );
    }

    /// Whether the technician stopped the terminal from the maintenance page (the process
    /// should then exit with [`crate::EXIT_TECHNICIAN`]).
    pub fn exit_requested(&self) -> bool {
        self.terminal.borrow().exit_requested()
    }

    /// Whether the core's session is a fresh start (what a new resident gets).
    pub fn session_is_fresh(&self) -> bool {
        let t = self.terminal.borrow();
        *t.session() == flow::Session::new(t.settings(), Duration::ZERO)
    }

    /// Everything the core holds now, as text (its personal values mask themselves): a
    /// test looks in it for what must not outlive a session.
    pub fn core_state(&self) -> String {
        format!("{:?}", self.terminal.borrow())
    }

    /// The 帮办 staff member signed in on this session, if any.
    pub fn staff(&self) -> Option<pin::StaffId> {
        self.terminal.borrow().session().assist().staff().cloned()
    }

    /// Ends the resident session now (as the idle timeout would): the session is dropped
    /// and a fresh one rendered; a print job still waiting is cancelled.
    pub fn wipe_session(self: &Rc<Self>) {
        let now = self.now();
        let commands = self
            .terminal
            .borrow_mut()
            .end_now(flow::EndReason::Idle, now);
        self.run(commands);
        self.render();
    }

    /// Opens an item of the catalogue (as a tap on it does).
    pub fn open_item(self: &Rc<Self>, code: &str) {
        if let Some(ev) = self.item_event(code) {
            self.send(ev);
        }
    }

    /// Opens a 一件事 bundle of the catalogue.
    pub fn open_bundle(self: &Rc<Self>, code: &str) {
        if let Some(ev) = self.bundle_event(code) {
            self.send(ev);
        }
    }

    /// Opens a theme of the catalogue page.
    pub fn open_theme(self: &Rc<Self>, theme: &str) {
        self.send(Event::Browse(BrowseEvent::OpenTheme(theme.to_string())));
    }

    fn item_event(&self, code: &str) -> Option<Event> {
        let catalog = self.catalog.borrow();
        let item = catalog.as_ref()?.item(code)?;
        Some(Event::Browse(BrowseEvent::OpenItem(flow::ShownItem {
            code: item.code.clone(),
            name: item.name.clone(),
        })))
    }

    fn bundle_event(&self, code: &str) -> Option<Event> {
        let catalog = self.catalog.borrow();
        catalog.as_ref()?.bundle(code)?;
        Some(Event::Browse(BrowseEvent::OpenBundle(code.to_string())))
    }

    /// A new copy of the catalogue: the home page's rows now, the resident's rows from it.
    pub fn apply_catalog(
        &self,
        w: &MainWindow,
        catalog: Arc<Catalog>,
        stale: bool,
        updated: String,
    ) {
        // In the language shown now; rendering the session keeps them in its language.
        render::render_home(w, &catalog, w.global::<SessionAdapter>().get_english());
        let c = w.global::<CatalogAdapter>();
        c.set_faqs(render::model(
            catalog
                .data
                .faqs
                .iter()
                .take(40)
                .map(render::faq_row)
                .collect(),
        ));
        c.set_stale(stale);
        c.set_updated_at(updated.into());
        c.set_loading(false);
        *self.catalog.borrow_mut() = Some(catalog);
        self.catalog_generation
            .set(self.catalog_generation.get().wrapping_add(1));
        self.render();
    }

    fn tick(self: &Rc<Self>) {
        // The idle timeout and the rest may have changed live.
        let config = self.config.borrow().clone();
        let fresh = flow_settings(
            &config,
            self.client.is_some(),
            self.trusted_key.is_some(),
            self.store.is_some(),
            self.settings.is_some(),
        );
        if self.terminal.borrow().settings() != &fresh {
            self.terminal.borrow_mut().set_settings(fresh);
        }
        self.send(Event::Nav(NavEvent::Tick));
        let clock = chrono::Local::now().format("%H:%M").to_string();
        if *self.clock_shown.borrow() != clock
            && let Some(w) = self.window.upgrade()
        {
            w.global::<StatusAdapter>().set_clock(clock.as_str().into());
            *self.clock_shown.borrow_mut() = clock;
        }
    }

    /// Runs each command's effect: slow work on the runtime, its answer back with the ticket.
    fn run(self: &Rc<Self>, commands: Vec<Command>) {
        for Command { ticket, effect } in commands {
            self.run_effect(ticket, effect);
        }
    }

    fn run_effect(self: &Rc<Self>, ticket: Ticket, effect: Effect) {
        let reply = Reply {
            ticket,
            tx: self.answers.clone(),
        };
        match effect {
            Effect::Search(query) => self.search(reply, query),
            Effect::PrintGuide { code, bundle } => self.print_guide(reply, &code, bundle),
            Effect::LookupResident(id) => {
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Card(CardEvent::Looked(id, LookupOutcome::Network)));
                };
                self.runtime.spawn(async move {
                    use crate::issuance::Failure;
                    let outcome = match crate::issuance::lookup(&client, id.clone()).await {
                        Ok(who) => LookupOutcome::Found(who),
                        Err(Failure::Refused(m)) => LookupOutcome::Refused(m),
                        Err(_) => LookupOutcome::Network,
                    };
                    reply.send(Event::Card(CardEvent::Looked(id, outcome)));
                });
            }
            Effect::IssueAndPrint {
                id,
                source,
                reissue,
                staff,
            } => self.issue_and_print(reply, id, source, reissue, staff),
            Effect::ResolveCode(code) => self.resolve_code(reply, code),
            Effect::OpenResidentSession(id) => {
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Identity(flow::IdentityEvent::SessionOpened(
                        id, None,
                    )));
                };
                self.runtime.spawn(async move {
                    let token = match client.open_resident_session(&id).await {
                        Ok(s) => Some(s.token),
                        Err(e) => {
                            log::warn!(
                                "resident session not opened (我的 unavailable): {}",
                                e.message
                            );
                            None
                        }
                    };
                    reply.send(Event::Identity(flow::IdentityEvent::SessionOpened(
                        id, token,
                    )));
                });
            }
            Effect::CloseResidentSession(token) => {
                if let Some(client) = self.client.clone() {
                    self.runtime.spawn(async move {
                        if let Err(e) = client.close_resident_session(&token).await {
                            // It expires by itself within its lifetime.
                            log::info!(
                                "resident session not closed at the back office: {}",
                                e.message
                            );
                        }
                    });
                }
            }
            Effect::LoadApplications(token) => {
                use flow::mine::{MineEvent, MineProblem};
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Mine(MineEvent::Loaded(Err(MineProblem::Network))));
                };
                self.runtime.spawn(async move {
                    let answer = client.applications(&token).await.map_err(|e| {
                        log::info!("applications not read: {}", e.message);
                        if matches!(e.status, Some(401 | 403)) {
                            MineProblem::SessionEnded
                        } else {
                            MineProblem::Network
                        }
                    });
                    reply.send(Event::Mine(MineEvent::Loaded(answer)));
                });
            }
            Effect::CheckCard(code) => self.check_card(reply, code),
            Effect::ReportLost { id, source: _ } => {
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Card(CardEvent::LostReported(
                        id,
                        LostOutcome::Network,
                    )));
                };
                let store = self.store.clone();
                let terminal = self.config.borrow().terminal.id.clone();
                self.runtime.spawn(async move {
                    use crate::issuance::Failure;
                    let outcome = match crate::issuance::report_lost(
                        &client,
                        store.as_ref(),
                        &terminal,
                        id.clone(),
                    )
                    .await
                    {
                        Ok(_) => LostOutcome::Voided,
                        Err(Failure::Refused(m)) => LostOutcome::Refused(m),
                        Err(_) => LostOutcome::Network,
                    };
                    reply.send(Event::Card(CardEvent::LostReported(id, outcome)));
                });
            }
            Effect::StoreRating(rating) => self.store_rating(reply, *rating),
            Effect::CallStaff { page } => {
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Help(HelpEvent::Answered(false)));
                };
                let terminal_id = self.config.borrow().terminal.id.clone();
                self.runtime.spawn(async move {
                    let req = HelpRequest {
                        id: uuid::Uuid::now_v7(),
                        terminal_id,
                        page: page.wire_name().to_string(),
                        requested_at: chrono::Utc::now(),
                    };
                    let ok = match client.help(&req).await {
                        Ok(_) => true,
                        Err(e) => {
                            log::warn!("help request failed: {e}");
                            false
                        }
                    };
                    reply.send(Event::Help(HelpEvent::Answered(ok)));
                });
            }
            Effect::CheckPinLock => {
                let Some(store) = self.store.clone() else {
                    return;
                };
                self.runtime.spawn(async move {
                    let remaining =
                        crate::store::run(&store, |s| pin::lock_remaining(s, &pin::Now::read()))
                            .await;
                    let remaining = match remaining {
                        Ok(Ok(r)) => r,
                        _ => None,
                    };
                    reply.send(Event::Maintenance(MaintenanceEvent::LockChecked(remaining)));
                });
            }
            Effect::VerifyPin(typed) => self.verify_pin(reply, typed),
            Effect::RunTool(tool) => self.run_tool(reply, tool),
            Effect::SaveSetting { key, value } => self.save_setting(reply, key, value),
            Effect::AuditMaintenanceLeft(how) => {
                let detail = match how {
                    flow::MaintenanceEnd::Left => "left maintenance mode",
                    flow::MaintenanceEnd::SessionEnded => {
                        "maintenance mode closed: the session ended (idle)"
                    }
                };
                self.audit(
                    "maintenance_left",
                    detail.into(),
                    Holder::Technician.actor(),
                    || {},
                );
            }
            Effect::AuditStaffSignedOut { staff, how } => {
                let detail = match how {
                    flow::StaffEnd::SignedOut => {
                        log::info!("帮办: staff {staff} signed out");
                        format!("帮办 ended: staff:{staff} signed out")
                    }
                    flow::StaffEnd::SessionEnded => {
                        format!("帮办 ended: staff:{staff}'s session ended (idle)")
                    }
                };
                self.audit(
                    "staff_signed_out",
                    detail,
                    Holder::Staff(staff).actor(),
                    || {},
                );
            }
            Effect::StopTerminal => {
                log::warn!(
                    "technician stops the terminal program (exit status {})",
                    crate::EXIT_TECHNICIAN
                );
                self.audit(
                    "maintenance_exit",
                    format!(
                        "terminal program stopped from maintenance (exit status {})",
                        crate::EXIT_TECHNICIAN
                    ),
                    Holder::Technician.actor(),
                    || {
                        let _ = slint::invoke_from_event_loop(|| {
                            let _ = slint::quit_event_loop();
                        });
                    },
                );
            }
            Effect::CancelPrints => {
                let _ = self.session_end.borrow().send(true);
                *self.session_end.borrow_mut() = watch::channel(false).0;
                self.cancel_document();
            }
            Effect::CancelDocument => self.cancel_document(),
            Effect::PrintCertificate { token, request } => {
                self.print_certificate(reply, token, request)
            }
            Effect::LoadQuickForms(token) => {
                use flow::mine::MineProblem;
                use flow::quick::QuickEvent;
                let Some(client) = self.client.clone() else {
                    return reply.send(Event::Quick(QuickEvent::Loaded(Err(MineProblem::Network))));
                };
                self.runtime.spawn(async move {
                    let answer = client.quick_forms(&token).await.map_err(|e| {
                        log::info!("快办 items not read: {}", e.message);
                        if matches!(e.status, Some(401 | 403)) {
                            MineProblem::SessionEnded
                        } else {
                            MineProblem::Network
                        }
                    });
                    reply.send(Event::Quick(QuickEvent::Loaded(answer)));
                });
            }
            Effect::SubmitQuick {
                token,
                item_id,
                submission,
            } => self.submit_quick(reply, token, item_id, submission),
            Effect::SessionEnded(reason) => {
                log::info!("resident session ended ({reason:?}); a fresh one shows");
            }
        }
    }

    /// Cancels the document job the printer holds, if one does.
    fn cancel_document(&self) {
        let _ = self.document_cancel.borrow().send(true);
        *self.document_cancel.borrow_mut() = watch::channel(false).0;
    }

    /// 证明打印: the back office's data, laid out here, printed on the document printer.
    fn print_certificate(
        &self,
        reply: Reply,
        token: String,
        request: crate::api::CertificateRequest,
    ) {
        use flow::certificate::{CertEvent, CertOutcome, CertProblem};
        let done = |o| Event::Certificate(CertEvent::Done(o));
        let Some(client) = self.client.clone() else {
            return reply.send(done(CertOutcome::Failed(CertProblem::Network)));
        };
        let centre = self.config.borrow().location.centre.clone();
        let key = self.trusted_key;
        let held = reply.clone();
        let on_wait = move |w| held.send(Event::Certificate(CertEvent::Held(w)));
        let printing = self.document_printer(on_wait);
        self.runtime.spawn(async move {
            let c = match client.certificate(&token, &request).await {
                Ok(c) => c,
                Err(e) => {
                    use crate::api::limits::codes;
                    log::info!("certificate not issued: {}", e.message);
                    let p = if matches!(e.status, Some(401 | 403)) {
                        CertProblem::SessionEnded
                    } else if e.code_is(codes::NO_RECORDS) {
                        CertProblem::NoRecords
                    } else {
                        CertProblem::Network
                    };
                    return reply.send(done(CertOutcome::Failed(p)));
                }
            };
            let case_no = c.case_no.clone();
            // Verified before printing, as a bank will check it: signed by the key this
            // terminal trusts.
            let verified = match &key {
                Some(k) => crate::api::document_code::verify(&c.verification_code, k)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("no trusted key configured (backoffice.public_key)".into()),
            };
            if let Err(why) = verified {
                log::error!(
                    "certificate {case_no} not printed: its verification code does not verify: {why}"
                );
                return reply.send(done(CertOutcome::Failed(CertProblem::NotVerified)));
            }
            log::info!("certificate {} issued as {case_no}", c.kind.name());
            let outcome = printing(crate::documents::certificate_job(&c, &centre)).await;
            use crate::print::job::JobState;
            reply.send(done(match outcome.state {
                JobState::Printed(_) => CertOutcome::Printed { case_no },
                JobState::Cancelled => CertOutcome::Failed(CertProblem::Cancelled),
                _ => CertOutcome::Failed(CertProblem::Printer),
            }));
        });
    }

    /// 快办: files the submission (again with the same id while the answer is lost), then
    /// prints the receipt.
    fn submit_quick(
        &self,
        reply: Reply,
        token: String,
        item_id: String,
        submission: crate::api::QuickSubmission,
    ) {
        use flow::quick::{QuickEvent, QuickProblem, ReceiptOutcome};
        let Some(client) = self.client.clone() else {
            return reply.send(Event::Quick(QuickEvent::Submitted(Err(
                QuickProblem::Network,
            ))));
        };
        let centre = self.config.borrow().location.centre.clone();
        let held = reply.clone();
        let on_wait = move |w| held.send(Event::Quick(QuickEvent::ReceiptHeld(w)));
        let printing = self.document_printer(on_wait);
        self.runtime.spawn(async move {
            let mut tries = 0u32;
            let answer = loop {
                tries += 1;
                match client.submit_quick(&token, &item_id, &submission).await {
                    Err(e) if e.is_retryable() && tries < SUBMIT_TRIES => {
                        log::warn!(
                            "快办 {item_id}: try {tries} of {SUBMIT_TRIES} got no answer ({}); again with the same submission id",
                            e.message
                        );
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(tries))).await;
                    }
                    other => break other,
                }
            };
            let receipt = match answer {
                Ok(r) => r,
                Err(e) => {
                    log::warn!("快办 {item_id} not filed: {}", e.message);
                    return reply.send(Event::Quick(QuickEvent::Submitted(Err(quick_problem(&e)))));
                }
            };
            log::info!(
                "快办 {item_id} filed as {}{}",
                receipt.case_no,
                if receipt.repeated { " (a retry of a filed submission)" } else { "" }
            );
            reply.send(Event::Quick(QuickEvent::Submitted(Ok(receipt.clone()))));
            let outcome = printing(crate::documents::receipt_job(&receipt, &centre)).await;
            use crate::print::job::JobState;
            reply.send(Event::Quick(QuickEvent::ReceiptDone(match outcome.state {
                JobState::Printed(_) => ReceiptOutcome::Printed,
                JobState::Cancelled => ReceiptOutcome::Cancelled,
                _ => ReceiptOutcome::Failed,
            })));
        });
    }

    /// The document printer for one job, run later with the job (its cancel is taken
    /// now, on the UI thread): reports the waits, ends with the job's outcome.
    fn document_printer(
        &self,
        on_wait: impl Fn(flow::PrintWait) + Send + 'static,
    ) -> impl FnOnce(crate::print::PrintJob) -> DocumentJob + Send + 'static {
        let config = self.config.borrow().clone();
        let cancel = self.document_cancel.borrow().subscribe();
        move |job| {
            Box::pin(async move {
                let uri = config.printer_uri(PrinterRole::Document);
                let options = config.job_options(PrinterRole::Document);
                let title = job.title.clone();
                let outcome = crate::print::run(&uri, job, &options, cancel, move |s| {
                    use crate::print::job::JobState;
                    if matches!(
                        s,
                        JobState::Held(_)
                            | JobState::Retrying(_)
                            | JobState::Unsupported(_)
                            | JobState::Printing
                    ) {
                        on_wait(flow::PrintWait::of(s));
                    }
                })
                .await;
                log::info!("{title}: {:?} at {}", outcome.state, outcome.place);
                outcome
            })
        }
    }

    /// Runs the query over the catalogue on the runtime.
    fn search(&self, reply: Reply, query: String) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        self.runtime.spawn(async move {
            let answer = catalog.answer(&query, DEFAULT_LIMIT);
            let answer = flow::SearchAnswer {
                items: answer.items.iter().map(|i| i.code.clone()).collect(),
                faq: answer.faq.iter().map(|f| f.id.clone()).collect(),
                no_match: answer.no_match,
                query,
            };
            reply.send(Event::Browse(BrowseEvent::SearchAnswered(answer)));
        });
    }

    /// Prints an item's 办事指南 (or a 一件事's materials list) off the UI thread; a job
    /// still held when the session ends is cancelled, like a card.
    fn print_guide(&self, reply: Reply, code: &str, bundle: bool) {
        let catalog = self.catalog.borrow().clone();
        let config = self.config.borrow().clone();
        let centre = config.location.centre.clone();
        let doc = catalog.and_then(|catalog| {
            if bundle {
                catalog
                    .bundle(code)
                    .map(|v| crate::guide::bundle_document(&v, &centre))
            } else {
                catalog
                    .item(code)
                    .map(|i| crate::guide::item_document(i, &centre))
            }
        });
        let Some(doc) = doc else {
            return reply.send(Event::Browse(BrowseEvent::GuidePrinted(
                flow::GuidePrint::Idle,
            )));
        };
        let (role, uri) = crate::guide::printer_for_guides(&config);
        let title = format!(
            "guide-{code}-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        );
        let job = crate::guide::job(doc, &title, role);
        let options = config.job_options(role);
        let cancel = self.session_end.borrow().subscribe();
        self.runtime.spawn(async move {
            use crate::print::job::JobState;
            let held = reply.clone();
            let outcome = crate::print::run(&uri, job, &options, cancel, move |s| {
                let state = match s {
                    JobState::Held(_) | JobState::Retrying(_) | JobState::Unsupported(_) => {
                        flow::GuidePrint::Held
                    }
                    JobState::Printing => flow::GuidePrint::Printing,
                    _ => return,
                };
                held.send(Event::Browse(BrowseEvent::GuidePrinted(state)));
            })
            .await;
            let state = match &outcome.state {
                JobState::Printed(_) => flow::GuidePrint::Printed,
                // The session ended: the page is gone, nothing to show.
                JobState::Cancelled => flow::GuidePrint::Idle,
                _ => flow::GuidePrint::Failed,
            };
            log::info!("guide {title}: {:?} at {}", outcome.state, outcome.place);
            reply.send(Event::Browse(BrowseEvent::GuidePrinted(state)));
        });
    }

    /// Runs the issuance flow (crate::issuance: require_staff, once a day, the signature
    /// check, the audit); a job still waiting when the session ends is cancelled.
    fn issue_and_print(
        &self,
        reply: Reply,
        id: crate::identity::IdNumber,
        source: crate::resident::IdSource,
        reissue: bool,
        staff: Option<pin::StaffId>,
    ) {
        let issued = |id, outcome| Event::Card(CardEvent::Issued(id, outcome));
        let (Some(client), Some(key)) = (self.client.clone(), self.trusted_key) else {
            return reply.send(issued(id, IssueOutcome::Network));
        };
        let config = self.config.borrow().clone();
        let issuance = match crate::issuance::Issuance::new(
            config.clone(),
            id.clone(),
            source,
            reissue,
            staff,
        ) {
            Ok(i) => i,
            Err(f) => return reply.send(issued(id, issue_outcome(f))),
        };
        let deps = crate::issuance::Deps {
            client,
            key,
            store: self.store.clone(),
        };
        let cancel = self.session_end.borrow().subscribe();
        self.runtime.spawn(async move {
            let uri = config.printer_uri(PrinterRole::Card);
            let held = reply.clone();
            let held_id = id.clone();
            let on_state = move |s: &crate::print::job::JobState| {
                let wait = flow::PrintWait::of(s);
                held.send(Event::Card(CardEvent::PrintHeld(held_id.clone(), wait)));
            };
            let outcome = match issuance.run(&deps, &uri, Some(cancel), on_state).await {
                Ok(_) => IssueOutcome::Printed,
                Err(f) => issue_outcome(f),
            };
            reply.send(issued(id, outcome));
        });
    }

    /// Asks the back office who a scanned 随申码 / 电子身份证 code names.
    fn resolve_code(&self, reply: Reply, code: String) {
        use flow::ResolveOutcome;
        let resolved =
            |code, outcome| Event::Identity(flow::IdentityEvent::CodeResolved(code, outcome));
        let Some(client) = self.client.clone() else {
            return reply.send(resolved(code, ResolveOutcome::Network));
        };
        self.runtime.spawn(async move {
            let outcome = match client.resolve_code(&code).await {
                Ok(r) => {
                    log::info!(
                        "scanned code resolved: a resident identified ({})",
                        r.kind.name()
                    );
                    ResolveOutcome::Found(crate::resident::Resident {
                        id: r.id_number,
                        name: None,
                        masked_name: r.masked_name,
                        source: crate::resident::IdSource::Code,
                        valid_until: None,
                    })
                }
                Err(e) => {
                    use crate::api::limits::codes;
                    log::info!("scanned code not resolved: {}", e.message);
                    if e.code_is(codes::CODE_EXPIRED) {
                        ResolveOutcome::Expired
                    } else if e.code_is(codes::CODE_NOT_FOUND) || e.status == Some(422) {
                        ResolveOutcome::NotFound
                    } else {
                        ResolveOutcome::Network
                    }
                }
            };
            reply.send(resolved(code, outcome));
        });
    }

    /// A scanned 离线码 card: its signature here, its state at the back office.
    fn check_card(&self, reply: Reply, code: String) {
        let checked =
            |code, outcome| Event::Identity(flow::IdentityEvent::CardChecked(code, outcome));
        let Some(key) = self.trusted_key else {
            log::warn!("scanned card not checked: no trusted key (backoffice.public_key)");
            return reply.send(checked(code, flow::CheckOutcome::Forged));
        };
        let payload = match crate::api::offline_code::verify(&code, &key) {
            Ok(p) => p,
            Err(e) => {
                log::info!("scanned card refused: {e}");
                return reply.send(checked(code, flow::CheckOutcome::Forged));
            }
        };
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let status = match &client {
                Some(c) => Some(c.card_status(&payload.card).await),
                None => None,
            };
            let (state, voided_reason) = match status {
                Some(Ok(s)) => (Some(s.state), s.voided_reason),
                Some(Err(e)) if e.status == Some(404) => {
                    return reply.send(checked(code, flow::CheckOutcome::Unknown));
                }
                Some(Err(e)) => {
                    log::info!(
                        "scanned card {}: status not known: {}",
                        payload.card,
                        e.message
                    );
                    (None, None)
                }
                None => (None, None),
            };
            log::info!("scanned card {} checked: {state:?}", payload.card);
            reply.send(checked(
                code,
                flow::CheckOutcome::Verified {
                    card_id: payload.card,
                    masked_name: payload.mn.unwrap_or_default(),
                    masked_id: payload.mid,
                    expires_on: payload.exp,
                    state,
                    voided_reason,
                },
            ));
        });
    }

    /// Commits the rating to the outbox off the UI thread and wakes the uploader. A full
    /// disk (or a store open read-only for that reason) answers `DiskFull`: the resident
    /// is told plainly and the status bar shows it.
    fn store_rating(&self, reply: Reply, rating: crate::api::Rating) {
        use crate::flow::SaveOutcome;
        let Some(store) = self.store.clone() else {
            log::error!("rating not saved: this terminal runs without a local store");
            return reply.send(Event::Rating(RatingEvent::Stored(SaveOutcome::Failed)));
        };
        let waker = self.ratings_waker.clone();
        let window = self.window.clone();
        self.runtime.spawn(async move {
            log::info!(
                "rating {}: level {}, {} reason(s), callback {}",
                rating.id,
                u8::from(rating.level),
                rating.reasons.len(),
                if rating.callback.is_some() {
                    "requested"
                } else {
                    "no"
                }
            );
            let saved =
                crate::store::run(&store, move |s| crate::ratings::record(s, &rating)).await;
            let outcome = match saved {
                Ok(Ok(())) => {
                    if let Some(w) = waker {
                        w.wake();
                    }
                    SaveOutcome::Saved
                }
                Ok(Err(crate::store::StoreError::CaseRated(case))) => {
                    log::info!("rating not saved: the 办件 {case} was rated before");
                    SaveOutcome::CaseRated
                }
                Ok(Err(e)) if e.is_disk_full() => {
                    log::error!("rating not saved: {e}");
                    let detail = e.to_string();
                    let _ = window.upgrade_in_event_loop(move |w| {
                        let s = w.global::<StatusAdapter>();
                        s.set_disk_full(true);
                        s.set_disk_detail(detail.as_str().into());
                    });
                    SaveOutcome::DiskFull
                }
                Ok(Err(e)) => {
                    log::error!("rating not saved: {e}");
                    SaveOutcome::Failed
                }
                Err(e) => {
                    log::error!("rating not saved: {e}");
                    SaveOutcome::Failed
                }
            };
            reply.send(Event::Rating(RatingEvent::Stored(outcome)));
        });
    }

    /// Checks the PIN on the runtime (argon2, the store's lockout).
    fn verify_pin(&self, reply: Reply, typed: flow::Pin) {
        let Some(store) = self.store.clone() else {
            return reply.send(Event::Maintenance(MaintenanceEvent::PinChecked(
                PinAnswer::Unavailable,
            )));
        };
        let config = self.config.borrow().clone();
        let url = match &self.client {
            Some(c) if config.is_embedded() => format!("{} (embedded)", c.base_url()),
            Some(c) => c.base_url().to_string(),
            None => config.backoffice.url.clone(),
        };
        self.runtime.spawn(async move {
            let answer = tokio::task::spawn_blocking(move || {
                let entry = pin::enter(
                    &store,
                    config.technician.pin_hash.as_deref(),
                    typed.expose_pin(),
                    &pin::Now::read(),
                );
                if let Err(e) = &entry {
                    log::error!("PIN check: {e}");
                }
                PinAnswer::from_entry(entry, || flow::MaintenanceInfo {
                    terminal_id: config.terminal.id.clone(),
                    terminal_name: config.terminal.name.clone(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    backoffice_url: url,
                    last_error: crate::logging::last_problem().unwrap_or_default(),
                    settings: setting_rows(&config),
                    printers: PrinterRole::ALL
                        .iter()
                        .map(|&role| flow::PrinterRow {
                            role,
                            uri: config.printer_uri(role).to_string(),
                        })
                        .collect(),
                })
            })
            .await
            .unwrap_or_else(|e| {
                log::error!("PIN check: {e}");
                PinAnswer::Unavailable
            });
            match &answer {
                PinAnswer::Technician(_) => log::info!("maintenance mode entered"),
                PinAnswer::Staff(id) => log::info!("帮办: staff {id} signed in"),
                _ => {}
            }
            reply.send(Event::Maintenance(MaintenanceEvent::PinChecked(answer)));
        });
    }

    /// Runs a maintenance tool on the runtime: the same work as its CLI command, its lines
    /// for the technician as the answer. A test print never waits for the printer (the
    /// first hold cancels it, saying why) and ends with the session.
    fn run_tool(&self, reply: Reply, tool: flow::Tool) {
        use flow::{Tool, ToolReport};
        let config = self.config.borrow().clone();
        let client = self.client.clone();
        let store = self.store.clone();
        let refresh = self.catalogue_refresh.clone();
        let session_end = self.session_end.borrow().subscribe();
        let ratings_waker = self.ratings_waker.clone();
        self.runtime.spawn(async move {
            let mut lines = Vec::new();
            let ok = match tool {
                Tool::TestPrint(role) => {
                    let uri = config.printer_uri(role);
                    let printed = crate::tools::test_print(
                        &config,
                        role,
                        &uri,
                        false,
                        session_end,
                        |l| lines.push(l),
                        |_| {},
                    )
                    .await;
                    let ok = printed.is_ok();
                    lines.push(printed.unwrap_or_else(|e| e));
                    ok
                }
                Tool::SyncRatings => match &store {
                    None => {
                        lines.push("no local store: no ratings are kept here".into());
                        false
                    }
                    Some(store) => {
                        let timeout = Duration::from_secs(30);
                        let policy = crate::ratings::sync::Policy::from_config(&config.ratings);
                        let client = client
                            .as_ref()
                            .ok_or_else(|| "the back office was not reachable at start".into());
                        match crate::ratings::sync::drain(store, client, &policy, timeout, |s| {
                            lines.push(s.to_string())
                        })
                        .await
                        {
                            Ok(d) => {
                                lines.extend(d.lines(timeout));
                                // The uploader's own schedule starts again from here.
                                if let Some(w) = &ratings_waker {
                                    w.wake();
                                }
                                d.counts.pending == 0
                            }
                            Err(e) => {
                                lines.push(e.to_string());
                                false
                            }
                        }
                    }
                },
                Tool::RefreshCatalogue => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let asked = match &refresh {
                        Some(r) => {
                            r.try_send(crate::catalog::sync::Refresh(tx))
                                .map_err(|e| match e {
                                    mpsc::error::TrySendError::Full(_) => {
                                        "a refresh is already waiting".to_string()
                                    }
                                    mpsc::error::TrySendError::Closed(_) => {
                                        "the catalogue worker has stopped; see the log".to_string()
                                    }
                                })
                        }
                        None => Err("no catalogue worker runs here".to_string()),
                    };
                    let answer = match asked {
                        Err(e) => Err(e),
                        Ok(()) => match tokio::time::timeout(Duration::from_secs(60), rx).await {
                            Ok(Ok(a)) => a,
                            Ok(Err(_)) => Err("the catalogue worker stopped; see the log".into()),
                            Err(_) => Err("no answer from the catalogue worker in 60 s".into()),
                        },
                    };
                    let ok = answer.is_ok();
                    lines.push(answer.map_or_else(
                        |e| format!("catalogue not refreshed: {e}"),
                        |o| o.to_string(),
                    ));
                    ok
                }
                Tool::Audit => match &store {
                    None => {
                        lines.push("no local store: nothing is audited here".into());
                        false
                    }
                    Some(store) => match crate::store::run(store, |s| s.audit_tail(30)).await {
                        Ok(Ok(entries)) if entries.is_empty() => {
                            lines.push("no audit entries yet".into());
                            true
                        }
                        Ok(Ok(entries)) => {
                            lines.extend(crate::tools::audit_lines(&entries));
                            true
                        }
                        Ok(Err(e)) => {
                            lines.push(format!("audit not readable: {e}"));
                            false
                        }
                        Err(e) => {
                            lines.push(format!("audit not readable: {e}"));
                            false
                        }
                    },
                },
                Tool::Log => {
                    lines = crate::logging::recent_lines(30);
                    lines.reverse();
                    if lines.is_empty() {
                        lines.push("nothing logged yet".into());
                    }
                    true
                }
            };
            reply.send(Event::Maintenance(MaintenanceEvent::ToolDone(
                tool,
                ToolReport { ok, lines },
            )));
        });
    }

    /// Saves a setting into the settings layer (`<data_dir>/settings.toml`, which the
    /// service may write; the main config file stays root's): the same validator as
    /// `check-config` over every layer, an atomic save, an audit entry, and the value put
    /// in force through the config handle. Or the validator's lines, and nothing saved.
    fn save_setting(&self, reply: Reply, key: String, value: String) {
        let saved = |a| Event::Maintenance(MaintenanceEvent::SettingSaved(a));
        let Some(handle) = self.settings.clone() else {
            return reply.send(saved(SettingAnswer::Refused {
                message: "this terminal runs without a config file; nothing saved".into(),
            }));
        };
        let store = self.store.clone();
        self.runtime.spawn(async move {
            // The config write is file I/O, not store work: its own blocking task.
            let result =
                tokio::task::spawn_blocking(move || handle.set_setting(&key, &value)).await;
            if let (Ok(Ok(c)), Some(store)) = (&result, store) {
                let detail = c.audit_detail("maintenance page");
                let written = crate::store::run(&store, move |s| {
                    s.audit("config_changed", &detail, Some(&Holder::Technician.actor()))
                })
                .await;
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => log::error!("audit config_changed: {e}"),
                    Err(e) => log::error!("audit config_changed: {e}"),
                }
            }
            let answer = match result {
                Ok(Ok(changed)) => {
                    log::info!(
                        "setting changed on the maintenance page: {}",
                        changed.audit_detail("maintenance page")
                    );
                    // Honest about when it takes effect: only what running parts read
                    // again applies now.
                    let when = if !changed.notes.is_empty() {
                        changed.notes.join("; ")
                    } else if crate::config::applied_live(&changed.key) {
                        "in force now".to_string()
                    } else {
                        "applies after a restart".to_string()
                    };
                    SettingAnswer::Saved {
                        message: format!(
                            "{}: saved in {}; {when}",
                            changed.key,
                            changed.file.display()
                        ),
                        settings: setting_rows(&changed.config),
                    }
                }
                Ok(Err(e)) => SettingAnswer::Refused {
                    message: format!("{}; nothing saved", e.lines().join("\n")),
                },
                Err(e) => SettingAnswer::Refused {
                    message: format!("{e}; nothing saved"),
                },
            };
            reply.send(saved(answer));
        });
    }

    /// Writes an audit entry on the runtime (never on the UI thread), then runs `then`.
    fn audit(
        &self,
        kind: &'static str,
        detail: String,
        actor: String,
        then: impl FnOnce() + Send + 'static,
    ) {
        let store = self.store.clone();
        self.runtime.spawn(async move {
            if let Some(store) = store {
                let written =
                    crate::store::run(&store, move |s| s.audit(kind, &detail, Some(&actor))).await;
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => log::error!("audit {kind}: {e}"),
                    Err(e) => log::error!("audit {kind}: {e}"),
                }
            }
            then();
        });
    }
}

/// How the issuance flow's failure shows in the card flow.
fn issue_outcome(f: crate::issuance::Failure) -> IssueOutcome {
    use crate::issuance::Failure;
    match f {
        Failure::Unreachable(_) => IssueOutcome::Network,
        Failure::BadCode(_) => IssueOutcome::CodeRefused,
        Failure::PrintFailed(_) => IssueOutcome::PrintFailed,
        Failure::NotPrinted { .. } => IssueOutcome::NotPrinted,
        Failure::Refused(reason) => IssueOutcome::Refused(reason),
        Failure::AlreadyToday => IssueOutcome::AlreadyIssuedToday,
        Failure::Typed(_) => IssueOutcome::StaffRequired,
        Failure::Cancelled => IssueOutcome::Cancelled,
    }
}

/// Where an effect's answer goes: back to the UI thread, with the command's ticket.
#[derive(Clone)]
struct Reply {
    ticket: Ticket,
    tx: mpsc::UnboundedSender<Answer>,
}

impl Reply {
    fn send(&self, event: Event) {
        // The window (and the controller) may be gone: nothing to show it on.
        let _ = self.tx.send((self.ticket, event));
    }
}

#[cfg(test)]
mod tests {
    /// The page's heading says a saved setting is in force at once: true only while every
    /// setting it offers is one the running parts re-read.
    #[test]
    fn every_setting_on_the_page_applies_live() {
        for key in super::settings() {
            assert!(
                crate::config::applied_live(key),
                "{key} is on the maintenance page but needs a restart"
            );
        }
    }

    #[test]
    fn issuance_failures_show_as_the_card_flow_expects() {
        use crate::flow::IssueOutcome as O;
        use crate::issuance::Failure as F;
        assert_eq!(
            super::issue_outcome(F::Typed(crate::resident::TypedRefusal::StaffRequired)),
            O::StaffRequired
        );
        assert_eq!(super::issue_outcome(F::AlreadyToday), O::AlreadyIssuedToday);
        assert_eq!(super::issue_outcome(F::Unreachable("x".into())), O::Network);
        assert_eq!(super::issue_outcome(F::Cancelled), O::Cancelled);
        assert_eq!(
            super::issue_outcome(F::PrintFailed("x".into())),
            O::PrintFailed
        );
        let gone = F::NotPrinted {
            why: "x".into(),
            card: "C1".into(),
            voided: true,
        };
        assert_eq!(super::issue_outcome(gone), O::NotPrinted);
    }
}
