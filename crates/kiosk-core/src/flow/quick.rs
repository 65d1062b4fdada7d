//! 快办: an item the back office defines as data, prefilled with what the platform holds
//! (已自动获取，免于提交); the resident fills the few fields left, one at a time, on keypads
//! and pickers, confirms, and submits. The submission carries an id made here before the
//! first try, so a lost reply, a retry or a double tap files one application.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use crate::api::{FieldDef, FieldKind, FieldProblem, QuickForm, QuickReceipt, QuickSubmission};

use super::card::PrintWait;
use super::mine::MineProblem;

/// Most dates a date picker offers.
pub const MAX_DATES: usize = 30;

/// Where the 快办 page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuickStep {
    /// Nobody identified.
    #[default]
    NeedsIdentity,
    Loading,
    /// The items.
    List,
    /// The items cannot be had now.
    Unavailable,
    /// One item: who may apply, what is filled for them, the materials (免于提交).
    Intro,
    /// One field at a time ([`QuickFlow::field`]).
    Field,
    /// Everything, to check before submitting.
    Confirm,
    Submitting,
    /// Filed; the receipt is printing (or held by the printer: wait, or cancel it).
    Receipt(PrintWait),
    /// Not filed.
    Failed,
}

/// Why nothing was filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickProblem {
    Network,
    SessionEnded,
    /// The back office refused a value: by field key, its message.
    Fields(BTreeMap<String, String>),
    /// The back office refused the submission (not eligible, ...), in its words.
    Refused(String),
}

/// How the receipt print ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Printed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickEvent {
    /// Answer to [`QuickEffect::Load`].
    Loaded(Result<Vec<QuickForm>, MineProblem>),
    /// An item of the list, by its place.
    Open(usize),
    /// 开始填写 (from the intro), 下一项 (from a field: checks it first).
    Next,
    /// 上一项 / 返回修改 / back to the list from the intro.
    Back,
    /// A key of the digit keypad.
    Key(String),
    Backspace,
    Clear,
    /// An option of a choice field, by its place.
    Choose(usize),
    /// A day of the date picker, by its place in [`QuickView::dates`].
    PickDate(usize),
    /// 确认提交.
    Submit,
    /// Answer to [`QuickEffect::Submit`]: filed, or not.
    Submitted(Result<QuickReceipt, QuickProblem>),
    /// While the receipt prints: what the job waits for now.
    ReceiptHeld(PrintWait),
    /// 取消打印, while the printer holds the receipt.
    CancelReceipt,
    /// The receipt job ended.
    ReceiptDone(ReceiptOutcome),
    /// 重试 after a failure: the same submission again (same id).
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickEffect {
    /// `GET me/quick-items` (the session adds the token).
    Load,
    /// File it (retrying with the same id), then print the receipt; answer
    /// [`QuickEvent::Submitted`], then [`QuickEvent::ReceiptDone`].
    Submit {
        item_id: String,
        submission: QuickSubmission,
    },
    /// Cancel the held receipt job.
    CancelReceipt,
}

/// What the resident filled, by field key. `Debug` shows the keys and lengths only: a
/// value may be a telephone number.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<String, String>);

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v.chars().count())))
            .finish()
    }
}

impl Values {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The 快办 page's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuickFlow {
    step: QuickStep,
    forms: Vec<QuickForm>,
    problem: Option<MineProblem>,
    /// The item open, by its place in `forms`.
    open: Option<usize>,
    /// The field shown, by its place in the item's fields.
    field: usize,
    values: Values,
    /// The shown field's problem (checked here), or the back office's words for a field.
    errors: BTreeMap<String, String>,
    error_problem: Option<FieldProblem>,
    /// The id of the submission being filed, with the values it was made for: the same
    /// values keep the id (a retry), changed values get a new one.
    submission: Option<(Uuid, Values)>,
    failure: Option<QuickProblem>,
    /// Filed: the receipt, kept until its print ends (it names the item and the 办件编号).
    receipt: Option<QuickReceipt>,
    waiting: bool,
    /// The day of the last event: the date picker's days are counted from it.
    today: Option<NaiveDate>,
}

/// One row of the confirmation: a label and what was filled, as the resident reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRow {
    pub label: String,
    pub label_en: String,
    pub shown: String,
}

