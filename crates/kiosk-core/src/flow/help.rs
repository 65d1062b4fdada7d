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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HelpFlow {
    state: HelpState,
}

impl HelpFlow {
    pub fn state(&self) -> HelpState {
        self.state
    }

    /// `page`: the page shown; `backoffice`: a back-office client exists.
    pub fn handle(&mut self, event: HelpEvent, page: Page, backoffice: bool) -> Vec<HelpEffect> {
        match event {
            HelpEvent::Call if !backoffice => self.state = HelpState::Unavailable,
            HelpEvent::Call => return vec![HelpEffect::CallStaff { page }],
            HelpEvent::Dismiss => self.state = HelpState::None,
            HelpEvent::Answered(true) => self.state = HelpState::Coming,
            HelpEvent::Answered(false) => self.state = HelpState::Unavailable,
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_goes_out_and_its_answer_opens_the_dialog() {
        let mut h = HelpFlow::default();
        assert_eq!(
            h.handle(HelpEvent::Call, Page::Search, true),
            vec![HelpEffect::CallStaff { page: Page::Search }]
        );
        assert_eq!(h.state(), HelpState::None, "no dialog until it is answered");
        h.handle(HelpEvent::Answered(true), Page::Home, true);
        assert_eq!(h.state(), HelpState::Coming);
        h.handle(HelpEvent::Dismiss, Page::Home, true);
        assert_eq!(h.state(), HelpState::None);
    }

    #[test]
    fn without_a_back_office_or_on_failure_go_to_a_window() {
        let mut h = HelpFlow::default();
        assert_eq!(h.handle(HelpEvent::Call, Page::Home, false), vec![]);
        assert_eq!(h.state(), HelpState::Unavailable);
        let mut h = HelpFlow::default();
        h.handle(HelpEvent::Call, Page::Home, true);
        h.handle(HelpEvent::Answered(false), Page::Home, true);
        assert_eq!(h.state(), HelpState::Unavailable);
    }
}
