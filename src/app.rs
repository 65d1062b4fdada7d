//! Composition root of the terminal: config, logging, the tokio runtime, the back office (embedded or remote), then the touch UI.
//!
//! Threads: the Slint event loop owns the main thread; one tokio runtime runs the I/O on
//! its own worker threads. Nothing slow runs on the UI thread.

use slint::ComponentHandle;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backoffice::{Client, ClientOptions};
use crate::config::{ConfigError, ConfigHandle, Layers};
use crate::embedded::{Embedded, ServerError};
use crate::logging::{self, LogSettings};

/// Why the terminal could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(
        "no display: set DISPLAY (X11) or WAYLAND_DISPLAY, e.g. run under the `cage` kiosk compositor, or try it under `xvfb-run`; `civic-kiosk screenshot` renders pages without a display ({0})"
    )]
    NoDisplay(String),
    #[error("embedded back office: {0}")]
    Backoffice(#[from] ServerError),
    #[error("back office client: {0}")]
    Client(#[from] crate::backoffice::ClientError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("UI: {0}")]
    Ui(String),
}

/// Everything the running terminal holds on to.
pub struct Core {
    pub config: ConfigHandle,
    pub config_path: PathBuf,
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// Base URL of the back office in use.
    pub backoffice_url: String,
    /// Kept alive while the terminal runs, in embedded mode.
    pub embedded: Option<Embedded>,
}

/// Loads the config, starts logging and the runtime, and the embedded back office if configured.
pub fn start_core(config_path: &Path, log_to_stderr: bool) -> Result<Core, AppError> {
    // First: a panic anywhere from here on reaches the log (with its thread's name).
    logging::install_panic_hook();
    let layers = Layers::load(config_path)?;
    let handle = ConfigHandle::new(layers)?;
    let config = handle.current();
    logging::init(&LogSettings {
        dir: Some(config.log_dir()),
        level: config.log.level.parse().unwrap_or(log::LevelFilter::Info),
        max_file_bytes: config.log_max_file_bytes(),
        keep_files: config.log_keep_files(),
        stderr: log_to_stderr,
    });
    log::info!(
        "civic-kiosk {} starting as {} ({}), config {}",
        env!("CARGO_PKG_VERSION"),
        config.terminal.id,
        config.terminal.name,
        config_path.display()
    );
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiosk-core")
            .enable_all()
            .build()?,
    );
    let (url, embedded) = if config.is_embedded() {
        std::fs::create_dir_all(config.data_dir())?;
        let e = runtime.block_on(crate::embedded::start(&config))?;
        (e.url.clone(), Some(e))
    } else {
        (config.backoffice.url.trim().to_string(), None)
    };
    Ok(Core {
        config: handle,
        config_path: config_path.to_path_buf(),
        runtime,
        backoffice_url: url,
        embedded,
    })
}

/// How the touch UI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The window was closed (or the event loop ended otherwise).
    Closed,
    /// The technician stopped the terminal from the maintenance page: exit with
    /// [`crate::EXIT_TECHNICIAN`], which the service unit does not restart on.
    TechnicianExit,
}

