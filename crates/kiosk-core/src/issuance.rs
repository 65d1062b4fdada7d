//! 离线码 issuance: the one flow that the technician CLI (`offline-code`) and the touch UI both run, with every rule in it.
//!
//! The rules, each here once: `offline_code.require_staff` (a 帮办 staff member is signed
//! in), one card per person per terminal per day (a lost or damaged card goes through a
//! reissue), the issued code verified against the trusted key before anything prints, and
//! the audit of every code issued (printed, refused, failed, voided or cancelled; by card
//! id only), and no card lost: a retry for the same resident gets the same card back
//! (the request id is keyed with the day key, [`crate::offline_code::request_id`]), and a
//! card that finally cannot print is voided at the back office.
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
use crate::resident::{IdSource, TypedRefusal};
use crate::store::Shared;

/// Why no card was printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A typed number the keypad rule refuses (`identity.keypad`; 补办 / 挂失 need staff).
    #[error("{0}")]
    Typed(TypedRefusal),
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
    /// The printer did not print it; the card stays valid, and a retry (the touch
    /// screen's 重试, the same CLI command) prints the same card. If the session ends
    /// first, it is voided.
    #[error("{0}")]
    PrintFailed(String),
    /// The printer failed for good: the card was voided at the back office (`voided`),
    /// or voiding it failed too (the technician voids it there).
    #[error("{why}; {}", if *voided { "the card was voided at the back office".to_string() } else { format!("voiding card {card} at the back office failed too: void it there") })]
    NotPrinted {
        why: String,
        card: String,
        voided: bool,
    },
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
/// (the keypad rule); [`Issuance::run`] does the rest.
#[derive(Debug, Clone)]
pub struct Issuance {
    config: Arc<Config>,
    id: IdNumber,
    reissue: bool,
    staff: Option<StaffId>,
}

