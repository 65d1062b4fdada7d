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

/// The key for the one-card-per-day rule: SHA-256 of terminal id and ID number, so the
/// local store never holds the number itself.
pub fn person_key(terminal_id: &str, id: &crate::identity::IdNumber) -> String {
    use sha2::Digest;
    let digest =
        sha2::Sha256::digest(format!("{terminal_id}\u{1f}{}", id.expose_id_number()).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether this terminal already printed a (non-reissue) card for this person today.
pub fn already_issued_today(
    store: &crate::store::Store,
    terminal_id: &str,
    id: &crate::identity::IdNumber,
) -> Result<bool, crate::store::StoreError> {
    let day = chrono::Local::now().date_naive().to_string();
    Ok(store.cards_issued(&day, &person_key(terminal_id, id))? > 0)
}

/// Records a printed card and audits the issuance (masked ID only).
pub fn record_issuance(
    store: &mut crate::store::Store,
    terminal_id: &str,
    id: &crate::identity::IdNumber,
    issued: &IssuedCode,
    reissue: bool,
    result: &str,
    staff: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    if result == "printed" {
        let day = chrono::Local::now().date_naive().to_string();
        store.record_card(&day, &person_key(terminal_id, id), &issued.card_id, reissue)?;
    }
    store.audit(
        "offline_code_issued",
        &format!(
            "terminal {terminal_id} card {} for {}: {result}{}",
            issued.card_id,
            issued.masked_id,
            if reissue { " (reissue)" } else { "" }
        ),
        staff,
    )
}

/// The key issued codes must verify against: the configured one, or in embedded mode the
/// embedded back office's own key, which the composition root reads beside its database
/// and passes in as `embedded` (this crate knows nothing of the back office).
pub fn trusted_key(
    config: &crate::config::Config,
    embedded: Option<VerifyingKey>,
) -> Result<VerifyingKey, String> {
    match &config.backoffice.public_key {
        Some(k) => {
            offline_code::parse_public_key(k).map_err(|e| format!("backoffice.public_key: {e}"))
        }
        None if config.is_embedded() => {
            embedded.ok_or_else(|| "the embedded back office's key could not be read".to_string())
        }
        None => Err("backoffice.public_key is not set".into()),
    }
}

/// The card as a print job for any transport: the document for ESC/POS, the card PDF
/// (85.6 × 54 mm) for the spool and IPP.
pub fn card_job(issued: &IssuedCode, centre: &str) -> crate::print::PrintJob {
    let (for_pdf, centre_pdf) = (issued.clone(), centre.to_string());
    crate::print::PrintJob {
        title: format!("card-{}", issued.card_id),
        document: card_document(issued, centre),
        pdf: Box::new(move || crate::print::pdf::card_pdf(&for_pdf, &centre_pdf)),
        media: crate::print::ipp::Media::Card,
    }
}

/// Prints a verified card on `uri`. The job is held while the printer cannot print (or
/// does not take the card), is cancelled (nothing printed) when `cancel` turns true, and
/// fails after `printers.give_up_s`. No `cancel`: never cancelled (the job still ends
/// at its deadline).
pub async fn print_card(
    config: &crate::config::Config,
    uri: &crate::print::uri::PrinterUri,
    issued: &IssuedCode,
    cancel: Option<tokio::sync::watch::Receiver<bool>>,
    mut on_state: impl FnMut(&crate::print::job::JobState) + Send,
) -> Result<String, String> {
    use crate::print::job::JobState;
    let options = config.job_options(crate::config::PrinterRole::Card);
    let cancel = cancel.unwrap_or_else(|| tokio::sync::watch::channel(false).1);
    let card = issued.card_id.clone();
    let outcome = crate::print::run(
        uri,
        card_job(issued, &config.location.centre),
        &options,
        cancel,
        |s| {
            log::info!("card {card} job: {s:?}");
            on_state(s)
        },
    )
    .await;
    match outcome.state {
        JobState::Printed(_) => Ok(format!("printed {}", outcome.place)),
        JobState::Cancelled => {
            log::warn!(
                "card {} cancelled: the session ended before it printed",
                issued.card_id
            );
            Err("cancelled: the session ended before the card printed".into())
        }
        JobState::Failed(e) => Err(e),
        other => Err(format!("{other:?}")),
    }
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
