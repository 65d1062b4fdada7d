//! Demo and deployment data for the reference back office: catalogue JSON, resident and resident-code JSON lines, token file, ETags.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ServerError;
use crate::api::{
    ApplicationRecord, Catalogue, CertificateKind, CertificateRow, CodeRecord, FieldKind,
    QuickItem, ResidentRecord,
};
use crate::identity::IdNumber;

pub use civic_contract::catalogue::DEMO_CATALOGUE;
/// The demo resident registry (fictional people), JSON lines.
pub const DEMO_RESIDENTS: &str = include_str!("../../../config/demo/residents.jsonl");
/// The demo resident codes (随申码, 电子身份证), JSON lines; each names a demo resident.
pub const DEMO_CODES: &str = include_str!("../../../config/demo/codes.jsonl");
/// The demo applications (办件), JSON lines; each names a demo resident.
pub const DEMO_APPLICATIONS: &str = include_str!("../../../config/demo/applications.jsonl");
/// The demo monthly records behind 证明打印, JSON lines (`scripts/gen-demo-certificates.py`);
/// each names a demo resident.
pub const DEMO_CERTIFICATES: &str = include_str!("../../../config/demo/certificates.jsonl");
/// The demo 快办 items, a JSON array of [`QuickItemDef`].
pub const DEMO_QUICK_ITEMS: &str = include_str!("../../../config/demo/quick-items.json");
/// The demo token file, matching `config/kiosk.toml`.
pub const DEMO_TOKENS: &str = include_str!("../../../config/backoffice.toml");

/// A strong ETag: the SHA-256 of the exact body.
pub fn strong_etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

pub fn parse_catalogue(text: &str, origin: &Path) -> Result<Catalogue, ServerError> {
    let c: Catalogue = serde_json::from_str(text).map_err(|e| ServerError::File {
        path: origin.to_path_buf(),
        message: format!("catalogue is not valid: {e}"),
    })?;
    civic_contract::catalogue::check(&c).map_err(|message| ServerError::File {
        path: origin.to_path_buf(),
        message,
    })?;
    Ok(c)
}

/// Parses resident JSON lines; a bad line is reported with its number.
pub fn parse_residents(text: &str, origin: &Path) -> Result<Vec<ResidentRecord>, ServerError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| ServerError::File {
                path: origin.to_path_buf(),
                message: format!("line {}: {e}", n + 1),
            })
        })
        .collect()
}

/// Records read from a JSON-lines file (resident codes, applications), each with its
/// line number, so that one naming no resident is refused naming its line
/// ([`crate::AppState::load_codes`], [`crate::AppState::load_applications`]).
#[derive(Debug, Clone)]
pub struct RecordFile<T> {
    pub origin: PathBuf,
    /// (line number, from 1; the record).
    pub lines: Vec<(usize, T)>,
}

/// The resident codes of a file.
pub type CodeFile = RecordFile<CodeRecord>;
/// The applications of a file.
pub type ApplicationFile = RecordFile<ApplicationRecord>;
/// The certificate records of a file.
pub type CertificateFile = RecordFile<CertificateRecord>;

/// A resident's monthly records of one kind, what a certificate is cut from: a line of
/// `config/demo/certificates.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub id_number: IdNumber,
    pub kind: CertificateKind,
    /// The issuing department, printed on the certificate.
    pub issuer: String,
    /// Column headings after 月份.
    pub columns: Vec<String>,
    /// Oldest first, one per month, each with one amount per column.
    pub months: Vec<CertificateRow>,
}

impl CertificateRecord {
    /// Months well-formed (`YYYY-MM`), strictly increasing, each with one amount per column.
    pub fn check(&self) -> Result<(), String> {
        if self.columns.is_empty() {
            return Err("no columns".into());
        }
        if self.months.is_empty() {
            return Err("no months".into());
        }
        let mut last: Option<&str> = None;
        for row in &self.months {
            let m = row.month.as_str();
            if chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_err()
                || m.len() != 7
            {
                return Err(format!("month {m:?} is not YYYY-MM"));
            }
            if last.is_some_and(|l| l >= m) {
                return Err(format!("month {m} is not after the month before it"));
            }
            if row.amounts_fen.len() != self.columns.len() {
                return Err(format!(
                    "month {m} has {} amounts for {} columns",
                    row.amounts_fen.len(),
                    self.columns.len()
                ));
            }
            last = Some(m);
        }
        Ok(())
    }
}

