//! The resident flows as state machines with no UI: events go in, effects come out.
//!
//! Layout (gitui / Slint todo-mvc style):
//! - [`nav`]         — pages, 返回, the idle timer and its "还需要更多时间吗？" countdown
//! - [`browse`]      — search query and answers, audience and theme, the item or bundle shown, guide printing
//! - [`card`]        — 离线码: the resident identified (card, code, or typed where allowed), lookup, confirm, issue and print, 补办, 挂失
//! - [`identity`]    — the ID card on the reader, scanned codes, keyboard-wedge bursts, the scanned 离线码 check
//! - [`mine`]        — 办件进度: the identified resident's applications
//! - [`certificate`] — 证明打印: a certificate and a period by touch, printed, held, cancelled
//! - [`quick`]       — 快办: an item's prefilled form, its fields one at a time, confirm, submit once
//! - [`finish`]      — how every task ends: the result, the rating of the 办件, 结束办理 / 继续办理, the countdown
//! - [`rating`]      — 好差评: level, reasons, callback number, saving; one rating per service per session (per 办件)
//! - [`help`]        — 呼叫工作人员
//! - [`assist`]      — 帮办: the staff member signed in for this resident, and their sign-out
//! - [`maintenance`] — the PIN pad behind the hidden gesture, and the maintenance page
//! - [`session`]     — [`Session`], all of the above as one value, and [`Terminal`], which
//!   ends a session by dropping it and starting a fresh one
//!
//! The UI (another crate) renders from these values and sends events; it never reads a
//! property of its own back to decide anything. Every effect is run by the shell off the
//! UI thread, and its result comes back as an event through [`Terminal::answer`] with the
//! [`Ticket`] the effect carried, so an answer meant for a session that has ended is
//! dropped. Nothing here does I/O, reads a clock or knows Slint: times come in with the
//! events ([`Moment`]).

pub mod assist;
pub mod browse;
pub mod card;
pub mod certificate;
pub mod finish;
pub mod help;
pub mod identity;
pub mod maintenance;
pub mod mine;
pub mod nav;
pub mod quick;
pub mod rating;
pub mod session;

use std::time::Duration;

pub use assist::{Assist, AssistEvent, StaffEnd};
pub use browse::{Browse, BrowseEvent, GuidePrint, SearchAnswer, ShownItem};
pub use card::{
    CardEvent, CardFailure, CardFlow, CardStep, CardView, IdProblem, IssueOutcome, LookupOutcome,
    LostOutcome, PrintWait,
};
pub use help::{HelpEvent, HelpFlow, HelpState};
pub use identity::{
    CardCheck, CardRead, CheckOutcome, CheckStep, Identity, IdentityEffect, IdentityEvent, Notice,
    ReaderProblem, ReaderState, ResolveOutcome, Wedge,
};
pub use maintenance::{
    Maintenance, MaintenanceEnd, MaintenanceEvent, MaintenanceInfo, MaintenanceView, PadState, Pin,
    PinAnswer, PrinterRow, SettingAnswer, SettingRow, Tool, ToolReport, ToolRun,
};
pub use nav::{EndReason, Nav, NavEvent, Page};
pub use rating::{
    RatedService, RatingEvent, RatingFlow, RatingSource, RatingStep, RatingView, ReasonTag,
    SaveOutcome,
};
pub use session::{Command, Effect, Event, JobMark, Prints, Session, Terminal, Ticket};

/// The instant an event happened, as the shell's clocks read it: monotonic for the idle
/// timer (Slint's mocked time in tests), wall time for what is stamped (a rating's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub monotonic: Duration,
    pub wall: chrono::DateTime<chrono::Utc>,
}

/// What the flows need to know about this terminal: the config and which parts it runs
/// with. Not a resident value; it outlives every session. The shell builds it from the
/// config (and again when the config changes live).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `display.idle_timeout_s`, already clamped to 1 s ..= `MAX_IDLE_TIMEOUT_S`.
    pub idle_timeout: Duration,
    /// How long "还需要更多时间吗？" counts down before the session ends.
    pub idle_countdown: Duration,
    /// `display.large_font`: 长者模式 at the start of every session.
    pub large_font: bool,
    /// `display.language == "en"`: English at the start of every session.
    pub english: bool,
    /// `terminal.id`, stamped on ratings.
    pub terminal_id: String,
    /// `ratings.reasons`: the reason tags a 差评 offers, in this order.
    pub rating_reasons: Vec<String>,
    /// `identity.keypad` (as [`crate::config::Config::keypad`] resolves it).
    pub keypad: crate::config::Keypad,
    /// `identity.scanner = "keyboard"`: key presses are watched for a scanner's bursts.
    pub wedge: bool,
    /// A back-office client exists (lookups, cards, help requests are possible).
    pub backoffice: bool,
    /// The key issued codes must verify against is known (cards can be printed).
    pub trusted_key: bool,
    /// The local store is open (ratings, PINs, audits).
    pub store: bool,
    /// The config has a settings layer the maintenance page may write.
    pub settings_writable: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(90),
            idle_countdown: Duration::from_secs(10),
            large_font: false,
            english: false,
            terminal_id: String::new(),
            rating_reasons: Vec::new(),
            keypad: crate::config::Keypad::Open,
            wedge: false,
            backoffice: true,
            trusted_key: true,
            store: true,
            settings_writable: true,
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the flows' tests.
    use super::*;

    /// A valid ID number of a resident born in 1949 (check character X).
    pub(crate) const ID: &str = "11010519491231002X";
    pub(crate) const PHONE: &str = "13800138000";

    pub(crate) fn settings() -> Settings {
        Settings {
            terminal_id: "CN-TSL-001".into(),
            rating_reasons: vec!["等候时间长".into(), "态度不好".into(), "系统故障".into()],
            ..Settings::default()
        }
    }

    pub(crate) fn at(secs: u64) -> Moment {
        Moment {
            monotonic: Duration::from_secs(secs),
            wall: chrono::DateTime::from_timestamp(1_780_000_000 + secs as i64, 0)
                .unwrap_or_default(),
        }
    }
}
