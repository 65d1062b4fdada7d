//! The status bar's and home screen's health: every 15 s, is the back office answering, and is the card printer ready (the same probe `diagnose` uses).

use std::sync::Arc;
use std::time::Duration;

use slint::ComponentHandle;

use crate::config::{Config, PrinterRole};

/// How often the status bar looks again.
pub const EVERY: Duration = Duration::from_secs(15);

/// Runs on `runtime` until the window is gone: pings the back office (none: down) and
/// probes the card printer with [`crate::health::printer`] asked for its state and
/// capability, so the status bar says "打印机暂停" while the card printer cannot print
/// a card — paper out, cover open, unreachable, or not taking the card size — and the
/// home screen shows the tiles that depend on them as unavailable, instead of letting a
/// resident fail five taps later.
pub fn spawn_health(
    runtime: &tokio::runtime::Handle,
    window: &super::MainWindow,
    config: tokio::sync::watch::Receiver<Arc<Config>>,
    client: Option<crate::backoffice::Client>,
    every: Duration,
) {
    let weak = window.as_weak();
    runtime.spawn(async move {
        let mut last_detail = String::new();
        loop {
            let backoffice_up = match &client {
                Some(c) => c.ping().await.is_ok(),
                None => false,
            };
            let c = config.borrow().clone();
            let probe =
                crate::health::printer(&c, PrinterRole::Card, Duration::from_secs(3), true).await;
            let printer_ready = probe.ready();
            let (state, detail) = probe.state();
            let unsupported = state == "unsupported";
            // Said once per change, not every 15 s.
            if !printer_ready && detail != last_detail {
                log::warn!("card printer not ready: {state}: {detail}");
            }
            last_detail = if printer_ready { String::new() } else { detail };
            let sent = weak.upgrade_in_event_loop(move |w| {
                let s = w.global::<super::StatusAdapter>();
                s.set_backoffice_up(backoffice_up);
                s.set_printer_ready(printer_ready);
                s.set_printer_unsupported(unsupported);
            });
            if sent.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}
