//! Demo and deployment data for the reference back office: catalogue JSON, resident and resident-code JSON lines, token file, ETags.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ServerError;
use crate::api::{ApplicationRecord, Catalogue, CodeRecord, ResidentRecord};

pub use civic_contract::catalogue::DEMO_CATALOGUE;
/// The demo resident registry (fictional people), JSON lines.
pub const DEMO_RESIDENTS: &str = include_str!("../../../config/demo/residents.jsonl");
/// The demo resident codes (随申码, 电子身份证), JSON lines; each names a demo resident.
pub const DEMO_CODES: &str = include_str!("../../../config/demo/codes.jsonl");
/// The demo applications (办件), JSON lines; each names a demo resident.
pub const DEMO_APPLICATIONS: &str = include_str!("../../../config/demo/applications.jsonl");
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
}
