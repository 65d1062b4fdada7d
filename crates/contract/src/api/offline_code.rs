//! The signed 离线码 string `CK2.<base64url payload>.<base64url Ed25519 signature>`: build, sign, parse, verify.
//!
//! The signature covers the ASCII bytes `CK2.<payload>` (prefix and payload as sent), so the
//! version tag is bound too. Anyone can scan a card, so the payload holds no full ID number
//! and no full name: an opaque card id, the masked ID, the masked name (CK2), the dates
//! and the issuing terminal.
//!
//! Versions: CK1 (until 2026-12-02) had no masked name, so a terminal printed the name the
//! back office's answer gave, unsigned. CK2 signs it. A CK1 code still verifies while a
//! card issued in it can be valid: only if it was issued on or before [`CK1_LAST_ISSUE`],
//! which (cards are valid 180 days) no card can be after [`CK1_ACCEPTED_UNTIL`]. From then
//! on the CK1 branch can go.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::NaiveDate;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The version tag every code issued now starts with.
pub const PREFIX: &str = "CK2";

/// The version before: no masked name in the payload.
pub const LEGACY_PREFIX: &str = "CK1";

/// The last day a CK1 code was issued (the back office signs CK2 from the next day).
pub const CK1_LAST_ISSUE: NaiveDate = match NaiveDate::from_ymd_opt(2026, 12, 2) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// Cards are valid this many days.
pub const VALID_DAYS: u64 = 180;

/// The last day a CK1 card can still be valid: [`CK1_LAST_ISSUE`] + [`VALID_DAYS`].
pub const CK1_ACCEPTED_UNTIL: NaiveDate = match NaiveDate::from_ymd_opt(2027, 5, 31) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The payload's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// No masked name; accepted for cards issued up to [`CK1_LAST_ISSUE`].
    Ck1,
    /// With the masked name.
    Ck2,
}

impl Version {
    pub fn prefix(self) -> &'static str {
        match self {
            Version::Ck1 => LEGACY_PREFIX,
            Version::Ck2 => PREFIX,
        }
    }
}

/// The JSON payload carried inside a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePayload {
    /// Opaque card id.
    pub card: String,
    /// Masked ID number, `310***********1234`.
    pub mid: String,
    /// Masked name, `王*英` (CK2; `None` in a CK1 code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mn: Option<String>,
    /// Issue date.
    pub iss: NaiveDate,
    /// Expiry date (last valid day).
    pub exp: NaiveDate,
    /// Issuing terminal id.
    pub term: String,
}

/// Why a code string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("offline code is not of the form CK2.<payload>.<signature>")]
    Malformed,
    #[error("offline code payload is not valid base64url JSON")]
    BadPayload,
    #[error("offline code signature does not verify against the trusted key")]
    BadSignature,
    #[error("offline code expired on {0}")]
    Expired(NaiveDate),
    #[error("public key is not 32 bytes of base64")]
    BadKey,
    /// A CK2 payload without a masked name, or one that is not masked (a full name).
    #[error("offline code carries no properly masked name")]
    BadName,
    /// A CK1 code issued after CK2 took over (a CK1 code is never made any more).
    #[error("offline code of the retired form CK1, issued {0} (after {CK1_LAST_ISSUE})")]
    Retired(NaiveDate),
}

/// Whether `name` is a masked name as [`crate::identity::mask_name`] makes them: one to
/// ten characters, the first (and the last, from three on) shown, every other one `*`,
/// and nothing that is not a letter there. A full name (`王秀英`) or one with a note
/// (`王秀英（全名）`) is not.
pub fn is_masked_name(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let n = chars.len();
    if n == 0 || n > 10 {
        return false;
    }
    let shown = |c: char| c.is_alphabetic() && c != '*';
    chars.iter().enumerate().all(|(i, &c)| match (n, i) {
        (1, _) => c == '*',
        (2, 0) => shown(c),
        (2, _) => c == '*',
        (_, 0) => shown(c),
        (_, i) if i == n - 1 => shown(c),
        _ => c == '*',
    })
}

/// Signs `payload` into a code string of the current form (CK2).
pub fn sign(payload: &CodePayload, key: &SigningKey) -> String {
    sign_as(Version::Ck2, payload, key)
}

/// Signs `payload` in the form `version` (CK1 leaves the masked name out). The back office
/// signs CK2 only; CK1 is for the verifier's tests and for decoding old cards.
pub fn sign_as(version: Version, payload: &CodePayload, key: &SigningKey) -> String {
    let mut payload = payload.clone();
    if version == Version::Ck1 {
        payload.mn = None;
    }
    // Serializing a struct of strings and dates cannot fail.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let signed = format!("{}.{}", version.prefix(), URL_SAFE_NO_PAD.encode(json));
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Checks the signature and decodes the payload: a CK2 code must carry a masked name; a
/// CK1 code must have been issued by [`CK1_LAST_ISSUE`]. Expiry is checked separately
/// ([`check_not_expired`]) so that a status screen can still show an old card.
pub fn verify(code: &str, key: &VerifyingKey) -> Result<CodePayload, CodeError> {
    verify_versioned(code, key).map(|(_, p)| p)
}

/// [`verify`], also answering the form the code was in.
pub fn verify_versioned(
    code: &str,
    key: &VerifyingKey,
) -> Result<(Version, CodePayload), CodeError> {
    let (signed, sig_b64) = code.rsplit_once('.').ok_or(CodeError::Malformed)?;
    let (prefix, payload_b64) = signed.split_once('.').ok_or(CodeError::Malformed)?;
    let version = match prefix {
        PREFIX => Version::Ck2,
        LEGACY_PREFIX => Version::Ck1,
        _ => return Err(CodeError::Malformed),
    };
    if payload_b64.contains('.') {
        return Err(CodeError::Malformed);
    }
    let sig_bytes = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| CodeError::BadSignature)?;
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| CodeError::BadSignature)?;
    key.verify(signed.as_bytes(), &sig)
        .map_err(|_| CodeError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| CodeError::BadPayload)?;
    let payload: CodePayload = serde_json::from_slice(&json).map_err(|_| CodeError::BadPayload)?;
    match version {
        Version::Ck2 => {
            if !payload.mn.as_deref().is_some_and(is_masked_name) {
                return Err(CodeError::BadName);
            }
        }
        Version::Ck1 => {
            if payload.mn.is_some() {
                return Err(CodeError::BadPayload);
            }
            if payload.iss > CK1_LAST_ISSUE {
                return Err(CodeError::Retired(payload.iss));
            }
        }
    }
    Ok((version, payload))
}

