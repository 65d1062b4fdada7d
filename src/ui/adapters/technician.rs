//! The PIN pad and the maintenance page: PIN checks on the runtime (argon2, SQLite), 帮办 sign-in, leave and exit.

use slint::ComponentHandle;
use std::cell::Cell;
use std::rc::Rc;

use super::{CONTROLLER, UiController};
use crate::pin::{self, Entry, Holder};
use crate::ui::{MainWindow, Page, SessionAdapter, TechnicianAdapter};

/// UI-thread state of the pad and the maintenance page.
#[derive(Default)]
pub(super) struct TechState {
    /// A PIN is being checked: further submits wait for the answer.
    checking: Cell<bool>,
    /// The technician is in (maintenance page shown).
    unlocked: Cell<bool>,
    /// The technician chose to stop the terminal program.
    exit_requested: Cell<bool>,
}

/// `TechnicianAdapter.state` values (see ui/globals.slint).
const STATE_NONE: i32 = 0;
const STATE_NO_PIN: i32 = 1;
const STATE_CHECKING: i32 = 2;
const STATE_WRONG: i32 = 3;
const STATE_LOCKED: i32 = 4;
const STATE_UNAVAILABLE: i32 = 5;

pub(super) fn connect(window: &MainWindow, ctl: &Rc<UiController>) {
    let t = window.global::<TechnicianAdapter>();
    {
        let ctl = ctl.clone();
        t.on_key(move |k| ctl.edit_pin(|p| p.key(&k)));
    }
    {
        let ctl = ctl.clone();
        t.on_backspace(move || ctl.edit_pin(|p| p.backspace()));
    }
    {
        let ctl = ctl.clone();
        t.on_clear(move || ctl.edit_pin(|p| p.clear()));
    }
    {
        let ctl = ctl.clone();
        t.on_submit(move || ctl.submit_pin());
    }
    {
        let ctl = ctl.clone();
        t.on_leave(move || ctl.leave_maintenance());
    }
    {
        let ctl = ctl.clone();
        t.on_exit_terminal(move || ctl.exit_terminal());
    }
    {
        let ctl = ctl.clone();
        t.on_edit_setting(move |key| {
            let value = ctl
                .window
                .upgrade()
                .and_then(|w| {
                    let rows = w.global::<TechnicianAdapter>().get_settings();
                    slint::Model::iter(&rows)
                        .find(|r| r.key == key)
                        .map(|r| r.value)
                })
                .unwrap_or_default();
            ctl.with_window(|w| {
                let t = w.global::<TechnicianAdapter>();
                t.set_setting_key(key.clone());
                t.set_setting_entry(value.clone());
                t.set_setting_message("".into());
                t.set_setting_refused(false);
            });
        });
    }
    {
        let ctl = ctl.clone();
        t.on_setting_digit(move |d| {
            ctl.with_window(|w| {
                let t = w.global::<TechnicianAdapter>();
                let mut e = t.get_setting_entry().to_string();
                if e.len() < 6 && d.chars().all(|c| c.is_ascii_digit()) {
                    e.push_str(&d);
                }
                t.set_setting_entry(e.into());
            })
        });
    }
    {
        let ctl = ctl.clone();
        t.on_setting_backspace(move || {
            ctl.with_window(|w| {
                let t = w.global::<TechnicianAdapter>();
                let mut e = t.get_setting_entry().to_string();
                e.pop();
                t.set_setting_entry(e.into());
            })
        });
    }
    {
        let ctl = ctl.clone();
        t.on_setting_clear(move || {
            ctl.with_window(|w| w.global::<TechnicianAdapter>().set_setting_entry("".into()))
        });
    }
    {
        let ctl = ctl.clone();
        t.on_cancel_setting(move || {
            ctl.with_window(|w| {
                let t = w.global::<TechnicianAdapter>();
                t.set_setting_key("".into());
                t.set_setting_message("".into());
            })
        });
    }
    {
        let ctl = ctl.clone();
        t.on_save_setting(move || ctl.save_setting());
    }
    let s = window.global::<SessionAdapter>();
    {
        let ctl = ctl.clone();
        s.on_staff_sign_out(move || ctl.staff_sign_out());
    }
}

/// The settings the maintenance page can change (whole numbers; the rest through
/// `civic-kiosk config set` over SSH): the rows of [`crate::api::SETTABLE`] it offers.
pub(crate) fn settings() -> impl Iterator<Item = &'static str> {
    crate::api::page_keys()
}

