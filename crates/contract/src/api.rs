//! Wire types of the back-office contract (`/api/v1`), compiled into both the terminal and the reference back office.
//!
//! `docs/api.md` documents every endpoint with examples; `tests/api_contract.rs` round-trips
//! each example through these types, so the document and the code cannot drift apart.

pub mod document_code;
pub mod limits;
pub mod offline_code;
pub mod services;

pub use services::*;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::identity::{IdNumber, PhoneNumber};

/// Path prefix of every endpoint.
pub const API_PREFIX: &str = "/api/v1";

/// The body of every error answer (4xx and 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `unauthorized`, `resident_not_found`.
    pub error: String,
    /// Human-readable text: `中文 / English` where a resident may see it, for terminals
    /// that read only this field.
    pub message: String,
    /// The same text, one string per language, so a screen shows only its own; absent in
    /// an older back office's answer ([`ApiError::text`] then reads `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

impl ApiError {
    /// The message per language: `text` when sent, else read from `message`.
    pub fn text(&self) -> Text {
        self.text
            .clone()
            .unwrap_or_else(|| Text::from_joined(&self.message))
    }
}

/// A text a resident may read, once per language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }
    /// Reads the older one-string form `中文 / English`: the part before the first ` / `
    /// is Chinese when it holds a CJK character. A text without that form (an English-only
    /// technical message, or Chinese only) is kept whole in the language it is written in,
    /// and the other language is left empty rather than given the wrong one.
    pub fn from_joined(s: &str) -> Self {
        if let Some((zh, en)) = s.split_once(" / ")
            && has_cjk(zh)
            && !has_cjk(en)
        {
            return Self::new(zh.trim(), en.trim());
        }
        if has_cjk(s) {
            Self::new(s, "")
        } else {
            Self::new("", s)
        }
    }
    /// The text for a screen in one language: a Chinese screen shows only Chinese (empty
    /// when there is none); an English screen shows the English, or the whole Chinese text
    /// where none was written (never a mixture of the two).
    pub fn get(&self, english: bool) -> &str {
        if english && !self.en.is_empty() {
            &self.en
        } else {
            &self.zh
        }
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn joined_message_splits_per_language() {
        let t = Text::from_joined("您暂不符合申领条件 / Cards are for residents aged 60 or more");
        assert_eq!(t.get(false), "您暂不符合申领条件");
        assert_eq!(t.get(true), "Cards are for residents aged 60 or more");
    }

    #[test]
    fn one_language_message_is_not_shown_in_the_other() {
        let t = Text::from_joined("missing or unknown bearer token");
        assert_eq!(t.get(false), "");
        assert_eq!(t.get(true), "missing or unknown bearer token");
        let t = Text::from_joined("系统维护");
        assert_eq!(t.get(false), "系统维护");
        assert_eq!(t.get(true), "系统维护");
        // A slash inside an English text is no language boundary.
        let t = Text::from_joined("12 / 24 months");
        assert_eq!(t.get(false), "");
    }

    #[test]
    fn api_error_prefers_its_text_and_reads_an_older_message() {
        let old: ApiError =
            serde_json::from_str(r#"{"error": "x", "message": "没有这张卡片 / No such card"}"#)
                .unwrap();
        assert_eq!(old.text(), Text::new("没有这张卡片", "No such card"));
        let new: ApiError = serde_json::from_str(
            r#"{"error": "x", "message": "m", "text": {"zh": "中文", "en": "English"}}"#,
        )
        .unwrap();
        assert_eq!(new.text(), Text::new("中文", "English"));
    }
}

/// Whether `s` holds a CJK ideograph or CJK punctuation.
pub fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
    })
}

/// `GET /api/v1/ping`: a cheap authenticated reachability check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub server_time: DateTime<Utc>,
    pub server_version: String,
    /// The terminal id the bearer token belongs to.
    pub terminal_id: String,
}

// ---------------------------------------------------------------- catalogue

/// Who an item is for: 个人 (residents) or 法人 (companies and organisations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Personal,
    Legal,
}

/// One required material (申请材料).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    /// 原件 / 复印件 / 原件及复印件 / 电子证照 / 电子材料.
    pub form: String,
    pub count: u32,
    #[serde(default)]
    pub note: Option<String>,
}

/// Where an item is handled (办理地点).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub name: String,
    pub address: String,
    pub hours: String,
}

