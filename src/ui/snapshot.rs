//! Headless rendering through Slint's testing backend and software renderer: `civic-kiosk screenshot`, reviews and UI tests.

use slint::ComponentHandle;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::catalog::Catalog;
use crate::catalog::sync::CatalogState;
use crate::config::Config;

/// Installs the headless platform (once per process). With `mock_time`, Slint's timers
/// follow [`i_slint_backend_testing::mock_elapsed_time`] and so does the idle clock.
pub fn init_headless(mock_time: bool) {
    let backend = i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time,
            threading: true,
            renderer_name: Some("software".into()),
        },
    );
    let _ = slint::platform::set_platform(Box::new(backend));
}

/// The clock the idle timer should use on the headless platform.
pub fn headless_clock(mock_time: bool) -> Rc<dyn Fn() -> Duration> {
    if mock_time {
        Rc::new(|| Duration::from_millis(i_slint_backend_testing::get_mocked_time()))
    } else {
        crate::ui::system_clock()
    }
}

/// A window with its controller, running headless.
pub struct Headless {
    pub window: MainWindow,
    pub controller: Rc<UiController>,
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// The config the window follows.
    pub config: tokio::sync::watch::Receiver<Arc<Config>>,
    /// Keeps the fixed config's channel open when no [`ConfigHandle`] is given.
    ///
    /// [`ConfigHandle`]: crate::config::ConfigHandle
    _config_tx: tokio::sync::watch::Sender<Arc<Config>>,
    /// The catalogue worker's shutdown ([`HeadlessOptions::catalogue_worker`]): it stops
    /// when this is dropped with the window.
    _catalogue_shutdown: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("UI: {0}")]
    Ui(String),
    #[error("{0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    #[error("PNG: {0}")]
    Png(String),
    #[error("unknown page '{0}'; use one of: {1}")]
    UnknownPage(String, String),
}

/// What a headless window is built with, beyond its config.
pub struct HeadlessOptions {
    pub catalog: Option<Arc<Catalog>>,
    pub client: Option<crate::backoffice::Client>,
    pub trusted_key: Option<ed25519_dalek::VerifyingKey>,
    /// The local store (PINs, audits, one card a day); `None`: none, as in screenshots.
    pub store: Option<Arc<std::sync::Mutex<crate::store::Store>>>,
    /// The config's layers: the maintenance page saves into their settings layer, and the
    /// window follows the config they put in force (instead of the fixed `config` given).
    /// `None`: settings are read-only.
    pub settings: Option<crate::config::ConfigHandle>,
    pub width: u32,
    pub height: u32,
    pub mock_time: bool,
    /// The reader's and scanner's events (`crate::devices::Devices::start`); `None`: none.
    pub identity: Option<tokio::sync::mpsc::UnboundedReceiver<crate::flow::IdentityEvent>>,
    /// Run the terminal's catalogue worker (as `run` does) on `client` and `store`: it
    /// syncs at start and answers the maintenance page's 刷新目录. Off: the `catalog`
    /// given stays.
    pub catalogue_worker: bool,
}

/// A portrait 1080×1920 window on mocked time, with nothing attached: tests name what
/// they attach.
impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            catalog: None,
            client: None,
            trusted_key: None,
            store: None,
            settings: None,
            width: 1080,
            height: 1920,
            mock_time: true,
            identity: None,
            catalogue_worker: false,
        }
    }
}

impl Headless {
    /// A window of `width`×`height` with the given catalogue and (optional) back-office client.
    pub fn new(
        config: Arc<Config>,
        catalog: Option<Arc<Catalog>>,
        client: Option<crate::backoffice::Client>,
        trusted_key: Option<ed25519_dalek::VerifyingKey>,
        width: u32,
        height: u32,
        mock_time: bool,
    ) -> Result<Self, SnapshotError> {
        Self::with_options(
            config,
            HeadlessOptions {
                catalog,
                client,
                trusted_key,
                store: None,
                settings: None,
                width,
                height,
                mock_time,
                identity: None,
                catalogue_worker: false,
            },
        )
    }

