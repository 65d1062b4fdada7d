//! 离线码 issuance: the one flow that the technician CLI (`offline-code`) and the touch UI both run, with every rule in it.
//!
//! The rules, each here once: `offline_code.require_staff` (a 帮办 staff member is signed
//! in), one card per person per terminal per day (a lost or damaged card goes through a
//! reissue), the issued code verified against the trusted key before anything prints, and
//! the audit of every code issued (printed, refused, failed or cancelled; masked ID only).
//! No Slint: callers render the [`Failure`] or the [`Printed`] card it returns.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tokio::sync::watch;

use crate::api::{
    CardStatus, IssueCodeRequest, IssuedCode, ReportLostRequest, ResidentLookup,
    ResidentLookupRequest,
};
use crate::backoffice::{Client, ClientError};
use crate::config::Config;
use crate::identity::IdNumber;
use crate::offline_code::CardError;
use crate::pin::StaffId;
use crate::print::job::JobState;
use crate::print::uri::PrinterUri;
use crate::store::Shared;

/// Why no card was printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// `offline_code.require_staff` is on and no 帮办 staff member is signed in.
    #[error(
        "offline_code.require_staff is on: a 帮办 staff member must sign in with their staff PIN before a card is issued here (this terminal has no ID-card reader to prove who the resident is)"
    )]
    StaffRequired,
    /// This terminal already printed a card for this person today.
    #[error(
        "a card was already printed here today for this resident; use --reissue if it was lost or damaged"
    )]
    AlreadyToday,
    /// The back office could not be reached (or did not answer in time): try again.
    #[error("{0}")]
    Unreachable(String),
    /// The back office answered no (not eligible, a bad request …), with its reason.
    #[error("{0}")]
    Refused(String),
    /// The code did not verify against the trusted key: nothing printed.
    #[error("the code from the back office was refused ({0}); nothing printed")]
    BadCode(CardError),
    /// The printer did not print it.
    #[error("{0}")]
    PrintFailed(String),
    /// The session that asked for it ended first: nothing printed.
    #[error("cancelled: the session ended before the card printed")]
    Cancelled,
}

impl Failure {
    fn from_client(e: ClientError) -> Self {
        if e.is_retryable() || e.status.is_none() {
            Failure::Unreachable(e.message)
        } else {
            Failure::Refused(e.message)
        }
    }
}

/// A card that printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Printed {
    pub issued: IssuedCode,
    /// Where it went, for the technician (`printed pdf:///…`).
    pub place: String,
}

/// What the flow needs from the terminal: the back office, the key codes must verify
/// against, the store (`None` in a test without one: no day rule, no audit).
#[derive(Clone)]
pub struct Deps {
    pub client: Client,
    pub key: VerifyingKey,
    pub store: Option<Shared>,
}

/// One resident's card being issued. [`Issuance::new`] checks what needs no I/O
/// (`require_staff`); [`Issuance::run`] does the rest.
#[derive(Debug, Clone)]
pub struct Issuance {
    config: Arc<Config>,
    id: IdNumber,
    reissue: bool,
    staff: Option<StaffId>,
}

impl Issuance {
    /// Refuses at once when `offline_code.require_staff` is on and no staff member is
    /// signed in: without an ID-card reader, a typed number is not proof enough.
    pub fn new(
        config: Arc<Config>,
        id: IdNumber,
        reissue: bool,
        staff: Option<StaffId>,
    ) -> Result<Self, Failure> {
        if config.offline_code.require_staff && staff.is_none() {
            log::info!(
                "offline code not issued: offline_code.require_staff and no staff signed in"
            );
            return Err(Failure::StaffRequired);
        }
        Ok(Self {
            config,
            id,
            reissue,
            staff,
        })
    }

    /// One card per person per terminal per day; a reissue (lost or damaged card) is
    /// exempt. A store that cannot be read does not keep a resident from a card (logged).
    pub async fn check_today(&self, store: Option<&Shared>) -> Result<(), Failure> {
        let Some(store) = store else { return Ok(()) };
        if self.reissue {
            return Ok(());
        }
        let (terminal, id) = (self.config.terminal.id.clone(), self.id.clone());
        let already = crate::store::run(store, move |s| {
            crate::offline_code::already_issued_today(s, &terminal, &id)
        })
        .await;
        match already {
            Ok(Ok(true)) => Err(Failure::AlreadyToday),
            Ok(Ok(false)) => Ok(()),
            Ok(Err(e)) => {
                log::error!("one card a day: {e}");
                Ok(())
            }
            Err(e) => {
                log::error!("one card a day: {e}");
                Ok(())
            }
        }
    }