/// A service item (事项) with its full 办事指南.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub code: String,
    pub name: String,
    pub audience: Audience,
    pub department: String,
    pub theme: String,
    /// 高频事项.
    #[serde(default)]
    pub high_frequency: bool,
    pub summary: String,
    /// 受理条件.
    pub conditions: Vec<String>,
    /// 申请材料.
    pub materials: Vec<Material>,
    /// 法定办结时限 in working days; `null` where the law sets none.
    pub legal_limit_days: Option<u32>,
    /// 承诺办结时限 in working days; 0 means 即办 (same visit).
    pub promised_limit_days: u32,
    /// 收费, e.g. 不收费.
    pub fee: String,
    pub locations: Vec<Location>,
    /// 到现场次数.
    pub visits: u32,
    /// 是否可网办.
    pub online: bool,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The item in English, complete or absent (an older catalogue has none): a screen in
    /// English shows either this whole block or the Chinese, never a mixture of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<ItemEnglish>,
}

/// A service item's resident-facing text in English: one entry per Chinese condition,
/// material and location, in the same order (`catalogue::check` holds it to that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemEnglish {
    pub name: String,
    pub summary: String,
    pub conditions: Vec<String>,
    pub materials: Vec<MaterialEnglish>,
    pub fee: String,
    pub locations: Vec<Location>,
}

/// A material's English; the count is the Chinese material's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MaterialEnglish {
    pub name: String,
    pub form: String,
    /// Present exactly when the Chinese material has a note.
    #[serde(default)]
    pub note: Option<String>,
}

/// A 一件事 bundle's English (given only when each of its items has English too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEnglish {
    pub name: String,
    pub summary: String,
}

/// A 一件事 bundle: several items handled as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub code: String,
    pub name: String,
    pub summary: String,
    /// Item codes, in the order a resident goes through them.
    pub items: Vec<String>,
    /// The bundle in English, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<BundleEnglish>,
}

/// A 小申问答 entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub theme: String,
    /// Related item codes.
    #[serde(default)]
    pub items: Vec<String>,
}

/// `GET /api/v1/items`: the whole catalogue in one body, so a terminal can keep an
/// offline copy. Served with a strong ETag; `If-None-Match` answers 304.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub version: String,
    pub departments: Vec<String>,
    pub themes: Vec<String>,
    /// Search aliases: `[colloquial, official]`, e.g. `["医保", "医疗保障"]`.
    #[serde(default)]
    pub aliases: Vec<(String, String)>,
    pub items: Vec<ServiceItem>,
    pub bundles: Vec<Bundle>,
    pub faqs: Vec<Faq>,
    /// English names of themes, by Chinese name; a theme without one is shown in Chinese.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub themes_en: BTreeMap<String, String>,
    /// English names of departments, by Chinese name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub departments_en: BTreeMap<String, String>,
}

impl Catalogue {
    /// A theme's name for a screen: English where the catalogue gives it, else Chinese.
    pub fn theme_name<'a>(&'a self, theme: &'a str, english: bool) -> &'a str {
        match self.themes_en.get(theme) {
            Some(en) if english => en,
            _ => theme,
        }
    }
    /// A department's name for a screen, as [`Catalogue::theme_name`].
    pub fn department_name<'a>(&'a self, department: &'a str, english: bool) -> &'a str {
        match self.departments_en.get(department) {
            Some(en) if english => en,
            _ => department,
        }
    }
}

/// `GET /api/v1/faq?q=...`: FAQ search answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqSearch {
    pub query: String,
    pub entries: Vec<Faq>,
}

// ---------------------------------------------------------------- residents

/// `POST /api/v1/residents/lookup` body. POST keeps the ID number out of URLs and access logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentLookupRequest {
    pub id_number: IdNumber,
}

/// Why a resident may have an offline-code card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EligibilityBasis {
    /// Aged 60 or more.
    Senior,
    /// Under 18.
    Minor,
    /// Registered disabled (持证残疾人).
    Disabled,
}

/// Answer to a resident lookup: never the full name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentLookup {
    /// `王*英`.
    pub masked_name: String,
    /// `310***********1234`.
    pub masked_id: String,
    pub eligible: bool,
    /// Set when eligible.
    pub basis: Option<EligibilityBasis>,
    /// Set when not eligible: why, in words a resident understands.
    pub reason: Option<String>,
    /// The card currently valid for this resident, if any.
    pub active_card: Option<String>,
}