/// A 快办 item as the back office keeps it: the item the terminal sees, and who may
/// apply (not sent: the terminal is told `not_eligible` in words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickItemDef {
    #[serde(flatten)]
    pub item: QuickItem,
    /// The youngest age (on the back office's today, from the ID number's birth date)
    /// that may apply.
    #[serde(default)]
    pub min_age: Option<u32>,
}

impl QuickItemDef {
    /// Why the holder of `id` may not apply on `today`, in plain Chinese; `None` if they may.
    pub fn not_eligible(&self, id: &IdNumber, today: chrono::NaiveDate) -> Option<String> {
        let min = self.min_age?;
        if id.age_on(today) >= min {
            return None;
        }
        let what = self
            .item
            .name
            .strip_suffix("申请")
            .unwrap_or(&self.item.name);
        Some(format!("未满{min}周岁，暂不能申请{what}"))
    }

    /// [`Self::not_eligible`] in English.
    pub fn not_eligible_en(&self, id: &IdNumber, today: chrono::NaiveDate) -> Option<String> {
        let min = self.min_age?;
        if id.age_on(today) >= min {
            return None;
        }
        let what = if self.item.name_en.is_empty() {
            "this item"
        } else {
            &self.item.name_en
        };
        Some(format!(
            "From age {min} only: {what} is not open to you yet"
        ))
    }
}

/// The keys a [`QuickItem`] may list in `prefills`, each filled from the registry.
pub const PREFILL_KEYS: [&str; 4] = ["name", "id_number", "address", "hukou"];

impl<T> RecordFile<T> {
    /// No records.
    pub fn empty() -> Self {
        Self {
            origin: PathBuf::new(),
            lines: Vec::new(),
        }
    }
}

/// Parses JSON lines of `T`: a line that is not one, fails `check`, or repeats an
/// earlier line's `key` (named `what`) is reported with its number.
fn parse_records<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
    check: impl Fn(&T) -> Result<(), String>,
    key: impl Fn(&T) -> String,
    what: &str,
) -> Result<RecordFile<T>, ServerError> {
    let fail = |n: usize, message: String| ServerError::File {
        path: origin.to_path_buf(),
        message: format!("line {n}: {message}"),
    };
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: T = serde_json::from_str(line).map_err(|e| fail(n, e.to_string()))?;
        check(&record).map_err(|m| fail(n, m))?;
        if !seen.insert(key(&record)) {
            return Err(fail(n, format!("this {what} is on an earlier line too")));
        }
        lines.push((n, record));
    }
    Ok(RecordFile {
        origin: origin.to_path_buf(),
        lines,
    })
}

/// Parses resident-code JSON lines; a line that is not a [`CodeRecord`], breaks the
/// code's limits or repeats an earlier code is reported with its number.
pub fn parse_codes(text: &str, origin: &Path) -> Result<CodeFile, ServerError> {
    parse_records(
        text,
        origin,
        |r: &CodeRecord| r.check().map_err(|v| v.message),
        |r| r.code.clone(),
        "code",
    )
}

/// Parses application JSON lines ([`ApplicationRecord`]); a line that is not one, or
/// repeats an earlier `case_no`, is reported with its number.
pub fn parse_applications(text: &str, origin: &Path) -> Result<ApplicationFile, ServerError> {
    parse_records(
        text,
        origin,
        |_: &ApplicationRecord| Ok(()),
        |r| r.application.case_no.clone(),
        "case_no",
    )
}

/// Parses certificate JSON lines ([`CertificateRecord`]); a line that is not one, has
/// months out of order or amounts not matching its columns, or repeats an earlier line's
/// resident and kind, is reported with its number.
pub fn parse_certificates(text: &str, origin: &Path) -> Result<CertificateFile, ServerError> {
    parse_records(
        text,
        origin,
        CertificateRecord::check,
        |r| format!("{} {}", r.id_number.expose_id_number(), r.kind.name()),
        "resident and kind",
    )
}

