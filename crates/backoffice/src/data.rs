//! Demo and deployment data for the reference back office: catalogue JSON, resident JSON lines, token file, ETags.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

use super::ServerError;
use crate::api::{Catalogue, ResidentRecord};

pub use civic_contract::catalogue::DEMO_CATALOGUE;
/// The demo resident registry (fictional people), JSON lines.
pub const DEMO_RESIDENTS: &str = include_str!("../../../config/demo/residents.jsonl");
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
