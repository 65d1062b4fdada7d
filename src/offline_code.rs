//! 离线码 on the terminal: checking an issued code against the trusted key, and the card's layout.

use chrono::NaiveDate;
use ed25519_dalek::VerifyingKey;

use crate::api::IssuedCode;
use crate::api::offline_code::{self, CodeError, CodePayload};
use crate::print::document::Document;

/// Why an issued code is refused before anything prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("{0}")]
    Code(#[from] CodeError),
    #[error("the signed payload does not match the answer ({0})")]
    Mismatch(&'static str),
}

/// Verifies the signature with the trusted key, refuses an expired code, and checks that
/// the signed payload says what the answer says (card id, masked ID, dates).
pub fn verify_issued(
    issued: &IssuedCode,
    key: &VerifyingKey,
    today: NaiveDate,
) -> Result<CodePayload, CardError> {
    let payload = offline_code::verify(&issued.qr, key)?;
    offline_code::check_not_expired(&payload, today)?;
    if payload.card != issued.card_id {
        return Err(CardError::Mismatch("card id"));
    }
    if payload.mid != issued.masked_id {
        return Err(CardError::Mismatch("masked ID"));
    }
    if payload.iss != issued.issued_on || payload.exp != issued.expires_on {
        return Err(CardError::Mismatch("dates"));
    }
    Ok(payload)
}

/// The card: title, QR code (the exact signed string), masked name and ID, dates, the
/// service centre. Never a health status.
pub fn card_document(issued: &IssuedCode, centre: &str) -> Document {
    Document::default()
        .title("上海市离线码")
        .qr(issued.qr.clone())
        .centered(format!("姓名 {}", issued.masked_name))
        .centered(format!("证件号 {}", issued.masked_id))
        .centered(format!(
            "签发 {}  有效期至 {}",
            issued.issued_on, issued.expires_on
        ))
        .centered(centre.to_string())
        .feed(2)
        .cut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn issued(key: &SigningKey, exp: NaiveDate) -> IssuedCode {
        let payload = CodePayload {
            card: "C1".into(),
            mid: "310***********1231".into(),
            iss: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            exp,
            term: "T".into(),
        };
        IssuedCode {
            card_id: "C1".into(),
            qr: offline_code::sign(&payload, key),
            masked_name: "王*英".into(),
            masked_id: payload.mid.clone(),
            issued_on: payload.iss,
            expires_on: exp,
            voided_card: None,
        }
    }

    #[test]
    fn verification_refuses_bad_signature_expiry_and_mismatch() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let good = issued(&key, NaiveDate::from_ymd_opt(2027, 5, 24).unwrap());
        assert!(verify_issued(&good, &key.verifying_key(), today).is_ok());
        let other = SigningKey::from_bytes(&[4u8; 32]);
        assert!(matches!(
            verify_issued(&good, &other.verifying_key(), today),
            Err(CardError::Code(CodeError::BadSignature))
        ));
        let old = issued(&key, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert!(matches!(
            verify_issued(&old, &key.verifying_key(), today),
            Err(CardError::Code(CodeError::Expired(_)))
        ));
        let mut lying = good.clone();
        lying.masked_id = "110***********0000".into();
        assert_eq!(
            verify_issued(&lying, &key.verifying_key(), today),
            Err(CardError::Mismatch("masked ID"))
        );
    }

    #[test]
    fn card_has_no_health_status_and_the_exact_code() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let card = issued(&key, NaiveDate::from_ymd_opt(2027, 5, 24).unwrap());
        let doc = card_document(&card, "天山路街道社区事务受理服务中心");
        let text = format!("{doc:?}");
        assert!(text.contains(&card.qr));
        for word in ["绿码", "黄码", "红码", "健康"] {
            assert!(!text.contains(word));
        }
    }
}
