//! Connects the Slint globals to the controllers: catalogue, search, session (idle, wipe), entries, call-staff.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::*;
use crate::api::{Audience, HelpRequest, ServiceItem};
use crate::backoffice::Client;
use crate::catalog::sync::CatalogState;
use crate::catalog::{Catalog, DEFAULT_LIMIT};
use crate::config::Config;
use crate::identity::IdNumberError;
use crate::session::{IdleState, IdleTimer, ResidentFields};

mod rating;
mod technician;

/// What the UI needs from the rest of the terminal.
pub struct UiDeps {
    pub runtime: tokio::runtime::Handle,
    pub config: watch::Receiver<Arc<Config>>,
    pub catalog: watch::Receiver<CatalogState>,
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
}

/// The real monotonic clock.
pub fn system_clock() -> Rc<dyn Fn() -> Duration> {
    let origin = Instant::now();
    Rc::new(move || origin.elapsed())
}

/// The UI-thread side of the terminal: holds the resident's fields and the idle timer.
pub struct UiController {
    window: slint::Weak<MainWindow>,
    runtime: tokio::runtime::Handle,
    config: watch::Receiver<Arc<Config>>,
    client: Option<Client>,
    catalog: RefCell<Option<Arc<Catalog>>>,
    fields: RefCell<ResidentFields>,
    idle: RefCell<IdleTimer>,
    search_seq: Cell<u64>,
    ticker: slint::Timer,
    clock: Rc<dyn Fn() -> Duration>,
    trusted_key: Option<ed25519_dalek::VerifyingKey>,
    store: Option<Arc<std::sync::Mutex<crate::store::Store>>>,
    ratings_waker: Option<crate::ratings::sync::Waker>,
    settings: Option<crate::config::ConfigHandle>,
    /// Fires when the session ends: a card job still waiting is cancelled, never printed.
    session_end: RefCell<watch::Sender<bool>>,
    /// The PIN pad and the maintenance page.
    tech: technician::TechState,
}

fn item_row(i: &ServiceItem) -> ItemRow {
    ItemRow {
        code: i.code.as_str().into(),
        name: i.name.as_str().into(),
        department: i.department.as_str().into(),
        high_frequency: i.high_frequency,
        online: i.online,
    }
}

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

fn strings(v: &[String]) -> ModelRc<SharedString> {
    model(v.iter().map(|s| SharedString::from(s.as_str())).collect())
}

fn material_row(name: &str, form: &str, count: u32, note: Option<&str>) -> MaterialRow {
    MaterialRow {
        name: name.into(),
        form: form.into(),
        count: count as i32,
        note: note.unwrap_or("").into(),
    }
}

fn item_detail(i: &ServiceItem) -> ItemDetail {
    ItemDetail {
        code: i.code.as_str().into(),
        name: i.name.as_str().into(),
        department: i.department.as_str().into(),
        theme: i.theme.as_str().into(),
        summary: i.summary.as_str().into(),
        conditions: strings(&i.conditions),
        materials: model(
            i.materials
                .iter()
                .map(|m| material_row(&m.name, &m.form, m.count, m.note.as_deref()))
                .collect(),
        ),
        legal_limit_days: i.legal_limit_days.map_or(-1, |d| d as i32),
        promised_limit_days: i.promised_limit_days as i32,
        fee: i.fee.as_str().into(),
        locations: model(
            i.locations
                .iter()
                .map(|l| SharedString::from(format!("{}，{}，{}", l.name, l.address, l.hours)))
                .collect(),
        ),
        visits: i.visits as i32,
        online: i.online,
    }
}

fn id_error_code(e: &IdNumberError) -> i32 {
    match e {
        IdNumberError::WrongLength(_) => 1,
        IdNumberError::BadCharacter => 2,
        IdNumberError::ImpossibleDate => 3,
        IdNumberError::FutureDate => 4,
        IdNumberError::BadChecksum => 5,
    }
}

