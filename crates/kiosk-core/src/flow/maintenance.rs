//! The PIN pad behind the hidden gesture and, after the technician's PIN, the maintenance page (terminal info, settings, leave, stop).
//!
//! A staff member's PIN on the same pad signs them in for 帮办 instead. PINs are checked
//! by the shell off the UI thread ([`MaintenanceEffect::VerifyPin`]); the typed PIN is
//! never shown, logged or kept after it is sent.

use std::fmt;
use std::time::Duration;

use crate::config::PrinterRole;
use crate::pin::{self, StaffId};

use super::Settings;

/// Longest PIN the pad takes, in digits (as today).
const PAD_DIGITS: usize = 12;
/// Longest value typed for a setting, in digits.
const SETTING_DIGITS: usize = 6;

/// What the PIN pad says (`TechnicianAdapter.state` today: the number in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PadState {
    /// (0) Nothing to say.
    #[default]
    None,
    /// (1) No PIN is set on this terminal: nobody can enter.
    NoPin,
    /// (2) Checking the PIN; typing and 确认 wait.
    Checking,
    /// (3) Wrong, with this many tries left (`attempts-left`).
    Wrong { attempts_left: u32 },
    /// (4) Locked for this many more minutes (`minutes-left`).
    Locked { minutes_left: u32 },
    /// (5) The PIN could not be checked (local store).
    Unavailable,
}

/// A PIN typed on the pad, on its way to be checked. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// The digits, for [`crate::pin::enter`] only.
    pub fn expose_pin(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// One setting the maintenance page can change: its key and current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
}

/// One of the terminal's printers, as the maintenance page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterRow {
    pub role: PrinterRole,
    /// The printer's URI (`escpos://…`, `ipp://…`, `pdf://…`).
    pub uri: String,
}

/// A technician's tool on the maintenance page: the same work as the CLI command named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `civic-kiosk print-test --role …`: a test page, never waiting for the printer.
    TestPrint(PrinterRole),
    /// `civic-kiosk sync`: upload every pending 好差评 rating now.
    SyncRatings,
    /// `civic-kiosk catalogue sync`: fetch the catalogue now if it changed.
    RefreshCatalogue,
    /// `civic-kiosk audit`: the newest audit entries (离线码 cards, PINs, settings), masked.
    Audit,
    /// The newest lines this terminal logged, scrubbed.
    Log,
}

impl Tool {
    /// The name the page sends (`TechnicianAdapter.run-tool`): `test-print:card`, `sync`,
    /// `refresh-catalogue`, `audit`, `log`.
    pub fn name(self) -> String {
        match self {
            Tool::TestPrint(role) => format!("test-print:{}", role.name()),
            Tool::SyncRatings => "sync".into(),
            Tool::RefreshCatalogue => "refresh-catalogue".into(),
            Tool::Audit => "audit".into(),
            Tool::Log => "log".into(),
        }
    }

    /// The tool a page name stands for; `None` for a name no tool has.
    pub fn parse(name: &str) -> Option<Tool> {
        Some(match name {
            "sync" => Tool::SyncRatings,
            "refresh-catalogue" => Tool::RefreshCatalogue,
            "audit" => Tool::Audit,
            "log" => Tool::Log,
            other => {
                let role = other.strip_prefix("test-print:")?;
                Tool::TestPrint(*PrinterRole::ALL.iter().find(|r| r.name() == role)?)
            }
        })
    }
}

/// What a tool came to: whether it did its work, and its lines for the technician (as the
/// CLI prints them: which part, what state, what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolReport {
    pub ok: bool,
    pub lines: Vec<String>,
}

/// The tool last started on the page, running or with its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRun {
    pub tool: Tool,
    /// `None` while it runs.
    pub report: Option<ToolReport>,
}

/// What the maintenance page shows about the terminal; the shell reads it when the
/// technician's PIN is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaintenanceInfo {
    pub terminal_id: String,
    pub terminal_name: String,
    pub version: String,
    /// The back office's address ("… (embedded)" in embedded mode).
    pub backoffice_url: String,
    /// The last warning or error logged ("" none).
    pub last_error: String,
    pub settings: Vec<SettingRow>,
    /// The printers, one per role, each with a test print.
    pub printers: Vec<PrinterRow>,
}