/// Parses 快办 items (a JSON array of [`QuickItemDef`]) and checks them: ids and item
/// codes present and ids unique, field keys unique within an item, a choice with options
/// (values unique), digits with `min <= max`, a date window with `from_days <= to_days`,
/// prefills among [`PREFILL_KEYS`], at most one material not held. An error names the
/// item and the field.
pub fn parse_quick_items(text: &str, origin: &Path) -> Result<Vec<QuickItemDef>, ServerError> {
    let fail = |message: String| ServerError::File {
        path: origin.to_path_buf(),
        message,
    };
    let items: Vec<QuickItemDef> =
        serde_json::from_str(text).map_err(|e| fail(format!("not a list of 快办 items: {e}")))?;
    let mut ids = HashSet::new();
    for (n, def) in items.iter().enumerate() {
        let item = &def.item;
        let at = format!("item {} ({:?})", n + 1, item.id);
        if item.id.trim().is_empty() || item.item_code.trim().is_empty() {
            return Err(fail(format!("{at}: id and item_code must not be empty")));
        }
        if !ids.insert(item.id.as_str()) {
            return Err(fail(format!(
                "{at}: this id is used by an earlier item too"
            )));
        }
        if item.fields.is_empty() {
            return Err(fail(format!("{at}: no fields")));
        }
        let mut keys = HashSet::new();
        for f in &item.fields {
            let at = format!("{at}, field {:?}", f.key);
            if f.key.trim().is_empty() || !keys.insert(f.key.as_str()) {
                return Err(fail(format!(
                    "{at}: field keys must be unique and not empty"
                )));
            }
            match &f.kind {
                FieldKind::Digits { min, max } if min > max || *max == 0 => {
                    return Err(fail(format!("{at}: digits need 0 < max and min <= max")));
                }
                FieldKind::Choice { options } => {
                    let mut values = HashSet::new();
                    if options.is_empty() || !options.iter().all(|o| values.insert(&o.value)) {
                        return Err(fail(format!(
                            "{at}: a choice needs options, each value once"
                        )));
                    }
                }
                FieldKind::Date {
                    from_days, to_days, ..
                } if from_days > to_days => {
                    return Err(fail(format!("{at}: from_days is after to_days")));
                }
                _ => {}
            }
        }
        if let Some(p) = item
            .prefills
            .iter()
            .find(|p| !PREFILL_KEYS.contains(&p.as_str()))
        {
            return Err(fail(format!(
                "{at}: prefill {p:?} is not one of {}",
                PREFILL_KEYS.join(", ")
            )));
        }
        if item.materials.iter().filter(|m| !m.held).count() > 1 {
            return Err(fail(format!(
                "{at}: at most one material may be not held (两个免于提交)"
            )));
        }
    }
    Ok(items)
}

/// The demo address of a resident (the registry holds none): a street of 长宁区 and a
/// number, derived from the ID number, so the same resident always lives at the same place.
pub fn demo_address(id: &IdNumber) -> String {
    const ROADS: [&str; 10] = [
        "天山路",
        "仙霞路",
        "遵义路",
        "虹桥路",
        "延安西路",
        "愚园路",
        "江苏路",
        "安顺路",
        "武夷路",
        "定西路",
    ];
    let digest = Sha256::digest(id.expose_id_number().as_bytes());
    let road = ROADS[usize::from(digest[0]) % ROADS.len()];
    let number = (u32::from(digest[1]) << 8 | u32::from(digest[2])) % 1200 + 1;
    format!("上海市长宁区{road}{number}号")
}

/// An address as the screen shows it: the district and the road, the number hidden
/// (`上海市长宁区天山路123号` → `长宁区天山路***号`).
pub fn mask_address(address: &str) -> String {
    let rest = address.strip_prefix("上海市").unwrap_or(address);
    let road_end = rest
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    format!("{}***号", &rest[..road_end])
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    admin_token: Option<String>,
    #[serde(default)]
    terminal_tokens: HashMap<String, String>,
}

/// Tokens: (token → terminal id, admin token).
pub fn parse_tokens(
    text: &str,
    origin: &Path,
) -> Result<(HashMap<String, String>, Option<String>), ServerError> {
    let f: TokenFile = toml::from_str(text).map_err(|e| ServerError::File {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })?;
    let tokens = f
        .terminal_tokens
        .into_iter()
        .map(|(id, token)| (token, id))
        .collect();
    Ok((tokens, f.admin_token))
}

/// The demo catalogue, parsed.
pub fn demo_catalogue() -> Result<Catalogue, ServerError> {
    parse_catalogue(DEMO_CATALOGUE, Path::new("config/demo/catalogue.json"))
}

/// The demo residents, parsed.
pub fn demo_residents() -> Result<Vec<ResidentRecord>, ServerError> {
    parse_residents(DEMO_RESIDENTS, Path::new("config/demo/residents.jsonl"))
}

/// The demo resident codes, parsed.
pub fn demo_codes() -> Result<CodeFile, ServerError> {
    parse_codes(DEMO_CODES, Path::new("config/demo/codes.jsonl"))
}

