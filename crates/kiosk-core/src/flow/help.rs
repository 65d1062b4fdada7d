//! 呼叫工作人员: the help request and the dialog that answers it.

use super::nav::Page;

/// The help dialog (`SessionAdapter.help-state` today: the number in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HelpState {
    /// (0) No dialog.
    #[default]
    None,
    /// (1) "已通知工作人员，马上就到，请稍候".
    Coming,
    /// (2) "暂时无法呼叫，请到最近的服务窗口": no back office, or the request failed.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpEvent {
    /// The 呼叫工作人员 button.
    Call,
    /// "知道了".
    Dismiss,
    /// Answer to [`HelpEffect::CallStaff`]: the back office took the request (true).
    Answered(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpEffect {
    /// Send a help request naming this page (`Page::wire_name`); answer
    /// [`HelpEvent::Answered`].
    CallStaff { page: Page },
}

/// Whether staff were called in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Called {
    #[default]
    No,
    /// Sent, not answered yet.
    Pending,
    /// The back office took it, at this local time of day (hour, minute).
    Taken(u32, u32),
}

/// The help dialog, and the call of this session: one request per session, shown until
/// the session ends ("已呼叫工作人员 14:05").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HelpFlow {
    state: HelpState,
    called: Called,
}

impl HelpFlow {
    pub fn state(&self) -> HelpState {
        self.state
    }

    /// When the call of this session was taken (local hour and minute), if it was: the
    /// banner shows it until the session ends.
    pub fn called_at(&self) -> Option<(u32, u32)> {
        match self.called {
            Called::Taken(h, m) => Some((h, m)),
            _ => None,
        }
    }

    /// `page`: the page shown; `backoffice`: a back-office client exists; `now`: the local
    /// hour and minute.
    pub fn handle(
        &mut self,
        event: HelpEvent,
        page: Page,
        backoffice: bool,
        now: (u32, u32),
    ) -> Vec<HelpEffect> {
        match event {
            HelpEvent::Call if !backoffice => self.state = HelpState::Unavailable,
            // Called already: the dialog again, never a second request.
            HelpEvent::Call if self.called == Called::Pending => {}
            HelpEvent::Call if matches!(self.called, Called::Taken(..)) => {
                self.state = HelpState::Coming
            }
            HelpEvent::Call => {
                self.called = Called::Pending;
                return vec![HelpEffect::CallStaff { page }];
            }
            HelpEvent::Dismiss => self.state = HelpState::None,
            HelpEvent::Answered(true) => {
                self.state = HelpState::Coming;
                self.called = Called::Taken(now.0, now.1);
            }
            HelpEvent::Answered(false) => {
                // Not taken: a later press may try again.
                self.state = HelpState::Unavailable;
                self.called = Called::No;
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: (u32, u32) = (14, 5);

    #[test]
    fn a_call_goes_out_and_its_answer_opens_the_dialog() {
        let mut h = HelpFlow::default();
        assert_eq!(
            h.handle(HelpEvent::Call, Page::Search, true, NOW),
            vec![HelpEffect::CallStaff { page: Page::Search }]
        );
        assert_eq!(h.state(), HelpState::None, "no dialog until it is answered");
        h.handle(HelpEvent::Answered(true), Page::Home, true, NOW);
        assert_eq!(h.state(), HelpState::Coming);
        h.handle(HelpEvent::Dismiss, Page::Home, true, NOW);
        assert_eq!(h.state(), HelpState::None);
    }

    #[test]
    fn one_call_per_session_however_often_it_is_pressed() {
        let mut h = HelpFlow::default();
        assert_eq!(h.handle(HelpEvent::Call, Page::Home, true, NOW).len(), 1);
        assert!(
            h.handle(HelpEvent::Call, Page::Home, true, NOW).is_empty(),
            "pending"
        );
        h.handle(HelpEvent::Answered(true), Page::Home, true, NOW);
        assert_eq!(h.called_at(), Some(NOW));
        h.handle(HelpEvent::Dismiss, Page::Home, true, NOW);
        assert!(
            h.handle(HelpEvent::Call, Page::Item, true, (14, 9))
                .is_empty()
        );
        assert_eq!(h.state(), HelpState::Coming, "the dialog says it again");
        assert_eq!(
            h.called_at(),
            Some(NOW),
            "the time of the call, not of the press"
        );
        // A call the back office did not take may be tried again.
        let mut h = HelpFlow::default();
        h.handle(HelpEvent::Call, Page::Home, true, NOW);
        h.handle(HelpEvent::Answered(false), Page::Home, true, NOW);
        assert_eq!(h.handle(HelpEvent::Call, Page::Home, true, NOW).len(), 1);
    }

    #[test]
    fn without_a_back_office_or_on_failure_go_to_a_window() {
        let mut h = HelpFlow::default();
        assert_eq!(h.handle(HelpEvent::Call, Page::Home, false, NOW), vec![]);
        assert_eq!(h.state(), HelpState::Unavailable);
        let mut h = HelpFlow::default();
        h.handle(HelpEvent::Call, Page::Home, true, NOW);
        h.handle(HelpEvent::Answered(false), Page::Home, true, NOW);
        assert_eq!(h.state(), HelpState::Unavailable);
    }
}