    /// Issues the code (once a day unless a reissue), refuses it unless it verifies with
    /// the trusted key, prints the card on `uri` and audits the outcome. `cancel` turning
    /// true (the session ended) cancels a job still waiting; `on_state` sees the job's
    /// states (held while the printer cannot print).
    pub async fn run(
        self,
        deps: &Deps,
        uri: &PrinterUri,
        cancel: Option<watch::Receiver<bool>>,
        on_state: impl FnMut(&JobState) + Send,
    ) -> Result<Printed, Failure> {
        self.check_today(deps.store.as_ref()).await?;
        let req = IssueCodeRequest {
            id_number: self.id.clone(),
            reissue: self.reissue,
            request_id: uuid::Uuid::now_v7(),
            staff: self.staff.as_ref().map(|s| s.to_string()),
        };
        let issued = deps
            .client
            .issue_code(&req)
            .await
            .map_err(Failure::from_client)?;
        let today = chrono::Local::now().date_naive();
        if let Err(e) = crate::offline_code::verify_issued(&issued, &deps.key, today) {
            log::warn!(
                "offline code {} refused: {e}; nothing printed",
                issued.card_id
            );
            self.audit(deps, &issued, "refused").await;
            return Err(Failure::BadCode(e));
        }
        let cancel_seen = cancel.clone();
        let printed =
            crate::offline_code::print_card(&self.config, uri, &issued, cancel, on_state).await;
        match printed {
            Ok(place) => {
                log::info!(
                    "offline code {} for {}: {place}",
                    issued.card_id,
                    issued.masked_id
                );
                self.audit(deps, &issued, "printed").await;
                Ok(Printed { issued, place })
            }
            Err(e) if cancel_seen.as_ref().is_some_and(|c| *c.borrow()) => {
                // The session that asked for it ended: nothing printed, audited, and
                // nothing is shown to the next person.
                log::warn!("offline code {} not printed: {e}", issued.card_id);
                self.audit(deps, &issued, "cancelled").await;
                Err(Failure::Cancelled)
            }
            Err(e) => {
                log::warn!("offline code {} not printed: {e}", issued.card_id);
                self.audit(deps, &issued, "print_failed").await;
                Err(Failure::PrintFailed(e))
            }
        }
    }

