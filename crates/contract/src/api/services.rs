//! 我的 services on the wire: certificates printed at the terminal (证明打印) and checked by
//! anyone holding one (`documents/verify`), and 快办 items submitted from the terminal.
//!
//! Every call under `/api/v1/residents/me/` carries the resident token
//! ([`super::RESIDENT_TOKEN_HEADER`]) beside the terminal's bearer token. The 快办 field
//! rules ([`FieldDef::check`]) live here so the terminal checks a value beside its field
//! with the very rule the back office applies again on submission.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

// ---------------------------------------------------------------- certificates (证明打印)

/// The certificates a resident can print at the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// 社会保险个人缴费记录.
    SocialInsurance,
    /// 住房公积金缴存证明.
    HousingFund,
    /// 个人所得税纳税记录.
    IncomeTax,
}

impl CertificateKind {
    pub const ALL: [CertificateKind; 3] = [
        CertificateKind::SocialInsurance,
        CertificateKind::HousingFund,
        CertificateKind::IncomeTax,
    ];

    /// The wire name (`social_insurance` ...).
    pub fn name(self) -> &'static str {
        match self {
            CertificateKind::SocialInsurance => "social_insurance",
            CertificateKind::HousingFund => "housing_fund",
            CertificateKind::IncomeTax => "income_tax",
        }
    }
    /// The title a resident reads, and that the printed document carries.
    pub fn title(self) -> &'static str {
        match self {
            CertificateKind::SocialInsurance => "社会保险个人缴费记录",
            CertificateKind::HousingFund => "住房公积金缴存证明",
            CertificateKind::IncomeTax => "个人所得税纳税记录",
        }
    }
    pub fn title_en(self) -> &'static str {
        match self {
            CertificateKind::SocialInsurance => "Social insurance contributions",
            CertificateKind::HousingFund => "Housing fund deposits",
            CertificateKind::IncomeTax => "Individual income tax paid",
        }
    }
}

/// The periods a resident may choose on the terminal's picker, in months back from the
/// last complete month.
pub const CERTIFICATE_PERIODS: [u8; 3] = [12, 24, 36];

/// `POST /api/v1/residents/me/certificates` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRequest {
    pub kind: CertificateKind,
    /// One of [`CERTIFICATE_PERIODS`].
    pub months: u8,
}

/// One month of a certificate: amounts in fen (分), in the order of
/// [`Certificate::columns`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRow {
    /// `2026-10`.
    pub month: String,
    pub amounts_fen: Vec<i64>,
}

/// A certificate as the back office issued it: the structured data the terminal lays out
/// and prints, and the verification code its QR carries. `documents/verify` answers the
/// same value, so whoever checks a printed certificate sees what it must say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Signed by the back office: `DV1.<document id>.<signature>`. Any change to it is
    /// refused by `documents/verify`.
    pub verification_code: String,
    /// 办件编号 of this print, for the rating (一事一评).
    pub case_no: String,
    pub kind: CertificateKind,
    /// The document's title (the kind's [`CertificateKind::title`]).
    pub title: String,
    /// The issuing department, e.g. `上海市长宁区社会保险事业管理中心`.
    pub issuer: String,
    /// `王*英`.
    pub holder_masked_name: String,
    /// `310***********1231`.
    pub holder_masked_id: String,
    pub issued_at: DateTime<Utc>,
    /// First and last month covered, `2025-11` .. `2026-10`.
    pub period_from: String,
    pub period_to: String,
    /// Column headings after 月份, e.g. `["缴费基数（元）", "个人缴纳（元）", "单位缴纳（元）"]`.
    pub columns: Vec<String>,
    /// Oldest month first.
    pub rows: Vec<CertificateRow>,
    /// Column sums, in fen.
    pub totals_fen: Vec<i64>,
}

/// `GET /api/v1/documents/verify/{code}` answer: the document is genuine and says this.
/// No token: a bank or an employer checks a certificate from its QR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCheck {
    /// `valid`.
    pub status: String,
    pub certificate: Certificate,
}

/// `12345` fen as `123.45`; thousands grouped: `1,234.50`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", fen % 100)
}

// ---------------------------------------------------------------- 快办 items

/// One choice of a [`FieldKind::Choice`] field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceOption {
    /// What is submitted.
    pub value: String,
    pub label: String,
    pub label_en: String,
}

/// What a field takes, and so which keypad or picker the terminal shows for it. Free
/// Chinese text waits for the terminal's input method; no item asks for it yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// Digits only, `min` to `max` of them (the digit keypad).
    Digits { min: u8, max: u8 },
    /// A mainland mobile number: 11 digits starting with 1 (the digit keypad).
    Mobile,
    /// One of the options (buttons).
    Choice { options: Vec<ChoiceOption> },
    /// A day from `from_days` to `to_days` after the day of submission (the date picker),
    /// Monday to Friday only when `weekdays_only`.
    Date {
        from_days: u16,
        to_days: u16,
        #[serde(default)]
        weekdays_only: bool,
    },
}