/// What a PIN check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinAnswer {
    /// The technician's PIN: the maintenance page opens with this.
    Technician(Box<MaintenanceInfo>),
    /// A staff member's PIN: 帮办 starts.
    Staff(StaffId),
    Wrong {
        attempts_left: u32,
    },
    Locked {
        remaining: Duration,
    },
    NoPins,
    /// The check failed (the shell logs why).
    Unavailable,
}

impl PinAnswer {
    /// From [`crate::pin::enter`]'s answer; `info` is read only for the technician.
    pub fn from_entry(
        entry: Result<pin::Entry, pin::PinError>,
        info: impl FnOnce() -> MaintenanceInfo,
    ) -> Self {
        match entry {
            Ok(pin::Entry::Accepted(pin::Holder::Technician)) => {
                PinAnswer::Technician(Box::new(info()))
            }
            Ok(pin::Entry::Accepted(pin::Holder::Staff(id))) => PinAnswer::Staff(id),
            Ok(pin::Entry::Wrong { attempts_left }) => PinAnswer::Wrong { attempts_left },
            Ok(pin::Entry::Locked { remaining }) => PinAnswer::Locked { remaining },
            Ok(pin::Entry::NoPins) => PinAnswer::NoPins,
            Err(_) => PinAnswer::Unavailable,
        }
    }
}

/// How saving a setting ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingAnswer {
    /// Saved and in force: the message says where and when it applies; the rows are
    /// the settings as they are now.
    Saved {
        message: String,
        settings: Vec<SettingRow>,
    },
    /// Refused (the validator's lines) or not written: nothing saved.
    Refused { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceEvent {
    /// The hidden gesture (a 5-second press on the top-left corner).
    Open,
    /// Answer to [`MaintenanceEffect::CheckLock`]: the pad is locked for this long.
    LockChecked(Option<Duration>),
    Key(String),
    Backspace,
    Clear,
    /// 确认.
    Submit,
    /// Answer to [`MaintenanceEffect::VerifyPin`].
    PinChecked(PinAnswer),
    EditSetting(String),
    SettingDigit(String),
    SettingBackspace,
    SettingClear,
    CancelSetting,
    SaveSetting,
    /// Answer to [`MaintenanceEffect::SaveSetting`].
    SettingSaved(SettingAnswer),
    /// A tool's button: runs it unless a tool is running (one at a time: a second tap
    /// while one runs does nothing).
    RunTool(Tool),
    /// Answer to [`MaintenanceEffect::RunTool`].
    ToolDone(Tool, ToolReport),
    /// 退出维护模式.
    Leave,
    /// 确定关闭 (关闭终端程序, confirmed on the page).
    ExitTerminal,
}

/// How maintenance mode closed, for the audit (`maintenance_left`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceEnd {
    /// "left maintenance mode": 退出维护模式, or another page was opened.
    Left,
    /// "maintenance mode closed: the session ended (idle)".
    SessionEnded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceEffect {
    /// Show the pad (the technician page) and count idle from now.
    ShowPad,
    /// Ask whether the pad is locked now; answer [`MaintenanceEvent::LockChecked`].
    CheckLock,
    /// Check the PIN (argon2, the store's lockout); answer [`MaintenanceEvent::PinChecked`].
    VerifyPin(Pin),
    /// Save `key = value` into the settings layer (validated, audited, put in force);
    /// answer [`MaintenanceEvent::SettingSaved`].
    SaveSetting { key: String, value: String },
    /// Run a tool off the UI thread; answer [`MaintenanceEvent::ToolDone`].
    RunTool(Tool),
    /// Audit that maintenance mode closed.
    MaintenanceLeft(MaintenanceEnd),
    /// Audit, then stop the terminal program (exit status `EXIT_TECHNICIAN`).
    StopTerminal,
    /// A staff member's PIN was accepted: 帮办 starts on the home page.
    StaffAccepted(StaffId),
    /// The technician left: the session ends.
    EndSession,
}

/// The PIN typed so far. `Debug` shows how many digits, never which.
#[derive(Clone, Default, PartialEq, Eq)]
struct PinDigits(String);

impl fmt::Debug for PinDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinDigits({} typed)", self.0.len())
    }
}

