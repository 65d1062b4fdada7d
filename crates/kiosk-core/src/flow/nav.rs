//! Navigation: which page shows, where the item page's 返回 goes, and the idle timer with its countdown.

use std::time::Duration;

use crate::session::{IdleState, IdleTimer};

/// The pages of the window (`Page` in ui/theme.slint, same order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Page {
    /// The attract screen: no session is open.
    #[default]
    Attract,
    Home,
    Catalogue,
    Item,
    Bundle,
    Search,
    Faq,
    OfflineCode,
    Rating,
    /// A scanned 离线码 card's check: valid until …, or void.
    CardCheck,
    /// 我的: 办件进度, 证明打印 and 快办, for the identified resident.
    Mine,
    /// 办件进度: the resident's applications.
    Applications,
    /// 证明打印.
    Certificates,
    /// 快办: the items, one item's form, its confirmation.
    Quick,
    /// The end of a task: the result, then 结束办理 / 继续办理 and the countdown.
    Done,
    /// The PIN pad and, once unlocked, the maintenance page.
    Technician,
}

impl Page {
    /// The name a help request carries (`page` on the wire): as today's terminal sent it.
    pub fn wire_name(self) -> &'static str {
        match self {
            Page::Attract => "attract",
            Page::Home => "home",
            Page::Catalogue => "catalogue",
            Page::Item => "item",
            Page::Bundle => "bundle",
            Page::Search => "search",
            Page::Faq => "faq",
            Page::OfflineCode => "offlinecode",
            Page::Rating => "rating",
            Page::CardCheck => "cardcheck",
            Page::Mine => "mine",
            Page::Applications => "applications",
            Page::Certificates => "certificates",
            Page::Quick => "quick",
            Page::Done => "done",
            Page::Technician => "technician",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The idle countdown ran out.
    Idle,
    /// 帮办 staff signed out.
    StaffSignedOut,
    /// The technician left the maintenance page.
    MaintenanceLeft,
    /// 结束办理, and its countdown ran out.
    Finished,
}

/// What the resident (or the clock) does to navigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NavEvent {
    /// A touch on the attract screen: the session opens on the home page.
    Wake,
    /// A page button (`SessionAdapter.go`).
    Go(Page),
    /// The bottom bar's 首页 / 返回: from the item page back to where it was opened from,
    /// from anywhere else to the home page.
    Back,
    /// Any touch (`Session.activity`): the resident is still here.
    Activity,
    /// "需要，继续办理" in the countdown dialog.
    MoreTime,
    /// The shell's ticker (every 250 ms today).
    Tick,
}

/// What navigation asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NavEffect {
    /// The page changed (the session closes what the old page had open).
    Left { from: Page, to: Page },
    /// The countdown ran out: end the session.
    End(EndReason),
}

/// Pages and the idle timer. Times are the shell's monotonic clock.
#[derive(Debug, Clone)]
pub struct Nav {
    page: Page,
    /// Where 返回 on the item page goes.
    item_return: Page,
    /// Seconds left in the countdown dialog; 0: no dialog.
    countdown: u32,
    idle: IdleTimer,
    /// Mirrors whether `idle` is armed (IdleTimer does not tell), for equality.
    armed: bool,
}

/// Equal when a resident would see the same: the instant of the last touch is a time,
/// not something a resident typed or chose, and is left out.
impl PartialEq for Nav {
    fn eq(&self, other: &Self) -> bool {
        self.page == other.page
            && self.item_return == other.item_return
            && self.countdown == other.countdown
            && self.armed == other.armed
    }
}

impl Nav {
    /// The attract screen, idle timer not counting.
    pub fn new(timeout: Duration, countdown: Duration, now: Duration) -> Self {
        Self {
            page: Page::Attract,
            item_return: Page::Home,
            countdown: 0,
            idle: IdleTimer::new(timeout, countdown, now),
            armed: false,
        }
    }

    pub fn page(&self) -> Page {
        self.page
    }

    pub fn item_return(&self) -> Page {
        self.item_return
    }

    /// Seconds left in "还需要更多时间吗？"; 0 when the dialog is not shown.
    pub fn countdown(&self) -> u32 {
        self.countdown
    }

    /// Whether a session is open (idle counts).
    pub fn is_open(&self) -> bool {
        self.armed
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.idle.set_timeout(timeout);
    }

    /// Opens (or re-opens) the session at `now`: idle counts from here.
    pub(crate) fn arm(&mut self, now: Duration) {
        self.idle.arm(now);
        self.armed = true;
        self.countdown = 0;
    }