/// Builds the controller and connects every callback. Call on the UI thread.
pub fn connect(window: &MainWindow, deps: UiDeps) -> Rc<UiController> {
    let config = deps.config.borrow().clone();
    let theme = window.global::<Theme>();
    theme.set_dpi(config.display.dpi as f32);
    theme.set_large(config.display.large_font);
    window
        .global::<StatusAdapter>()
        .set_terminal_name(config.terminal.name.as_str().into());
    window
        .global::<StatusAdapter>()
        .set_backoffice_up(deps.client.is_some());

    let ctl = Rc::new(UiController {
        window: window.as_weak(),
        runtime: deps.runtime.clone(),
        config: deps.config.clone(),
        client: deps.client,
        catalog: RefCell::new(None),
        fields: RefCell::new(ResidentFields::default()),
        idle: RefCell::new(IdleTimer::new(
            Duration::from_secs(
                config
                    .display
                    .idle_timeout_s
                    .clamp(1, crate::config::MAX_IDLE_TIMEOUT_S) as u64,
            ),
            Duration::from_secs(10),
            (deps.clock)(),
        )),
        search_seq: Cell::new(0),
        ticker: slint::Timer::default(),
        clock: deps.clock.clone(),
        trusted_key: deps.trusted_key,
        store: deps.store,
        ratings_waker: deps.ratings_waker,
        settings: deps.settings,
        session_end: RefCell::new(watch::channel(false).0),
        tech: technician::TechState::default(),
    });

    // Settings that may change live (the back office's remote config): notices on home.
    {
        let weak = window.as_weak();
        let mut rx = deps.config.clone();
        window
            .global::<StatusAdapter>()
            .set_notices(strings(&config.display.notices));
        deps.runtime.spawn(async move {
            while rx.changed().await.is_ok() {
                let notices = rx.borrow_and_update().display.notices.clone();
                let sent = weak.upgrade_in_event_loop(move |w| {
                    w.global::<StatusAdapter>().set_notices(strings(&notices));
                });
                if sent.is_err() {
                    return;
                }
            }
        });
    }

    // Catalogue: every new copy is applied on the UI thread; the copy itself was built off it.
    {
        let weak = window.as_weak();
        let mut rx = deps.catalog.clone();
        let stale_after = Duration::from_secs(config.catalogue.stale_after_s.max(0) as u64);
        deps.runtime.spawn(async move {
            loop {
                let state = rx.borrow_and_update().clone();
                if state.catalog.is_some() {
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
                    if weak
                        .upgrade_in_event_loop(move |w| {
                            let ctl = CONTROLLER.with(|c| c.borrow().clone());
                            if let (Some(ctl), Some(catalog)) = (ctl, state.catalog) {
                                ctl.apply_catalog(&w, catalog, stale, updated);
                            }
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    CONTROLLER.with(|c| *c.borrow_mut() = Some(ctl.clone()));

    let w = window.global::<Session>();
    {
        let ctl = ctl.clone();
        w.on_activity(move || ctl.idle.borrow_mut().activity((ctl.clock)()));
    }

    let s = window.global::<SessionAdapter>();
    {
        let ctl = ctl.clone();
        s.on_wake(move || {
            ctl.idle.borrow_mut().arm((ctl.clock)());
            ctl.with_window(|w| w.global::<SessionAdapter>().set_page(Page::Home));
        });
    }
    {
        let ctl = ctl.clone();
        s.on_go(move |page| {
            // The ID typed for a card is kept only while that flow is open.
            let leaving_card_flow = ctl.window.upgrade().is_some_and(|w| {
                w.global::<SessionAdapter>().get_page() == Page::OfflineCode
                    && page != Page::OfflineCode
            });
            let leaving_technician = ctl.window.upgrade().is_some_and(|w| {
                w.global::<SessionAdapter>().get_page() == Page::Technician
                    && page != Page::Technician
            });
            if leaving_technician {
                ctl.technician_page_left();
            }
            if page == Page::OfflineCode || leaving_card_flow {
                ctl.edit_id(|e| e.clear());
                ctl.with_window(|w| {
                    UiController::set_offline_step(w, 0, 0, "");
                    w.global::<OfflineCodeAdapter>().set_masked_name("".into());
                });
            }
            ctl.with_window(|w| w.global::<SessionAdapter>().set_page(page))
        });
    }
    {
        let ctl = ctl.clone();
        s.on_toggle_large(move || {
            ctl.with_window(|w| {
                let t = w.global::<Theme>();
                t.set_large(!t.get_large());
            })
        });
    }
    {
        let ctl = ctl.clone();
        s.on_toggle_language(move || {
            ctl.with_window(|w| {
                let s = w.global::<SessionAdapter>();
                set_language(w, !s.get_english());
            })
        });
    }
    {
        let ctl = ctl.clone();
        s.on_more_time(move || {
            ctl.idle.borrow_mut().activity((ctl.clock)());
            ctl.with_window(|w| w.global::<SessionAdapter>().set_countdown(0));
        });
    }
    {
        let ctl = ctl.clone();
        s.on_call_staff(move || ctl.call_staff());
    }
    {
        let ctl = ctl.clone();
        s.on_dismiss_help(move || {
            ctl.with_window(|w| w.global::<SessionAdapter>().set_help_state(0))
        });
    }
    {
        let ctl = ctl.clone();
        s.on_hidden_gesture(move || ctl.open_pin_pad());
    }

    let c = window.global::<CatalogAdapter>();
    {
        let ctl = ctl.clone();
        c.on_type_key(move |k| {
            let q = {
                let mut f = ctl.fields.borrow_mut();
                if f.query.chars().count() < 32 {
                    f.query.push_str(&k);
                }
                f.query.clone()
            };
            ctl.search(q);
        });
    }
    {
        let ctl = ctl.clone();
        c.on_backspace(move || {
            let q = {
                let mut f = ctl.fields.borrow_mut();
                f.query.pop();
                f.query.clone()
            };
            ctl.search(q);
        });
    }
    {
        let ctl = ctl.clone();
        c.on_clear_query(move || {
            ctl.fields.borrow_mut().query.clear();
            ctl.search(String::new());
        });
    }
    {
        let ctl = ctl.clone();
        c.on_open_item(move |code| ctl.open_item(&code));
    }
    {
        let ctl = ctl.clone();
        c.on_choose_audience(move |a| ctl.choose_audience(a));
    }
    {
        let ctl = ctl.clone();
        c.on_open_theme(move |t| ctl.open_theme(&t));
    }
    {
        let ctl = ctl.clone();
        c.on_open_bundle(move |b| ctl.open_bundle(&b));
    }
    {
        let ctl = ctl.clone();
        c.on_print_guide(move |code| ctl.print_guide(&code, false));
    }
    {
        let ctl = ctl.clone();
        c.on_print_bundle(move |code| ctl.print_guide(&code, true));
    }

    let o = window.global::<OfflineCodeAdapter>();
    {
        let ctl = ctl.clone();
        o.on_key(move |k| ctl.edit_id(|e| e.key(&k)));
    }
    {
        let ctl = ctl.clone();
        o.on_backspace(move || ctl.edit_id(|e| e.backspace()));
    }
    {
        let ctl = ctl.clone();
        o.on_clear(move || ctl.edit_id(|e| e.clear()));
    }
    {
        let ctl = ctl.clone();
        o.on_submit(move || {
            let parsed = ctl.fields.borrow().id.parse();
            match parsed {
                Ok(id) => ctl.lookup_resident(id),
                Err(e) => ctl.with_window(|w| {
                    w.global::<OfflineCodeAdapter>()
                        .set_error(id_error_code(&e))
                }),
            }
        });
    }
    {
        let ctl = ctl.clone();
        o.on_confirm(move || {
            if let Ok(id) = ctl.fields.borrow().id.parse() {
                ctl.issue_and_print(id, false);
            }
        });
    }
    {
        let ctl = ctl.clone();
        o.on_reissue(move || {
            if let Ok(id) = ctl.fields.borrow().id.parse() {
                ctl.issue_and_print(id, true);
            }
        });
    }
    {
        let ctl = ctl.clone();
        o.on_report_lost(move || {
            if let Ok(id) = ctl.fields.borrow().id.parse() {
                ctl.report_lost(id);
            }
        });
    }

    ctl.connect_rating(window);

    technician::connect(window, &ctl);

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

/// Switches the UI language at run time (bundled translations; zh_CN is the original).
pub fn set_language(w: &MainWindow, english: bool) {
    let lang = if english { "en" } else { "" };
    match slint::select_bundled_translation(lang) {
        Ok(()) => w.global::<SessionAdapter>().set_english(english),
        Err(e) => log::warn!("language {lang:?}: {e}"),
    }
}

thread_local! {
    /// The controller of this UI thread, for results coming back from the runtime.
    static CONTROLLER: RefCell<Option<Rc<UiController>>> = const { RefCell::new(None) };
}

impl UiController {
    fn with_window(&self, f: impl FnOnce(&MainWindow)) {
        if let Some(w) = self.window.upgrade() {
            f(&w);
        }
    }

    pub fn apply_catalog(
        &self,
        w: &MainWindow,
        catalog: Arc<Catalog>,
        stale: bool,
        updated: String,
    ) {
        let c = w.global::<CatalogAdapter>();
        c.set_high_frequency(model(
            catalog
                .high_frequency()
                .into_iter()
                .take(12)
                .map(item_row)
                .collect(),
        ));
        c.set_bundles(model(
            catalog
                .bundles()
                .iter()
                .map(|b| BundleRow {
                    code: b.code.as_str().into(),
                    name: b.name.as_str().into(),
                    summary: b.summary.as_str().into(),
                    count: b.items.len() as i32,
                })
                .collect(),
        ));
        c.set_faqs(model(
            catalog
                .data
                .faqs
                .iter()
                .take(40)
                .map(|f| FaqRow {
                    id: f.id.as_str().into(),
                    question: f.question.as_str().into(),
                    answer: f.answer.as_str().into(),
                })
                .collect(),
        ));
        c.set_stale(stale);
        c.set_updated_at(updated.into());
        c.set_loading(false);
        *self.catalog.borrow_mut() = Some(catalog);
        self.choose_audience(c.get_audience());
    }

    /// Runs the query on the runtime; only the newest query's answer is shown.
    pub fn search(&self, query: String) {
        let seq = self.search_seq.get() + 1;
        self.search_seq.set(seq);
        self.with_window(|w| {
            w.global::<CatalogAdapter>()
                .set_query(query.as_str().into())
        });
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let answer = catalog.answer(&query, DEFAULT_LIMIT);
            let rows: Vec<ItemRow> = answer.items.iter().map(|i| item_row(i)).collect();
            let faq: Vec<FaqRow> = answer
                .faq
                .iter()
                .map(|f| FaqRow {
                    id: f.id.as_str().into(),
                    question: f.question.as_str().into(),
                    answer: f.answer.as_str().into(),
                })
                .collect();
            let no_match = answer.no_match;
            let _ = weak.upgrade_in_event_loop(move |w| {
                let current = CONTROLLER.with(|c| c.borrow().as_ref().map(|c| c.search_seq.get()));
                if current != Some(seq) {
                    return;
                }
                let c = w.global::<CatalogAdapter>();
                c.set_results(model(rows));
                c.set_faq_results(model(faq));
                c.set_no_match(no_match);
            });
        });
    }

    pub fn open_item(&self, code: &str) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        let Some(item) = catalog.item(code) else {
            return;
        };
        self.fields.borrow_mut().shown_item = Some(item.code.clone());
        self.with_window(|w| {
            let s = w.global::<SessionAdapter>();
            if s.get_page() != Page::Item {
                s.set_item_return(s.get_page());
            }
            w.global::<CatalogAdapter>().set_item(item_detail(item));
            w.global::<CatalogAdapter>().set_guide_print(0);
            s.set_page(Page::Item);
        });
    }

    pub fn choose_audience(&self, audience: i32) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        let a = if audience == 1 {
            Audience::Legal
        } else {
            Audience::Personal
        };
        self.with_window(|w| {
            let c = w.global::<CatalogAdapter>();
            c.set_audience(audience);
            c.set_theme("".into());
            c.set_themes(model(
                catalog
                    .themes(a)
                    .into_iter()
                    .map(|g| GroupRow {
                        name: g.name.into(),
                        count: g.count as i32,
                    })
                    .collect(),
            ));
        });
    }

    pub fn open_theme(&self, theme: &str) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        self.with_window(|w| {
            let c = w.global::<CatalogAdapter>();
            let a = if c.get_audience() == 1 {
                Audience::Legal
            } else {
                Audience::Personal
            };
            c.set_theme(theme.into());
            c.set_theme_items(model(
                catalog
                    .items_in(a, Some(theme), None)
                    .into_iter()
                    .map(item_row)
                    .collect(),
            ));
        });
    }

    pub fn open_bundle(&self, code: &str) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        let Some(view) = catalog.bundle(code) else {
            return;
        };
        let detail = BundleDetail {
            code: view.bundle.code.as_str().into(),
            name: view.bundle.name.as_str().into(),
            summary: view.bundle.summary.as_str().into(),
            items: model(view.items.iter().map(|i| item_row(i)).collect()),
            materials: model(
                view.materials
                    .iter()
                    .map(|m| material_row(&m.name, &m.form, m.count, None))
                    .collect(),
            ),
        };
        self.with_window(|w| {
            w.global::<CatalogAdapter>().set_bundle(detail);
            w.global::<CatalogAdapter>().set_guide_print(0);
            w.global::<SessionAdapter>().set_page(Page::Bundle);
        });
    }

    /// Prints an item's 办事指南 (or a 一件事's materials list) off the UI thread; the
    /// page shows printing / held / printed / failed. A job still held when the session
    /// ends is cancelled, like a card.
    pub fn print_guide(&self, code: &str, bundle: bool) {
        let Some(catalog) = self.catalog.borrow().clone() else {
            return;
        };
        let config = self.config.borrow().clone();
        let centre = config.location.centre.clone();
        let doc = if bundle {
            catalog
                .bundle(code)
                .map(|v| crate::guide::bundle_document(&v, &centre))
        } else {
            catalog
                .item(code)
                .map(|i| crate::guide::item_document(i, &centre))
        };
        let Some(doc) = doc else {
            return;
        };
        let (role, uri) = crate::guide::printer_for_guides(&config);
        let title = format!(
            "guide-{code}-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        );
        let job = crate::guide::job(doc, &title, role);
        let options = crate::print::JobOptions {
            qr: config.printer(role).qr,
            user: config.terminal.id.clone(),
            ca_file: config.printer_ca_file(role),
            ..Default::default()
        };
        let cancel = self.session_end.borrow().subscribe();
        self.with_window(|w| w.global::<CatalogAdapter>().set_guide_print(1));
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            use crate::print::job::JobState;
            let held_weak = weak.clone();
            let outcome = crate::print::run(&uri, job, &options, cancel, move |s| {
                let state = match s {
                    JobState::Held(_) | JobState::Retrying(_) => 2,
                    JobState::Printing => 1,
                    _ => return,
                };
                let _ = held_weak.upgrade_in_event_loop(move |w| {
                    w.global::<CatalogAdapter>().set_guide_print(state)
                });
            })
            .await;
            let state = match &outcome.state {
                JobState::Printed(_) => 3,
                // The session ended: the page is gone, nothing to show.
                JobState::Cancelled => 0,
                _ => 4,
            };
            log::info!("guide {title}: {:?} at {}", outcome.state, outcome.place);
            let _ = weak.upgrade_in_event_loop(move |w| {
                w.global::<CatalogAdapter>().set_guide_print(state)
            });
        });
    }

    fn edit_id(&self, f: impl FnOnce(&mut crate::session::IdEntry)) {
        let (shown, complete) = {
            let mut fields = self.fields.borrow_mut();
            f(&mut fields.id);
            (fields.id.display(), fields.id.len() == 18)
        };
        self.with_window(|w| {
            let o = w.global::<OfflineCodeAdapter>();
            o.set_id_entry(shown.into());
            o.set_complete(complete);
            o.set_step(0);
            o.set_error(0);
        });
    }

    pub(crate) fn set_offline_step(w: &MainWindow, step: i32, failure: i32, reason: &str) {
        let o = w.global::<OfflineCodeAdapter>();
        o.set_step(step);
        o.set_failure(failure);
        o.set_reason(reason.into());
    }

    /// Asks the back office who this is (masked name) and whether a card may be printed.
    fn lookup_resident(&self, id: crate::identity::IdNumber) {
        let Some(client) = self.client.clone() else {
            self.with_window(|w| Self::set_offline_step(w, 6, 1, ""));
            return;
        };
        self.with_window(|w| Self::set_offline_step(w, 1, 0, ""));
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let answer = crate::issuance::lookup(&client, id).await;
            let _ = weak.upgrade_in_event_loop(move |w| match answer {
                Ok(who) => {
                    w.global::<OfflineCodeAdapter>()
                        .set_masked_name(who.masked_name.as_str().into());
                    w.global::<OfflineCodeAdapter>()
                        .set_has_card(who.active_card.is_some());
                    if who.eligible {
                        Self::set_offline_step(&w, 2, 0, "");
                    } else {
                        Self::set_offline_step(&w, 3, 0, who.reason.as_deref().unwrap_or(""));
                    }
                }
                Err(f) => {
                    let (step, failure, reason) = Self::offline_failure(&f);
                    Self::set_offline_step(&w, step, failure, &reason)
                }
            });
        });
    }

    /// How a failed 离线码 step shows: (step, failure, reason); step -1 shows nothing (the
    /// session that asked has ended).
    fn offline_failure(f: &crate::issuance::Failure) -> (i32, i32, String) {
        use crate::issuance::Failure;
        match f {
            Failure::Unreachable(_) => (6, 1, String::new()),
            Failure::BadCode(_) => (6, 2, String::new()),
            Failure::PrintFailed(_) => (6, 3, String::new()),
            Failure::Refused(reason) => (6, 4, reason.clone()),
            Failure::AlreadyToday => (6, 5, String::new()),
            Failure::StaffRequired => (6, 6, String::new()),
            Failure::Cancelled => (-1, 0, String::new()),
        }
    }

    /// 挂失: the back office voids the resident's valid card; audited with the masked ID.
    fn report_lost(&self, id: crate::identity::IdNumber) {
        let Some(client) = self.client.clone() else {
            self.with_window(|w| Self::set_offline_step(w, 6, 1, ""));
            return;
        };
        self.with_window(|w| Self::set_offline_step(w, 1, 0, ""));
        let (store, terminal) = (self.store.clone(), self.config.borrow().terminal.id.clone());
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let (step, failure, reason) =
                match crate::issuance::report_lost(&client, store.as_ref(), &terminal, id).await {
                    Ok(_) => (7, 0, String::new()),
                    Err(f) => Self::offline_failure(&f),
                };
            let _ = weak.upgrade_in_event_loop(move |w| {
                w.global::<OfflineCodeAdapter>().set_has_card(false);
                Self::set_offline_step(&w, step, failure, &reason)
            });
        });
    }

    /// Runs the issuance flow (crate::issuance: require_staff, once a day, the signature
    /// check, the audit) and shows where it is; a job still waiting when the session ends
    /// is cancelled.
    fn issue_and_print(&self, id: crate::identity::IdNumber, reissue: bool) {
        let (Some(client), Some(key)) = (self.client.clone(), self.trusted_key) else {
            self.with_window(|w| Self::set_offline_step(w, 6, 1, ""));
            return;
        };
        let config = self.config.borrow().clone();
        let issuance =
            match crate::issuance::Issuance::new(config.clone(), id, reissue, self.staff()) {
                Ok(i) => i,
                Err(f) => {
                    let (step, failure, reason) = Self::offline_failure(&f);
                    self.with_window(|w| Self::set_offline_step(w, step, failure, &reason));
                    return;
                }
            };
        self.with_window(|w| Self::set_offline_step(w, 4, 0, ""));
        let deps = crate::issuance::Deps {
            client,
            key,
            store: self.store.clone(),
        };
        let cancel = self.session_end.borrow().subscribe();
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let uri = config.printer_uri(crate::config::PrinterRole::Card);
            let held_weak = weak.clone();
            let on_state = move |s: &crate::print::job::JobState| {
                use crate::print::job::JobState;
                let held = matches!(s, JobState::Held(_) | JobState::Retrying(_));
                let _ = held_weak.upgrade_in_event_loop(move |w| {
                    w.global::<OfflineCodeAdapter>().set_held(held)
                });
            };
            let (step, failure, reason) =
                match issuance.run(&deps, &uri, Some(cancel), on_state).await {
                    Ok(_) => (5, 0, String::new()),
                    Err(f) => Self::offline_failure(&f),
                };
            let _ = weak.upgrade_in_event_loop(move |w| {
                w.global::<OfflineCodeAdapter>().set_held(false);
                if step >= 0 {
                    Self::set_offline_step(&w, step, failure, &reason)
                }
            });
        });
    }

    fn call_staff(&self) {
        let page = self
            .window
            .upgrade()
            .map(|w| format!("{:?}", w.global::<SessionAdapter>().get_page()))
            .unwrap_or_default();
        let terminal_id = self.config.borrow().terminal.id.clone();
        let weak = self.window.clone();
        let Some(client) = self.client.clone() else {
            self.with_window(|w| w.global::<SessionAdapter>().set_help_state(2));
            return;
        };
        self.runtime.spawn(async move {
            let req = HelpRequest {
                id: uuid::Uuid::now_v7(),
                terminal_id,
                page: page.to_lowercase(),
                requested_at: chrono::Utc::now(),
            };
            let state = match client.help(&req).await {
                Ok(_) => 1,
                Err(e) => {
                    log::warn!("help request failed: {e}");
                    2
                }
            };
            let _ = weak
                .upgrade_in_event_loop(move |w| w.global::<SessionAdapter>().set_help_state(state));
        });
    }

    /// Ends the resident session: every typed or chosen value is wiped from the
    /// controllers and from the UI's properties, then the attract screen shows.
    pub fn wipe_session(&self) {
        // A card still waiting for the printer belongs to this session: cancel it.
        let _ = self.session_end.borrow().send(true);
        *self.session_end.borrow_mut() = watch::channel(false).0;
        if let Some(staff) = self.fields.borrow_mut().staff.take() {
            self.audit_staff_session_end(staff);
        }
        self.fields.borrow_mut().wipe();
        self.idle.borrow_mut().disarm();
        self.search_seq.set(self.search_seq.get() + 1);
        let large_default = self.config.borrow().display.large_font;
        let english_default = self.config.borrow().display.language == "en";
        self.with_window(|w| {
            let c = w.global::<CatalogAdapter>();
            c.set_query("".into());
            c.set_results(model(Vec::new()));
            c.set_faq_results(model(Vec::new()));
            c.set_no_match(false);
            c.set_theme("".into());
            c.set_guide_print(0);
            let o = w.global::<OfflineCodeAdapter>();
            o.set_id_entry("".into());
            o.set_complete(false);
            o.set_error(0);
            o.set_step(0);
            o.set_masked_name("".into());
            o.set_reason("".into());
            o.set_failure(0);
            o.set_held(false);
            o.set_has_card(false);
            let r = w.global::<RatingAdapter>();
            r.set_step(0);
            r.set_level(0);
            r.set_error(0);
            r.set_service_kind(0);
            r.set_service_name("".into());
            r.set_reasons(model(Vec::new()));
            r.set_callback(false);
            r.set_phone_entry("".into());
            self.end_staff_and_maintenance(w);
            let s = w.global::<SessionAdapter>();
            s.set_countdown(0);
            s.set_help_state(0);
            s.set_page(Page::Attract);
            w.global::<Theme>().set_large(large_default);
            set_language(w, english_default);
        });
        // The next resident starts at 个人 again, as at a fresh start.
        self.choose_audience(0);
        log::info!("resident session ended; fields wiped");
    }

    fn tick(&self) {
        let config = self.config.borrow().clone();
        self.idle.borrow_mut().set_timeout(Duration::from_secs(
            config
                .display
                .idle_timeout_s
                .clamp(1, crate::config::MAX_IDLE_TIMEOUT_S) as u64,
        ));
        let state = self.idle.borrow().state((self.clock)());
        match state {
            IdleState::Active => self.with_window(|w| {
                let s = w.global::<SessionAdapter>();
                if s.get_countdown() != 0 {
                    s.set_countdown(0);
                }
            }),
            IdleState::Countdown(n) => {
                self.with_window(|w| w.global::<SessionAdapter>().set_countdown(n as i32))
            }
            IdleState::Expired => self.wipe_session(),
        }
        let clock = chrono::Local::now().format("%H:%M").to_string();
        self.with_window(|w| {
            let st = w.global::<StatusAdapter>();
            if st.get_clock() != clock.as_str() {
                st.set_clock(clock.into());
            }
        });
    }
}