fn setting_value(config: &crate::config::Config, key: &str) -> String {
    match key {
        "display.idle_timeout_s" => config.display.idle_timeout_s.to_string(),
        "heartbeat.interval_s" => config.heartbeat.interval_s.to_string(),
        "ratings.sync_interval_s" => config.ratings.sync_interval_s.to_string(),
        "catalogue.sync_interval_s" => config.catalogue.sync_interval_s.to_string(),
        _ => String::new(),
    }
}

fn minutes_left(d: std::time::Duration) -> i32 {
    d.as_secs().div_ceil(60).max(1) as i32
}

impl UiController {
    /// Whether the technician stopped the terminal from the maintenance page (the process
    /// should then exit with [`crate::EXIT_TECHNICIAN`]).
    pub fn exit_requested(&self) -> bool {
        self.tech.exit_requested.get()
    }

    /// The 帮办 staff member signed in on this session, if any.
    pub fn staff(&self) -> Option<pin::StaffId> {
        self.fields.borrow().staff.clone()
    }

    fn set_pin_state(&self, state: i32) {
        self.with_window(|w| w.global::<TechnicianAdapter>().set_state(state));
    }

    /// Writes an audit entry on the runtime (never on the UI thread), then runs `then` back
    /// on the UI thread.
    fn audit_then(
        &self,
        kind: &'static str,
        detail: String,
        actor: Option<String>,
        then: impl FnOnce(&MainWindow) + Send + 'static,
    ) {
        let weak = self.window.clone();
        let store = self.store.clone();
        self.runtime.spawn(async move {
            if let Some(store) = store {
                let written =
                    crate::store::run(&store, move |s| s.audit(kind, &detail, actor.as_deref()))
                        .await;
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => log::error!("audit {kind}: {e}"),
                    Err(e) => log::error!("audit {kind}: {e}"),
                }
            }
            let _ = weak.upgrade_in_event_loop(move |w| then(&w));
        });
    }

    /// The hidden gesture: an empty pad; if the pad is locked, says so at once.
    pub(super) fn open_pin_pad(&self) {
        self.fields.borrow_mut().pin.clear();
        self.tech.unlocked.set(false);
        // The pad and maintenance end like a resident session: on idle.
        self.idle.borrow_mut().arm((self.clock)());
        self.with_window(|w| {
            let t = w.global::<TechnicianAdapter>();
            t.set_pin_length(0);
            t.set_state(STATE_NONE);
            t.set_unlocked(false);
            w.global::<SessionAdapter>().set_page(Page::Technician);
        });
        let Some(store) = self.store.clone() else {
            return;
        };
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let remaining =
                crate::store::run(&store, |s| pin::lock_remaining(s, &pin::Now::read())).await;
            if let Ok(Ok(Some(remaining))) = remaining {
                let _ = weak.upgrade_in_event_loop(move |w| {
                    let t = w.global::<TechnicianAdapter>();
                    if w.global::<SessionAdapter>().get_page() == Page::Technician
                        && t.get_state() == STATE_NONE
                    {
                        t.set_minutes_left(minutes_left(remaining));
                        t.set_state(STATE_LOCKED);
                    }
                });
            }
        });
    }

    pub(super) fn edit_pin(&self, f: impl FnOnce(&mut crate::session::PinEntry)) {
        if self.tech.checking.get() {
            return;
        }
        let n = {
            let mut fields = self.fields.borrow_mut();
            f(&mut fields.pin);
            fields.pin.len()
        };
        self.with_window(|w| {
            let t = w.global::<TechnicianAdapter>();
            t.set_pin_length(n as i32);
            if t.get_state() != STATE_LOCKED {
                t.set_state(STATE_NONE);
            }
        });
    }

    /// Checks the typed PIN on the runtime; the answer comes back to [`Self::pin_checked`].
    fn submit_pin(&self) {
        if self.tech.checking.get() {
            return;
        }
        let typed = self.fields.borrow_mut().pin.take();
        self.with_window(|w| w.global::<TechnicianAdapter>().set_pin_length(0));
        if typed.is_empty() {
            return;
        }
        let Some(store) = self.store.clone() else {
            self.set_pin_state(STATE_UNAVAILABLE);
            return;
        };
        self.tech.checking.set(true);
        self.set_pin_state(STATE_CHECKING);
        let config_hash = self.config.borrow().technician.pin_hash.clone();
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            let answer = tokio::task::spawn_blocking(move || {
                pin::enter(&store, config_hash.as_deref(), &typed, &pin::Now::read())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let _ = weak.upgrade_in_event_loop(move |w| {
                if let Some(ctl) = CONTROLLER.with(|c| c.borrow().clone()) {
                    ctl.pin_checked(&w, answer);
                }
            });
        });
    }

    fn pin_checked(&self, w: &MainWindow, answer: Result<Entry, String>) {
        self.tech.checking.set(false);
        let t = w.global::<TechnicianAdapter>();
        let s = w.global::<SessionAdapter>();
        if s.get_page() != Page::Technician {
            // The session ended while checking: a late answer opens nothing.
            t.set_state(STATE_NONE);
            return;
        }
        match answer {
            Ok(Entry::Accepted(Holder::Technician)) => {
                log::info!("maintenance mode entered");
                self.tech.unlocked.set(true);
                let config = self.config.borrow().clone();
                t.set_terminal_id(config.terminal.id.as_str().into());
                t.set_terminal_name(config.terminal.name.as_str().into());
                t.set_version(env!("CARGO_PKG_VERSION").into());
                let url = match &self.client {
                    Some(c) if config.is_embedded() => {
                        format!("{} (embedded)", c.base_url())
                    }
                    Some(c) => c.base_url().to_string(),
                    None => config.backoffice.url.clone(),
                };
                t.set_backoffice_url(url.into());
                t.set_last_error(
                    crate::logging::last_problem()
                        .unwrap_or_default()
                        .as_str()
                        .into(),
                );
                t.set_state(STATE_NONE);
                t.set_unlocked(true);
                self.show_settings(w, &config);
            }
            Ok(Entry::Accepted(Holder::Staff(id))) => {
                log::info!("帮办: staff {id} signed in");
                t.set_state(STATE_NONE);
                s.set_staff(id.as_str().into());
                self.fields.borrow_mut().staff = Some(id);
                self.idle.borrow_mut().arm((self.clock)());
                s.set_page(Page::Home);
            }
            Ok(Entry::Wrong { attempts_left }) => {
                t.set_attempts_left(attempts_left as i32);
                t.set_state(STATE_WRONG);
            }
            Ok(Entry::Locked { remaining }) => {
                t.set_minutes_left(minutes_left(remaining));
                t.set_state(STATE_LOCKED);
            }
            Ok(Entry::NoPins) => t.set_state(STATE_NO_PIN),
            Err(e) => {
                log::error!("PIN check: {e}");
                t.set_state(STATE_UNAVAILABLE);
            }
        }
    }

    /// The technician leaves maintenance: audited, then the attract screen.
    fn show_settings(&self, w: &MainWindow, config: &crate::config::Config) {
        let rows: Vec<crate::ui::SettingRow> = settings()
            .map(|k| crate::ui::SettingRow {
                key: k.into(),
                value: setting_value(config, k).into(),
            })
            .collect();
        let t = w.global::<TechnicianAdapter>();
        t.set_settings(slint::ModelRc::new(slint::VecModel::from(rows)));
        t.set_setting_key("".into());
    }

    /// Saves the setting being edited into the settings layer (`<data_dir>/settings.toml`,
    /// which the service may write; the main config file stays root's): the same validator
    /// as `check-config` over every layer, an atomic save, an audit entry, and the value put
    /// in force through the config handle. Or the validator's lines, and nothing saved.
    fn save_setting(&self) {
        let Some((key, value)) = self.window.upgrade().map(|w| {
            let t = w.global::<TechnicianAdapter>();
            (
                t.get_setting_key().to_string(),
                t.get_setting_entry().to_string(),
            )
        }) else {
            return;
        };
        if !self.tech.unlocked.get() || key.is_empty() {
            return;
        }
        let Some(handle) = self.settings.clone() else {
            self.with_window(|w| {
                let t = w.global::<TechnicianAdapter>();
                t.set_setting_refused(true);
                t.set_setting_message(
                    "this terminal runs without a config file; nothing saved".into(),
                );
            });
            return;
        };
        let weak = self.window.clone();
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
            let _ = weak.upgrade_in_event_loop(move |w| {
                let t = w.global::<TechnicianAdapter>();
                match result {
                    Ok(Ok(changed)) => {
                        log::info!(
                            "setting changed on the maintenance page: {}",
                            changed.audit_detail("maintenance page")
                        );
                        t.set_setting_refused(false);
                        // Honest about when it takes effect: only what running parts read
                        // again applies now.
                        let when = if !changed.notes.is_empty() {
                            changed.notes.join("; ")
                        } else if crate::config::applied_live(&changed.key) {
                            "in force now".to_string()
                        } else {
                            "applies after a restart".to_string()
                        };
                        t.set_setting_message(
                            format!(
                                "{}: saved in {}; {when}",
                                changed.key,
                                changed.file.display()
                            )
                            .into(),
                        );
                        if let Some(ctl) = CONTROLLER.with(|c| c.borrow().clone()) {
                            ctl.show_settings(&w, &changed.config);
                        }
                    }
                    Ok(Err(e)) => {
                        t.set_setting_refused(true);
                        t.set_setting_message(
                            format!("{}; nothing saved", e.lines().join("\n")).into(),
                        );
                    }
                    Err(e) => {
                        t.set_setting_refused(true);
                        t.set_setting_message(format!("{e}; nothing saved").into());
                    }
                }
            });
        });
    }

    fn leave_maintenance(&self) {
        if !self.tech.unlocked.replace(false) {
            return;
        }
        self.audit_then(
            "maintenance_left",
            "left maintenance mode".into(),
            Some(Holder::Technician.actor()),
            |_| {
                if let Some(ctl) = CONTROLLER.with(|c| c.borrow().clone()) {
                    ctl.wipe_session();
                }
            },
        );
    }

    /// Called when the page changes away from the pad or maintenance: maintenance closes.
    pub(super) fn technician_page_left(&self) {
        self.fields.borrow_mut().pin.clear();
        if self.tech.unlocked.replace(false) {
            self.audit_then(
                "maintenance_left",
                "left maintenance mode".into(),
                Some(Holder::Technician.actor()),
                |_| {},
            );
        }
        self.with_window(|w| {
            let t = w.global::<TechnicianAdapter>();
            t.set_unlocked(false);
            t.set_pin_length(0);
            t.set_state(STATE_NONE);
        });
    }

    /// The technician stops the terminal program: audited first, then the event loop ends
    /// and the process exits with [`crate::EXIT_TECHNICIAN`].
    fn exit_terminal(&self) {
        if !self.tech.unlocked.get() || self.tech.exit_requested.get() {
            return;
        }
        self.tech.exit_requested.set(true);
        log::warn!(
            "technician stops the terminal program (exit status {})",
            crate::EXIT_TECHNICIAN
        );
        self.audit_then(
            "maintenance_exit",
            format!(
                "terminal program stopped from maintenance (exit status {})",
                crate::EXIT_TECHNICIAN
            ),
            Some(Holder::Technician.actor()),
            |_| {
                let _ = slint::quit_event_loop();
            },
        );
    }

    /// 帮办: the staff member signs out; the session ends (attract screen, fields wiped).
    fn staff_sign_out(&self) {
        let Some(id) = self.fields.borrow_mut().staff.take() else {
            return;
        };
        log::info!("帮办: staff {id} signed out");
        self.with_window(|w| w.global::<SessionAdapter>().set_staff("".into()));
        self.audit_then(
            "staff_signed_out",
            format!("帮办 ended: staff:{id} signed out"),
            Some(Holder::Staff(id).actor()),
            |_| {
                if let Some(ctl) = CONTROLLER.with(|c| c.borrow().clone()) {
                    ctl.wipe_session();
                }
            },
        );
    }

    /// Part of wiping a session: maintenance closes (audited if it was open: idle), the
    /// staff member's name leaves the status bar.
    pub(super) fn end_staff_and_maintenance(&self, w: &MainWindow) {
        if self.tech.unlocked.replace(false) {
            self.audit_then(
                "maintenance_left",
                "maintenance mode closed: the session ended (idle)".into(),
                Some(Holder::Technician.actor()),
                |_| {},
            );
        }
        let t = w.global::<TechnicianAdapter>();
        t.set_pin_length(0);
        t.set_state(STATE_NONE);
        t.set_unlocked(false);
        t.set_last_error("".into());
        w.global::<SessionAdapter>().set_staff("".into());
    }

    /// Audits the end of a 帮办 session that ended without a sign-out (idle).
    pub(super) fn audit_staff_session_end(&self, id: pin::StaffId) {
        self.audit_then(
            "staff_signed_out",
            format!("帮办 ended: staff:{id}'s session ended (idle)"),
            Some(Holder::Staff(id).actor()),
            |_| {},
        );
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
}