/// The demo applications, parsed.
pub fn demo_applications() -> Result<ApplicationFile, ServerError> {
    parse_applications(
        DEMO_APPLICATIONS,
        Path::new("config/demo/applications.jsonl"),
    )
}

/// The demo certificate records, parsed.
pub fn demo_certificates() -> Result<CertificateFile, ServerError> {
    parse_certificates(
        DEMO_CERTIFICATES,
        Path::new("config/demo/certificates.jsonl"),
    )
}

/// The demo 快办 items, parsed and checked.
pub fn demo_quick_items() -> Result<Vec<QuickItemDef>, ServerError> {
    parse_quick_items(DEMO_QUICK_ITEMS, Path::new("config/demo/quick-items.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_rich_enough() {
        let c = demo_catalogue().unwrap();
        assert!(c.items.len() >= 300, "{} items", c.items.len());
        assert!(c.departments.len() >= 15);
        assert!(c.themes.len() >= 20);
        assert!(c.bundles.len() >= 10);
        assert!(c.faqs.len() >= 200);
        assert!(
            c.items
                .iter()
                .any(|i| i.audience == crate::api::Audience::Legal)
        );
        assert!(c.items.iter().filter(|i| i.high_frequency).count() >= 10);
        let r = demo_residents().unwrap();
        assert!(r.len() >= 300);
        for ch in ['堃', '喆', '赟', '燊'] {
            assert!(
                r.iter().any(|p| p.name.expose_name().contains(ch)),
                "no name with {ch}"
            );
        }
    }

    #[test]
    fn every_demo_code_names_a_demo_resident() {
        let residents = demo_residents().unwrap();
        let codes = demo_codes().unwrap();
        assert!(codes.lines.len() >= 3);
        for (n, c) in &codes.lines {
            assert!(
                residents.iter().any(|r| r.id_number == c.id_number),
                "line {n}: {:?}",
                c.id_number
            );
        }
        let kinds: Vec<_> = codes.lines.iter().map(|(_, c)| c.kind).collect();
        assert!(kinds.contains(&crate::api::CodeKind::EId));
        assert!(
            codes
                .lines
                .iter()
                .any(|(_, c)| c.code == "SSM:DEMO:EXPIRED" && c.expires_at < chrono::Utc::now())
        );
    }

    #[test]
    fn demo_applications_cover_every_status_and_name_demo_residents() {
        use crate::api::ApplicationStatus as S;
        let residents = demo_residents().unwrap();
        let apps = demo_applications().unwrap();
        for (n, a) in &apps.lines {
            assert!(
                residents.iter().any(|r| r.id_number == a.id_number),
                "line {n}: {:?}",
                a.id_number
            );
            let app = &a.application;
            assert_eq!(
                app.timeline.last().map(|s| s.status),
                Some(app.status),
                "line {n}"
            );
            assert_eq!(
                app.missing.is_some(),
                app.status == S::NeedsCorrection,
                "line {n}"
            );
        }
        let wang: Vec<_> = apps
            .lines
            .iter()
            .filter(|(_, a)| a.id_number.expose_id_number() == "310105195001011231")
            .map(|(_, a)| &a.application)
            .collect();
        for s in [
            S::Accepted,
            S::Reviewing,
            S::NeedsCorrection,
            S::Completed,
            S::Delivered,
        ] {
            assert!(wang.iter().any(|a| a.status == s), "{s:?}");
        }
        assert!(
            wang.iter()
                .any(|a| a.status == S::Completed && a.collect.is_some())
        );
        assert!(apps.lines.iter().any(|(_, a)| a.id_number != wang_id()));
        let err = parse_applications(
            &format!(
                "{}\n{}",
                DEMO_APPLICATIONS.lines().next().unwrap(),
                DEMO_APPLICATIONS.lines().next().unwrap()
            ),
            Path::new("a.jsonl"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2: this case_no is on an earlier line"),
            "{err}"
        );
    }

    fn wang_id() -> crate::identity::IdNumber {
        crate::identity::IdNumber::parse("310105195001011231").unwrap()
    }

    #[test]
    fn a_bad_code_line_is_named() {
        let origin = Path::new("codes.jsonl");
        let good = r#"{"code": "SSM:X", "kind": "suishenma", "id_number": "310105195001011231", "expires_at": "2099-12-31T23:59:59Z"}"#;
        let err = |text: &str| parse_codes(text, origin).unwrap_err().to_string();
        assert!(
            err(&format!("{good}\n\n{good}")).contains("line 3: this code is on an earlier line")
        );
        assert!(
            err(&format!("\n{}", good.replace("suishenma", "qq")))
                .starts_with("codes.jsonl: line 2:")
        );
        assert!(
            err(&good.replace("SSM:X", "SSM:码"))
                .contains("line 1: code has a byte outside printable ASCII")
        );
        assert_eq!(parse_codes(good, origin).unwrap().lines[0].0, 1);
    }

    #[test]
    fn tokens_file_maps_tokens_to_terminals() {
        let (tokens, admin) =
            parse_tokens(DEMO_TOKENS, Path::new("config/backoffice.toml")).unwrap();
        assert_eq!(
            tokens.get("demo-token-CN-TSL-001").map(String::as_str),
            Some("CN-TSL-001")
        );
        assert_eq!(admin.as_deref(), Some("demo-admin-token"));
    }

    #[test]
    fn etag_is_strong_and_content_bound() {
        let a = strong_etag(b"x");
        assert!(a.starts_with('"') && !a.starts_with("W/"));
        assert_ne!(a, strong_etag(b"y"));
    }

    #[test]
    fn demo_certificates_cover_wang_and_zhang() {
        let residents = demo_residents().unwrap();
        let file = demo_certificates().unwrap();
        for (n, r) in &file.lines {
            assert!(
                residents.iter().any(|p| p.id_number == r.id_number),
                "line {n}"
            );
            assert!(r.months.len() >= 36, "line {n}");
            assert_eq!(r.months.last().unwrap().month, "2026-11", "line {n}");
        }
        let has = |id: &str, kind| {
            file.lines
                .iter()
                .any(|(_, r)| r.id_number.expose_id_number() == id && r.kind == kind)
        };
        for kind in CertificateKind::ALL {
            assert!(has("310105195001011231", kind), "{kind:?}");
        }
        assert!(has("310105199006154563", CertificateKind::SocialInsurance));
        assert!(has("310105199006154563", CertificateKind::IncomeTax));
        let first = DEMO_CERTIFICATES.lines().next().unwrap();
        let err = |text: &str| {
            parse_certificates(text, Path::new("c.jsonl"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&format!("{first}\n{first}")).contains("line 2: this resident and kind"));
        let swapped = first.replacen("2023-01", "2099-01", 1);
        assert!(
            err(&swapped).contains("line 1: month 2023-02 is not after"),
            "{}",
            err(&swapped)
        );
    }

    #[test]
    fn demo_quick_items_are_checked_and_bad_ones_named() {
        let items = demo_quick_items().unwrap();
        let ids: Vec<&str> = items.iter().map(|d| d.item.id.as_str()).collect();
        for id in [
            "residence-permit-endorsement",
            "senior-allowance",
            "social-security-card-replacement",
        ] {
            assert!(ids.contains(&id), "{id}");
        }
        for d in &items {
            assert!((2..=4).contains(&d.item.fields.len()), "{}", d.item.id);
            assert!(d.item.materials.iter().any(|m| m.held));
        }
        let err = |from: &str, to: &str| {
            let text = DEMO_QUICK_ITEMS.replacen(from, to, 1);
            assert_ne!(text, DEMO_QUICK_ITEMS, "{from}");
            parse_quick_items(&text, Path::new("q.json"))
                .unwrap_err()
                .to_string()
        };
        let e = err(r#""key": "phone""#, r#""key": "permit_tail""#);
        assert!(
            e.contains(r#"item 1 ("residence-permit-endorsement"), field "permit_tail""#),
            "{e}"
        );
        let e = err(r#""min": 6, "max": 6"#, r#""min": 7, "max": 6"#);
        assert!(e.contains("min <= max"), "{e}");
        let e = err(
            r#""id": "senior-allowance""#,
            r#""id": "residence-permit-endorsement""#,
        );
        assert!(e.contains("item 2") && e.contains("earlier item"), "{e}");
        let e = err(r#""prefills": ["name""#, r#""prefills": ["blood_type""#);
        assert!(e.contains("blood_type"), "{e}");
    }

    #[test]
    fn addresses_are_stable_and_masked() {
        let wang = wang_id();
        assert_eq!(demo_address(&wang), demo_address(&wang));
        let shown = mask_address(&demo_address(&wang));
        assert!(
            shown.starts_with("长宁区") && shown.ends_with("路***号"),
            "{shown}"
        );
        assert_eq!(mask_address("上海市长宁区天山路123号"), "长宁区天山路***号");
    }
}
