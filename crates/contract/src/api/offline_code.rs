//! The signed 离线码 string `CK1.<base64url payload>.<base64url Ed25519 signature>`: build, sign, parse, verify.
//!
//! The signature covers the ASCII bytes `CK1.<payload>` (prefix and payload as sent), so the
//! version tag is bound too. Anyone can scan a card, so the payload holds no full ID number
//! and no name: an opaque card id, the masked ID, the dates and the issuing terminal.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::NaiveDate;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The version tag every code starts with.
pub const PREFIX: &str = "CK1";

/// The JSON payload carried inside a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePayload {
    /// Opaque card id.
    pub card: String,
    /// Masked ID number, `310***********1234`.
    pub mid: String,
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
    #[error("offline code is not of the form CK1.<payload>.<signature>")]
    Malformed,
    #[error("offline code payload is not valid base64url JSON")]
    BadPayload,
    #[error("offline code signature does not verify against the trusted key")]
    BadSignature,
    #[error("offline code expired on {0}")]
    Expired(NaiveDate),
    #[error("public key is not 32 bytes of base64")]
    BadKey,
}

/// Signs `payload` into a code string.
pub fn sign(payload: &CodePayload, key: &SigningKey) -> String {
    // Serializing a struct of strings and dates cannot fail.
    let json = serde_json::to_vec(payload).unwrap_or_default();
    let signed = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Checks the signature and decodes the payload. Expiry is checked separately
/// ([`check_not_expired`]) so that a status screen can still show an old card.
pub fn verify(code: &str, key: &VerifyingKey) -> Result<CodePayload, CodeError> {
    let (signed, sig_b64) = code.rsplit_once('.').ok_or(CodeError::Malformed)?;
    let (prefix, payload_b64) = signed.split_once('.').ok_or(CodeError::Malformed)?;
    if prefix != PREFIX || payload_b64.contains('.') {
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
    serde_json::from_slice(&json).map_err(|_| CodeError::BadPayload)
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
            iss: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            exp: NaiveDate::from_ymd_opt(2027, 5, 24).unwrap(),
            term: "CN-TSL-001".into(),
        }
    }

    #[test]
    fn sign_then_verify_and_any_changed_byte_fails() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let code = sign(&payload(), &key);
        assert!(code.starts_with("CK1."));
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
}