/// What kind of resident code a scanner read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeKind {
    /// 随申码 (the Shanghai resident code; refreshes every minute in real life).
    #[serde(rename = "suishenma")]
    Suishenma,
    /// 电子身份证 (电子证照) code.
    #[serde(rename = "e_id")]
    EId,
}

impl CodeKind {
    /// The wire name: `suishenma` or `e_id`.
    pub fn name(self) -> &'static str {
        match self {
            CodeKind::Suishenma => "suishenma",
            CodeKind::EId => "e_id",
        }
    }
}

/// `POST /api/v1/residents/resolve-code` body: the text a code scanner read from a
/// resident's 随申码 or 电子身份证 code. 1 to [`limits::MAX_CODE_BYTES`] bytes of printable
/// ASCII ([`ResolveCodeRequest::check`]); the terminal strips the scanner's line ending.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveCodeRequest {
    pub code: String,
}

/// A code names a person: its `Debug` shows the length only.
impl std::fmt::Debug for ResolveCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResolveCodeRequest({} bytes)", self.code.len())
    }
}

/// Answer to a resolved code: the resident it names.
///
/// `id_number` is the full number, sent to the authenticated terminal over its TLS
/// connection so it can act for the resident exactly as after reading their ID card
/// (lookup, issue a card, report lost). The terminal keeps it in the session only: never
/// shown, logged or stored. [`IdNumber`] masks itself in `Debug` and `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedCode {
    pub kind: CodeKind,
    /// `王*英`, for the screen.
    pub masked_name: String,
    /// `310***********1231`, for the screen.
    pub masked_id: String,
    pub id_number: IdNumber,
    /// When the code stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A resident code in the reference back office's registry: a line of
/// `config/demo/codes.jsonl`, or the body of `POST /api/v1/admin/codes`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub code: String,
    pub kind: CodeKind,
    pub id_number: IdNumber,
    pub expires_at: DateTime<Utc>,
}

/// The code itself is a bearer of identity: not shown.
impl std::fmt::Debug for CodeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRecord")
            .field("code", &format_args!("({} bytes)", self.code.len()))
            .field("kind", &self.kind)
            .field("id_number", &self.id_number)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

// ---------------------------------------------------------------- resident session, 办件进度

/// The header that carries a resident's token (`X-Resident-Token`), beside the terminal's
/// bearer token. HTTP header names are case-insensitive; this is the lower-case form.
pub const RESIDENT_TOKEN_HEADER: &str = "x-resident-token";
pub use limits::RESIDENT_TOKEN_TTL_S;

/// `POST /api/v1/residents/session` body: the resident identified at the terminal (ID
/// card, or a resolved code) opens a short session for their own matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentSessionRequest {
    pub id_number: IdNumber,
}

/// A resident's session: `token` goes in [`RESIDENT_TOKEN_HEADER`] of the calls made for
/// them, from the terminal it was issued to, until `expires_at`
/// ([`RESIDENT_TOKEN_TTL_S`] after it was opened).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentSession {
    /// Random, 256 bits, base64url without padding. The back office keeps its SHA-256 only.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// `王*英`, for the screen.
    pub masked_name: String,
}

/// The token is a bearer credential: its `Debug` shows its length only.
impl std::fmt::Debug for ResidentSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentSession")
            .field("token", &format_args!("({} chars)", self.token.len()))
            .field("expires_at", &self.expires_at)
            .field("masked_name", &self.masked_name)
            .finish()
    }
}

/// Where an application (办件) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// 已受理.
    Accepted,
    /// 审核中.
    Reviewing,
    /// 需补正材料 (`missing` says what).
    NeedsCorrection,
    /// 已办结 (`collect` says where and how to collect the result).
    Completed,
    /// 已送达 / 已领取.
    Delivered,
}

impl ApplicationStatus {
    /// The wire name (`needs_correction` ...).
    pub fn name(self) -> &'static str {
        match self {
            ApplicationStatus::Accepted => "accepted",
            ApplicationStatus::Reviewing => "reviewing",
            ApplicationStatus::NeedsCorrection => "needs_correction",
            ApplicationStatus::Completed => "completed",
            ApplicationStatus::Delivered => "delivered",
        }
    }
    /// The label a resident reads.
    pub fn label(self) -> &'static str {
        match self {
            ApplicationStatus::Accepted => "已受理",
            ApplicationStatus::Reviewing => "审核中",
            ApplicationStatus::NeedsCorrection => "需补正材料",
            ApplicationStatus::Completed => "已办结",
            ApplicationStatus::Delivered => "已送达",
        }
    }
}