/// `civic-kiosk run [--headless]`: the touch UI until the window closes or the technician
/// stops it. `headless`: Slint's testing backend with a real event loop and no display
/// (everything runs, nothing is drawn on a screen): for tests of the process as a whole.
pub fn run(config_path: &Path, headless: bool) -> Result<RunEnd, AppError> {
    if headless {
        crate::ui::snapshot::init_headless(false);
    } else if !cfg!(feature = "backend-linuxkms")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
        && std::env::var_os("SLINT_BACKEND").is_none()
    {
        return Err(AppError::NoDisplay(
            "neither DISPLAY nor WAYLAND_DISPLAY is set".into(),
        ));
    }
    let core = start_core(config_path, true)?;
    let config = core.config.current();
    let store = Arc::new(std::sync::Mutex::new(open_store(&config.data_dir())?));
    let client = Client::new(&ClientOptions::from_config(&config, &core.backoffice_url))?;
    // The ID card reader and a serial code scanner, each on its own thread; the heartbeat
    // reports their states.
    let (devices, devices_rx) = crate::devices::Devices::start(&config, core.runtime.handle());
    let devices = Arc::new(devices);
    let (catalog_tx, catalog_rx) =
        tokio::sync::watch::channel(crate::catalog::sync::CatalogState::default());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    // The maintenance page's 刷新目录: one waiting refresh at most.
    let (refresh_tx, refresh_rx) = tokio::sync::mpsc::channel(1);
    let refresh_rx = Arc::new(tokio::sync::Mutex::new(refresh_rx));
    // Each worker runs under a supervisor: one that panics is started again with backoff
    // (why not exit: see supervisor.rs and docs/architecture.md, "Panics").
    let restart = crate::supervisor::Restart::default();
    {
        // The cached copy first (the terminal works with the back office down), then syncs.
        let store = store.clone();
        let client = client.clone();
        let config = core.config.clone();
        let shutdown = shutdown_rx.clone();
        core.runtime.spawn(async move {
            let s = store.clone();
            match tokio::task::spawn_blocking(move || crate::catalog::sync::load_cached(&s)).await {
                Ok(Ok(Some((catalog, meta)))) => catalog_tx.send_modify(|st| {
                    st.catalog = Some(Arc::new(catalog));
                    st.meta = Some(meta);
                }),
                Ok(Ok(None)) => log::info!("no cached catalogue yet"),
                Ok(Err(e)) => log::warn!("cached catalogue: {e}"),
                Err(e) => log::warn!("cached catalogue: {e}"),
            }
            crate::supervisor::supervise("catalogue sync", restart, shutdown.clone(), || {
                crate::catalog::sync::run_worker(
                    client.clone(),
                    store.clone(),
                    catalog_tx.clone(),
                    config.subscribe(),
                    shutdown.clone(),
                    refresh_rx.clone(),
                )
            })
            .await;
        });
    }
    // 好差评 uploader: woken by each new rating, paced by backoff and the interval.
    let ratings_waker = crate::ratings::sync::Waker::default();
    {
        let (client, store, waker, config) = (
            client.clone(),
            store.clone(),
            ratings_waker.clone(),
            core.config.clone(),
        );
        let shutdown = shutdown_tx.subscribe();
        core.runtime.spawn(crate::supervisor::supervise(
            "ratings upload",
            restart,
            shutdown.clone(),
            move || {
                crate::ratings::sync::run_worker(
                    client.clone(),
                    store.clone(),
                    waker.clone(),
                    config.subscribe(),
                    shutdown.clone(),
                )
            },
        ));
    }
    {
        // A new Heart after a panic: it fetches the remote config again, which its digest
        // keeps from being audited twice.
        let (client, store, config) = (client.clone(), store.clone(), core.config.clone());
        let devices = devices.clone();
        let shutdown = shutdown_tx.subscribe();
        core.runtime.spawn(crate::supervisor::supervise(
            "heartbeat",
            restart,
            shutdown.clone(),
            move || {
                let devices = devices.clone();
                crate::heartbeat::run_worker(
                    crate::heartbeat::Heart::new(client.clone(), store.clone(), config.clone())
                        .with_devices(std::sync::Arc::new(move || devices.states())),
                    shutdown.clone(),
                )
            },
        ));
    }
    let client_for_health = client.clone();
    let window = crate::ui::MainWindow::new().map_err(|e| AppError::NoDisplay(e.to_string()))?;
    let controller = crate::ui::connect(
        &window,
        crate::ui::UiDeps {
            runtime: core.runtime.handle().clone(),
            config: core.config.subscribe(),
            catalog: catalog_rx,
            catalogue_refresh: Some(refresh_tx),
            client: Some(client.clone()),
            clock: crate::ui::system_clock(),
            store: Some(store.clone()),
            ratings_waker: Some(ratings_waker),
            settings: Some(core.config.clone()),
            identity: devices_rx,
            trusted_key: match crate::offline_code::trusted_key(
                &config,
                core.embedded
                    .as_ref()
                    .map(|e| e.public_key)
                    .or_else(|| crate::embedded::public_key(&config)),
            ) {
                Ok(k) => Some(k),
                Err(e) => {
                    log::error!("offline-code cards unavailable: {e}");
                    None
                }
            },
        },
    );
    crate::ui::health::spawn_health(
        core.runtime.handle(),
        &window,
        core.config.subscribe(),
        Some(client_for_health),
        crate::ui::health::EVERY,
    );
    window.show().map_err(|e| AppError::Ui(e.to_string()))?;
    // READY and the watchdog pings come from the event loop itself: a hung UI thread
    // stops them and systemd restarts the terminal.
    let notifier = crate::watchdog::Notifier::from_env().map(std::rc::Rc::new);
    let watchdog = crate::watchdog::UiWatchdog::start(
        notifier.clone(),
        crate::watchdog::ping_interval(),
        crate::watchdog::failpoint_from_env(),
    );
    let ran = slint::run_event_loop().map_err(|e| AppError::Ui(e.to_string()));
    drop(watchdog);
    drop(devices);
    let _ = window.hide();
    if let Some(n) = &notifier {
        let _ = n.notify("STOPPING=1");
    }
    ran?;
    let end = if controller.exit_requested() {
        log::warn!(
            "stopped by the technician; exit status {}",
            crate::EXIT_TECHNICIAN
        );
        RunEnd::TechnicianExit
    } else {
        log::info!("window closed; stopping");
        RunEnd::Closed
    };
    let _ = shutdown_tx.send(true);
    if let Some(e) = &core.embedded {
        e.stop();
    }
    Ok(end)
}

/// The terminal's store: read-write, or on a full disk read-only (the catalogue is still
/// read, nothing is saved: see `store.rs`), or, when even that cannot be read, an empty
/// stand-in that saves nothing, so the UI still starts and says the disk is full. Only a
/// store from a newer release stops the start (it would be misread).
pub fn open_store(data_dir: &Path) -> Result<crate::store::Store, crate::store::StoreError> {
    use crate::store::{Store, StoreError};
    match Store::open_for_reading(data_dir) {
        Ok(s) => Ok(s),
        Err(e @ StoreError::TooNew { .. }) => Err(e),
        Err(e) if e.is_disk_full() => {
            log::error!("{e}; running without the local store until space is freed");
            Store::unavailable(&data_dir.join("kiosk.sqlite"), e.to_string())
        }
        Err(e) => Err(e),
    }
}
