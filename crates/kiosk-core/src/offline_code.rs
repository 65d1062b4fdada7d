//! 离线码 on the terminal: checking an issued code against the trusted key, and the card's layout.

use chrono::NaiveDate;
use ed25519_dalek::VerifyingKey;

use crate::api::IssuedCode;
use crate::api::offline_code::{self, CodeError};
use crate::identity::IdNumber;
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
/// the signed payload says what the answer says (card id, masked ID, masked name, dates).
/// Answers the card as it will print: every field from the signed payload, so nothing
/// the answer carries unsigned reaches paper (a CK1 code, which signs no name, prints
/// without one).
pub fn verify_issued(
    issued: &IssuedCode,
    key: &VerifyingKey,
    today: NaiveDate,
) -> Result<IssuedCode, CardError> {
    let payload = offline_code::verify(&issued.qr, key)?;
    offline_code::check_not_expired(&payload, today)?;
    if payload.card != issued.card_id {
        return Err(CardError::Mismatch("card id"));
    }
    if payload.mid != issued.masked_id {
        return Err(CardError::Mismatch("masked ID"));
    }
    if let Some(name) = &payload.mn
        && *name != issued.masked_name
    {
        return Err(CardError::Mismatch("masked name"));
    }
    if payload.iss != issued.issued_on || payload.exp != issued.expires_on {
        return Err(CardError::Mismatch("dates"));
    }
    Ok(IssuedCode {
        card_id: payload.card,
        qr: issued.qr.clone(),
        masked_name: payload.mn.unwrap_or_default(),
        masked_id: payload.mid,
        issued_on: payload.iss,
        expires_on: payload.exp,
        voided_card: issued.voided_card.clone(),
    })
}

/// The card: title, QR code (the exact signed string), masked name and ID, dates, the
/// service centre. Never a health status.
pub fn card_document(issued: &IssuedCode, centre: &str) -> Document {
    Document::default()
        .title("上海市离线码")
        .qr(issued.qr.clone())
        .centered(if issued.masked_name.is_empty() {
            String::new()
        } else {
            format!("姓名 {}", issued.masked_name)
        })
        .centered(format!("证件号 {}", issued.masked_id))
        .centered(format!(
            "签发 {}  有效期至 {}",
            issued.issued_on, issued.expires_on
        ))
        .centered(centre.to_string())
        .feed(2)
        .cut()
}

/// The key for the one-card-per-day rule: an HMAC of terminal id and ID number under the
/// day key, which is never on this disk, so the store holds nothing a guess can be tested
/// against.
pub fn person_key(day_key: &crate::daykey::DayKey, terminal_id: &str, id: &IdNumber) -> String {
    crate::daykey::short_hex(&day_key.mac(&["person", terminal_id, id.expose_id_number()]))
}