/// One step of an application's timeline: the status it reached, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusStep {
    pub status: ApplicationStatus,
    pub at: DateTime<Utc>,
}

/// One application (办件) of the resident, for 办件进度
/// (`GET /api/v1/residents/me/applications`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// 办件编号, e.g. `CN310105-2026-000123`.
    pub case_no: String,
    pub item_code: String,
    pub item_name: String,
    pub submitted_on: NaiveDate,
    /// The current status (the last step of `timeline`).
    pub status: ApplicationStatus,
    /// Every status reached, oldest first.
    pub timeline: Vec<StatusStep>,
    /// With `needs_correction`: what is missing, in plain Chinese.
    #[serde(default)]
    pub missing: Option<String>,
    /// Where and how to collect the result (with `completed`).
    #[serde(default)]
    pub collect: Option<String>,
}

/// An application in the reference back office: a line of
/// `config/demo/applications.jsonl`, the application with its resident's ID number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub id_number: IdNumber,
    #[serde(flatten)]
    pub application: Application,
}

// ---------------------------------------------------------------- offline codes

/// `POST /api/v1/offline-codes` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCodeRequest {
    pub id_number: IdNumber,
    /// Voids the resident's valid card and issues a new one.
    #[serde(default)]
    pub reissue: bool,
    /// The terminal's id for this request, so a retried request returns the same card.
    pub request_id: Uuid,
    /// 帮办: the staff member who assisted, when one did.
    #[serde(default)]
    pub staff: Option<String>,
}

/// A freshly issued offline code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    pub card_id: String,
    /// The QR content: `CK2.<payload>.<signature>`.
    pub qr: String,
    /// Signed in the payload too (CK2); a terminal prints the signed one.
    pub masked_name: String,
    pub masked_id: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// The card this issue voided (reissue), if any.
    pub voided_card: Option<String>,
}

/// State of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    Valid,
    Voided,
    Expired,
}

/// `GET /api/v1/offline-codes/{card_id}` and the answer to report-lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardStatus {
    pub card_id: String,
    pub state: CardState,
    pub masked_id: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// Why a voided card was voided: `reissued` or `reported_lost`.
    pub voided_reason: Option<String>,
}

/// `POST /api/v1/offline-codes/report-lost` body: voids the resident's valid card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLostRequest {
    pub id_number: IdNumber,
}

/// Why a terminal voids a card it issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    /// Issued, and the terminal's printer could not print it (for good, or the resident
    /// left before it did): nobody holds it.
    NotPrinted,
}

/// `POST /api/v1/offline-codes/{card_id}/void` body: the issuing terminal voids a card it
/// could not print. Only that terminal may, and only a valid card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidCardRequest {
    pub reason: VoidReason,
}

/// `GET /api/v1/admin/signing-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Standard base64 of the 32-byte public key.
    pub public_key: String,
}

// ---------------------------------------------------------------- ratings

/// 好差评 level, 5 (非常满意) to 1 (非常不满意).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum RatingLevel {
    VeryDissatisfied = 1,
    Dissatisfied = 2,
    Neutral = 3,
    Satisfied = 4,
    VerySatisfied = 5,
}

impl RatingLevel {
    pub const ALL: [RatingLevel; 5] = [
        RatingLevel::VerySatisfied,
        RatingLevel::Satisfied,
        RatingLevel::Neutral,
        RatingLevel::Dissatisfied,
        RatingLevel::VeryDissatisfied,
    ];
    /// 不满意 and 非常不满意 are 差评.
    pub fn is_bad(self) -> bool {
        (self as u8) <= 2
    }
    /// The official label.
    pub fn label(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "非常满意",
            RatingLevel::Satisfied => "满意",
            RatingLevel::Neutral => "基本满意",
            RatingLevel::Dissatisfied => "不满意",
            RatingLevel::VeryDissatisfied => "非常不满意",
        }
    }
}