/// A field the resident fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// The key of the value in [`QuickSubmission::values`].
    pub key: String,
    pub label: String,
    pub label_en: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    pub required: bool,
    /// A line of help under the label.
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub hint_en: Option<String>,
}

/// Why a value does not fit its field. The messages are what the terminal shows beside
/// the field and what the back office sends back in [`FieldError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Required,
    NotDigits,
    TooShort(u8),
    TooLong(u8),
    NotMobile,
    NotAChoice,
    NotADate,
    /// Outside the days the field allows (first and last allowed day).
    DateOutOfRange(NaiveDate, NaiveDate),
    /// A Saturday or a Sunday where only weekdays are taken.
    Weekend,
}

impl FieldProblem {
    pub fn code(&self) -> &'static str {
        match self {
            FieldProblem::Required => "required",
            FieldProblem::NotDigits => "not_digits",
            FieldProblem::TooShort(_) => "too_short",
            FieldProblem::TooLong(_) => "too_long",
            FieldProblem::NotMobile => "not_mobile",
            FieldProblem::NotAChoice => "not_a_choice",
            FieldProblem::NotADate => "not_a_date",
            FieldProblem::DateOutOfRange(..) => "date_out_of_range",
            FieldProblem::Weekend => "weekend",
        }
    }
    pub fn message_zh(&self) -> String {
        match self {
            FieldProblem::Required => "请填写此项".into(),
            FieldProblem::NotDigits => "只能填写数字".into(),
            FieldProblem::TooShort(n) => format!("至少需要{n}位数字"),
            FieldProblem::TooLong(n) => format!("最多{n}位数字"),
            FieldProblem::NotMobile => "请填写11位手机号码，以1开头".into(),
            FieldProblem::NotAChoice => "请从选项中选择一项".into(),
            FieldProblem::NotADate => "请选择日期".into(),
            FieldProblem::DateOutOfRange(a, b) => format!(
                "请选择{}月{}日至{}月{}日之间的日期",
                a.month(),
                a.day(),
                b.month(),
                b.day()
            ),
            FieldProblem::Weekend => "请选择工作日（周一至周五）".into(),
        }
    }
    pub fn message_en(&self) -> String {
        match self {
            FieldProblem::Required => "Please fill this in".into(),
            FieldProblem::NotDigits => "Digits only".into(),
            FieldProblem::TooShort(n) => format!("At least {n} digits"),
            FieldProblem::TooLong(n) => format!("At most {n} digits"),
            FieldProblem::NotMobile => "11 digits, starting with 1".into(),
            FieldProblem::NotAChoice => "Please choose one of the options".into(),
            FieldProblem::NotADate => "Please choose a date".into(),
            FieldProblem::DateOutOfRange(a, b) => format!("Choose a day from {a} to {b}"),
            FieldProblem::Weekend => "Please choose a weekday (Monday to Friday)".into(),
        }
    }
}

