//! 好差评 flow: five levels with nothing preselected; a 差评 asks for reasons and offers a callback (only with consent); one rating per service per session.
//!
//! The rules of a rating are [`crate::ratings::Draft::finish`]'s; this flow keeps the
//! resident's choices, walks the steps and hands a finished [`Rating`] to the shell.

use std::fmt;

use crate::api::{Rating, RatingLevel};
use crate::pin::StaffId;
use crate::ratings::{self, Draft, DraftError};

use super::browse::ShownItem;
use super::{Moment, Settings};

/// Item code rated after a 离线码 card was printed.
pub const OFFLINE_CODE_SERVICE: &str = "offline-code-card";

/// Longest callback number, in digits.
const PHONE_DIGITS: usize = 11;

/// Where the rating flow is (`RatingAdapter.step` today: the number in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RatingStep {
    /// (0) Choose one of the five levels.
    #[default]
    Level,
    /// (1) A 差评: reasons, and the callback offer.
    Reasons,
    /// (2) The callback number.
    Phone,
    /// (3) Saving.
    Saving,
    /// (4) "感谢您的评价".
    Thanks,
    /// (5) This service was already rated in this session (一次一评).
    AlreadyRated,
    /// (6) The rating could not be saved.
    NotSaved,
    /// (7) The rating could not be saved because the terminal's disk is full
    /// ("存储空间已满，暂时无法保存评价"); the service may be rated again later.
    DiskFull,
}

/// A 办件 just handled at the terminal (a certificate printed, a 快办 submitted): rated
/// 一事一评 by its 办件编号.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedCase {
    pub case_no: String,
    pub item_code: String,
    pub item_name: String,
    pub item_name_en: String,
}

/// What became of a rating handed to the store ([`RatingEffect::StoreRating`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// On disk, in the outbox.
    Saved,
    /// Refused: the disk is full (or the store is open read-only for that reason).
    DiskFull,
    /// Not saved for another reason.
    Failed,
    /// Refused: this 办件 was rated before (一事一评).
    CaseRated,
}

/// Where the rating was opened from (`RatingAdapter.open(source)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingSource {
    /// (0) The item page: the item shown (the terminal when none was).
    ShownItem,
    /// (1) The 离线码 card just printed.
    OfflineCard,
    /// (2) Home: this terminal's service.
    Terminal,
}

/// What is rated (`RatingAdapter.service-kind`, and `service-name` for an item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatedService {
    /// (0)
    Item(ShownItem),
    /// (1)
    OfflineCard,
    /// (2)
    Terminal,
    /// (3) A 办件 handled here (`service-name`: its item; the 办件编号 shown).
    Case(RatedCase),
}