impl QuickFlow {
    pub fn step(&self) -> QuickStep {
        self.step
    }
    pub fn forms(&self) -> &[QuickForm] {
        &self.forms
    }
    pub fn problem(&self) -> Option<MineProblem> {
        self.problem
    }
    pub fn form(&self) -> Option<&QuickForm> {
        self.open.and_then(|i| self.forms.get(i))
    }
    /// The field shown, and its place.
    pub fn field(&self) -> Option<(usize, &FieldDef)> {
        let f = self.form()?.item.fields.get(self.field)?;
        Some((self.field, f))
    }
    pub fn values(&self) -> &Values {
        &self.values
    }
    /// The shown field's message (Chinese, English), if its value was refused.
    pub fn field_error(&self) -> Option<(String, String)> {
        let (_, f) = self.field()?;
        if let Some(p) = &self.error_problem {
            return Some((p.message_zh(), p.message_en()));
        }
        let m = self.errors.get(&f.key)?;
        // The back office's message, per language (never the other language's words).
        let t = crate::api::Text::from_joined(m);
        Some((t.zh, t.en))
    }
    pub fn failure(&self) -> Option<&QuickProblem> {
        self.failure.as_ref()
    }
    pub fn receipt(&self) -> Option<&QuickReceipt> {
        self.receipt.as_ref()
    }

    /// The days the shown field offers (a date field), from the day of the last event.
    pub fn days(&self) -> Vec<NaiveDate> {
        match (self.field(), self.today) {
            (Some((_, f)), Some(today)) => Self::dates(f, today),
            _ => Vec::new(),
        }
    }

