//! 好差评 on the terminal: what a resident chose, the rules it must meet, and the durable
//! local outbox it waits in until the back office confirms it.
//!
//! A rating is made once: it gets its UUIDv7 and its wire body when the resident presses
//! 提交, and the rating and its outbox entry are committed in one transaction
//! (`synchronous=FULL`), so a rating whose commit returned survives a power cut. The upload
//! worker ([`sync`]) sends that body unchanged on every try; the back office stores each id
//! once and answers `duplicate` for a retry, so nothing is lost or counted twice.

pub mod sync;

use crate::api::{Callback, Channel, Rating, RatingLevel};
use crate::identity::PhoneNumber;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

/// Longest comment the back office takes, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// What the resident chose on the rating screens, before it becomes a [`Rating`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// The service rated: an item code (or [`TERMINAL_SERVICE`] when rated from home).
    pub item_code: String,
    pub level: Option<RatingLevel>,
    /// Reason tags, only with 不满意 / 非常不满意.
    pub reasons: Vec<String>,
    pub comment: String,
    /// The resident ticked "请回访我".
    pub callback_consent: bool,
    /// The mobile number typed for the callback (digits only, kept in this process).
    pub phone: String,
    /// 帮办 staff signed in while the resident rated, if any.
    pub staff: Option<String>,
}

/// The item code of "this terminal's service", rated from the home screen.
pub const TERMINAL_SERVICE: &str = "self-service-terminal";

/// Why a draft cannot be submitted yet; the UI shows one message per case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("no level chosen")]
    NoLevel,
    #[error("no service to rate")]
    NoService,
    #[error("a 差评 needs at least one reason")]
    NoReason,
    #[error("reasons are only given with a 差评")]
    ReasonWithoutBadLevel,
    #[error("a reason that is not offered")]
    UnknownReason,
    #[error("comment longer than 500 characters")]
    CommentTooLong,
    #[error("a callback needs a valid mobile number")]
    BadPhone,
}

impl DraftError {
    /// Stable code for the UI (1…): which message to show.
    pub fn code(self) -> i32 {
        match self {
            DraftError::NoLevel => 1,
            DraftError::NoService => 2,
            DraftError::NoReason => 3,
            DraftError::ReasonWithoutBadLevel => 4,
            DraftError::UnknownReason => 5,
            DraftError::CommentTooLong => 6,
            DraftError::BadPhone => 7,
        }
    }
}

impl Draft {
    /// Checks the draft against the rules and the reasons offered, and makes the rating
    /// with a fresh UUIDv7 and the given time.
    pub fn finish(
        &self,
        terminal_id: &str,
        offered_reasons: &[String],
        at: DateTime<Utc>,
    ) -> Result<Rating, DraftError> {
        let level = self.level.ok_or(DraftError::NoLevel)?;
        if self.item_code.trim().is_empty() {
            return Err(DraftError::NoService);
        }
        let bad = level.is_bad();
        if bad && self.reasons.is_empty() {
            return Err(DraftError::NoReason);
        }
        if !bad && !self.reasons.is_empty() {
            return Err(DraftError::ReasonWithoutBadLevel);
        }
        if self.reasons.iter().any(|r| !offered_reasons.contains(r)) {
            return Err(DraftError::UnknownReason);
        }
        let comment = self.comment.trim();
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(DraftError::CommentTooLong);
        }
        let callback = if self.callback_consent {
            let phone = PhoneNumber::parse(&self.phone).map_err(|_| DraftError::BadPhone)?;
            Some(Callback {
                consent: true,
                phone,
            })
        } else {
            None
        };
        let mut reasons = self.reasons.clone();
        reasons.dedup();
        Ok(Rating {
            id: new_rating_id(at),
            terminal_id: terminal_id.to_string(),
            item_code: self.item_code.clone(),
            case_number: None,
            channel: Channel::SelfServiceTerminal,
            level,
            reasons,
            comment: (!comment.is_empty()).then(|| comment.to_string()),
            rated_at: at,
            callback,
            staff: self.staff.clone(),
        })
    }
}