impl RatedService {
    /// The item code the rating carries.
    pub fn item_code(&self) -> &str {
        match self {
            RatedService::Item(i) => &i.code,
            RatedService::OfflineCard => OFFLINE_CODE_SERVICE,
            RatedService::Terminal => ratings::TERMINAL_SERVICE,
            RatedService::Case(c) => &c.item_code,
        }
    }
    /// The 办件编号 the rating carries, for a 办件.
    pub fn case_no(&self) -> Option<&str> {
        match self {
            RatedService::Case(c) => Some(&c.case_no),
            _ => None,
        }
    }
    /// What 一次一评 counts: the 办件 for a 办件, else the item.
    fn rated_key(&self) -> String {
        match self {
            RatedService::Case(c) => format!("case:{}", c.case_no),
            other => other.item_code().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingEvent {
    /// Opens the rating of a service. The session fills in the item shown.
    Open(RatingSource),
    /// Opens the rating of a 办件 just handled (the end of a task opens it by itself).
    OpenCase(RatedCase),
    /// One of the five levels, 5 (非常满意) to 1 (非常不满意).
    Choose(u8),
    /// A reason tag, by its place in `Settings::rating_reasons`.
    ToggleReason(usize),
    /// "需要工作人员回访我".
    ToggleCallback,
    PhoneKey(String),
    PhoneBackspace,
    PhoneClear,
    /// 上一步.
    Back,
    /// 下一步 / 提交评价.
    Next,
    /// Answer to [`RatingEffect::StoreRating`].
    Stored(SaveOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingEffect {
    /// Show the rating page.
    ShowPage,
    /// Commit the rating to the outbox (and wake the uploader); answer
    /// [`RatingEvent::Stored`].
    StoreRating(Box<Rating>),
}

/// The callback number typed. `Debug` masks it.
#[derive(Clone, Default, PartialEq, Eq)]
struct PhoneDigits(String);

impl fmt::Debug for PhoneDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneDigits({} typed)", self.0.len())
    }
}

/// What the resident chose, and which services were rated in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingFlow {
    step: RatingStep,
    service: RatedService,
    level: Option<RatingLevel>,
    /// Chosen tags, in the order they are offered.
    reasons: Vec<String>,
    callback: bool,
    phone: PhoneDigits,
    /// The last refused submit.
    error: Option<DraftError>,
    /// Item codes rated in this session (一次一评): only ratings that were saved. A
    /// rating the store refused was not given, so the service can still be rated.
    rated: Vec<String>,
}

impl Default for RatingFlow {
    fn default() -> Self {
        Self {
            step: RatingStep::Level,
            service: RatedService::Terminal,
            level: None,
            reasons: Vec::new(),
            callback: false,
            phone: PhoneDigits::default(),
            error: None,
            rated: Vec::new(),
        }
    }
}

/// One reason tag as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonTag {
    pub text: String,
    pub chosen: bool,
}

/// What the rating page shows. `Debug` masks the number.
#[derive(Clone, PartialEq, Eq)]
pub struct RatingView {
    pub step: RatingStep,
    pub service: RatedService,
    pub level: Option<RatingLevel>,
    pub reasons: Vec<ReasonTag>,
    pub callback: bool,
    pub phone_entry: String,
    /// Why the last submit was refused (`DraftError::code()` is today's `error`).
    pub error: Option<DraftError>,
}

impl fmt::Debug for RatingView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatingView")
            .field("step", &self.step)
            .field("service", &self.service)
            .field("level", &self.level)
            .field("reasons", &self.reasons)
            .field("callback", &self.callback)
            .field(
                "phone_entry",
                &format_args!("{} digits", self.phone_entry.len()),
            )
            .field("error", &self.error)
            .finish()
    }
}

impl RatingFlow {
    pub fn step(&self) -> RatingStep {
        self.step
    }

    pub fn view(&self, settings: &Settings) -> RatingView {
        RatingView {
            step: self.step,
            service: self.service.clone(),
            level: self.level,
            reasons: settings
                .rating_reasons
                .iter()
                .map(|t| ReasonTag {
                    text: t.clone(),
                    chosen: self.reasons.contains(t),
                })
                .collect(),
            callback: self.callback,
            phone_entry: self.phone.0.clone(),
            error: self.error,
        }
    }

    fn edit(&mut self, f: impl FnOnce(&mut Self)) {
        f(self);
        self.error = None;
    }

    /// `shown`: the item whose guide is (or was last) shown; `staff`: 帮办 staff signed in.
    pub fn handle(
        &mut self,
        event: RatingEvent,
        settings: &Settings,
        shown: Option<&ShownItem>,
        staff: Option<&StaffId>,
        at: Moment,
    ) -> Vec<RatingEffect> {
        match event {
            RatingEvent::Open(_) | RatingEvent::OpenCase(_) => {
                let service = match (event, shown) {
                    (RatingEvent::OpenCase(case), _) => RatedService::Case(case),
                    (RatingEvent::Open(RatingSource::ShownItem), Some(item)) => {
                        RatedService::Item(item.clone())
                    }
                    (RatingEvent::Open(RatingSource::OfflineCard), _) => RatedService::OfflineCard,
                    _ => RatedService::Terminal,
                };
                let key = service.rated_key();
                let already = self.rated.contains(&key);
                *self = Self {
                    step: if already {
                        RatingStep::AlreadyRated
                    } else {
                        RatingStep::Level
                    },
                    service,
                    rated: std::mem::take(&mut self.rated),
                    ..Self::default()
                };
                return vec![RatingEffect::ShowPage];
            }
            RatingEvent::Choose(level) => self.edit(|d| {
                d.level = RatingLevel::try_from(level).ok();
                if !d.level.is_some_and(RatingLevel::is_bad) {
                    // Reasons and a callback belong to a 差评 only.
                    d.reasons.clear();
                    d.callback = false;
                    d.phone.0.clear();
                }
            }),
            RatingEvent::ToggleReason(i) => self.edit(|d| {
                let offered = &settings.rating_reasons;
                let Some(tag) = offered.get(i) else {
                    return;
                };
                if let Some(at) = d.reasons.iter().position(|r| r == tag) {
                    d.reasons.remove(at);
                } else {
                    d.reasons.push(tag.clone());
                    // Keep the order the tags are offered in.
                    d.reasons
                        .sort_by_key(|r| offered.iter().position(|o| o == r).unwrap_or(usize::MAX));
                }
            }),
            RatingEvent::ToggleCallback => self.edit(|d| {
                d.callback = !d.callback;
                if !d.callback {
                    d.phone.0.clear();
                }
            }),
            RatingEvent::PhoneKey(k) => self.edit(|d| {
                if d.phone.0.len() < PHONE_DIGITS
                    && k.len() == 1
                    && k.chars().all(|c| c.is_ascii_digit())
                {
                    d.phone.0.push_str(&k);
                }
            }),
            RatingEvent::PhoneBackspace => self.edit(|d| {
                d.phone.0.pop();
            }),
            RatingEvent::PhoneClear => self.edit(|d| d.phone.0.clear()),
            RatingEvent::Back => {
                self.error = None;
                self.step = match self.step {
                    RatingStep::Phone => RatingStep::Reasons,
                    RatingStep::Reasons => RatingStep::Level,
                    other => other,
                };
            }
            RatingEvent::Next => return self.next(settings, staff, at),
            RatingEvent::Stored(outcome) if self.step == RatingStep::Saving => {
                self.step = match outcome {
                    SaveOutcome::Saved => {
                        let key = self.service.rated_key();
                        if !self.rated.contains(&key) {
                            self.rated.push(key);
                        }
                        RatingStep::Thanks
                    }
                    SaveOutcome::CaseRated => {
                        let key = self.service.rated_key();
                        if !self.rated.contains(&key) {
                            self.rated.push(key);
                        }
                        RatingStep::AlreadyRated
                    }
                    SaveOutcome::DiskFull => RatingStep::DiskFull,
                    SaveOutcome::Failed => RatingStep::NotSaved,
                };
            }
            RatingEvent::Stored(_) => {}
        }
        Vec::new()
    }