impl TryFrom<u8> for RatingLevel {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            1 => RatingLevel::VeryDissatisfied,
            2 => RatingLevel::Dissatisfied,
            3 => RatingLevel::Neutral,
            4 => RatingLevel::Satisfied,
            5 => RatingLevel::VerySatisfied,
            _ => return Err(format!("rating level must be 1..5, got {v}")),
        })
    }
}
impl From<RatingLevel> for u8 {
    fn from(l: RatingLevel) -> u8 {
        l as u8
    }
}

/// Evaluation channel; a terminal always sends `self_service_terminal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    SelfServiceTerminal,
}

/// A callback (回访) request, only with the resident's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    pub consent: bool,
    pub phone: PhoneNumber,
}

/// One rating, created on the terminal with its own id (UUIDv7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub id: Uuid,
    pub terminal_id: String,
    pub item_code: String,
    /// 办件编号, when known.
    #[serde(default)]
    pub case_number: Option<String>,
    pub channel: Channel,
    pub level: RatingLevel,
    /// Reason tags, for a 差评.
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
    #[serde(default)]
    pub callback: Option<Callback>,
    /// 帮办 staff present, if any.
    #[serde(default)]
    pub staff: Option<String>,
}

/// `POST /api/v1/ratings` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingBatch {
    pub ratings: Vec<Rating>,
}

/// What the back office did with one rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingOutcome {
    Stored,
    /// Already stored earlier with the same content: a retry, not counted again.
    Duplicate,
    /// Will never be stored; `reason` says why.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingResult {
    pub id: Uuid,
    pub outcome: RatingOutcome,
    #[serde(default)]
    pub reason: Option<String>,
    /// With `rejected`: the stable code of why ([`limits::codes`]); `reason` says it in words.
    #[serde(default)]
    pub code: Option<String>,
}

/// Answer to a batch: one result per rating, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingBatchResult {
    pub results: Vec<RatingResult>,
}

/// `GET /api/v1/admin/terminals/{id}/ratings/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingStats {
    pub terminal_id: String,
    pub total: u64,
    /// Count per level, keyed "1".."5".
    pub per_level: BTreeMap<String, u64>,
    /// 差评 whose resident asked for a callback.
    pub bad_with_callback: u64,
    /// Uploads recognised as duplicates (retries) and not counted.
    pub duplicates_seen: u64,
    pub rejected: u64,
}

// ---------------------------------------------------------------- terminal

/// State of one printer role, as the terminal sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterState {
    /// `card`, `receipt` or `document`.
    pub role: String,
    /// `ready`, `paper_out`, `paper_near_end`, `cover_open`, `offline`, `error`.
    pub state: String,
    #[serde(default)]
    pub detail: Option<String>,
}

/// An identity device of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The ID-card reader (居民身份证阅读器).
    IdReader,
    /// The code scanner (随申码, 电子身份证).
    CodeScanner,
}

/// State of one identity device, as the terminal sees it. Bounded by [`Heartbeat::check`]
/// ([`limits::MAX_DEVICE_URI_CHARS`], [`limits::MAX_DEVICE_STATE_CHARS`],
/// [`limits::MAX_FAULT_CHARS`]); [`DeviceState::within_limits`] cuts the texts to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub kind: DeviceKind,
    /// Where the terminal reaches it (its config's URI).
    pub uri: String,
    /// `ready`, `card_present`, `fault`, `starting` or `off`.
    pub state: String,
    /// The last fault, in words, if any.
    #[serde(default)]
    pub last_fault: Option<String>,
    #[serde(default)]
    pub last_fault_at: Option<DateTime<Utc>>,
}

/// One audit entry (maintenance entry, PIN failure, config change, offline-code issue ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: String,
    #[serde(default)]
    pub actor: Option<String>,
}

/// `POST /api/v1/terminal/heartbeat` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub terminal_id: String,
    pub version: String,
    pub uptime_s: u64,
    pub printers: Vec<PrinterState>,
    pub outbox_depth: u64,
    pub last_sync: Option<DateTime<Utc>>,
    pub catalogue_version: Option<String>,
    pub catalogue_age_s: Option<u64>,
    pub free_disk_bytes: Option<u64>,
    /// Terminal clock minus the back office's `Date` header, in milliseconds.
    pub clock_skew_ms: Option<i64>,
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
    /// The identity devices (ID-card reader, code scanner); absent from older terminals.
    #[serde(default)]
    pub devices: Vec<DeviceState>,
}

/// Answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub server_time: DateTime<Utc>,
    /// Version of the remote config; fetch it when it differs from the one applied.
    pub config_version: u64,
}

/// `GET /api/v1/terminal/config`: settings the back office pushes to this terminal.
/// Keys are config paths (`display.idle_timeout_s`); only [`KeyClass::Remote`] ones of [`SETTABLE`] count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteConfig {
    pub version: u64,
    pub settings: BTreeMap<String, serde_json::Value>,
}

/// Who may change a config key without editing the config file over SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// The back office may push it (`PUT /api/v1/admin/terminals/{id}/config`), and a
    /// terminal applies it from `GET /api/v1/terminal/config`.
    Remote,
    /// The maintenance page (or `config set`), never the back office.
    Maintenance,
    /// Neither the back office nor the maintenance page: `config set` over SSH only
    /// (`set-pin` for a PIN). Whoever controls the back office must not be able to
    /// redirect a terminal or unlock its maintenance mode.
    Refused,
}

/// One row of [`SETTABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settable {
    /// The config path (`display.idle_timeout_s`).
    pub key: &'static str,
    pub class: KeyClass,
    /// The maintenance page offers it (whole numbers only; lists go through `config set`).
    pub on_page: bool,
    /// Running parts read it again when the config changes: a change applies at once;
    /// anything else applies when the terminal restarts.
    pub live: bool,
}

const fn row(key: &'static str, class: KeyClass, on_page: bool, live: bool) -> Settable {
    Settable {
        key,
        class,
        on_page,
        live,
    }
}

/// The one table of settable keys: who may set each (remote / maintenance / refused),
/// whether the maintenance page offers it, whether it applies live. Here in the contract
/// so the back office, the heartbeat, the maintenance page and the config read the same
/// rows. A key not here is refused remotely and not on the page.
pub const SETTABLE: [Settable; 15] = [
    row("display.idle_timeout_s", KeyClass::Remote, true, true),
    row("display.notices", KeyClass::Remote, false, true),
    row("ratings.reasons", KeyClass::Remote, false, true),
    row("heartbeat.interval_s", KeyClass::Remote, true, true),
    row("ratings.sync_interval_s", KeyClass::Maintenance, true, true),
    row(
        "catalogue.sync_interval_s",
        KeyClass::Maintenance,
        true,
        true,
    ),
    row("technician.pin_hash", KeyClass::Refused, false, false),
    row("backoffice.url", KeyClass::Refused, false, false),
    row("backoffice.token", KeyClass::Refused, false, false),
    row("backoffice.public_key", KeyClass::Refused, false, false),
    // The identity devices: a pushed config must neither switch an identity check off nor
    // point a device elsewhere. (`offline_code.require_staff` is no longer a row: the
    // config reads it as a deprecated alias.)
    row("identity.reader", KeyClass::Refused, false, false),
    row("identity.scanner", KeyClass::Refused, false, false),
    row("identity.keypad", KeyClass::Refused, false, false),
    row("storage.data_dir", KeyClass::Refused, false, false),
    row("storage.runtime_dir", KeyClass::Refused, false, false),
];

/// The row of `key`, if it has one.
pub fn settable(key: &str) -> Option<&'static Settable> {
    SETTABLE.iter().find(|s| s.key == key)
}

/// The keys the back office may push, in table order.
pub fn remote_keys() -> impl Iterator<Item = &'static str> {
    SETTABLE
        .iter()
        .filter(|s| s.class == KeyClass::Remote)
        .map(|s| s.key)
}

/// The keys the maintenance page offers, in table order.
pub fn page_keys() -> impl Iterator<Item = &'static str> {
    SETTABLE.iter().filter(|s| s.on_page).map(|s| s.key)
}

/// Largest body the back office takes for a remote config (64 KiB: the four settings
/// with a few hundred notices or reason tags fit many times over).
pub const REMOTE_CONFIG_MAX_BYTES: usize = 64 * 1024;

/// Whether the back office may push `key` ([`KeyClass::Remote`] in [`SETTABLE`]).
pub fn remote_settable(key: &str) -> bool {
    settable(key).is_some_and(|s| s.class == KeyClass::Remote)
}