impl FieldDef {
    /// Checks one value (`None` or empty: not filled) on `today`, the submission's day.
    pub fn check(&self, value: Option<&str>, today: NaiveDate) -> Result<(), FieldProblem> {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let Some(v) = value else {
            return if self.required {
                Err(FieldProblem::Required)
            } else {
                Ok(())
            };
        };
        match &self.kind {
            FieldKind::Digits { min, max } => {
                if !v.chars().all(|c| c.is_ascii_digit()) {
                    Err(FieldProblem::NotDigits)
                } else if v.len() < usize::from(*min) {
                    Err(FieldProblem::TooShort(*min))
                } else if v.len() > usize::from(*max) {
                    Err(FieldProblem::TooLong(*max))
                } else {
                    Ok(())
                }
            }
            FieldKind::Mobile => {
                let ok =
                    v.len() == 11 && v.starts_with('1') && v.bytes().all(|b| b.is_ascii_digit());
                if ok {
                    Ok(())
                } else {
                    Err(FieldProblem::NotMobile)
                }
            }
            FieldKind::Choice { options } => {
                if options.iter().any(|o| o.value == v) {
                    Ok(())
                } else {
                    Err(FieldProblem::NotAChoice)
                }
            }
            FieldKind::Date {
                from_days,
                to_days,
                weekdays_only,
            } => {
                let day: NaiveDate = v.parse().map_err(|_| FieldProblem::NotADate)?;
                let (first, last) = date_window(today, *from_days, *to_days);
                if day < first || day > last {
                    Err(FieldProblem::DateOutOfRange(first, last))
                } else if *weekdays_only && day.weekday().number_from_monday() > 5 {
                    Err(FieldProblem::Weekend)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The first and last day a [`FieldKind::Date`] field takes on `today`.
pub fn date_window(today: NaiveDate, from_days: u16, to_days: u16) -> (NaiveDate, NaiveDate) {
    let add = |n: u16| {
        today
            .checked_add_days(Days::new(u64::from(n)))
            .unwrap_or(today)
    };
    (add(from_days), add(to_days.max(from_days)))
}

/// A material the item needs. `held`: the platform already holds it, so the resident
/// submits nothing (已自动获取，免于提交).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickMaterial {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub held: bool,
}

/// A value the back office fills from what it holds about the resident, shown masked and
/// never submitted (两个免于提交).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefilled {
    pub key: String,
    pub label: String,
    pub label_en: String,
    /// As the screen shows it: `王*英`, `长宁区天山路***号`.
    pub shown: String,
}

/// A 快办 item as the back office defines it (data, not code): a line of
/// `config/demo/quick-items.json` in the reference back office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickItem {
    /// `residence-permit-endorsement`.
    pub id: String,
    /// The 一网通办 item code the application is filed under.
    pub item_code: String,
    pub name: String,
    pub name_en: String,
    /// Who may apply, in one line (`年满65周岁的本市户籍老年人`).
    pub who: String,
    #[serde(default)]
    pub who_en: String,
    /// The fields the resident fills, in order.
    pub fields: Vec<FieldDef>,
    /// The keys the back office prefills (`name`, `address`, `hukou`...).
    pub prefills: Vec<String>,
    pub materials: Vec<QuickMaterial>,
    /// What happens after submission, for the receipt and the screen.
    pub next_steps: String,
    #[serde(default)]
    pub next_steps_en: String,
}

/// `GET /api/v1/residents/me/quick-items` answer: every item, with what the back office
/// fills for this resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickForm {
    pub item: QuickItem,
    pub prefilled: Vec<Prefilled>,
    /// `None` when the resident may apply; otherwise why not, in plain Chinese
    /// (`未满65周岁，暂不能申请`).
    #[serde(default)]
    pub not_eligible: Option<String>,
    #[serde(default)]
    pub not_eligible_en: Option<String>,
}

/// `POST /api/v1/residents/me/quick-items/{id}` body. `Debug` shows the keys and the
/// lengths of the values only: a value may be a telephone number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickSubmission {
    /// Made by the terminal before the first try: a retry, a lost reply or a double tap
    /// sends the same id, and the back office files one application for it.
    pub submission_id: Uuid,
    /// The values of [`QuickItem::fields`], by key.
    pub values: BTreeMap<String, String>,
}

impl std::fmt::Debug for QuickSubmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickSubmission")
            .field("submission_id", &self.submission_id)
            .field(
                "values",
                &self
                    .values
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.chars().count()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

/// The answer to a submission: the application filed (or, for a retry, the one filed
/// for this `submission_id` before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReceipt {
    pub case_no: String,
    pub item_id: String,
    pub item_code: String,
    pub item_name: String,
    #[serde(default)]
    pub item_name_en: String,
    pub submitted_at: DateTime<Utc>,
    pub next_steps: String,
    #[serde(default)]
    pub next_steps_en: String,
    /// `true` when this `submission_id` had been filed before.
    #[serde(default)]
    pub repeated: bool,
}

/// One field refused on submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub key: String,
    /// [`FieldProblem::code`].
    pub problem: String,
    /// `请填写11位手机号码，以1开头 / 11 digits, starting with 1`, for terminals that read
    /// only this field.
    pub message: String,
    /// The message per language (absent from an older back office: read `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<super::Text>,
}

impl FieldError {
    /// The message per language: `text` when sent, else read from `message`.
    pub fn text(&self) -> super::Text {
        self.text
            .clone()
            .unwrap_or_else(|| super::Text::from_joined(&self.message))
    }
}

/// The 422 answer to a submission with values that do not fit (`error` =
/// `fields_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors {
    pub error: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// Checks every field of `item` against `values` on `today`; unknown keys are refused