/// The setting being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SettingEdit {
    key: String,
    entry: String,
}

/// The pad and the maintenance page. `Maintenance::default()`: closed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Maintenance {
    /// The pad was opened (answers for a pad that was closed since are dropped).
    shown: bool,
    pin: PinDigits,
    pad: PadState,
    /// The technician is in: what the page shows.
    unlocked: Option<MaintenanceInfo>,
    editing: Option<SettingEdit>,
    message: String,
    refused: bool,
    tool: Option<ToolRun>,
}

/// What the technician page shows (`TechnicianAdapter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceView<'a> {
    /// One dot per digit typed.
    pub pin_length: usize,
    pub pad: PadState,
    /// `Some`: the maintenance page shows instead of the pad.
    pub unlocked: Option<&'a MaintenanceInfo>,
    /// The setting being edited ("" none) and the digits typed for it.
    pub setting_key: &'a str,
    pub setting_entry: &'a str,
    pub setting_message: &'a str,
    pub setting_refused: bool,
    /// The tool last started, running or with its report.
    pub tool: Option<&'a ToolRun>,
}

fn minutes_left(d: Duration) -> u32 {
    u32::try_from(d.as_secs().div_ceil(60))
        .unwrap_or(u32::MAX)
        .max(1)
}

impl Maintenance {
    pub fn view(&self) -> MaintenanceView<'_> {
        MaintenanceView {
            pin_length: self.pin.0.len(),
            pad: self.pad,
            unlocked: self.unlocked.as_ref(),
            setting_key: self.editing.as_ref().map_or("", |e| e.key.as_str()),
            setting_entry: self.editing.as_ref().map_or("", |e| e.entry.as_str()),
            setting_message: &self.message,
            setting_refused: self.refused,
            tool: self.tool.as_ref(),
        }
    }

    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some()
    }

    fn edit_pin(&mut self, f: impl FnOnce(&mut String)) {
        if self.pad == PadState::Checking {
            return;
        }
        f(&mut self.pin.0);
        if !matches!(self.pad, PadState::Locked { .. }) {
            self.pad = PadState::None;
        }
    }

    fn edit_setting(&mut self, f: impl FnOnce(&mut String)) {
        if let Some(e) = &mut self.editing {
            f(&mut e.entry);
        }
    }

    pub fn handle(
        &mut self,
        event: MaintenanceEvent,
        settings: &Settings,
    ) -> Vec<MaintenanceEffect> {
        match event {
            MaintenanceEvent::Open => {
                *self = Self {
                    shown: true,
                    ..Self::default()
                };
                let mut fx = vec![MaintenanceEffect::ShowPad];
                if settings.store {
                    fx.push(MaintenanceEffect::CheckLock);
                }
                return fx;
            }
            MaintenanceEvent::LockChecked(Some(remaining))
                if self.shown && self.pad == PadState::None && self.unlocked.is_none() =>
            {
                self.pad = PadState::Locked {
                    minutes_left: minutes_left(remaining),
                };
            }
            MaintenanceEvent::LockChecked(_) => {}
            MaintenanceEvent::Key(k) => self.edit_pin(|p| {
                if k.len() == 1 && k.as_bytes()[0].is_ascii_digit() && p.len() < PAD_DIGITS {
                    p.push_str(&k);
                }
            }),
            MaintenanceEvent::Backspace => self.edit_pin(|p| {
                p.pop();
            }),
            MaintenanceEvent::Clear => self.edit_pin(String::clear),
            MaintenanceEvent::Submit => {
                if self.pad == PadState::Checking {
                    return Vec::new();
                }
                let typed = std::mem::take(&mut self.pin.0);
                if typed.is_empty() {
                    return Vec::new();
                }
                if !settings.store {
                    self.pad = PadState::Unavailable;
                    return Vec::new();
                }
                self.pad = PadState::Checking;
                return vec![MaintenanceEffect::VerifyPin(Pin(typed))];
            }
            MaintenanceEvent::PinChecked(answer) => {
                if !self.shown || self.pad != PadState::Checking {
                    // The pad closed while checking: a late answer opens nothing.
                    return Vec::new();
                }
                self.pad = match answer {
                    PinAnswer::Technician(info) => {
                        self.unlocked = Some(*info);
                        self.editing = None;
                        PadState::None
                    }
                    PinAnswer::Staff(id) => {
                        self.pad = PadState::None;
                        return vec![MaintenanceEffect::StaffAccepted(id)];
                    }
                    PinAnswer::Wrong { attempts_left } => PadState::Wrong { attempts_left },
                    PinAnswer::Locked { remaining } => PadState::Locked {
                        minutes_left: minutes_left(remaining),
                    },
                    PinAnswer::NoPins => PadState::NoPin,
                    PinAnswer::Unavailable => PadState::Unavailable,
                };
            }
            MaintenanceEvent::EditSetting(key) => {
                if let Some(info) = &self.unlocked {
                    let entry = info
                        .settings
                        .iter()
                        .find(|r| r.key == key)
                        .map(|r| r.value.clone())
                        .unwrap_or_default();
                    self.editing = Some(SettingEdit { key, entry });
                    self.message.clear();
                    self.refused = false;
                }
            }
            MaintenanceEvent::SettingDigit(d) => self.edit_setting(|e| {
                if e.len() < SETTING_DIGITS && d.chars().all(|c| c.is_ascii_digit()) {
                    e.push_str(&d);
                }
            }),
            MaintenanceEvent::SettingBackspace => self.edit_setting(|e| {
                e.pop();
            }),
            MaintenanceEvent::SettingClear => self.edit_setting(String::clear),
            MaintenanceEvent::CancelSetting => {
                self.editing = None;
                self.message.clear();
            }
            MaintenanceEvent::SaveSetting => {
                let (Some(_), Some(edit)) = (&self.unlocked, &self.editing) else {
                    return Vec::new();
                };
                if !settings.settings_writable {
                    self.refused = true;
                    self.message = "this terminal runs without a config file; nothing saved".into();
                    return Vec::new();
                }
                return vec![MaintenanceEffect::SaveSetting {
                    key: edit.key.clone(),
                    value: edit.entry.clone(),
                }];
            }
            MaintenanceEvent::SettingSaved(answer) => {
                let Some(info) = &mut self.unlocked else {
                    return Vec::new();
                };
                match answer {
                    SettingAnswer::Saved { message, settings } => {
                        self.refused = false;
                        self.message = message;
                        info.settings = settings;
                        self.editing = None;
                    }
                    SettingAnswer::Refused { message } => {
                        self.refused = true;
                        self.message = message;
                    }
                }
            }
            MaintenanceEvent::RunTool(tool) => {
                let running = self.tool.as_ref().is_some_and(|t| t.report.is_none());
                if self.unlocked.is_some() && !running {
                    self.tool = Some(ToolRun { tool, report: None });
                    return vec![MaintenanceEffect::RunTool(tool)];
                }
            }
            MaintenanceEvent::ToolDone(tool, report) => {
                // Only the tool running now: a late answer after leaving shows nothing.
                if let Some(run) = &mut self.tool
                    && run.tool == tool
                    && run.report.is_none()
                {
                    run.report = Some(report);
                }
            }
            MaintenanceEvent::Leave => {
                self.tool = None;
                if self.unlocked.take().is_some() {
                    return vec![
                        MaintenanceEffect::MaintenanceLeft(MaintenanceEnd::Left),
                        MaintenanceEffect::EndSession,
                    ];
                }
            }
            MaintenanceEvent::ExitTerminal => {
                if self.unlocked.is_some() {
                    return vec![MaintenanceEffect::StopTerminal];
                }
            }
        }
        Vec::new()
    }

    /// Another page opened: the pad and the page close (audited if the technician was in).
    pub(crate) fn page_left(&mut self) -> Vec<MaintenanceEffect> {
        let was_in = self.unlocked.is_some();
        *self = Self::default();
        if was_in {
            vec![MaintenanceEffect::MaintenanceLeft(MaintenanceEnd::Left)]
        } else {
            Vec::new()
        }
    }

    /// The session ends: maintenance closes (audited if it was open).
    pub(crate) fn end(self) -> Vec<MaintenanceEffect> {
        if self.unlocked.is_some() {
            vec![MaintenanceEffect::MaintenanceLeft(
                MaintenanceEnd::SessionEnded,
            )]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testing::settings;

    fn typed(m: &mut Maintenance, pin: &str) {
        for c in pin.chars() {
            m.handle(MaintenanceEvent::Key(c.to_string()), &settings());
        }
    }

    fn info() -> MaintenanceInfo {
        MaintenanceInfo {
            terminal_id: "CN-TSL-001".into(),
            settings: vec![SettingRow {
                key: "display.idle_timeout_s".into(),
                value: "90".into(),
            }],
            ..MaintenanceInfo::default()
        }
    }

    fn unlocked() -> Maintenance {
        let mut m = Maintenance::default();
        m.handle(MaintenanceEvent::Open, &settings());
        typed(&mut m, "246810");
        m.handle(MaintenanceEvent::Submit, &settings());
        m.handle(
            MaintenanceEvent::PinChecked(PinAnswer::Technician(Box::new(info()))),
            &settings(),
        );
        m
    }

    #[test]
    fn tools_run_one_at_a_time_and_late_answers_show_nothing() {
        let report = |ok| ToolReport {
            ok,
            lines: vec!["printed".into()],
        };
        // Not unlocked: no tool runs.
        let mut m = Maintenance::default();
        assert_eq!(
            m.handle(MaintenanceEvent::RunTool(Tool::Log), &settings()),
            vec![]
        );
        let mut m = unlocked();
        let print = Tool::TestPrint(PrinterRole::Receipt);
        assert_eq!(
            m.handle(MaintenanceEvent::RunTool(print), &settings()),
            vec![MaintenanceEffect::RunTool(print)]
        );
        assert_eq!(
            m.view().tool,
            Some(&ToolRun {
                tool: print,
                report: None
            })
        );
        // A second tap, on this tool or another, waits for the first.
        assert_eq!(
            m.handle(MaintenanceEvent::RunTool(print), &settings()),
            vec![]
        );
        assert_eq!(
            m.handle(MaintenanceEvent::RunTool(Tool::SyncRatings), &settings()),
            vec![]
        );
        // Another tool's answer changes nothing.
        m.handle(
            MaintenanceEvent::ToolDone(Tool::Audit, report(true)),
            &settings(),
        );
        assert_eq!(m.view().tool.unwrap().report, None);
        m.handle(
            MaintenanceEvent::ToolDone(print, report(false)),
            &settings(),
        );
        assert_eq!(m.view().tool.unwrap().report, Some(report(false)));
        // Done: the next tool may run.
        assert_eq!(
            m.handle(MaintenanceEvent::RunTool(Tool::SyncRatings), &settings()),
            vec![MaintenanceEffect::RunTool(Tool::SyncRatings)]
        );
        // Leaving drops it: its late answer shows nothing.
        m.handle(MaintenanceEvent::Leave, &settings());
        m.handle(
            MaintenanceEvent::ToolDone(Tool::SyncRatings, report(true)),
            &settings(),
        );
        assert_eq!(m.view().tool, None);
    }

    #[test]
    fn tool_names_round_trip() {
        let mut all = vec![
            Tool::SyncRatings,
            Tool::RefreshCatalogue,
            Tool::Audit,
            Tool::Log,
        ];
        all.extend(PrinterRole::ALL.map(Tool::TestPrint));
        for t in all {
            assert_eq!(Tool::parse(&t.name()), Some(t), "{}", t.name());
        }
        for bad in ["", "test-print:", "test-print:fax", "SYNC", "sync "] {
            assert_eq!(Tool::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_technicians_pin_opens_the_page() {
        let mut m = Maintenance::default();
        assert_eq!(
            m.handle(MaintenanceEvent::Open, &settings()),
            vec![MaintenanceEffect::ShowPad, MaintenanceEffect::CheckLock]
        );
        typed(&mut m, "246810");
        assert_eq!(m.view().pin_length, 6);
        let fx = m.handle(MaintenanceEvent::Submit, &settings());
        let [MaintenanceEffect::VerifyPin(pin)] = &fx[..] else {
            panic!("{fx:?}");
        };
        assert_eq!(pin.expose_pin(), "246810");
        assert!(
            !format!("{fx:?} {m:?}").contains("246810"),
            "never in Debug"
        );
        assert_eq!((m.view().pad, m.view().pin_length), (PadState::Checking, 0));
        // Typing and 确认 wait for the answer.
        typed(&mut m, "1");
        assert_eq!(m.handle(MaintenanceEvent::Submit, &settings()), vec![]);
        assert_eq!(m.view().pin_length, 0);
        m.handle(
            MaintenanceEvent::PinChecked(PinAnswer::Technician(Box::new(info()))),
            &settings(),
        );
        assert_eq!(m.view().unlocked, Some(&info()));
        assert_eq!(m.view().pad, PadState::None);
    }

    #[test]
    fn wrong_locked_no_pin_and_unavailable() {
        let cases = [
            (
                PinAnswer::Wrong { attempts_left: 3 },
                PadState::Wrong { attempts_left: 3 },
            ),
            (
                PinAnswer::Locked {
                    remaining: Duration::from_secs(61),
                },
                PadState::Locked { minutes_left: 2 },
            ),
            (PinAnswer::NoPins, PadState::NoPin),
            (PinAnswer::Unavailable, PadState::Unavailable),
        ];
        for (answer, want) in cases {
            let mut m = Maintenance::default();
            m.handle(MaintenanceEvent::Open, &settings());
            typed(&mut m, "111111");
            m.handle(MaintenanceEvent::Submit, &settings());
            m.handle(MaintenanceEvent::PinChecked(answer), &settings());
            assert_eq!(m.view().pad, want);
            assert!(!m.is_unlocked());
            typed(&mut m, "1");
            let after = if matches!(want, PadState::Locked { .. }) {
                want
            } else {
                PadState::None
            };
            assert_eq!(m.view().pad, after, "typing clears all but the lock");
        }
        // Without a store nothing can be checked.
        let no_store = Settings {
            store: false,
            ..settings()
        };
        let mut m = Maintenance::default();
        assert_eq!(
            m.handle(MaintenanceEvent::Open, &no_store),
            vec![MaintenanceEffect::ShowPad]
        );
        typed(&mut m, "111111");
        assert_eq!(m.handle(MaintenanceEvent::Submit, &no_store), vec![]);
        assert_eq!(m.view().pad, PadState::Unavailable);
        assert_eq!(
            m.handle(MaintenanceEvent::Submit, &settings()),
            vec![],
            "empty"
        );
    }

    #[test]
    fn a_locked_pad_says_so_on_opening() {
        let mut m = Maintenance::default();
        m.handle(
            MaintenanceEvent::LockChecked(Some(Duration::from_secs(10))),
            &settings(),
        );
        assert_eq!(m, Maintenance::default(), "not opened: dropped");
        m.handle(MaintenanceEvent::Open, &settings());
        m.handle(
            MaintenanceEvent::LockChecked(Some(Duration::from_secs(10))),
            &settings(),
        );
        assert_eq!(m.view().pad, PadState::Locked { minutes_left: 1 });
    }

    #[test]
    fn a_staff_pin_starts_assistance_and_late_answers_open_nothing() {
        let mut m = Maintenance::default();
        m.handle(MaintenanceEvent::Open, &settings());
        typed(&mut m, "135790");
        m.handle(MaintenanceEvent::Submit, &settings());
        let staff = StaffId::parse("S1024").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            m.handle(
                MaintenanceEvent::PinChecked(PinAnswer::Staff(staff.clone())),
                &settings()
            ),
            vec![MaintenanceEffect::StaffAccepted(staff)]
        );
        let mut m = Maintenance::default();
        m.handle(MaintenanceEvent::Open, &settings());
        typed(&mut m, "246810");
        m.handle(MaintenanceEvent::Submit, &settings());
        assert_eq!(m.page_left(), vec![], "not in yet: nothing to audit");
        m.handle(
            MaintenanceEvent::PinChecked(PinAnswer::Technician(Box::new(info()))),
            &settings(),
        );
        assert!(!m.is_unlocked(), "the pad was left while checking");
    }

    #[test]
    fn settings_edit_save_refuse_cancel() {
        let mut m = unlocked();
        m.handle(
            MaintenanceEvent::EditSetting("display.idle_timeout_s".into()),
            &settings(),
        );
        assert_eq!(
            (m.view().setting_key, m.view().setting_entry),
            ("display.idle_timeout_s", "90")
        );
        for d in ["1", "2", "0", "0", "0", "0", "0", "x"] {
            m.handle(MaintenanceEvent::SettingDigit(d.into()), &settings());
        }
        assert_eq!(m.view().setting_entry, "901200", "six digits at most");
        m.handle(MaintenanceEvent::SettingClear, &settings());
        m.handle(MaintenanceEvent::SettingDigit("6".into()), &settings());
        m.handle(MaintenanceEvent::SettingDigit("0".into()), &settings());
        m.handle(MaintenanceEvent::SettingDigit("0".into()), &settings());
        m.handle(MaintenanceEvent::SettingBackspace, &settings());
        assert_eq!(
            m.handle(MaintenanceEvent::SaveSetting, &settings()),
            vec![MaintenanceEffect::SaveSetting {
                key: "display.idle_timeout_s".into(),
                value: "60".into()
            }]
        );
        m.handle(
            MaintenanceEvent::SettingSaved(SettingAnswer::Refused {
                message: "too short; nothing saved".into(),
            }),
            &settings(),
        );
        assert!(m.view().setting_refused);
        assert_eq!(
            m.view().setting_key,
            "display.idle_timeout_s",
            "still editing"
        );
        let rows = vec![SettingRow {
            key: "display.idle_timeout_s".into(),
            value: "60".into(),
        }];
        m.handle(
            MaintenanceEvent::SettingSaved(SettingAnswer::Saved {
                message: "saved; in force now".into(),
                settings: rows.clone(),
            }),
            &settings(),
        );
        let v = m.view();
        assert_eq!((v.setting_key, v.setting_refused), ("", false));
        assert_eq!(v.setting_message, "saved; in force now");
        assert_eq!(v.unlocked.map(|i| &i.settings), Some(&rows));
        // Read-only config: refused at once, nothing sent.
        let ro = Settings {
            settings_writable: false,
            ..settings()
        };
        m.handle(
            MaintenanceEvent::EditSetting("display.idle_timeout_s".into()),
            &ro,
        );
        assert_eq!(m.handle(MaintenanceEvent::SaveSetting, &ro), vec![]);
        assert!(m.view().setting_refused);
        m.handle(MaintenanceEvent::CancelSetting, &ro);
        assert_eq!((m.view().setting_key, m.view().setting_message), ("", ""));
    }

    #[test]
    fn leaving_stopping_and_closing_are_audited() {
        let mut m = unlocked();
        assert_eq!(
            m.handle(MaintenanceEvent::ExitTerminal, &settings()),
            vec![MaintenanceEffect::StopTerminal]
        );
        assert_eq!(
            m.handle(MaintenanceEvent::Leave, &settings()),
            vec![
                MaintenanceEffect::MaintenanceLeft(MaintenanceEnd::Left),
                MaintenanceEffect::EndSession
            ]
        );
        assert_eq!(
            m.handle(MaintenanceEvent::Leave, &settings()),
            vec![],
            "once"
        );
        assert_eq!(
            m.handle(MaintenanceEvent::ExitTerminal, &settings()),
            vec![]
        );
        let mut m = unlocked();
        assert_eq!(
            m.page_left(),
            vec![MaintenanceEffect::MaintenanceLeft(MaintenanceEnd::Left)]
        );
        assert_eq!(m, Maintenance::default());
        assert_eq!(
            unlocked().end(),
            vec![MaintenanceEffect::MaintenanceLeft(
                MaintenanceEnd::SessionEnded
            )]
        );
        assert_eq!(Maintenance::default().end(), vec![]);
    }
}