/// The JSON shape a remote setting must have (the terminal then checks its range as it
/// checks a config file): a whole number for `*_s`, a list of strings for the lists.
pub fn check_remote_value(key: &str, value: &serde_json::Value) -> Result<(), String> {
    let ok = match key {
        "display.idle_timeout_s" | "heartbeat.interval_s" => value.is_i64(),
        "display.notices" | "ratings.reasons" => value
            .as_array()
            .is_some_and(|a| a.iter().all(serde_json::Value::is_string)),
        _ => return Err(format!("{key} is not changeable remotely")),
    };
    if ok {
        Ok(())
    } else if key.ends_with("_s") {
        Err(format!("{key} must be a whole number of seconds"))
    } else {
        Err(format!("{key} must be a list of strings"))
    }
}

/// `POST /api/v1/terminal/help` body: 呼叫工作人员.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRequest {
    pub id: Uuid,
    pub terminal_id: String,
    /// The page the resident was on.
    pub page: String,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpAck {
    pub id: Uuid,
    /// e.g. 工作人员马上就到.
    pub message: String,
}

/// `GET /api/v1/admin/terminals`: what the back office knows of each terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalSummary {
    pub terminal_id: String,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub last_heartbeat_body: Option<Heartbeat>,
    pub heartbeats: u64,
    pub open_help_requests: u64,
    pub config_version: u64,
}

/// `POST /api/v1/admin/residents` body: add or replace a registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentRecord {
    pub id_number: IdNumber,
    pub name: crate::identity::PersonName,
    #[serde(default)]
    pub disabled: bool,
}

#[cfg(test)]
mod settable_tests {
    use super::*;

    #[test]
    fn each_key_has_one_row_and_a_refused_key_is_settable_nowhere() {
        for (i, a) in SETTABLE.iter().enumerate() {
            assert!(
                SETTABLE[i + 1..].iter().all(|b| b.key != a.key),
                "{} has two rows",
                a.key
            );
            if a.class == KeyClass::Refused {
                assert!(!a.on_page && !remote_settable(a.key), "{}", a.key);
            }
        }
        assert_eq!(
            remote_keys().collect::<Vec<_>>(),
            [
                "display.idle_timeout_s",
                "display.notices",
                "ratings.reasons",
                "heartbeat.interval_s"
            ]
        );
        assert!(!remote_settable("technician.pin_hash") && !remote_settable("printers.card.uri"));
        for key in ["identity.reader", "identity.scanner", "identity.keypad"] {
            let row = settable(key).unwrap_or_else(|| panic!("{key} has no row"));
            assert_eq!(
                (row.class, row.on_page, row.live),
                (KeyClass::Refused, false, false)
            );
        }
        assert!(
            settable("offline_code.require_staff").is_none(),
            "a deprecated alias, not a row"
        );
    }
}

#[cfg(test)]
mod docs_resident_session {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    use super::docs_examples::{DOCS, round_trip};

    const HEADING: &str = "## Resident session and 办件进度";

    fn blocks() -> Vec<String> {
        super::docs_examples::blocks(HEADING)
    }

    #[test]
    fn every_example_of_the_section_round_trips() {
        let b = blocks();
        assert_eq!(b.len(), 4, "{b:?}");
        let req: ResidentSessionRequest = round_trip(&b[0]);
        assert_eq!(req.id_number.masked(), "310***********1231");
        let s: ResidentSession = round_trip(&b[1]);
        assert_eq!(s.token.len(), 43);
        assert!(!format!("{s:?}").contains(&s.token));
        let apps: Vec<Application> = round_trip(&b[2]);
        assert_eq!(apps[0].status, ApplicationStatus::NeedsCorrection);
        assert!(
            apps.iter()
                .all(|a| a.timeline.last().map(|t| t.status) == Some(a.status))
        );
        let e: ApiError = round_trip(&b[3]);
        assert_eq!(e.error, limits::codes::RESIDENT_TOKEN_EXPIRED);
        for code in [
            limits::codes::RESIDENT_TOKEN_MISSING,
            limits::codes::RESIDENT_TOKEN_INVALID,
            limits::codes::RESIDENT_TOKEN_EXPIRED,
            limits::codes::RESIDENT_TOKEN_OTHER_TERMINAL,
        ] {
            assert!(DOCS.contains(&format!("`{code}`")), "{code} is documented");
        }
        assert!(DOCS.contains(RESIDENT_TOKEN_HEADER) && RESIDENT_TOKEN_TTL_S == 600);
    }