/// Refuses a payload whose last valid day is before `today`.
pub fn check_not_expired(payload: &CodePayload, today: NaiveDate) -> Result<(), CodeError> {
    if payload.exp < today {
        Err(CodeError::Expired(payload.exp))
    } else {
        Ok(())
    }
}

/// Parses a public key given as standard (or url-safe) base64 of 32 bytes,
/// optionally prefixed `ed25519:`.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, CodeError> {
    let t = text.trim();
    let t = t.strip_prefix("ed25519:").unwrap_or(t);
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
        .map_err(|_| CodeError::BadKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| CodeError::BadKey)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| CodeError::BadKey)
}

/// Standard base64 of a public key, the form the config and the admin endpoint use.
pub fn public_key_text(key: &VerifyingKey) -> String {
    STANDARD.encode(key.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> CodePayload {
        CodePayload {
            card: "c-01".into(),
            mid: "310***********1234".into(),
            mn: Some("王*英".into()),
            iss: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            exp: NaiveDate::from_ymd_opt(2027, 5, 24).unwrap(),
            term: "CN-TSL-001".into(),
        }
    }

    #[test]
    fn sign_then_verify_and_any_changed_byte_fails() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let code = sign(&payload(), &key);
        assert!(code.starts_with("CK2."));
        assert_eq!(verify(&code, &key.verifying_key()).unwrap(), payload());
        for i in 0..code.len() {
            let mut bytes = code.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let Ok(changed) = String::from_utf8(bytes) else {
                continue;
            };
            if changed == code {
                continue;
            }
            assert!(
                verify(&changed, &key.verifying_key()).is_err(),
                "byte {i} changed but verified"
            );
        }
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            verify(&code, &other.verifying_key()),
            Err(CodeError::BadSignature)
        );
    }

    #[test]
    fn expiry_and_key_text() {
        let p = payload();
        assert!(check_not_expired(&p, p.exp).is_ok());
        assert!(check_not_expired(&p, p.exp.succ_opt().unwrap()).is_err());
        let key = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let text = public_key_text(&key);
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert_eq!(parse_public_key(&format!("ed25519:{text}")).unwrap(), key);
        assert_eq!(parse_public_key("abc"), Err(CodeError::BadKey));
    }

    #[test]
    fn the_masked_name_is_signed_and_must_be_masked() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let vk = key.verifying_key();
        // A forged name in a payload signed by someone else is a bad signature; a full
        // name the key signed (a back-office bug) is refused all the same.
        for bad in ["王秀英", "王秀英（全名）", "", "王**英**", "**", "王*"] {
            let mut p = payload();
            p.mn = Some(bad.into());
            let code = sign(&p, &key);
            let masked_two = bad == "王*";
            assert_eq!(
                verify(&code, &vk).is_ok(),
                masked_two,
                "{bad:?} verified or not as it should"
            );
        }
        let mut none = payload();
        none.mn = None;
        assert_eq!(verify(&sign(&none, &key), &vk), Err(CodeError::BadName));
        for good in ["王*英", "欧**华", "李*", "*", "W*g"] {
            assert!(is_masked_name(good), "{good}");
        }
    }

    #[test]
    fn ck1_codes_verify_until_their_last_card_has_expired_and_not_after() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let vk = key.verifying_key();
        let old = payload();
        let code = sign_as(Version::Ck1, &old, &key);
        assert!(code.starts_with("CK1."));
        let (v, p) = verify_versioned(&code, &vk).unwrap();
        assert_eq!(v, Version::Ck1);
        assert_eq!(p.mn, None, "CK1 carries no name");
        // Issued on the last day of CK1: accepted, and valid to CK1_ACCEPTED_UNTIL.
        let mut last = payload();
        last.iss = CK1_LAST_ISSUE;
        last.exp = CK1_LAST_ISSUE + chrono::Days::new(VALID_DAYS);
        assert_eq!(last.exp, CK1_ACCEPTED_UNTIL);
        let p = verify(&sign_as(Version::Ck1, &last, &key), &vk).unwrap();
        assert!(check_not_expired(&p, CK1_ACCEPTED_UNTIL).is_ok());
        assert!(check_not_expired(&p, CK1_ACCEPTED_UNTIL.succ_opt().unwrap()).is_err());
        // A CK1 code issued after CK2 took over is refused.
        let mut late = payload();
        late.iss = CK1_LAST_ISSUE.succ_opt().unwrap();
        assert_eq!(
            verify(&sign_as(Version::Ck1, &late, &key), &vk),
            Err(CodeError::Retired(late.iss))
        );
        // Relabelling a CK2 code as CK1 (or back) breaks the signature.
        let ck2 = sign(&payload(), &key);
        let relabelled = ck2.replacen("CK2.", "CK1.", 1);
        assert_eq!(verify(&relabelled, &vk), Err(CodeError::BadSignature));
    }
}
