//! The verification code of an issued certificate, `DV1.<document id>.<signature>`: its format, signing and checking, as pure functions.
//!
//! The signature is Ed25519 by the back office's signing key (the one that signs offline
//! codes) over `DV1\0` followed by the document id, so that no offline-code signature can
//! pass for a document's and the other way round; base64url without padding. The code
//! names the document only: whoever checks it (`GET /api/v1/documents/verify/{code}`) is
//! shown what the back office stored for that id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// The code's first part.
pub const PREFIX: &str = "DV1";
/// What the signature covers before the document id.
const DOMAIN: &[u8] = b"DV1\0";
/// A document id: `D` and 16 characters of this alphabet (80 random bits).
pub const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const ID_CHARS: usize = 16;

/// Why a verification code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not `DV1.<id>.<signature>` with a well-formed id.
    #[error("not a DV1 verification code")]
    Malformed,
    /// The signature does not hold for this id.
    #[error("the signature does not hold")]
    BadSignature,
}
pub fn is_document_id(id: &str) -> bool {
    id.len() == ID_CHARS + 1
        && id.starts_with('D')
        && id.bytes().skip(1).all(|b| ALPHABET.contains(&b))
}

fn message(document_id: &str) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(document_id.as_bytes());
    m
}

/// The verification code of `document_id`.
pub fn sign(document_id: &str, key: &SigningKey) -> String {
    let sig = key.sign(&message(document_id));
    format!(
        "{PREFIX}.{document_id}.{}",
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

/// The document id of a genuine code. Any change to a code (a character changed, added
/// or removed) is refused: the base64 is decoded strictly (no padding, no stray bits) and
/// the signature checked strictly.
pub fn verify(code: &str, key: &VerifyingKey) -> Result<String, CodeError> {
    let mut parts = code.split('.');
    let (Some(prefix), Some(id), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CodeError::Malformed);
    };
    if prefix != PREFIX || !is_document_id(id) {
        return Err(CodeError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| CodeError::BadSignature)?;
    let sig = Signature::from_slice(&bytes).map_err(|_| CodeError::BadSignature)?;
    key.verify_strict(&message(id), &sig)
        .map_err(|_| CodeError::BadSignature)?;
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ID: &str = "D0123456789ABCDEF";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_code_names_its_document_and_verifies() {
        let k = key(7);
        let id = ID.to_string();
        assert!(is_document_id(&id), "{id}");
        let code = sign(&id, &k);
        assert!(code.starts_with("DV1.D"), "{code}");
        assert_eq!(code.len(), 3 + 1 + 17 + 1 + 86, "{code}");
        assert_eq!(verify(&code, &k.verifying_key()), Ok(id));
        // Another key's code, and an offline-code-style signature over the bare id, fail.
        assert_eq!(
            verify(&code, &key(8).verifying_key()),
            Err(CodeError::BadSignature)
        );
    }

    #[test]
    fn every_changed_character_is_refused() {
        let k = key(7);
        let vk = k.verifying_key();
        let code = sign(ID, &k);
        let bytes = code.as_bytes();
        for i in 0..bytes.len() {
            // Each position, changed to a few others: a neighbour in its alphabet, the
            // other case, a digit, the separators.
            let b = bytes[i];
            let mut others = vec![
                if b == b'Z' { b'Y' } else { b + 1 },
                b'A',
                b'0',
                b'-',
                b'_',
                b'.',
            ];
            if b.is_ascii_alphabetic() {
                others.push(b ^ 0x20);
            }
            for o in others.into_iter().filter(|&o| o != b) {
                let mut changed = bytes.to_vec();
                changed[i] = o;
                let changed = String::from_utf8(changed).unwrap();
                assert!(
                    verify(&changed, &vk).is_err(),
                    "position {i} changed to {:?} passed: {changed}",
                    char::from(o)
                );
            }
        }
        // Cut or lengthened.
        assert!(verify(&code[..code.len() - 1], &vk).is_err());
        assert!(verify(&format!("{code}A"), &vk).is_err());
        assert!(verify(&format!("{code}.x"), &vk).is_err());
        assert_eq!(verify("", &vk), Err(CodeError::Malformed));
        assert_eq!(verify("DV1..", &vk), Err(CodeError::Malformed));
        assert_eq!(
            verify(&code.replacen("DV1", "CK1", 1), &vk),
            Err(CodeError::Malformed)
        );
    }
}