impl Issuance {
    /// Refuses at once a typed number the keypad rule does not take
    /// ([`crate::resident::allowed`]: `identity.keypad`, and 补办 only with a card, a code
    /// or staff): a number someone knows is not proof of who is standing there.
    pub fn new(
        config: Arc<Config>,
        id: IdNumber,
        source: IdSource,
        reissue: bool,
        staff: Option<StaffId>,
    ) -> Result<Self, Failure> {
        if let Err(why) =
            crate::resident::allowed(source, config.keypad(), reissue, staff.is_some())
        {
            log::info!("offline code not issued: {why}");
            return Err(Failure::Typed(why));
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
        self.prepare(store).await.map(|_| ())
    }

    /// Today's day key and this issuance's request id, after the once-a-day rule.
    async fn prepare(
        &self,
        store: Option<&Shared>,
    ) -> Result<(crate::daykey::DayKey, uuid::Uuid), Failure> {
        let (config, id, reissue) = (self.config.clone(), self.id.clone(), self.reissue);
        let terminal = config.terminal.id.clone();
        let work = move |s: Option<&mut crate::store::Store>| {
            let key = crate::daykey::today_key(&config);
            // The rule's window is the day: older rows are only a trace (a read-only
            // store keeps them until it can write again).
            let s = s.map(|s| {
                let _ = s.prune_card_issues(&key.day().to_string());
                &*s
            });
            let already = match s {
                Some(s) if !reissue => {
                    crate::offline_code::already_issued_today(s, &key, &terminal, &id)
                }
                _ => Ok(false),
            };
            let request = crate::offline_code::request_id(s, &key, &terminal, &id, reissue);
            (key, already, request)
        };
        let ran = match store {
            Some(store) => crate::store::run(store, move |s| work(Some(s))).await,
            None => tokio::task::spawn_blocking(move || work(None))
                .await
                .map_err(|e| crate::store::TaskError(e.to_string())),
        };
        let (key, already, request) = match ran {
            Ok(r) => r,
            Err(e) => {
                // The blocking task died: nothing to key the rule with; refuse plainly.
                log::error!("one card a day: {e}");
                return Err(Failure::Unreachable(format!("local store: {e}")));
            }
        };
        match already {
            Ok(true) => return Err(Failure::AlreadyToday),
            Ok(false) => {}
            Err(e) => log::error!("one card a day: {e}"),
        }
        let request = request.unwrap_or_else(|e| {
            // Without the count the retry's id is not known: a fresh one (a retry then
            // meets card_exists, as before this rule).
            log::error!("issuance request id: {e}");
            uuid::Uuid::now_v7()
        });
        Ok((key, request))
    }

    /// Issues the code (once a day unless a reissue), refuses it unless it verifies with
    /// the trusted key, prints the card on `uri` (what was signed, not what the answer
    /// says) and audits the outcome. `cancel` turning true (the session ended) cancels a
    /// job still waiting, and voids the card; `on_state` sees the job's states (held while
    /// the printer cannot print). A card the printer failed for good is voided; one that
    /// failed otherwise (the spool could not be written) stays valid for a retry, and is
    /// voided when `cancel` turns true before a retry printed it.
    pub async fn run(
        self,
        deps: &Deps,
        uri: &PrinterUri,
        cancel: Option<watch::Receiver<bool>>,
        mut on_state: impl FnMut(&JobState) + Send,
    ) -> Result<Printed, Failure> {
        let (day_key, request_id) = self.prepare(deps.store.as_ref()).await?;
        let req = IssueCodeRequest {
            id_number: self.id.clone(),
            reissue: self.reissue,
            request_id,
            staff: self.staff.as_ref().map(|s| s.to_string()),
        };
        let answered = deps
            .client
            .issue_code(&req)
            .await
            .map_err(Failure::from_client)?;
        let today = chrono::Local::now().date_naive();
        let issued = match crate::offline_code::verify_issued(&answered, &deps.key, today) {
            Ok(card) => card,
            Err(e) => {
                log::warn!(
                    "offline code {} refused: {e}; nothing printed",
                    answered.card_id
                );
                self.audit(deps, &day_key, &answered.card_id, "refused")
                    .await;
                return Err(Failure::BadCode(e));
            }
        };
        let cancel_seen = cancel.clone();
        let last = std::sync::Arc::new(std::sync::Mutex::new(None::<JobState>));
        let seen = last.clone();
        let printed = crate::offline_code::print_card(&self.config, uri, &issued, cancel, |s| {
            *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
            on_state(s)
        })
        .await;
        let card = issued.card_id.clone();
        let failed_for_good = {
            let last = last.lock().unwrap_or_else(|p| p.into_inner());
            // A spool folder that could not be written is the terminal's own fault (a
            // full disk): fixed, the retry prints the same card. A printer that failed
            // the job, or gave up on it, failed for good.
            matches!(&*last, Some(JobState::Failed(_))) && !matches!(uri, PrinterUri::Pdf { .. })
        };
        match printed {
            Ok(place) => {
                log::info!("offline code {card}: {place}");
                self.audit(deps, &day_key, &card, "printed").await;
                Ok(Printed { issued, place })
            }
            Err(e) if cancel_seen.as_ref().is_some_and(|c| *c.borrow()) => {
                // The session that asked for it ended: nothing printed, and nobody holds
                // the card: voided, audited, and nothing shown to the next person.
                log::warn!("offline code {card} not printed: {e}");
                self.void(deps, &day_key, &card).await;
                Err(Failure::Cancelled)
            }
            Err(e) if failed_for_good => {
                log::warn!("offline code {card} not printed: {e}");
                let voided = self.void(deps, &day_key, &card).await;
                Err(Failure::NotPrinted {
                    why: e,
                    card,
                    voided,
                })
            }
            Err(e) => {
                log::warn!(
                    "offline code {card} not printed: {e}; the card stays valid for a retry"
                );
                self.audit(deps, &day_key, &card, "print_failed").await;
                if let Some(cancel) = cancel_seen {
                    self.void_when_session_ends(deps, day_key, card.clone(), cancel);
                }
                Err(Failure::PrintFailed(format!("card {card}: {e}")))
            }
        }
    }

    /// Voids `card` at the back office as not printed and records it (the next issuance
    /// for this resident is a new request). True when the back office voided it.
    async fn void(&self, deps: &Deps, day_key: &crate::daykey::DayKey, card: &str) -> bool {
        match deps.client.void_unprinted(card).await {
            Ok(_) => {
                log::warn!("offline code {card} voided at the back office: not printed");
                self.audit(deps, day_key, card, "voided").await;
                true
            }
            Err(e) => {
                log::error!(
                    "offline code {card} was not printed and could not be voided: {e}; void it at the back office"
                );
                self.audit(deps, day_key, card, "print_failed_void_failed")
                    .await;
                false
            }
        }
    }

    /// After a retryable failure: when the session ends, voids the card unless a retry
    /// printed it meanwhile.
    fn void_when_session_ends(
        &self,
        deps: &Deps,
        day_key: crate::daykey::DayKey,
        card: String,
        mut cancel: watch::Receiver<bool>,
    ) {
        let (this, deps) = (self.clone(), deps.clone());
        tokio::spawn(async move {
            // True, or the sender gone: the session ended either way.
            let _ = cancel.wait_for(|c| *c).await;
            let Some(store) = &deps.store else { return };
            let id = card.clone();
            let printed = crate::store::run(store, move |s| s.card_printed(&id)).await;
            match printed {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    this.void(&deps, &day_key, &card).await;
                }
                Ok(Err(e)) => log::error!("offline code {card}: {e}; not voided"),
                Err(e) => log::error!("offline code {card}: {e}; not voided"),
            }
        });
    }