    /// Shows `page`, remembering where the item page returns to.
    pub(crate) fn show(&mut self, page: Page) -> Vec<NavEffect> {
        let from = self.page;
        if page == Page::Item && from != Page::Item {
            self.item_return = from;
        }
        self.page = page;
        if from == page {
            Vec::new()
        } else {
            vec![NavEffect::Left { from, to: page }]
        }
    }

    pub fn handle(&mut self, event: NavEvent, now: Duration) -> Vec<NavEffect> {
        match event {
            NavEvent::Wake => {
                self.arm(now);
                self.show(Page::Home)
            }
            NavEvent::Go(page) => self.show(page),
            NavEvent::Back => {
                let to = if self.page == Page::Item {
                    self.item_return
                } else {
                    Page::Home
                };
                self.show(to)
            }
            NavEvent::Activity => {
                self.idle.activity(now);
                Vec::new()
            }
            NavEvent::MoreTime => {
                self.idle.activity(now);
                self.countdown = 0;
                Vec::new()
            }
            NavEvent::Tick => match self.idle.state(now) {
                IdleState::Active => {
                    self.countdown = 0;
                    Vec::new()
                }
                IdleState::Countdown(n) => {
                    self.countdown = n;
                    Vec::new()
                }
                IdleState::Expired => vec![NavEffect::End(EndReason::Idle)],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn nav() -> Nav {
        Nav::new(s(90), s(10), s(0))
    }

    #[test]
    fn wake_opens_home_and_idle_counts_down_then_ends() {
        let mut n = nav();
        assert_eq!(n.handle(NavEvent::Tick, s(500)), vec![], "attract: no idle");
        assert_eq!(n.page(), Page::Attract);
        assert_eq!(
            n.handle(NavEvent::Wake, s(1000)),
            vec![NavEffect::Left {
                from: Page::Attract,
                to: Page::Home
            }]
        );
        assert!(n.is_open());
        n.handle(NavEvent::Tick, s(1089));
        assert_eq!(n.countdown(), 0);
        n.handle(NavEvent::Tick, s(1090));
        assert_eq!(n.countdown(), 10);
        n.handle(NavEvent::Tick, s(1095));
        assert_eq!(n.countdown(), 5);
        assert_eq!(
            n.handle(NavEvent::Tick, s(1100)),
            vec![NavEffect::End(EndReason::Idle)]
        );
    }

    #[test]
    fn more_time_and_touches_hold_the_session_open() {
        let mut n = nav();
        n.handle(NavEvent::Wake, s(0));
        n.handle(NavEvent::Tick, s(95));
        assert_eq!(n.countdown(), 5);
        n.handle(NavEvent::MoreTime, s(96));
        assert_eq!(n.countdown(), 0, "the dialog closes at once");
        assert_eq!(n.handle(NavEvent::Tick, s(185)), vec![]);
        n.handle(NavEvent::Activity, s(180));
        assert_eq!(n.handle(NavEvent::Tick, s(269)), vec![]);
        assert_eq!(n.countdown(), 0);
        n.set_timeout(s(30));
        n.handle(NavEvent::Tick, s(215));
        assert_eq!(
            n.countdown(),
            5,
            "a changed timeout applies at the next tick"
        );
    }

    #[test]
    fn back_from_an_item_returns_where_it_was_opened() {
        let mut n = nav();
        n.handle(NavEvent::Wake, s(0));
        n.handle(NavEvent::Go(Page::Search), s(1));
        n.show(Page::Item);
        assert_eq!(n.item_return(), Page::Search);
        // Opening another item from the item page keeps the first return.
        n.show(Page::Item);
        assert_eq!(n.item_return(), Page::Search);
        assert_eq!(
            n.handle(NavEvent::Back, s(2)),
            vec![NavEffect::Left {
                from: Page::Item,
                to: Page::Search
            }]
        );
        n.handle(NavEvent::Back, s(3));
        assert_eq!(n.page(), Page::Home, "返回 elsewhere is 首页");
    }

    #[test]
    fn equality_ignores_the_instant_of_the_last_touch() {
        assert_eq!(nav(), Nav::new(s(90), s(10), s(12345)));
        let mut open = nav();
        open.handle(NavEvent::Wake, s(1));
        assert_ne!(open, nav());
    }

    #[test]
    fn wire_names_are_the_old_lowercased_debug_names() {
        assert_eq!(Page::OfflineCode.wire_name(), "offlinecode");
        assert_eq!(Page::Faq.wire_name(), "faq");
    }
}
