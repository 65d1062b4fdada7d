//! 帮办: the staff member who signed in with their own PIN to help this resident, and how their help ends.
//!
//! Audits of what happens in the session (a card issued, a rating) name them. Their
//! sign-out ends the session; so does the session's end sign them out.

use crate::pin::StaffId;

/// How a 帮办 session ended, for the audit (`staff_signed_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffEnd {
    /// "退出帮办": "帮办 ended: staff:ID signed out".
    SignedOut,
    /// The resident session ended (idle): "帮办 ended: staff:ID's session ended (idle)".
    SessionEnded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssistEvent {
    /// The PIN pad accepted this staff member's PIN.
    SignedIn(StaffId),
    /// "退出帮办" (`SessionAdapter.staff-sign-out`).
    SignOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssistEffect {
    /// Audit the end of this staff member's help.
    StaffSignedOut { staff: StaffId, how: StaffEnd },
    /// The sign-out ends the resident session.
    EndSession,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assist {
    staff: Option<StaffId>,
}

impl Assist {
    /// The staff member signed in, if any (`SessionAdapter.staff`: "" none).
    pub fn staff(&self) -> Option<&StaffId> {
        self.staff.as_ref()
    }

    pub fn handle(&mut self, event: AssistEvent) -> Vec<AssistEffect> {
        match event {
            AssistEvent::SignedIn(id) => {
                self.staff = Some(id);
                Vec::new()
            }
            AssistEvent::SignOut => match self.staff.take() {
                Some(staff) => vec![
                    AssistEffect::StaffSignedOut {
                        staff,
                        how: StaffEnd::SignedOut,
                    },
                    AssistEffect::EndSession,
                ],
                None => Vec::new(),
            },
        }
    }

    /// The session ends: a staff member still signed in is signed out (audited).
    pub(crate) fn end(self) -> Vec<AssistEffect> {
        self.staff
            .map(|staff| AssistEffect::StaffSignedOut {
                staff,
                how: StaffEnd::SessionEnded,
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff() -> StaffId {
        StaffId::parse("S1024").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sign_out_is_audited_and_ends_the_session_once() {
        let mut a = Assist::default();
        assert_eq!(a.handle(AssistEvent::SignOut), vec![], "nobody signed in");
        a.handle(AssistEvent::SignedIn(staff()));
        assert_eq!(a.staff(), Some(&staff()));
        assert_eq!(
            a.handle(AssistEvent::SignOut),
            vec![
                AssistEffect::StaffSignedOut {
                    staff: staff(),
                    how: StaffEnd::SignedOut
                },
                AssistEffect::EndSession
            ]
        );
        assert_eq!(a.staff(), None);
        assert_eq!(a.end(), vec![], "signed out already: not audited twice");
    }

    #[test]
    fn the_session_end_signs_staff_out() {
        let mut a = Assist::default();
        a.handle(AssistEvent::SignedIn(staff()));
        assert_eq!(
            a.end(),
            vec![AssistEffect::StaffSignedOut {
                staff: staff(),
                how: StaffEnd::SessionEnded
            }]
        );
        assert_eq!(Assist::default().end(), vec![]);
    }
}