    /// Records the card (a printed one counts for the day rule) and audits it, naming the
    /// staff member who assisted.
    async fn audit(&self, deps: &Deps, issued: &IssuedCode, result: &'static str) {
        let Some(store) = &deps.store else { return };
        let (terminal, id, issued, reissue) = (
            self.config.terminal.id.clone(),
            self.id.clone(),
            issued.clone(),
            self.reissue,
        );
        let actor = self
            .staff
            .clone()
            .map(|s| crate::pin::Holder::Staff(s).actor());
        let recorded = crate::store::run(store, move |s| {
            crate::offline_code::record_issuance(
                s,
                &terminal,
                &id,
                &issued,
                reissue,
                result,
                actor.as_deref(),
            )
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::error!("audit: {e}"),
            Err(e) => log::error!("audit: {e}"),
        }
    }
}

/// Who this is (masked name only) and whether a card may be printed for them.
pub async fn lookup(client: &Client, id: IdNumber) -> Result<ResidentLookup, Failure> {
    client
        .lookup_resident(&ResidentLookupRequest { id_number: id })
        .await
        .map_err(Failure::from_client)
}

/// 挂失: the back office voids the resident's valid card; audited with the masked ID.
pub async fn report_lost(
    client: &Client,
    store: Option<&Shared>,
    terminal: &str,
    id: IdNumber,
) -> Result<CardStatus, Failure> {
    let card = client
        .report_lost(&ReportLostRequest { id_number: id })
        .await
        .map_err(Failure::from_client)?;
    if let Some(store) = store {
        let detail = format!(
            "terminal {terminal} card {} for {}: reported lost",
            card.card_id, card.masked_id
        );
        match crate::store::run(store, move |s| {
            s.audit("offline_code_reported_lost", &detail, None)
        })
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::error!("audit: {e}"),
            Err(e) => log::error!("audit: {e}"),
        }
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::sync::Mutex;

    const ID: &str = "310105195001011231";

    fn config(require_staff: bool) -> Arc<Config> {
        let mut c = Config::default();
        c.terminal.id = "T-TEST".into();
        c.offline_code.require_staff = require_staff;
        Arc::new(c)
    }

    fn id() -> IdNumber {
        IdNumber::parse(ID).unwrap()
    }

    fn shared(dir: &std::path::Path) -> Shared {
        Arc::new(Mutex::new(Store::open_in(dir).unwrap()))
    }

    fn issued(card: &str) -> IssuedCode {
        let day = chrono::Local::now().date_naive();
        IssuedCode {
            card_id: card.into(),
            qr: "CK1.x.y".into(),
            masked_name: "王*英".into(),
            masked_id: "310***********1231".into(),
            issued_on: day,
            expires_on: day,
            voided_card: None,
        }
    }

    #[test]
    fn require_staff_refuses_without_a_staff_member_and_not_with_one() {
        assert_eq!(
            Issuance::new(config(true), id(), false, None).err(),
            Some(Failure::StaffRequired)
        );
        assert!(Issuance::new(config(true), id(), false, StaffId::parse("S1024").ok()).is_ok());
        assert!(Issuance::new(config(false), id(), false, None).is_ok());
        assert!(Failure::StaffRequired.to_string().contains("staff PIN"));
    }

    #[tokio::test]
    async fn one_card_a_day_unless_a_reissue_and_audited_with_the_staff_member() {
        let dir = tempfile::tempdir().unwrap();
        let store = shared(dir.path());
        let staff = StaffId::parse("S1024").ok();
        let first = Issuance::new(config(false), id(), false, staff.clone()).unwrap();
        assert_eq!(first.check_today(Some(&store)).await, Ok(()));
        // No store (a test terminal): no day rule to check.
        assert_eq!(first.check_today(None).await, Ok(()));
        let deps_store = Some(store.clone());
        // A card that was refused or failed does not count for the day.
        for (card, result) in [("C0", "refused"), ("C1", "printed")] {
            let s = deps_store.clone().unwrap();
            let i = issued(card);
            let who = first.clone();
            crate::store::run(&s, move |s| {
                crate::offline_code::record_issuance(
                    s,
                    &who.config.terminal.id,
                    &who.id,
                    &i,
                    false,
                    result,
                    Some("staff:S1024"),
                )
            })
            .await
            .unwrap()
            .unwrap();
            if result == "refused" {
                assert_eq!(first.check_today(Some(&store)).await, Ok(()));
            }
        }
        assert_eq!(
            first.check_today(Some(&store)).await,
            Err(Failure::AlreadyToday)
        );
        let reissue = Issuance::new(config(false), id(), true, staff).unwrap();
        assert_eq!(reissue.check_today(Some(&store)).await, Ok(()));
        let audit = crate::store::lock(&store).audit_tail(10).unwrap();
        assert!(audit.iter().all(|e| !e.detail.contains(ID)), "{audit:?}");
    }

    #[tokio::test]
    async fn an_unreachable_back_office_issues_nothing_and_prints_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = shared(dir.path());
        let client = Client::new(&crate::backoffice::ClientOptions::from_config(
            &Config::default(),
            "http://127.0.0.1:9/",
        ))
        .unwrap();
        let deps = Deps {
            client,
            key: ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]).verifying_key(),
            store: Some(store.clone()),
        };
        let spool = dir.path().join("cards");
        let uri = PrinterUri::Pdf { dir: spool.clone() };
        let got = Issuance::new(config(false), id(), false, None)
            .unwrap()
            .run(&deps, &uri, None, |_| {})
            .await;
        assert!(matches!(got, Err(Failure::Unreachable(_))), "{got:?}");
        assert!(!spool.exists());
        assert!(
            crate::store::lock(&store)
                .audit_tail(10)
                .unwrap()
                .is_empty()
        );
    }
}
