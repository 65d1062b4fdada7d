//! How every task ends, in one place: the result ("请取走…" where something was printed)
//! → the rating of that 办件 where one applies (skippable; it opens by itself) → 结束办理 /
//! 继续办理 → a short countdown to the attract screen.
//!
//! A flow that finishes a task hands [`Finish::start`] a [`TaskDone`]; the session shows
//! [`super::Page::Done`] and runs the rest. Times come from the ticker ([`Moment`]).

use std::time::Duration;

use crate::api::CertificateKind;

use super::rating::RatedCase;

/// How long the result shows before the rating opens by itself.
pub const RESULT_HOLD: Duration = Duration::from_secs(8);
/// The countdown after 结束办理.
pub const END_COUNTDOWN: Duration = Duration::from_secs(5);

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// A certificate printed.
    Certificate(CertificateKind),
    /// A 快办 item submitted.
    Quick { name: String, name_en: String },
    /// A 办事指南 (of an item or a 一件事) printed: `name_en` is empty where the
    /// catalogue has no English.
    Guide { name: String, name_en: String },
    /// A 离线码 card taken from the printer (its own page said "请取走您的卡片").
    Card,
}

/// What the printer gave the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    /// "请取走您的证明" / "请取走您的回执".
    Yes,
    /// Nothing printed where something should have been (the receipt failed, or the
    /// resident cancelled it while the printer was held): the result says so.
    Failed,
    Cancelled,
}

/// A task finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDone {
    pub task: Task,
    pub printed: Printed,
    /// 办件编号, shown on the result.
    pub case_no: String,
    /// What happens next (a 快办), shown on the result.
    pub next_steps: String,
    pub next_steps_en: String,
    /// The rating of this 办件, when one applies.
    pub rate: Option<RatedCase>,
}

/// Where the end of a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinishStep {
    /// No task is ending.
    #[default]
    None,
    /// The result.
    Result,
    /// The rating page is open (the rating flow runs it).
    Rating,
    /// 结束办理 / 继续办理.
    Choice,
    /// Counting down to the attract screen (seconds left in [`Finish::seconds_left`]).
    Countdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishEvent {
    /// 下一步 on the result (to the rating, or the choice when none applies).
    Next,
    /// 跳过评价, or 下一步 once the rating is saved (or was given before).
    RatingDone,
    /// 结束办理: the countdown starts.
    EndVisit,
    /// 继续办理: back to 我的, the session goes on.
    KeepGoing,
}

/// What the end of a task asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishEffect {
    /// Show the result page ([`super::Page::Done`]).
    ShowResult,
    /// Open the rating of this 办件.
    OpenRating(RatedCase),
    /// 继续办理: back to 我的 (a 办件), or home (a guide).
    Continue(Task),
    /// The countdown ran out: end the session.
    EndSession,
}

/// The end of the task of the moment.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    step: FinishStep,
    done: Option<TaskDone>,
    /// When the step began (monotonic): the result's hold, the countdown's start.
    since: Duration,
    seconds_left: u32,
}

/// Equal when a resident would see the same (the instant a step began is left out).
impl PartialEq for Finish {
    fn eq(&self, other: &Self) -> bool {
        self.step == other.step
            && self.done == other.done
            && self.seconds_left == other.seconds_left
    }
}

impl Finish {
    pub fn step(&self) -> FinishStep {
        self.step
    }
    pub fn done(&self) -> Option<&TaskDone> {
        self.done.as_ref()
    }
    /// During the countdown.
    pub fn seconds_left(&self) -> u32 {
        self.seconds_left
    }

    /// A task finished: its result shows.
    pub(crate) fn start(&mut self, done: TaskDone, now: Duration) -> Vec<FinishEffect> {
        *self = Finish {
            step: FinishStep::Result,
            done: Some(done),
            since: now,
            seconds_left: 0,
        };
        vec![FinishEffect::ShowResult]
    }

    fn to(&mut self, step: FinishStep, now: Duration) {
        self.step = step;
        self.since = now;
    }

    /// From the result to the rating (when one applies) or the choice.
    fn after_result(&mut self, now: Duration) -> Vec<FinishEffect> {
        match self.done.as_ref().and_then(|d| d.rate.clone()) {
            Some(case) => {
                self.to(FinishStep::Rating, now);
                vec![FinishEffect::OpenRating(case)]
            }
            None => {
                self.to(FinishStep::Choice, now);
                vec![FinishEffect::ShowResult]
            }
        }
    }