/// A UUIDv7 for a rating made at `at` (time-ordered, so the oldest sorts first).
pub fn new_rating_id(at: DateTime<Utc>) -> Uuid {
    let ms = at.timestamp_millis().max(0) as u64;
    let ts =
        uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
    Uuid::new_v7(ts)
}

/// Commits a rating and its outbox entry in one transaction. When this returns `Ok`, the
/// rating is on disk (`synchronous=FULL`) and will be uploaded.
pub fn record(store: &mut Store, rating: &Rating) -> Result<(), StoreError> {
    record_all(store, std::slice::from_ref(rating))
}

/// Commits several ratings in one transaction (bulk import, tests and benchmarks). On a
/// full disk (or a store open read-only for that reason) the answer is an error whose
/// [`StoreError::is_disk_full`] is true, and nothing is stored.
pub fn record_all(store: &mut Store, ratings: &[Rating]) -> Result<(), StoreError> {
    store.writable()?;
    insert_all(store, ratings).map_err(|e| store.classify(e))?;
    crate::failpoint::hit(crate::failpoint::AFTER_RATING_COMMIT);
    log::info!(
        "{} rating(s) stored locally, waiting for upload",
        ratings.len()
    );
    Ok(())
}

fn insert_all(store: &mut Store, ratings: &[Rating]) -> Result<(), StoreError> {
    let tx = store.conn_mut().transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO ratings(id, created_at, level, item_code, callback, body, case_number)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rated = tx.prepare_cached("SELECT 1 FROM ratings WHERE case_number = ?1")?;
        let mut queue = tx.prepare_cached(
            "INSERT INTO rating_outbox(rating_id, state, bad) VALUES (?1, 'pending', ?2)",
        )?;
        for r in ratings {
            let body = serde_json::to_string(r)
                .map_err(|e| StoreError::Db(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
            let id = r.id.to_string();
            if let Some(case) = &r.case_number
                && rated.exists(params![case])?
            {
                return Err(StoreError::CaseRated(case.clone()));
            }
            put.execute(params![
                id,
                r.rated_at.to_rfc3339(),
                u8::from(r.level),
                r.item_code,
                r.callback.is_some(),
                body,
                r.case_number
            ])?;
            queue.execute(params![id, r.level.is_bad()])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A rating as stored, by id (tests, diagnostics).
pub fn stored(store: &Store, id: Uuid) -> Result<Option<Rating>, StoreError> {
    let body: Option<String> = store
        .conn()
        .query_row(
            "SELECT body FROM ratings WHERE id = ?1",
            params![id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// Outbox state for `status`, the maintenance page and the heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub dead: u64,
    /// Last round in which the back office answered (RFC 3339).
    pub last_sync: Option<String>,
    /// The last failed round's error, cleared by a successful one.
    pub last_error: Option<String>,
}

/// Counts per state plus the last sync time and error.
pub fn counts(store: &Store) -> Result<OutboxCounts, StoreError> {
    let mut c = OutboxCounts::default();
    let mut stmt = store
        .conn()
        .prepare_cached("SELECT state, COUNT(*) FROM rating_outbox GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = n.max(0) as u64;
        match state.as_str() {
            "pending" => c.pending = n,
            "sent" => c.sent = n,
            "dead" => c.dead = n,
            _ => {}
        }
    }
    c.last_sync = store.get_state(sync::STATE_LAST_SYNC)?;
    c.last_error = store
        .get_state(sync::STATE_LAST_ERROR)?
        .filter(|e| !e.is_empty());
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons() -> Vec<String> {
        crate::config::RatingsSection::default().reasons
    }

    fn draft(level: u8) -> Draft {
        Draft {
            item_code: "310105-JZZ-001".into(),
            level: Some(RatingLevel::try_from(level).unwrap()),
            ..Draft::default()
        }
    }

    #[test]
    fn a_draft_meets_the_rules_or_says_which_it_breaks() {
        let now = Utc::now();
        let t = "CN-TSL-001";
        assert_eq!(
            Draft::default().finish(t, &reasons(), now),
            Err(DraftError::NoLevel),
            "nothing is preselected: no level, no rating"
        );
        let good = draft(5).finish(t, &reasons(), now).unwrap();
        assert_eq!(good.level, RatingLevel::VerySatisfied);
        assert_eq!(good.id.get_version_num(), 7);
        assert!(good.callback.is_none() && good.reasons.is_empty());

        assert_eq!(
            draft(1).finish(t, &reasons(), now),
            Err(DraftError::NoReason)
        );
        let mut d = draft(4);
        d.reasons = vec!["等候时间长".into()];
        assert_eq!(
            d.finish(t, &reasons(), now),
            Err(DraftError::ReasonWithoutBadLevel)
        );
        let mut d = draft(2);
        d.reasons = vec!["不在列表里".into()];
        assert_eq!(d.finish(t, &reasons(), now), Err(DraftError::UnknownReason));
        d.reasons = vec!["等候时间长".into()];
        d.comment = "长".repeat(501);
        assert_eq!(
            d.finish(t, &reasons(), now),
            Err(DraftError::CommentTooLong)
        );
        d.comment = "  排队一小时  ".into();
        d.callback_consent = true;
        for bad in [
            "",
            "1380013800",
            "23800138000",
            "1380013800a",
            "12800138000",
        ] {
            d.phone = bad.into();
            assert_eq!(
                d.finish(t, &reasons(), now),
                Err(DraftError::BadPhone),
                "{bad}"
            );
        }
        d.phone = "13800138000".into();
        let r = d.finish(t, &reasons(), now).unwrap();
        assert_eq!(r.comment.as_deref(), Some("排队一小时"));
        let cb = r.callback.unwrap();
        assert!(cb.consent);
        assert_eq!(cb.phone.expose_phone_number(), "13800138000");
        // A phone typed without consent is not sent.
        d.callback_consent = false;
        assert!(d.finish(t, &reasons(), now).unwrap().callback.is_none());
    }

    #[test]
    fn rating_ids_sort_by_time() {
        let t0 = Utc::now();
        let a = new_rating_id(t0);
        let b = new_rating_id(t0 + chrono::Duration::milliseconds(5));
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.get_version_num(), 7);
    }

    #[test]
    fn recording_commits_rating_and_outbox_entry_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        let mut d = draft(1);
        d.reasons = vec!["系统故障".into()];
        let r = d.finish("CN-TSL-001", &reasons(), Utc::now()).unwrap();
        record(&mut s, &r).unwrap();
        assert_eq!(stored(&s, r.id).unwrap().as_ref(), Some(&r));
        let c = counts(&s).unwrap();
        assert_eq!((c.pending, c.sent, c.dead), (1, 0, 0));
        // The same rating twice is refused by the store, not queued twice.
        assert!(record(&mut s, &r).is_err());
        assert_eq!(counts(&s).unwrap().pending, 1);
    }

    #[test]
    fn one_rating_per_case_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        let rate = |case: Option<&str>| {
            let mut r = draft(5)
                .finish("CN-TSL-001", &reasons(), Utc::now())
                .unwrap();
            r.case_number = case.map(str::to_string);
            r
        };
        record(&mut s, &rate(Some("CN310105-2026-Q000001"))).unwrap();
        let again = record(&mut s, &rate(Some("CN310105-2026-Q000001")));
        assert!(
            matches!(&again, Err(StoreError::CaseRated(c)) if c == "CN310105-2026-Q000001"),
            "{again:?}"
        );
        record(&mut s, &rate(Some("CN310105-2026-Q000002"))).unwrap();
        // Ratings of no 办件 are not limited.
        record(&mut s, &rate(None)).unwrap();
        record(&mut s, &rate(None)).unwrap();
        assert_eq!(counts(&s).unwrap().pending, 4);
    }
}
