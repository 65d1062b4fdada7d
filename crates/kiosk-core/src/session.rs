//! The resident session: idle timer with a countdown, and the entry fields that are wiped when the resident leaves.
//!
//! Plain Rust (no Slint types), so the rules are unit-tested without a window.

use std::time::Duration;

/// What the idle timer says at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleState {
    Active,
    /// "还需要更多时间吗？" with this many whole seconds left.
    Countdown(u32),
    /// Time is up: wipe the session and show the attract screen.
    Expired,
}

/// Times are monotonic durations since any fixed origin (the UI's clock), so tests can
/// drive them with Slint's mocked time.
#[derive(Debug, Clone)]
pub struct IdleTimer {
    timeout: Duration,
    countdown: Duration,
    last_activity: Duration,
    /// Idle only counts while a resident session is open (not on the attract screen).
    armed: bool,
}

impl IdleTimer {
    pub fn new(timeout: Duration, countdown: Duration, now: Duration) -> Self {
        Self {
            timeout,
            countdown,
            last_activity: now,
            armed: false,
        }
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// A touch: the resident is still here.
    pub fn activity(&mut self, now: Duration) {
        self.last_activity = now;
    }

    /// Opens a session (attract → home).
    pub fn arm(&mut self, now: Duration) {
        self.armed = true;
        self.last_activity = now;
    }

    /// Closes the session (back on the attract screen).
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    pub fn state(&self, now: Duration) -> IdleState {
        if !self.armed {
            return IdleState::Active;
        }
        let idle = now.saturating_sub(self.last_activity);
        if idle < self.timeout {
            IdleState::Active
        } else if idle < self.timeout + self.countdown {
            let left = self.timeout + self.countdown - idle;
            IdleState::Countdown(left.as_secs_f64().ceil() as u32)
        } else {
            IdleState::Expired
        }
    }
}

/// Typed ID number: digits, and X only as the 18th character.
#[derive(Debug, Default, Clone)]
pub struct IdEntry {
    text: String,
}

impl IdEntry {
    pub fn key(&mut self, k: &str) {
        let n = self.text.chars().count();
        match k {
            d if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() && n < 18 => {
                self.text.push_str(d)
            }
            "X" | "x" if n == 17 => self.text.push('X'),
            _ => {}
        }
    }
    pub fn backspace(&mut self) {
        self.text.pop();
    }
    pub fn clear(&mut self) {
        self.text.clear();
    }
    /// Shown to the resident in groups of 6-8-4 for easy checking.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (i, c) in self.text.chars().enumerate() {
            if i == 6 || i == 14 {
                s.push(' ');
            }
            s.push(c);
        }
        s
    }
    pub fn len(&self) -> usize {
        self.text.len()
    }
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
    pub fn parse(&self) -> Result<crate::identity::IdNumber, crate::identity::IdNumberError> {
        crate::identity::IdNumber::parse(&self.text)
    }
}

/// A typed PIN: digits only, at most 12.
#[derive(Default, Clone)]
pub struct PinEntry {
    digits: String,
}

impl PinEntry {
    pub fn key(&mut self, k: &str) {
        if k.len() == 1 && k.as_bytes()[0].is_ascii_digit() && self.digits.len() < 12 {
            self.digits.push_str(k);
        }
    }
    pub fn backspace(&mut self) {
        self.digits.pop();
    }
    pub fn clear(&mut self) {
        self.digits.clear();
    }
    pub fn len(&self) -> usize {
        self.digits.len()
    }
    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }
    /// Takes the PIN out, leaving the entry empty.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.digits)
    }
}

/// Everything a resident typed or chose; wiped when the session ends.
#[derive(Default, Clone)]
pub struct ResidentFields {
    pub query: String,
    pub id: IdEntry,
    pub pin: PinEntry,
    /// The 好差评 being made (level, reasons, callback number).
    pub rating: crate::ratings::Draft,
    /// Services rated in this session: one rating per service session (一次一评).
    pub rated: Vec<String>,
    /// The item whose 办事指南 is (or was last) shown.
    pub shown_item: Option<String>,
    /// 帮办: the staff member who signed in with their PIN to help this resident. Audits
    /// of what happens in the session (offline-code issuance) name them; the session's
    /// end (sign-out or idle) signs them out.
    pub staff: Option<crate::pin::StaffId>,
}

impl ResidentFields {
    pub fn wipe(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_counts_down_then_expires_and_activity_resets() {
        let t0 = Duration::from_secs(1000);
        let mut t = IdleTimer::new(Duration::from_secs(90), Duration::from_secs(10), t0);
        assert_eq!(
            t.state(t0 + Duration::from_secs(500)),
            IdleState::Active,
            "not armed on attract"
        );
        t.arm(t0);
        assert_eq!(t.state(t0 + Duration::from_secs(89)), IdleState::Active);
        assert_eq!(
            t.state(t0 + Duration::from_secs(90)),
            IdleState::Countdown(10)
        );
        assert_eq!(
            t.state(t0 + Duration::from_millis(95_500)),
            IdleState::Countdown(5)
        );
        assert_eq!(t.state(t0 + Duration::from_secs(100)), IdleState::Expired);
        t.activity(t0 + Duration::from_secs(95));
        assert_eq!(t.state(t0 + Duration::from_secs(100)), IdleState::Active);
    }

    #[test]
    fn id_entry_accepts_x_only_last() {
        let mut e = IdEntry::default();
        e.key("X");
        assert!(e.is_empty());
        for d in "31010519500101123".chars() {
            e.key(&d.to_string());
        }
        e.key("X");
        assert_eq!(e.len(), 18);
        e.key("1");
        assert_eq!(e.len(), 18);
        assert_eq!(e.display(), "310105 19500101 123X");
        assert!(e.parse().is_err(), "X is the wrong check character here");
        e.backspace();
        e.key("1");
        assert!(e.parse().is_ok());
        let mut f = ResidentFields {
            id: e,
            query: "jzz".into(),
            rating: crate::ratings::Draft {
                phone: "13800138000".into(),
                ..Default::default()
            },
            rated: vec!["x".into()],
            staff: crate::pin::StaffId::parse("S1024").ok(),
            ..Default::default()
        };
        f.wipe();
        assert!(
            f.id.is_empty()
                && f.query.is_empty()
                && f.rating.phone.is_empty()
                && f.rated.is_empty()
        );
        assert!(f.staff.is_none(), "the session's end signs staff out");
    }
}