/// The issuance's request id: the same for the same resident, terminal, day and kind
/// (card or reissue) until an issuance of theirs ends (printed or voided), so a retry after
/// a failed print gets the same card back from the back office instead of `card_exists`,
/// from the CLI as from the touch screen. Keyed with the day key: nobody can make it
/// from an ID number.
pub fn request_id(
    store: Option<&crate::store::Store>,
    day_key: &crate::daykey::DayKey,
    terminal_id: &str,
    id: &IdNumber,
    reissue: bool,
) -> Result<uuid::Uuid, crate::store::StoreError> {
    let day = day_key.day().to_string();
    let ended = match store {
        Some(s) => s.issuances_ended(&day, &person_key(day_key, terminal_id, id))?,
        None => 0,
    };
    let mac = day_key.mac(&[
        "request",
        terminal_id,
        id.expose_id_number(),
        &day,
        if reissue { "reissue" } else { "card" },
        &ended.to_string(),
    ]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&mac[..16]);
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Whether this terminal already printed a (non-reissue) card for this person today.
pub fn already_issued_today(
    store: &crate::store::Store,
    day_key: &crate::daykey::DayKey,
    terminal_id: &str,
    id: &IdNumber,
) -> Result<bool, crate::store::StoreError> {
    let day = day_key.day().to_string();
    Ok(store.cards_issued(&day, &person_key(day_key, terminal_id, id))? > 0)
}

/// Records how an issuance ended for the day rule (`printed`, `voided`; anything else
/// is only audited) and audits it by card id: no masked ID, nothing that narrows a guess.
#[allow(clippy::too_many_arguments)]
pub fn record_issuance(
    store: &mut crate::store::Store,
    day_key: &crate::daykey::DayKey,
    terminal_id: &str,
    id: &IdNumber,
    card_id: &str,
    reissue: bool,
    result: &str,
    staff: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    if result == "printed" || result == "voided" {
        let day = day_key.day().to_string();
        store.record_card(
            &day,
            &person_key(day_key, terminal_id, id),
            card_id,
            reissue,
            result,
        )?;
    }
    store.audit(
        "offline_code_issued",
        &format!(
            "terminal {terminal_id} card {card_id}: {result}{}",
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
    use crate::api::offline_code::CodePayload;
    use ed25519_dalek::SigningKey;

    fn issued(key: &SigningKey, exp: NaiveDate) -> IssuedCode {
        let payload = CodePayload {
            card: "C1".into(),
            mid: "310***********1231".into(),
            mn: Some("王*英".into()),
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
        // A name the signature does not cover is refused, and what prints is what was
        // signed.
        let mut forged = good.clone();
        forged.masked_name = "王秀英（全名）".into();
        assert_eq!(
            verify_issued(&forged, &key.verifying_key(), today),
            Err(CardError::Mismatch("masked name"))
        );
        let printed = verify_issued(&good, &key.verifying_key(), today).unwrap();
        assert_eq!(printed.masked_name, "王*英");
        // A CK1 code (no signed name) prints no name, whatever the answer says.
        let payload = offline_code::verify(&good.qr, &key.verifying_key()).unwrap();
        let mut ck1 = good.clone();
        ck1.qr = offline_code::sign_as(offline_code::Version::Ck1, &payload, &key);
        ck1.masked_name = "王秀英（全名）".into();
        let printed = verify_issued(&ck1, &key.verifying_key(), today).unwrap();
        assert_eq!(printed.masked_name, "");
        assert!(!format!("{:?}", card_document(&printed, "c")).contains("王秀英"));
    }

    #[test]
    fn request_ids_repeat_for_a_retry_and_move_on_once_an_issuance_ended() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::Store::open_in(dir.path()).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let key = crate::daykey::key_in(&dir.path().join("run"), day).unwrap();
        let id = IdNumber::parse("310105195001011231").unwrap();
        let other = IdNumber::parse("310105195001021237").unwrap();
        let r1 = request_id(Some(&store), &key, "T", &id, false).unwrap();
        assert_eq!(r1, request_id(Some(&store), &key, "T", &id, false).unwrap());
        assert_ne!(
            r1,
            request_id(Some(&store), &key, "T", &other, false).unwrap()
        );
        assert_ne!(r1, request_id(Some(&store), &key, "T", &id, true).unwrap());
        assert_ne!(
            r1,
            request_id(Some(&store), &key, "T2", &id, false).unwrap()
        );
        // A failed print is no end: the retry asks for the same card.
        record_issuance(
            &mut store,
            &key,
            "T",
            &id,
            "C1",
            false,
            "print_failed",
            None,
        )
        .unwrap();
        assert_eq!(r1, request_id(Some(&store), &key, "T", &id, false).unwrap());
        assert!(!already_issued_today(&store, &key, "T", &id).unwrap());
        // Voided: the next issuance is a new request (the voided card is not printed).
        record_issuance(&mut store, &key, "T", &id, "C1", false, "voided", None).unwrap();
        let r2 = request_id(Some(&store), &key, "T", &id, false).unwrap();
        assert_ne!(r1, r2);
        assert!(!already_issued_today(&store, &key, "T", &id).unwrap());
        record_issuance(&mut store, &key, "T", &id, "C2", false, "printed", None).unwrap();
        assert!(already_issued_today(&store, &key, "T", &id).unwrap());
        // Another day's key knows nothing of today's rows.
        let tomorrow =
            crate::daykey::key_in(&dir.path().join("run"), day.succ_opt().unwrap()).unwrap();
        assert!(!already_issued_today(&store, &tomorrow, "T", &id).unwrap());
        let audit = store.audit_tail(10).unwrap();
        assert!(
            audit.iter().all(|e| !e.detail.contains("1231")),
            "{audit:?}"
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