    /// Records the card (a printed or voided one for the day rule) and audits it by card
    /// id, naming the staff member who assisted.
    async fn audit(
        &self,
        deps: &Deps,
        day_key: &crate::daykey::DayKey,
        card: &str,
        result: &'static str,
    ) {
        let Some(store) = &deps.store else { return };
        let (terminal, id, card, reissue, key) = (
            self.config.terminal.id.clone(),
            self.id.clone(),
            card.to_string(),
            self.reissue,
            day_key.clone(),
        );
        let actor = self
            .staff
            .clone()
            .map(|s| crate::pin::Holder::Staff(s).actor());
        let recorded = crate::store::run(store, move |s| {
            crate::offline_code::record_issuance(
                s,
                &key,
                &terminal,
                &id,
                &card,
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
        let detail = format!("terminal {terminal} card {}: reported lost", card.card_id);
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
        c.identity.keypad = Some(if require_staff {
            crate::config::Keypad::Staff
        } else {
            crate::config::Keypad::Open
        });
        Arc::new(c)
    }

    /// With the day key in `dir`'s own runtime folder.
    fn config_in(require_staff: bool, dir: &std::path::Path) -> Arc<Config> {
        let mut c = (*config(require_staff)).clone();
        c.storage.runtime_dir = dir.join("run");
        Arc::new(c)
    }

    fn id() -> IdNumber {
        IdNumber::parse(ID).unwrap()
    }

    fn shared(dir: &std::path::Path) -> Shared {
        Arc::new(Mutex::new(Store::open_in(dir).unwrap()))
    }

    #[test]
    fn the_keypad_rule_refuses_a_typed_number_without_staff_and_takes_a_card() {
        let staff = StaffId::parse("S1024").ok();
        let typed = IdSource::Typed;
        assert_eq!(
            Issuance::new(config(true), id(), typed, false, None).err(),
            Some(Failure::Typed(TypedRefusal::StaffRequired))
        );
        assert!(Issuance::new(config(true), id(), typed, false, staff.clone()).is_ok());
        assert!(Issuance::new(config(true), id(), IdSource::Card, false, None).is_ok());
        assert!(Issuance::new(config(false), id(), typed, false, None).is_ok());
        // 补办 by a typed number: staff, even with an open keypad.
        assert_eq!(
            Issuance::new(config(false), id(), typed, true, None).err(),
            Some(Failure::Typed(TypedRefusal::StaffRequiredForReissue))
        );
        assert!(Issuance::new(config(false), id(), IdSource::Code, true, None).is_ok());
        assert!(
            Failure::Typed(TypedRefusal::StaffRequired)
                .to_string()
                .contains("staff PIN")
        );
    }

    #[tokio::test]
    async fn one_card_a_day_unless_a_reissue_and_audited_with_the_staff_member() {
        let dir = tempfile::tempdir().unwrap();
        let store = shared(dir.path());
        let staff = StaffId::parse("S1024").ok();
        let config = config_in(false, dir.path());
        let first =
            Issuance::new(config.clone(), id(), IdSource::Typed, false, staff.clone()).unwrap();
        assert_eq!(first.check_today(Some(&store)).await, Ok(()));
        // No store (a test terminal): no day rule to check.
        assert_eq!(first.check_today(None).await, Ok(()));
        let key = crate::daykey::today_key(&config);
        // A card that was refused or failed does not count for the day.
        for (card, result) in [("C0", "refused"), ("C0", "print_failed"), ("C1", "printed")] {
            let who = first.clone();
            let key = key.clone();
            crate::store::run(&store, move |s| {
                crate::offline_code::record_issuance(
                    s,
                    &key,
                    &who.config.terminal.id,
                    &who.id,
                    card,
                    false,
                    result,
                    Some("staff:S1024"),
                )
            })
            .await
            .unwrap()
            .unwrap();
            if result != "printed" {
                assert_eq!(first.check_today(Some(&store)).await, Ok(()));
            }
        }
        assert_eq!(
            first.check_today(Some(&store)).await,
            Err(Failure::AlreadyToday)
        );
        let reissue = Issuance::new(config, id(), IdSource::Typed, true, staff).unwrap();
        assert_eq!(reissue.check_today(Some(&store)).await, Ok(()));
        let audit = crate::store::lock(&store).audit_tail(10).unwrap();
        assert!(
            audit
                .iter()
                .all(|e| !e.detail.contains(ID) && !e.detail.contains("1231")),
            "{audit:?}"
        );
        assert!(
            audit.iter().any(|e| e.detail.contains("card C1: printed")),
            "{audit:?}"
        );
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
        let got = Issuance::new(
            config_in(false, dir.path()),
            id(),
            IdSource::Typed,
            false,
            None,
        )
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
