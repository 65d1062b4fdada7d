//! 我的: what is the identified resident's own. Today: 办件进度, their applications and
//! where each stands, read from the back office with the resident token the session
//! holds ([`super::identity::Identity::token`]).

use crate::api::{Application, ApplicationStatus};

/// Where the 我的 page is (`MineAdapter.step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MineStep {
    /// Nobody identified: "请将身份证放在读卡器上".
    #[default]
    NeedsIdentity,
    /// Asking the back office.
    Loading,
    /// The applications (perhaps none).
    List,
    /// The back office cannot be asked now: "暂时无法查询，请稍后再试或到服务窗口".
    Unavailable,
}

/// Why the list could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MineProblem {
    /// Not reachable, or the resident session could not be opened.
    Network,
    /// The back office refused the resident token (expired, ended).
    SessionEnded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MineEvent {
    /// Answer to [`MineEffect::LoadApplications`].
    Loaded(Result<Vec<Application>, MineProblem>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MineEffect {
    /// `GET /residents/me/applications` with this resident token.
    LoadApplications(String),
}

/// One status reached, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub status: ApplicationStatus,
    /// `2026-11-20`, Shanghai time.
    pub date: String,
}

/// One application on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    pub case_no: String,
    pub item_name: String,
    pub submitted_on: String,
    pub status: ApplicationStatus,
    pub timeline: Vec<StepRow>,
    /// With 需补正: what is missing.
    pub missing: String,
    /// With 已办结: where and how to collect the result.
    pub collect: String,
}

impl From<&Application> for ApplicationRow {
    fn from(a: &Application) -> Self {
        ApplicationRow {
            case_no: a.case_no.clone(),
            item_name: a.item_name.clone(),
            submitted_on: a.submitted_on.format("%Y-%m-%d").to_string(),
            status: a.status,
            timeline: a
                .timeline
                .iter()
                .map(|s| StepRow {
                    status: s.status,
                    date: s
                        .at
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%d")
                        .to_string(),
                })
                .collect(),
            missing: a.missing.clone().unwrap_or_default(),
            collect: a.collect.clone().unwrap_or_default(),
        }
    }
}

/// The 我的 page's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mine {
    step: MineStep,
    rows: Vec<ApplicationRow>,
    problem: Option<MineProblem>,
    /// A load was asked for and not answered.
    waiting: bool,
}

impl Mine {
    pub fn step(&self) -> MineStep {
        self.step
    }
    pub fn rows(&self) -> &[ApplicationRow] {
        &self.rows
    }
    pub fn problem(&self) -> Option<MineProblem> {
        self.problem
    }

    /// The page opened (or the resident token arrived while it is open). `identified`:
    /// a resident is; `token`: their session at the back office, when it is open;
    /// `opening`: it is being opened.
    pub(crate) fn open(
        &mut self,
        identified: bool,
        token: Option<&str>,
        opening: bool,
    ) -> Vec<MineEffect> {
        *self = Mine::default();
        match (identified, token) {
            (false, _) => Vec::new(),
            (true, Some(t)) => {
                self.step = MineStep::Loading;
                self.waiting = true;
                vec![MineEffect::LoadApplications(t.to_string())]
            }
            (true, None) if opening => {
                self.step = MineStep::Loading;
                Vec::new()
            }
            (true, None) => {
                self.step = MineStep::Unavailable;
                self.problem = Some(MineProblem::Network);
                Vec::new()
            }
        }
    }

    pub(crate) fn handle(&mut self, ev: MineEvent) {
        match ev {
            MineEvent::Loaded(answer) if self.waiting => {
                self.waiting = false;
                match answer {
                    Ok(apps) => {
                        self.step = MineStep::List;
                        // Newest first: what a resident comes to ask about.
                        let mut rows: Vec<ApplicationRow> = apps.iter().map(Into::into).collect();
                        rows.sort_by(|a, b| b.submitted_on.cmp(&a.submitted_on));
                        self.rows = rows;
                    }
                    Err(p) => {
                        self.step = MineStep::Unavailable;
                        self.problem = Some(p);
                    }
                }
            }
            // Late: the page was left or opened again.
            MineEvent::Loaded(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StatusStep;

    fn app(case: &str, on: &str, status: ApplicationStatus) -> Application {
        Application {
            case_no: case.into(),
            item_code: "310105-001".into(),
            item_name: "居住证签注".into(),
            submitted_on: on.parse().unwrap_or_default(),
            status,
            timeline: vec![StatusStep {
                status,
                at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
            }],
            missing: (status == ApplicationStatus::NeedsCorrection).then(|| "近期照片".into()),
            collect: None,
        }
    }

    #[test]
    fn nobody_identified_asks_for_the_card() {
        let mut m = Mine::default();
        assert!(m.open(false, None, false).is_empty());
        assert_eq!(m.step(), MineStep::NeedsIdentity);
    }

    #[test]
    fn the_list_loads_with_the_token_newest_first() {
        let mut m = Mine::default();
        assert_eq!(
            m.open(true, Some("tok"), false),
            vec![MineEffect::LoadApplications("tok".into())]
        );
        assert_eq!(m.step(), MineStep::Loading);
        m.handle(MineEvent::Loaded(Ok(vec![
            app("A", "2026-10-01", ApplicationStatus::Completed),
            app("B", "2026-11-20", ApplicationStatus::NeedsCorrection),
        ])));
        assert_eq!(m.step(), MineStep::List);
        assert_eq!(m.rows()[0].case_no, "B");
        assert_eq!(m.rows()[0].missing, "近期照片");
        // A late second answer changes nothing.
        m.handle(MineEvent::Loaded(Ok(Vec::new())));
        assert_eq!(m.rows().len(), 2);
    }

    #[test]
    fn waiting_for_the_session_then_failing_says_unavailable() {
        let mut m = Mine::default();
        assert!(m.open(true, None, true).is_empty());
        assert_eq!(m.step(), MineStep::Loading);
        assert!(m.open(true, None, false).is_empty());
        assert_eq!(m.step(), MineStep::Unavailable);
        let mut m = Mine::default();
        m.open(true, Some("t"), false);
        m.handle(MineEvent::Loaded(Err(MineProblem::SessionEnded)));
        assert_eq!(
            (m.step(), m.problem()),
            (MineStep::Unavailable, Some(MineProblem::SessionEnded))
        );
    }
}