    /// A window built from [`HeadlessOptions`].
    pub fn with_options(config: Arc<Config>, opts: HeadlessOptions) -> Result<Self, SnapshotError> {
        let HeadlessOptions {
            catalog,
            client,
            trusted_key,
            store,
            settings,
            width,
            height,
            mock_time,
            identity,
            catalogue_worker,
        } = opts;
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| SnapshotError::Ui(e.to_string()))?,
        );
        let window = MainWindow::new().map_err(|e| SnapshotError::Ui(e.to_string()))?;
        window
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        let (config_tx, mut config_rx) = tokio::sync::watch::channel(config);
        if let Some(handle) = &settings {
            config_rx = handle.subscribe();
        }
        let config_rx_kept = config_rx.clone();
        let (cat_tx, cat_rx) = tokio::sync::watch::channel(CatalogState::default());
        let (catalogue_shutdown, shutdown) = tokio::sync::watch::channel(false);
        let catalogue_refresh = match (&client, &store) {
            (Some(client), Some(store)) if catalogue_worker => {
                let (refresh_tx, refresh_rx) = tokio::sync::mpsc::channel(1);
                runtime.spawn(crate::catalog::sync::run_worker(
                    client.clone(),
                    store.clone(),
                    cat_tx,
                    config_rx.clone(),
                    shutdown,
                    Arc::new(tokio::sync::Mutex::new(refresh_rx)),
                ));
                Some(refresh_tx)
            }
            _ => None,
        };
        let controller = connect(
            &window,
            UiDeps {
                runtime: runtime.handle().clone(),
                config: config_rx,
                catalog: cat_rx,
                catalogue_refresh,
                client,
                clock: headless_clock(mock_time),
                trusted_key,
                store,
                ratings_waker: None,
                settings,
                identity,
            },
        );
        if let Some(c) = catalog {
            controller.apply_catalog(&window, c, false, String::new());
        }
        window
            .show()
            .map_err(|e| SnapshotError::Ui(e.to_string()))?;
        Ok(Self {
            window,
            controller,
            runtime,
            config: config_rx_kept,
            _config_tx: config_tx,
            _catalogue_shutdown: catalogue_shutdown,
        })
    }

    /// Starts the status bar's health loop (as `run` does), every `every`.
    pub fn spawn_health(&self, client: Option<crate::backoffice::Client>, every: Duration) {
        super::health::spawn_health(
            self.runtime.handle(),
            &self.window,
            self.config.clone(),
            client,
            every,
        );
    }

    /// Runs the event loop until `done` holds or `timeout` passes (results posted from the
    /// runtime arrive through the event loop).
    pub fn pump_until(&self, timeout: Duration, done: impl Fn(&MainWindow) -> bool) -> bool {
        let start = std::time::Instant::now();
        loop {
            let _ = slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            });
            let _ = slint::run_event_loop();
            if done(&self.window) {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Renders the window and writes a PNG.
    pub fn save_png(&self, path: &Path) -> Result<(), SnapshotError> {
        let buffer = self
            .window
            .window()
            .take_snapshot()
            .map_err(|e| SnapshotError::Ui(e.to_string()))?;
        write_png(path, buffer.width(), buffer.height(), buffer.as_bytes())
    }
}

fn write_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), SnapshotError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SnapshotError::Io(dir.to_path_buf(), e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| SnapshotError::Io(path.to_path_buf(), e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| SnapshotError::Png(e.to_string()))?;
    w.write_image_data(rgba)
        .map_err(|e| SnapshotError::Png(e.to_string()))?;
    w.finish().map_err(|e| SnapshotError::Png(e.to_string()))
}

/// Every page `screenshot` knows, with how to reach it from a fresh session.
pub const PAGES: &[&str] = &[
    "attract",
    "home",
    "catalogue",
    "catalogue-theme",
    "item",
    "item-chinese-only",
    "bundle",
    "bundle-en",
    "search",
    "search-no-match",
    "faq",
    "offline-code",
    "offline-code-error",
    "offline-code-confirm",
    "offline-code-take-card",
    "offline-code-print-failed",
    "offline-code-not-printed",
    "home-identified",
    "offline-code-place-card",
    "offline-code-confirm-card",
    "offline-code-take-card-id",
    "id-expired",
    "code-expired",
    "card-check-valid",
    "card-check-lost",
    "mine",
    "applications",
    "certificates",
    "certificates-held",
    "quick-list",
    "quick-intro",
    "quick-field-mobile",
    "quick-field-date",
    "quick-confirm",
    "done-result",
    "done-choice",
    "rating-case",
    "rating",
    "technician",
    "technician-locked",
    "maintenance",
    "staff",
    "idle-countdown",
    "call-staff",
];