    pub(crate) fn handle(&mut self, ev: FinishEvent, now: Duration) -> Vec<FinishEffect> {
        match (self.step, ev) {
            (FinishStep::Result, FinishEvent::Next) => self.after_result(now),
            (FinishStep::Rating, FinishEvent::RatingDone) => {
                self.to(FinishStep::Choice, now);
                vec![FinishEffect::ShowResult]
            }
            (FinishStep::Result | FinishStep::Choice, FinishEvent::EndVisit) => {
                self.to(FinishStep::Countdown, now);
                self.seconds_left = END_COUNTDOWN.as_secs() as u32;
                Vec::new()
            }
            (
                FinishStep::Result | FinishStep::Choice | FinishStep::Countdown,
                FinishEvent::KeepGoing,
            ) => {
                let task = self.done.take().map(|d| d.task);
                *self = Finish::default();
                task.map(FinishEffect::Continue).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The ticker: the result's hold runs out into the rating; the countdown counts.
    pub(crate) fn tick(&mut self, now: Duration) -> Vec<FinishEffect> {
        let passed = now.saturating_sub(self.since);
        match self.step {
            FinishStep::Result if passed >= RESULT_HOLD => self.after_result(now),
            FinishStep::Countdown => {
                let left = END_COUNTDOWN.saturating_sub(passed);
                self.seconds_left = left.as_secs_f64().ceil() as u32;
                if left.is_zero() {
                    *self = Finish::default();
                    vec![FinishEffect::EndSession]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// The resident left the end of the task for another page (首页, 返回): it is over.
    pub(crate) fn left(&mut self) {
        *self = Finish::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(rate: bool) -> TaskDone {
        TaskDone {
            task: Task::Quick {
                name: "老年综合津贴申请".into(),
                name_en: "Senior citizens' allowance".into(),
            },
            printed: Printed::Yes,
            case_no: "CN310105-2026-Q000001".into(),
            next_steps: "5个工作日内办结".into(),
            next_steps_en: "Done within 5 working days".into(),
            rate: rate.then(|| RatedCase {
                case_no: "CN310105-2026-Q000001".into(),
                item_code: "310105-MZ-0031".into(),
                item_name: "老年综合津贴申请".into(),
                item_name_en: "Senior citizens' allowance".into(),
            }),
        }
    }
    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn result_then_the_rating_by_itself_then_the_choice_then_the_countdown() {
        let mut f = Finish::default();
        assert_eq!(f.start(done(true), S(10)), vec![FinishEffect::ShowResult]);
        assert_eq!(f.step(), FinishStep::Result);
        assert!(f.tick(S(17)).is_empty(), "the result holds a while");
        assert!(
            matches!(&f.tick(S(18))[..], [FinishEffect::OpenRating(c)] if c.case_no.ends_with("Q000001"))
        );
        assert_eq!(f.step(), FinishStep::Rating);
        assert!(
            f.handle(FinishEvent::EndVisit, S(19)).is_empty(),
            "not while rating"
        );
        assert_eq!(
            f.handle(FinishEvent::RatingDone, S(20)),
            vec![FinishEffect::ShowResult]
        );
        assert_eq!(f.step(), FinishStep::Choice);
        f.handle(FinishEvent::EndVisit, S(30));
        assert_eq!((f.step(), f.seconds_left()), (FinishStep::Countdown, 5));
        f.tick(S(32));
        assert_eq!(f.seconds_left(), 3);
        assert_eq!(f.tick(S(35)), vec![FinishEffect::EndSession]);
        assert_eq!(f, Finish::default());
    }

    #[test]
    fn no_rating_goes_to_the_choice_and_keep_going_stops_the_countdown() {
        let mut f = Finish::default();
        f.start(done(false), S(0));
        assert_eq!(
            f.handle(FinishEvent::Next, S(1)),
            vec![FinishEffect::ShowResult]
        );
        assert_eq!(f.step(), FinishStep::Choice);
        f.handle(FinishEvent::EndVisit, S(2));
        assert_eq!(
            f.handle(FinishEvent::KeepGoing, S(3)),
            vec![FinishEffect::Continue(done(false).task)]
        );
        assert_eq!(f.step(), FinishStep::None);
        assert!(f.tick(S(100)).is_empty());
    }
}