    /// The days a date field offers on `today`, oldest first.
    pub fn dates(field: &FieldDef, today: NaiveDate) -> Vec<NaiveDate> {
        let FieldKind::Date {
            from_days,
            to_days,
            weekdays_only,
        } = &field.kind
        else {
            return Vec::new();
        };
        let (first, last) = crate::api::date_window(today, *from_days, *to_days);
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| !weekdays_only || d.weekday().number_from_monday() <= 5)
            .take(MAX_DATES)
            .collect()
    }

    /// The confirmation's rows: every field with its value as shown (a choice's label).
    pub fn confirm_rows(&self) -> Vec<ConfirmRow> {
        let Some(form) = self.form() else {
            return Vec::new();
        };
        form.item
            .fields
            .iter()
            .map(|f| {
                let v = self.values.get(&f.key).unwrap_or_default();
                let shown = match &f.kind {
                    FieldKind::Choice { options } => options
                        .iter()
                        .find(|o| o.value == v)
                        .map(|o| o.label.clone())
                        .unwrap_or_default(),
                    _ => v.to_string(),
                };
                ConfirmRow {
                    label: f.label.clone(),
                    label_en: f.label_en.clone(),
                    shown,
                }
            })
            .collect()
    }

    /// The page opened (or the resident token arrived while it is open).
    pub(crate) fn open(
        &mut self,
        identified: bool,
        token: bool,
        opening: bool,
    ) -> Vec<QuickEffect> {
        *self = QuickFlow::default();
        match (identified, token) {
            (false, _) => Vec::new(),
            (true, true) => {
                self.step = QuickStep::Loading;
                self.waiting = true;
                vec![QuickEffect::Load]
            }
            (true, false) if opening => {
                self.step = QuickStep::Loading;
                Vec::new()
            }
            (true, false) => {
                self.step = QuickStep::Unavailable;
                self.problem = Some(MineProblem::Network);
                Vec::new()
            }
        }
    }

    fn edit(&mut self, f: impl FnOnce(&mut String, &FieldDef)) {
        let Some((_, field)) = self.field().map(|(i, f)| (i, f.clone())) else {
            return;
        };
        let mut v = self.values.get(&field.key).unwrap_or_default().to_string();
        f(&mut v, &field);
        if v.is_empty() {
            self.values.0.remove(&field.key);
        } else {
            self.values.0.insert(field.key.clone(), v);
        }
        self.errors.remove(&field.key);
        self.error_problem = None;
    }

    /// Checks the shown field; on a problem it stays, with the message beside it.
    fn check_field(&mut self, today: NaiveDate) -> bool {
        let Some((_, f)) = self.field() else {
            return true;
        };
        match f.check(self.values.get(&f.key), today) {
            Ok(()) => {
                self.error_problem = None;
                true
            }
            Err(p) => {
                self.error_problem = Some(p);
                false
            }
        }
    }

    pub(crate) fn handle(
        &mut self,
        ev: QuickEvent,
        today: NaiveDate,
        new_id: impl FnOnce() -> Uuid,
    ) -> Vec<QuickEffect> {
        let fields = self.form().map_or(0, |f| f.item.fields.len());
        self.today = Some(today);
        match ev {
            QuickEvent::Loaded(answer) if self.waiting => {
                self.waiting = false;
                match answer {
                    Ok(forms) => {
                        self.step = QuickStep::List;
                        self.forms = forms;
                    }
                    Err(p) => {
                        self.step = QuickStep::Unavailable;
                        self.problem = Some(p);
                    }
                }
            }
            QuickEvent::Open(i)
                if self.step == QuickStep::List
                    && self.forms.get(i).is_some_and(|f| f.not_eligible.is_none()) =>
            {
                self.open = Some(i);
                self.step = QuickStep::Intro;
                self.field = 0;
                self.values = Values::default();
                self.errors.clear();
                self.error_problem = None;
                self.submission = None;
            }
            QuickEvent::Next => match self.step {
                QuickStep::Intro if fields == 0 => self.step = QuickStep::Confirm,
                QuickStep::Intro => {
                    self.step = QuickStep::Field;
                    self.field = 0;
                }
                QuickStep::Field => {
                    if !self.check_field(today) {
                    } else if self.field + 1 < fields {
                        self.field += 1;
                    } else {
                        self.step = QuickStep::Confirm;
                    }
                }
                _ => {}
            },
            QuickEvent::Back => match self.step {
                QuickStep::Intro => {
                    self.step = QuickStep::List;
                    self.open = None;
                }
                QuickStep::Field if self.field == 0 => self.step = QuickStep::Intro,
                QuickStep::Field => {
                    self.field -= 1;
                    self.error_problem = None;
                }
                QuickStep::Confirm | QuickStep::Failed if fields > 0 => {
                    // 返回修改: from the first field again.
                    self.step = QuickStep::Field;
                    self.field = 0;
                    self.failure = None;
                }
                QuickStep::Confirm | QuickStep::Failed => self.step = QuickStep::Intro,
                _ => {}
            },
            QuickEvent::Key(k) if self.step == QuickStep::Field => self.edit(|v, f| {
                let max = match f.kind {
                    FieldKind::Digits { max, .. } => usize::from(max),
                    FieldKind::Mobile => 11,
                    _ => 0,
                };
                if k.len() == 1 && k.bytes().all(|b| b.is_ascii_digit()) && v.len() < max {
                    v.push_str(&k);
                }
            }),
            QuickEvent::Backspace if self.step == QuickStep::Field => self.edit(|v, _| {
                v.pop();
            }),
            QuickEvent::Clear if self.step == QuickStep::Field => self.edit(|v, _| v.clear()),
            QuickEvent::Choose(i) if self.step == QuickStep::Field => self.edit(|v, f| {
                if let FieldKind::Choice { options } = &f.kind
                    && let Some(o) = options.get(i)
                {
                    *v = o.value.clone();
                }
            }),
            QuickEvent::PickDate(i) if self.step == QuickStep::Field => self.edit(|v, f| {
                if let Some(d) = Self::dates(f, today).get(i) {
                    *v = d.format("%Y-%m-%d").to_string();
                }
            }),
            QuickEvent::Submit | QuickEvent::Retry
                if matches!(self.step, QuickStep::Confirm | QuickStep::Failed) =>
            {
                return self.submit(today, new_id);
            }
            QuickEvent::Submitted(answer) if self.step == QuickStep::Submitting => match answer {
                Ok(receipt) => {
                    self.receipt = Some(receipt);
                    self.step = QuickStep::Receipt(PrintWait::None);
                }
                Err(p) => {
                    if let QuickProblem::Fields(errs) = &p {
                        self.errors = errs.clone();
                    }
                    self.failure = Some(p);
                    self.step = QuickStep::Failed;
                }
            },
            QuickEvent::ReceiptHeld(w) if matches!(self.step, QuickStep::Receipt(_)) => {
                self.step = QuickStep::Receipt(w);
            }
            QuickEvent::CancelReceipt if matches!(self.step, QuickStep::Receipt(w) if w != PrintWait::None) =>
            {
                return vec![QuickEffect::CancelReceipt];
            }
            // The session hands the receipt to the end of the task, then resets this.
            _ => {}
        }
        Vec::new()
    }

    /// 确认提交 (or 重试): every field checked again; the id made once for these values.
    fn submit(&mut self, today: NaiveDate, new_id: impl FnOnce() -> Uuid) -> Vec<QuickEffect> {
        let Some(form) = self.form() else {
            return Vec::new();
        };
        let item_id = form.item.id.clone();
        let bad = crate::api::check_submission(&form.item, &self.values.0, today);
        if let Some(first) = bad.first() {
            let at = form.item.fields.iter().position(|f| f.key == first.key);
            self.errors = bad.into_iter().map(|e| (e.key, e.message)).collect();
            self.step = QuickStep::Field;
            self.field = at.unwrap_or(0);
            self.check_field(today);
            return Vec::new();
        }
        let id = match &self.submission {
            Some((id, v)) if *v == self.values => *id,
            _ => {
                let id = new_id();
                self.submission = Some((id, self.values.clone()));
                id
            }
        };
        self.step = QuickStep::Submitting;
        self.failure = None;
        vec![QuickEffect::Submit {
            item_id,
            submission: QuickSubmission {
                submission_id: id,
                values: self.values.0.clone(),
            },
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChoiceOption, Prefilled, QuickItem, QuickMaterial};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default()
    }

    fn form(eligible: bool) -> QuickForm {
        QuickForm {
            item: QuickItem {
                id: "social-security-card-replacement".into(),
                item_code: "310105-RS-0008".into(),
                name: "社保卡补换".into(),
                name_en: "Replace a social security card".into(),
                who: "本市参保人员".into(),
                who_en: String::new(),
                fields: vec![
                    FieldDef {
                        key: "reason".into(),
                        label: "补换原因".into(),
                        label_en: "Reason".into(),
                        kind: FieldKind::Choice {
                            options: vec![
                                ChoiceOption {
                                    value: "lost".into(),
                                    label: "遗失".into(),
                                    label_en: "Lost".into(),
                                },
                                ChoiceOption {
                                    value: "damaged".into(),
                                    label: "损坏".into(),
                                    label_en: "Damaged".into(),
                                },
                            ],
                        },
                        required: true,
                        hint: None,
                        hint_en: None,
                    },
                    FieldDef {
                        key: "mobile".into(),
                        label: "联系电话".into(),
                        label_en: "Mobile".into(),
                        kind: FieldKind::Mobile,
                        required: true,
                        hint: None,
                        hint_en: None,
                    },
                    FieldDef {
                        key: "pickup_date".into(),
                        label: "领卡日期".into(),
                        label_en: "Pick-up day".into(),
                        kind: FieldKind::Date {
                            from_days: 3,
                            to_days: 14,
                            weekdays_only: true,
                        },
                        required: true,
                        hint: None,
                        hint_en: None,
                    },
                ],
                prefills: vec!["name".into()],
                materials: vec![QuickMaterial {
                    name: "居民身份证".into(),
                    name_en: String::new(),
                    held: true,
                }],
                next_steps: "5个工作日内制卡".into(),
                next_steps_en: String::new(),
            },
            prefilled: vec![Prefilled {
                key: "name".into(),
                label: "姓名".into(),
                label_en: "Name".into(),
                shown: "王*英".into(),
            }],
            not_eligible: (!eligible).then(|| "未满65周岁".into()),
            not_eligible_en: None,
        }
    }

    fn id(n: u128) -> impl FnOnce() -> Uuid {
        move || Uuid::from_u128(n)
    }

    fn run(f: &mut QuickFlow, evs: Vec<QuickEvent>) -> Vec<QuickEffect> {
        let mut out = Vec::new();
        for e in evs {
            out.extend(f.handle(e, today(), id(7)));
        }
        out
    }

    fn filled() -> QuickFlow {
        let mut f = QuickFlow::default();
        assert_eq!(f.open(true, true, false), vec![QuickEffect::Load]);
        run(
            &mut f,
            vec![
                QuickEvent::Loaded(Ok(vec![form(false), form(true)])),
                QuickEvent::Open(0),
            ],
        );
        assert_eq!(
            f.step(),
            QuickStep::List,
            "an item the resident may not apply for stays shut"
        );
        run(&mut f, vec![QuickEvent::Open(1), QuickEvent::Next]);
        assert_eq!(f.step(), QuickStep::Field);
        // The choice: 下一项 without one says so beside the field.
        run(&mut f, vec![QuickEvent::Next]);
        assert_eq!(f.field_error().map(|e| e.0), Some("请填写此项".into()));
        run(&mut f, vec![QuickEvent::Choose(1), QuickEvent::Next]);
        // The mobile: digits only, 11 at most, checked beside the field.
        let mut keys: Vec<QuickEvent> = "2380013800099"
            .chars()
            .map(|c| QuickEvent::Key(c.into()))
            .collect();
        keys.push(QuickEvent::Key("X".into()));
        keys.push(QuickEvent::Next);
        run(&mut f, keys);
        assert_eq!(f.values().get("mobile"), Some("23800138000"));
        assert_eq!(
            f.field_error().map(|e| e.0),
            Some("请填写11位手机号码，以1开头".into())
        );
        run(&mut f, vec![QuickEvent::Clear]);
        run(
            &mut f,
            "13800138000"
                .chars()
                .map(|c| QuickEvent::Key(c.into()))
                .collect(),
        );
        run(&mut f, vec![QuickEvent::Next]);
        // The date: only the weekdays of the window are offered (Sat 5th is 3 days on).
        let (_, field) = f
            .field()
            .map(|(i, d)| (i, d.clone()))
            .unwrap_or_else(|| panic!());
        let days = QuickFlow::dates(&field, today());
        assert_eq!(days[0].to_string(), "2026-12-07");
        assert!(days.iter().all(|d| d.weekday().number_from_monday() <= 5));
        run(&mut f, vec![QuickEvent::PickDate(0), QuickEvent::Next]);
        assert_eq!(f.step(), QuickStep::Confirm);
        f
    }

    #[test]
    fn the_form_is_filled_field_by_field_and_confirmed() {
        let f = filled();
        let rows = f.confirm_rows();
        assert_eq!(
            rows.iter().map(|r| r.shown.as_str()).collect::<Vec<_>>(),
            vec!["损坏", "13800138000", "2026-12-07"]
        );
        assert!(
            !format!("{f:?}").contains("13800138000"),
            "Debug masks values"
        );
    }

    #[test]
    fn one_id_per_submission_across_double_taps_and_retries() {
        let mut f = filled();
        let fx = f.handle(QuickEvent::Submit, today(), id(1));
        let [QuickEffect::Submit { submission, .. }] = &fx[..] else {
            panic!("{fx:?}")
        };
        assert_eq!(submission.submission_id, Uuid::from_u128(1));
        assert!(
            f.handle(QuickEvent::Submit, today(), id(2)).is_empty(),
            "double tap"
        );
        f.handle(
            QuickEvent::Submitted(Err(QuickProblem::Network)),
            today(),
            id(3),
        );
        assert_eq!(f.step(), QuickStep::Failed);
        let fx = f.handle(QuickEvent::Retry, today(), id(4));
        assert!(
            matches!(&fx[..], [QuickEffect::Submit { submission, .. }] if submission.submission_id == Uuid::from_u128(1)),
            "a retry is the same submission: {fx:?}"
        );
        // Changed values are another submission.
        f.handle(
            QuickEvent::Submitted(Err(QuickProblem::Network)),
            today(),
            id(5),
        );
        f.handle(QuickEvent::Back, today(), id(5));
        f.handle(QuickEvent::Choose(0), today(), id(5));
        for _ in 0..3 {
            f.handle(QuickEvent::Next, today(), id(5));
        }
        let fx = f.handle(QuickEvent::Submit, today(), id(6));
        assert!(
            matches!(&fx[..], [QuickEffect::Submit { submission, .. }] if submission.submission_id == Uuid::from_u128(6))
        );
    }

    #[test]
    fn a_field_the_back_office_refuses_shows_beside_it_and_the_receipt_can_be_cancelled() {
        let mut f = filled();
        f.handle(QuickEvent::Submit, today(), id(1));
        let mut errs = BTreeMap::new();
        errs.insert(
            "mobile".to_string(),
            "号码已停机 / Number not in service".to_string(),
        );
        f.handle(
            QuickEvent::Submitted(Err(QuickProblem::Fields(errs))),
            today(),
            id(1),
        );
        f.handle(QuickEvent::Back, today(), id(1));
        f.handle(QuickEvent::Next, today(), id(1));
        assert_eq!(
            f.field_error(),
            Some(("号码已停机".into(), "Number not in service".into()))
        );
        f.handle(QuickEvent::Key("0".into()), today(), id(1));
        assert_eq!(f.field_error(), None, "editing clears it");
        // The receipt: held, then cancelled.
        let mut f = filled();
        f.handle(QuickEvent::Submit, today(), id(1));
        let receipt = QuickReceipt {
            case_no: "CN310105-2026-Q000001".into(),
            item_id: "social-security-card-replacement".into(),
            item_code: "310105-RS-0008".into(),
            item_name: "社保卡补换".into(),
            item_name_en: String::new(),
            submitted_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
            next_steps: "5个工作日内制卡".into(),
            next_steps_en: String::new(),
            repeated: false,
        };
        f.handle(QuickEvent::Submitted(Ok(receipt)), today(), id(1));
        assert!(
            f.handle(QuickEvent::CancelReceipt, today(), id(1))
                .is_empty()
        );
        f.handle(QuickEvent::ReceiptHeld(PrintWait::Printer), today(), id(1));
        assert_eq!(
            f.handle(QuickEvent::CancelReceipt, today(), id(1)),
            vec![QuickEffect::CancelReceipt]
        );
    }
}