/// Puts the window on `page` with demo content. Returns false for an unknown name.
pub fn show_page(h: &Headless, page: &str) -> bool {
    show_page_in(h, page, false)
}

/// [`show_page`] with the session in English when `english`: the catalogue's content
/// (items, themes, bundles) in English too, not only the labels.
pub fn show_page_in(h: &Headless, page: &str, english: bool) -> bool {
    let w = &h.window;
    let s = w.global::<SessionAdapter>();
    let ctl = &h.controller;
    ctl.wipe_session();
    if page != "attract" {
        s.invoke_wake();
        if english {
            s.invoke_toggle_language();
        }
    }
    match page {
        "attract" | "home" => {}
        "catalogue" => s.invoke_go(Page::Catalogue),
        "catalogue-theme" => {
            s.invoke_go(Page::Catalogue);
            let first = w.global::<CatalogAdapter>().get_themes();
            if let Some(g) = slint::Model::row_data(&first, 0) {
                ctl.open_theme(&g.name);
            }
        }
        "item" => {
            let hf = w.global::<CatalogAdapter>().get_high_frequency();
            if let Some(i) = slint::Model::row_data(&hf, 0) {
                ctl.open_item(&i.code);
            }
        }
        // An item and a bundle the demo catalogue has no English for, and the bundle it has.
        "item-chinese-only" | "bundle-en" => {
            let Ok(demo) = civic_contract::catalogue::demo() else {
                return false;
            };
            if page == "bundle-en" {
                if let Some(b) = demo.bundles.iter().find(|b| b.en.is_some()) {
                    ctl.open_bundle(&b.code);
                }
            } else if let Some(i) = demo.items.iter().find(|i| i.en.is_none()) {
                ctl.open_item(&i.code);
            }
        }
        "bundle" => {
            let b = w.global::<CatalogAdapter>().get_bundles();
            if let Some(b) = slint::Model::row_data(&b, 0) {
                ctl.open_bundle(&b.code);
            }
        }
        "search" | "search-no-match" => {
            s.invoke_go(Page::Search);
            let c = w.global::<CatalogAdapter>();
            let keys = if page == "search" { "jzz" } else { "qqqzzx" };
            for k in keys.chars() {
                c.invoke_type_key(k.to_string().into());
            }
            h.pump_until(Duration::from_secs(3), |w| {
                let c = w.global::<CatalogAdapter>();
                slint::Model::row_count(&c.get_results()) > 0 || c.get_no_match()
            });
        }
        "faq" => s.invoke_go(Page::Faq),
        "offline-code" | "offline-code-error" => {
            s.invoke_go(Page::OfflineCode);
            let o = w.global::<OfflineCodeAdapter>();
            let digits = if page == "offline-code" {
                "3101051950"
            } else {
                "310105195001011232"
            };
            for d in digits.chars() {
                o.invoke_key(d.to_string().into());
            }
            if page == "offline-code-error" {
                o.invoke_submit();
            }
        }
        "offline-code-confirm" | "offline-code-take-card" => {
            s.invoke_go(Page::OfflineCode);
            let o = w.global::<OfflineCodeAdapter>();
            o.set_masked_name("王*英".into());
            o.set_step(if page == "offline-code-confirm" {
                CardStep::Confirm
            } else {
                CardStep::TakeCard
            });
        }
        "offline-code-print-failed" | "offline-code-not-printed" => {
            s.invoke_go(Page::OfflineCode);
            let o = w.global::<OfflineCodeAdapter>();
            o.set_step(CardStep::Failed);
            o.set_failure(if page == "offline-code-print-failed" {
                CardFailure::Printer
            } else {
                CardFailure::NotPrinted
            });
        }
        // Identity: a card read goes through the flows as the reader's event.
        "home-identified" | "id-expired" => {
            let until = if page == "id-expired" {
                chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
            } else {
                None
            };
            if let Ok(id) = crate::identity::IdNumber::parse("310105195001011231") {
                h.controller.send(crate::flow::Event::Identity(
                    crate::flow::IdentityEvent::CardRead(crate::flow::CardRead {
                        id,
                        name: crate::identity::PersonName::new("王秀英"),
                        valid_until: until,
                    }),
                ));
            }
        }
        "offline-code-place-card" => {
            w.global::<IdentityAdapter>().set_reader(true);
            w.global::<IdentityAdapter>().set_scanner(true);
            s.invoke_go(Page::OfflineCode);
            w.global::<OfflineCodeAdapter>().set_keypad(false);
        }
        "offline-code-confirm-card" | "offline-code-take-card-id" => {
            s.invoke_go(Page::OfflineCode);
            let o = w.global::<OfflineCodeAdapter>();
            o.set_masked_name("王*英".into());
            o.set_by_card(true);
            o.set_has_card(page == "offline-code-confirm-card");
            o.set_change_allowed(true);
            o.set_step(if page == "offline-code-confirm-card" {
                CardStep::Confirm
            } else {
                CardStep::TakeCard
            });
            w.global::<IdentityAdapter>()
                .set_card_on_reader(page == "offline-code-take-card-id");
        }
        "code-expired" => w
            .global::<IdentityAdapter>()
            .set_notice(IdentityNotice::CodeExpired),
        "card-check-valid" | "card-check-lost" => {
            s.invoke_go(Page::CardCheck);
            let a = w.global::<IdentityAdapter>();
            a.set_check_step(if page == "card-check-valid" {
                CheckStep::Valid
            } else {
                CheckStep::Voided
            });
            a.set_check_lost(true);
            a.set_check_name("王*英".into());
            a.set_check_id("310***********1231".into());
            a.set_check_expires("2027-05-31".into());
        }
        // 我的: the three tiles for a resident whose session is open.
        "mine" => {
            s.invoke_go(Page::Mine);
            w.global::<IdentityAdapter>()
                .set_resident_name("王*英".into());
            w.global::<MineAdapter>().set_ready(true);
        }
        "certificates" | "certificates-held" => {
            s.invoke_go(Page::Certificates);
            let c = w.global::<CertificateAdapter>();
            c.set_kind(0);
            c.set_months(12);
            c.set_ready(true);
            if page == "certificates-held" {
                c.set_step(CertStep::Held);
            }
        }
        "quick-list" | "quick-intro" | "quick-field-mobile" | "quick-field-date"
        | "quick-confirm" => {
            s.invoke_go(Page::Quick);
            let q = w.global::<QuickAdapter>();
            let lv = |l: &str, v: &str| LabelValue {
                label: l.into(),
                value: v.into(),
            };
            q.set_items(render::model(vec![
                QuickItemRow {
                    name: "居住证签注".into(),
                    who: "持有本市居住证、需要续签的人员".into(),
                    not_eligible: "".into(),
                },
                QuickItemRow {
                    name: "老年综合津贴申请".into(),
                    who: "年满65周岁的本市户籍老年人".into(),
                    not_eligible: "".into(),
                },
                QuickItemRow {
                    name: "社保卡补换".into(),
                    who: "本市社会保障卡持卡人".into(),
                    not_eligible: "".into(),
                },
            ]));
            q.set_item_name("老年综合津贴申请".into());
            q.set_who("年满65周岁的本市户籍老年人".into());
            q.set_prefilled(render::model(vec![
                lv("姓名", "王*英"),
                lv("户籍地址", "长宁区天山路***号"),
            ]));
            q.set_materials(render::model(vec![
                HeldMaterial {
                    name: "居民身份证".into(),
                    held: true,
                },
                HeldMaterial {
                    name: "户口簿".into(),
                    held: true,
                },
            ]));
            q.set_field_count(3);
            q.set_step(match page {
                "quick-list" => QuickStep::List,
                "quick-intro" => QuickStep::Intro,
                "quick-confirm" => QuickStep::Confirm,
                _ => QuickStep::Field,
            });
            if page == "quick-field-mobile" {
                q.set_field_index(1);
                q.set_field_label("联系电话".into());
                q.set_field_type(FieldType::Mobile);
                q.set_field_value("2380013".into());
                q.set_field_error("请填写11位手机号码，以1开头".into());
            }
            if page == "quick-field-date" {
                q.set_field_index(2);
                q.set_field_label("首次发放月份前的核对日期".into());
                q.set_field_type(FieldType::Date);
                use chrono::Datelike;
                let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default();
                q.set_days(render::model(
                    today
                        .iter_days()
                        .skip(3)
                        .filter(|d| d.weekday().number_from_monday() <= 5)
                        .take(8)
                        .map(|d| DayOption {
                            month: d.month() as i32,
                            day: d.day() as i32,
                            weekday: d.weekday().number_from_monday() as i32,
                        })
                        .collect(),
                ));
                q.set_chosen(1);
            }
            q.set_confirm_rows(render::model(vec![
                lv("发放银行", "上海银行"),
                lv("联系电话", "13800138000"),
            ]));
        }
        "done-result" | "done-choice" => {
            s.invoke_go(Page::Done);
            let f = w.global::<FinishAdapter>();
            f.set_step(if page == "done-result" {
                FinishStep::Result
            } else {
                FinishStep::Choice
            });
            f.set_task(DoneTask::Quick);
            f.set_title("老年综合津贴申请".into());
            f.set_case_no("CN310105-2026-Q000001".into());
            f.set_next_steps(
                "5个工作日内审核，结果以短信通知；通过后次月起按月发放到所选银行账户".into(),
            );
        }
        "rating-case" => {
            w.global::<RatingAdapter>()
                .invoke_open(RatingSource::Terminal);
            let r = w.global::<RatingAdapter>();
            r.set_service_kind(RatedService::Case);
            r.set_service_name("社会保险个人缴费记录".into());
            r.set_case_no("CN310105-2026-Z000001".into());
            w.global::<FinishAdapter>().set_step(FinishStep::Rating);
        }
        // 办件进度 with the demo resident's kinds of applications (the back office's answer
        // goes through the flow's own row type).
        "applications" => {
            s.invoke_go(Page::Applications);
            w.global::<IdentityAdapter>()
                .set_resident_name("王*英".into());
            let step = |st, date: &str| TimelineStep {
                status: st,
                date: date.into(),
            };
            let row = |item: &str, st, missing: &str, collect: &str, steps: Vec<TimelineStep>| {
                ApplicationRow {
                    case_no: "CN310105-2026-000123".into(),
                    item_name: item.into(),
                    submitted_on: "2026-11-20".into(),
                    status: st,
                    timeline: render::model(steps),
                    missing: missing.into(),
                    collect: collect.into(),
                }
            };
            let m = w.global::<MineAdapter>();
            m.set_step(MineStep::List);
            m.set_applications(render::model(vec![
                row(
                    "居住证签注",
                    ApplicationStatus::NeedsCorrection,
                    "近期一寸免冠照片一张",
                    "",
                    vec![
                        step(ApplicationStatus::Accepted, "2026-11-20"),
                        step(ApplicationStatus::NeedsCorrection, "2026-11-22"),
                    ],
                ),
                row(
                    "普通护照首次申领",
                    ApplicationStatus::Completed,
                    "",
                    "长宁区行政服务中心出入境窗口，凭身份证领取",
                    vec![
                        step(ApplicationStatus::Accepted, "2026-11-02"),
                        step(ApplicationStatus::Reviewing, "2026-11-03"),
                        step(ApplicationStatus::Completed, "2026-11-12"),
                    ],
                ),
            ]));
        }
        // As 好差评 on the home page opens it: the terminal's own service.
        "rating" => w
            .global::<RatingAdapter>()
            .invoke_open(RatingSource::Terminal),
        "technician" => s.invoke_hidden_gesture(),
        "technician-locked" => {
            s.invoke_hidden_gesture();
            let t = w.global::<TechnicianAdapter>();
            t.set_minutes_left(4);
            t.set_state(PadState::Locked);
        }
        "maintenance" => {
            s.invoke_hidden_gesture();
            let t = w.global::<TechnicianAdapter>();
            let config = h.config.borrow().clone();
            t.set_terminal_id(config.terminal.id.as_str().into());
            t.set_terminal_name(config.terminal.name.as_str().into());
            t.set_version(env!("CARGO_PKG_VERSION").into());
            t.set_backoffice_url("https://backoffice.example.gov.cn/".into());
            let rows: Vec<SettingRow> = [
                ("display.idle_timeout_s", config.display.idle_timeout_s),
                ("heartbeat.interval_s", config.heartbeat.interval_s),
                ("ratings.sync_interval_s", config.ratings.sync_interval_s),
                (
                    "catalogue.sync_interval_s",
                    config.catalogue.sync_interval_s,
                ),
            ]
            .into_iter()
            .map(|(k, v)| SettingRow {
                key: k.into(),
                value: v.to_string().into(),
            })
            .collect();
            t.set_settings(slint::ModelRc::new(slint::VecModel::from(rows)));
            t.set_last_error(
                "2026-11-26T08:00:00.000Z WARN  civic_kiosk::app: card printer: connection refused"
                    .into(),
            );
            t.set_printers(slint::ModelRc::new(slint::VecModel::from(
                crate::config::PrinterRole::ALL
                    .iter()
                    .map(|&role| PrinterInfo {
                        role: role.name().into(),
                        uri: config.printer_uri(role).to_string().into(),
                    })
                    .collect::<Vec<_>>(),
            )));
            // The report of a test print, as the receipt printer answers one.
            let uri = config.printer_uri(crate::config::PrinterRole::Receipt);
            t.set_tool("test-print:receipt".into());
            t.set_tool_ok(true);
            t.set_tool_lines(slint::ModelRc::new(slint::VecModel::from(vec![
                slint::SharedString::from(format!("printer receipt: {uri}")),
                "status before: ready (online, paper ok)".into(),
                format!("printed {uri}; status after: ready (online, paper ok)").into(),
            ])));
            t.set_unlocked(true);
        }
        "staff" => s.set_staff("S1024".into()),
        "idle-countdown" => s.set_countdown(7),
        "call-staff" => s.set_help_state(HelpState::Coming),
        _ => return false,
    }
    true
}