/// as well, so nothing the item does not ask for is filed.
pub fn check_submission(
    item: &QuickItem,
    values: &BTreeMap<String, String>,
    today: NaiveDate,
) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = item
        .fields
        .iter()
        .filter_map(|f| {
            f.check(values.get(&f.key).map(String::as_str), today)
                .err()
                .map(|p| FieldError {
                    key: f.key.clone(),
                    problem: p.code().into(),
                    message: format!("{} / {}", p.message_zh(), p.message_en()),
                    text: Some(super::Text::new(p.message_zh(), p.message_en())),
                })
        })
        .collect();
    for key in values.keys() {
        if !item.fields.iter().any(|f| &f.key == key) {
            out.push(FieldError {
                key: key.clone(),
                problem: "unknown_field".into(),
                message: format!("{key}: 此事项没有该项 / {key}: not a field of this item"),
                text: Some(super::Text::new(
                    format!("{key}: 此事项没有该项"),
                    format!("{key}: not a field of this item"),
                )),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn field(kind: FieldKind, required: bool) -> FieldDef {
        FieldDef {
            key: "k".into(),
            label: "项".into(),
            label_en: "Field".into(),
            kind,
            required,
            hint: None,
            hint_en: None,
        }
    }

    #[test]
    fn digits_mobile_and_choices() {
        let today = day("2026-12-02");
        let d = field(FieldKind::Digits { min: 6, max: 6 }, true);
        assert_eq!(d.check(None, today), Err(FieldProblem::Required));
        assert_eq!(d.check(Some("  "), today), Err(FieldProblem::Required));
        assert_eq!(d.check(Some("12a456"), today), Err(FieldProblem::NotDigits));
        assert_eq!(
            d.check(Some("12345"), today),
            Err(FieldProblem::TooShort(6))
        );
        assert_eq!(
            d.check(Some("1234567"), today),
            Err(FieldProblem::TooLong(6))
        );
        assert_eq!(d.check(Some("200336"), today), Ok(()));
        let m = field(FieldKind::Mobile, false);
        assert_eq!(m.check(None, today), Ok(()), "optional");
        assert_eq!(
            m.check(Some("23800138000"), today),
            Err(FieldProblem::NotMobile)
        );
        assert_eq!(
            m.check(Some("1380013800"), today),
            Err(FieldProblem::NotMobile)
        );
        assert_eq!(
            m.check(Some("１３８００１３８０００"), today),
            Err(FieldProblem::NotMobile)
        );
        assert_eq!(m.check(Some("13800138000"), today), Ok(()));
        let c = field(
            FieldKind::Choice {
                options: vec![ChoiceOption {
                    value: "window".into(),
                    label: "窗口领取".into(),
                    label_en: "At the counter".into(),
                }],
            },
            true,
        );
        assert_eq!(c.check(Some("post"), today), Err(FieldProblem::NotAChoice));
        assert_eq!(c.check(Some("window"), today), Ok(()));
    }

    #[test]
    fn dates_keep_to_their_window_and_to_weekdays() {
        // 2026-12-02 is a Wednesday.
        let today = day("2026-12-02");
        let f = field(
            FieldKind::Date {
                from_days: 1,
                to_days: 30,
                weekdays_only: true,
            },
            true,
        );
        assert_eq!(
            f.check(Some("tomorrow"), today),
            Err(FieldProblem::NotADate)
        );
        let out = f.check(Some("2026-12-02"), today).unwrap_err();
        assert_eq!(
            out,
            FieldProblem::DateOutOfRange(day("2026-12-03"), day("2027-01-01"))
        );
        assert_eq!(out.message_zh(), "请选择12月3日至1月1日之间的日期");
        assert_eq!(
            f.check(Some("2026-12-05"), today),
            Err(FieldProblem::Weekend)
        );
        assert_eq!(f.check(Some("2026-12-07"), today), Ok(()));
    }

    #[test]
    fn a_submission_is_checked_field_by_field_and_unknown_keys_are_refused() {
        let item = QuickItem {
            id: "x".into(),
            item_code: "310105-x".into(),
            name: "甲".into(),
            name_en: "A".into(),
            who: String::new(),
            who_en: String::new(),
            fields: vec![field(FieldKind::Mobile, true)],
            prefills: vec![],
            materials: vec![],
            next_steps: String::new(),
            next_steps_en: String::new(),
        };
        let mut v = BTreeMap::new();
        v.insert("k".to_string(), "123".to_string());
        v.insert("extra".to_string(), "1".to_string());
        let errs = check_submission(&item, &v, day("2026-12-02"));
        assert_eq!(
            errs.iter()
                .map(|e| (e.key.as_str(), e.problem.as_str()))
                .collect::<Vec<_>>(),
            vec![("k", "not_mobile"), ("extra", "unknown_field")]
        );
        assert!(errs[0].message.contains("11位") && errs[0].message.contains("11 digits"));
    }

    #[test]
    fn a_submission_never_shows_its_values_in_debug() {
        let mut values = BTreeMap::new();
        values.insert("phone".to_string(), "13800138000".to_string());
        let s = QuickSubmission {
            submission_id: Uuid::nil(),
            values,
        };
        let shown = format!("{s:?}");
        assert!(
            shown.contains("\"phone\": 11") && !shown.contains("13800138000"),
            "{shown}"
        );
    }

    #[test]
    fn amounts_read_as_yuan() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456), "1,234.56");
        assert_eq!(yuan(100_000_000), "1,000,000.00");
        assert_eq!(yuan(-2_50), "-2.50");
    }
}