    #[test]
    fn every_status_has_its_wire_name() {
        for s in [
            ApplicationStatus::Accepted,
            ApplicationStatus::Reviewing,
            ApplicationStatus::NeedsCorrection,
            ApplicationStatus::Completed,
            ApplicationStatus::Delivered,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.name().into())
            );
            assert!(!s.label().is_empty());
        }
    }
}

/// The examples of docs/api.md's *Certificates and 快办* section are the wire types' own.
#[cfg(test)]
mod docs_services {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    use super::docs_examples::{DOCS, round_trip};

    const HEADING: &str = "## Certificates and 快办";

    fn blocks() -> Vec<String> {
        super::docs_examples::blocks(HEADING)
    }

    #[test]
    fn every_example_of_the_section_round_trips() {
        let b = blocks();
        assert_eq!(b.len(), 8, "{b:?}");
        let req: CertificateRequest = round_trip(&b[0]);
        assert!(CERTIFICATE_PERIODS.contains(&req.months));
        let c: Certificate = round_trip(&b[1]);
        assert_eq!(c.rows.len(), usize::from(req.months));
        assert_eq!(c.kind, req.kind);
        assert_eq!(c.title, c.kind.title());
        for (i, total) in c.totals_fen.iter().enumerate() {
            assert_eq!(*total, c.rows.iter().map(|r| r.amounts_fen[i]).sum::<i64>());
        }
        assert!(c.verification_code.starts_with("DV1.D"));
        let check: DocumentCheck = round_trip(&b[2]);
        assert_eq!((check.status.as_str(), &check.certificate), ("valid", &c));
        let e: ApiError = round_trip(&b[3]);
        assert_eq!(e.error, limits::codes::DOCUMENT_TAMPERED);
        let forms: Vec<QuickForm> = round_trip(&b[4]);
        let item = &forms[0].item;
        let sub: QuickSubmission = round_trip(&b[5]);
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(check_submission(item, &sub.values, today), vec![]);
        let r: QuickReceipt = round_trip(&b[6]);
        assert_eq!(
            (r.item_id.as_str(), r.item_code.as_str()),
            (item.id.as_str(), item.item_code.as_str())
        );
        assert_eq!(r.next_steps, item.next_steps);
        let fe: FieldErrors = round_trip(&b[7]);
        assert_eq!(fe.error, limits::codes::FIELDS_INVALID);
        let _: ApiError = serde_json::from_str(&b[7]).unwrap();
        for code in [
            limits::codes::DOCUMENT_TAMPERED,
            limits::codes::DOCUMENT_NOT_FOUND,
            limits::codes::PERIOD_NOT_OFFERED,
            limits::codes::NO_RECORDS,
            limits::codes::QUICK_ITEM_NOT_FOUND,
            limits::codes::FIELDS_INVALID,
            limits::codes::NOT_ELIGIBLE,
            limits::codes::SUBMISSION_ID_REUSED,
            limits::codes::CASE_ALREADY_RATED,
        ] {
            assert!(DOCS.contains(&format!("`{code}`")), "{code} is documented");
        }
    }
}

/// The examples of a section of docs/api.md, for the sections whose examples are plain
/// ```json blocks (the older sections name their type on the fence instead).
#[cfg(test)]
mod docs_examples {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde::Serialize;

    pub(super) const DOCS: &str = include_str!("../../../docs/api.md");

    /// The plain ```json blocks of the section under `heading`, in order.
    pub(super) fn blocks(heading: &str) -> Vec<String> {
        let start = DOCS.find(heading).expect("docs/api.md has the section");
        let section = &DOCS[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in section.lines() {
            match (&mut current, line) {
                (None, "```json") => current = Some(String::new()),
                (Some(text), "```") => {
                    out.push(std::mem::take(text));
                    current = None;
                }
                (Some(text), l) => {
                    text.push_str(l);
                    text.push('\n');
                }
                (None, _) => {}
            }
        }
        out
    }

    /// `text` read as `T` and written back: the same JSON, or the test fails.
    pub(super) fn round_trip<T: serde::de::DeserializeOwned + Serialize>(text: &str) -> T {
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let typed: T =
            serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), original, "{text}");
        typed
    }
}