    /// 下一步 / 提交评价: a 差评 goes on to its reasons and, with consent, the number.
    fn next(
        &mut self,
        settings: &Settings,
        staff: Option<&StaffId>,
        at: Moment,
    ) -> Vec<RatingEffect> {
        let bad = self.level.is_some_and(RatingLevel::is_bad);
        match self.step {
            RatingStep::Level if bad => {
                self.error = None;
                self.step = RatingStep::Reasons;
                return Vec::new();
            }
            RatingStep::Reasons if self.callback => {
                self.error = None;
                self.step = RatingStep::Phone;
                return Vec::new();
            }
            RatingStep::Level | RatingStep::Reasons | RatingStep::Phone => {}
            // Saving, or done: nothing to submit.
            _ => return Vec::new(),
        }
        let draft = Draft {
            item_code: self.service.item_code().to_string(),
            level: self.level,
            reasons: self.reasons.clone(),
            comment: String::new(),
            callback_consent: self.callback,
            phone: self.phone.0.clone(),
            staff: staff.map(|s| s.as_str().to_string()),
        };
        let rating = match draft.finish(&settings.terminal_id, &settings.rating_reasons, at.wall) {
            Ok(mut r) => {
                r.case_number = self.service.case_no().map(str::to_string);
                r
            }
            Err(e) => {
                self.step = match e {
                    DraftError::BadPhone => RatingStep::Phone,
                    DraftError::NoLevel => RatingStep::Level,
                    _ => RatingStep::Reasons,
                };
                self.error = Some(e);
                return Vec::new();
            }
        };
        // One rating per service per session: counted once the store has it (Stored).
        if !settings.store {
            // This terminal runs without a local store: the rating cannot be kept.
            self.step = RatingStep::NotSaved;
            return Vec::new();
        }
        self.step = RatingStep::Saving;
        vec![RatingEffect::StoreRating(Box::new(rating))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testing::{PHONE, at, settings};

    fn run(f: &mut RatingFlow, events: Vec<RatingEvent>) -> Vec<RatingEffect> {
        let mut out = Vec::new();
        for e in events {
            out.extend(f.handle(e, &settings(), None, None, at(5)));
        }
        out
    }

    fn stored(fx: &[RatingEffect]) -> &Rating {
        match fx.last() {
            Some(RatingEffect::StoreRating(r)) => r,
            other => panic!("no rating stored: {other:?}"),
        }
    }

    #[test]
    fn a_good_rating_is_submitted_at_once_and_thanked() {
        let mut f = RatingFlow::default();
        let fx = run(
            &mut f,
            vec![
                RatingEvent::Open(RatingSource::Terminal),
                RatingEvent::Choose(5),
                RatingEvent::Next,
            ],
        );
        assert_eq!(fx[0], RatingEffect::ShowPage);
        let r = stored(&fx);
        assert_eq!(r.level, RatingLevel::VerySatisfied);
        assert_eq!(r.item_code, ratings::TERMINAL_SERVICE);
        assert_eq!(r.terminal_id, "CN-TSL-001");
        assert_eq!(r.rated_at, at(5).wall);
        assert!(r.callback.is_none() && r.reasons.is_empty());
        assert_eq!(f.step(), RatingStep::Saving);
        run(&mut f, vec![RatingEvent::Stored(SaveOutcome::Saved)]);
        assert_eq!(f.step(), RatingStep::Thanks);
    }

    #[test]
    fn a_bad_rating_asks_reasons_then_the_callback_number() {
        let mut f = RatingFlow::default();
        let item = ShownItem {
            code: "310105-JZZ-001".into(),
            name: "居住证办理".into(),
        };
        f.handle(
            RatingEvent::Open(RatingSource::ShownItem),
            &settings(),
            Some(&item),
            None,
            at(1),
        );
        assert_eq!(f.view(&settings()).service, RatedService::Item(item));
        run(&mut f, vec![RatingEvent::Choose(1), RatingEvent::Next]);
        assert_eq!(f.step(), RatingStep::Reasons);
        // No reason: refused, with the message.
        run(&mut f, vec![RatingEvent::Next]);
        assert_eq!(f.view(&settings()).error, Some(DraftError::NoReason));
        assert_eq!(f.step(), RatingStep::Reasons);
        // Tags keep the offered order whatever order they are tapped in.
        run(
            &mut f,
            vec![
                RatingEvent::ToggleReason(2),
                RatingEvent::ToggleReason(0),
                RatingEvent::ToggleReason(9),
            ],
        );
        assert_eq!(
            f.view(&settings()).error,
            None,
            "an edit clears the message"
        );
        let chosen: Vec<_> = f
            .view(&settings())
            .reasons
            .into_iter()
            .filter(|t| t.chosen)
            .map(|t| t.text)
            .collect();
        assert_eq!(chosen, vec!["等候时间长", "系统故障"]);
        run(&mut f, vec![RatingEvent::ToggleCallback, RatingEvent::Next]);
        assert_eq!(f.step(), RatingStep::Phone);
        // A short number is refused and the flow stays on the number.
        run(
            &mut f,
            vec![RatingEvent::PhoneKey("1".into()), RatingEvent::Next],
        );
        assert_eq!(
            (f.step(), f.view(&settings()).error),
            (RatingStep::Phone, Some(DraftError::BadPhone))
        );
        run(&mut f, vec![RatingEvent::PhoneClear]);
        let keys: Vec<_> = PHONE
            .chars()
            .chain("99".chars())
            .map(|c| RatingEvent::PhoneKey(c.to_string()))
            .collect();
        run(&mut f, keys);
        assert_eq!(f.view(&settings()).phone_entry, PHONE, "11 digits at most");
        let fx = run(&mut f, vec![RatingEvent::Next]);
        let r = stored(&fx);
        assert_eq!(r.item_code, "310105-JZZ-001");
        assert_eq!(r.reasons, vec!["等候时间长", "系统故障"]);
        let cb = r.callback.as_ref().map(|c| c.phone.expose_phone_number());
        assert_eq!(cb, Some(PHONE));
        assert!(!format!("{f:?} {:?}", f.view(&settings())).contains(PHONE));
    }

    #[test]
    fn back_walks_the_steps_and_a_good_level_drops_the_bad_ones_choices() {
        let mut f = RatingFlow::default();
        run(
            &mut f,
            vec![
                RatingEvent::Open(RatingSource::Terminal),
                RatingEvent::Choose(2),
                RatingEvent::Next,
                RatingEvent::ToggleReason(1),
                RatingEvent::ToggleCallback,
                RatingEvent::Next,
                RatingEvent::PhoneKey("1".into()),
            ],
        );
        assert_eq!(f.step(), RatingStep::Phone);
        run(&mut f, vec![RatingEvent::Back]);
        assert_eq!(f.step(), RatingStep::Reasons);
        run(&mut f, vec![RatingEvent::Back]);
        assert_eq!(f.step(), RatingStep::Level);
        run(&mut f, vec![RatingEvent::Choose(4)]);
        let v = f.view(&settings());
        assert!(!v.callback && v.phone_entry.is_empty());
        assert!(v.reasons.iter().all(|t| !t.chosen));
        // Untoggling the callback forgets the number.
        run(
            &mut f,
            vec![
                RatingEvent::Choose(1),
                RatingEvent::ToggleCallback,
                RatingEvent::PhoneKey("1".into()),
                RatingEvent::ToggleCallback,
            ],
        );
        assert_eq!(f.view(&settings()).phone_entry, "");
    }

    #[test]
    fn nothing_is_preselected_and_one_service_is_rated_once() {
        let mut f = RatingFlow::default();
        run(&mut f, vec![RatingEvent::Open(RatingSource::OfflineCard)]);
        assert_eq!(f.view(&settings()).level, None);
        assert_eq!(f.view(&settings()).service, RatedService::OfflineCard);
        run(&mut f, vec![RatingEvent::Next]);
        assert_eq!(f.view(&settings()).error, Some(DraftError::NoLevel));
        run(&mut f, vec![RatingEvent::Choose(9)]);
        assert_eq!(f.view(&settings()).level, None, "no such level");
        let fx = run(&mut f, vec![RatingEvent::Choose(3), RatingEvent::Next]);
        assert_eq!(stored(&fx).item_code, OFFLINE_CODE_SERVICE);
        run(&mut f, vec![RatingEvent::Stored(SaveOutcome::Failed)]);
        assert_eq!(f.step(), RatingStep::NotSaved);
        run(&mut f, vec![RatingEvent::Open(RatingSource::OfflineCard)]);
        assert_eq!(
            f.step(),
            RatingStep::Level,
            "a rating that was not saved was not given: the service can be rated"
        );
        let fx = run(&mut f, vec![RatingEvent::Choose(3), RatingEvent::Next]);
        assert_eq!(stored(&fx).item_code, OFFLINE_CODE_SERVICE);
        run(&mut f, vec![RatingEvent::Stored(SaveOutcome::Saved)]);
        assert_eq!(f.step(), RatingStep::Thanks);
        run(&mut f, vec![RatingEvent::Open(RatingSource::OfflineCard)]);
        assert_eq!(
            f.step(),
            RatingStep::AlreadyRated,
            "saved once: not asked twice"
        );
        run(&mut f, vec![RatingEvent::Open(RatingSource::ShownItem)]);
        assert_eq!(
            (f.step(), f.view(&settings()).service),
            (RatingStep::Level, RatedService::Terminal),
            "no item shown: the terminal is rated"
        );
    }

    #[test]
    fn a_full_disk_refuses_the_rating_and_does_not_count_it() {
        let mut f = RatingFlow::default();
        let fx = run(
            &mut f,
            vec![
                RatingEvent::Open(RatingSource::Terminal),
                RatingEvent::Choose(5),
                RatingEvent::Next,
            ],
        );
        assert!(matches!(fx.last(), Some(RatingEffect::StoreRating(_))));
        run(&mut f, vec![RatingEvent::Stored(SaveOutcome::DiskFull)]);
        assert_eq!(f.step(), RatingStep::DiskFull);
        // A late second answer changes nothing.
        run(&mut f, vec![RatingEvent::Stored(SaveOutcome::Saved)]);
        assert_eq!(f.step(), RatingStep::DiskFull);
        run(&mut f, vec![RatingEvent::Open(RatingSource::Terminal)]);
        assert_eq!(f.step(), RatingStep::Level, "一事一评: not consumed");
        assert_eq!(f.view(&settings()).level, None);
    }

    #[test]
    fn without_a_store_the_rating_is_not_saved() {
        let mut f = RatingFlow::default();
        let no_store = Settings {
            store: false,
            ..settings()
        };
        f.handle(RatingEvent::Choose(5), &no_store, None, None, at(1));
        let fx = f.handle(RatingEvent::Next, &no_store, None, None, at(1));
        assert_eq!(fx, vec![]);
        assert_eq!(f.step(), RatingStep::NotSaved);
    }

    #[test]
    fn staff_signed_in_is_recorded() {
        let mut f = RatingFlow::default();
        let staff = StaffId::parse("S1024").ok();
        f.handle(
            RatingEvent::Choose(5),
            &settings(),
            None,
            staff.as_ref(),
            at(1),
        );
        let fx = f.handle(RatingEvent::Next, &settings(), None, staff.as_ref(), at(1));
        assert_eq!(stored(&fx).staff.as_deref(), Some("S1024"));
    }
}