/// Options of `civic-kiosk screenshot`.
pub struct ScreenshotOptions {
    pub page: String,
    pub large_font: bool,
    pub english: bool,
    pub width: u32,
    pub height: u32,
    pub out: std::path::PathBuf,
}

/// Renders one page (to the file `out`) or all (into the folder `out`, one PNG each).
pub fn screenshot(
    config: Arc<Config>,
    opts: &ScreenshotOptions,
) -> Result<Vec<std::path::PathBuf>, SnapshotError> {
    init_headless(false);
    let catalog =
        civic_contract::catalogue::demo().map_err(|e| SnapshotError::Ui(e.to_string()))?;
    let catalog = Arc::new(Catalog::new(catalog));
    let h = Headless::new(
        config,
        Some(catalog),
        None,
        None,
        opts.width,
        opts.height,
        false,
    )?;
    // Show the state of a terminal whose back office and printer are fine.
    h.window.global::<StatusAdapter>().set_backoffice_up(true);
    let pages: Vec<&str> = if opts.page == "all" {
        PAGES.to_vec()
    } else {
        vec![opts.page.as_str()]
    };
    let mut written = Vec::new();
    for page in pages {
        if !show_page_in(&h, page, opts.english) {
            return Err(SnapshotError::UnknownPage(page.into(), PAGES.join(", ")));
        }
        h.window.global::<Theme>().set_large(opts.large_font);
        super::set_language(&h.window, opts.english);
        let path = if opts.page == "all" {
            let suffix = format!(
                "{}{}",
                if opts.large_font { "-large" } else { "" },
                if opts.english { "-en" } else { "" }
            );
            opts.out
                .join(format!("{page}-{}x{}{suffix}.png", opts.width, opts.height))
        } else {
            opts.out.clone()
        };
        h.save_png(&path)?;
        written.push(path);
    }
    Ok(written)
}
