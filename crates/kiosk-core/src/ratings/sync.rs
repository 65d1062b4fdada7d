//! The ratings upload: claims due outbox entries (差评 first, then the oldest), sends them as
//! one batch, and records each rating's verdict. Nothing is marked done before the back
//! office has answered for it:
//! - `stored` or `duplicate` → sent (the back office has it; a duplicate is a retry whose
//!   first answer was lost);
//! - `rejected` → dead letter, kept with the back office's reason, never retried;
//! - no answer for the batch (5xx, timeout, dropped connection, unreadable answer, even a
//!   4xx for the whole batch) → every rating in it stays pending and is retried after a
//!   jittered exponential backoff, capped.
//!
//! There are no leases: if a technician's `civic-kiosk sync` runs beside the terminal's own
//! worker, a rating may be sent twice at the same moment, and the back office (idempotent
//! by rating id) stores it once and answers `duplicate` to the other.

use super::OutboxCounts;
use crate::api::{Rating, RatingBatch, RatingOutcome};
use crate::backoffice::{Client, ClientError};
use crate::config::{Config, RatingsSection};
use crate::store::{Store, StoreError};
use chrono::Utc;
use rand::{Rng, RngExt};
use rusqlite::params;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// `sync_state` row: time of the last round the back office answered (RFC 3339).
pub const STATE_LAST_SYNC: &str = "ratings.last_sync";
/// `sync_state` row: the last failed round's error ("" after a good round).
pub const STATE_LAST_ERROR: &str = "ratings.last_error";

/// A callback number forgotten at a sync leaves the files at that sync ([`scrub`]: a
/// `wal_checkpoint(TRUNCATE)` right after the commit, `secure_delete` having zeroed the
/// old row). When another connection still reads an older snapshot the checkpoint cannot
/// finish; the worker then tries again at least this often, so the number is gone from
/// `kiosk.sqlite` and `kiosk.sqlite-wal` at most this long after that reader ends.
pub const SCRUB_RETRY: Duration = Duration::from_secs(30);

/// How the uploader paces itself, from `[ratings]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub batch_size: usize,
    pub interval: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Policy {
    pub fn from_config(r: &RatingsSection) -> Self {
        Self {
            batch_size: r.batch_size.clamp(1, 1000) as usize,
            // Clamped to the validator's bounds: a config that skipped validation still
            // cannot make a delay that overflows a clock.
            interval: Duration::from_secs(
                r.sync_interval_s
                    .clamp(5, crate::config::MAX_RATINGS_SYNC_S) as u64,
            ),
            retry_base: Duration::from_millis(
                r.retry_base_ms.clamp(10, crate::config::MAX_RETRY_BASE_MS) as u64,
            ),
            retry_max: Duration::from_secs(
                r.retry_max_s.clamp(1, crate::config::MAX_RETRY_MAX_S) as u64
            ),
        }
    }

    /// Delay before try `attempts + 1` after `attempts` failures: exponential from
    /// `retry_base`, capped at `retry_max`, with "equal jitter" (between half and all of
    /// it) so a district's terminals do not retry in step after an outage.
    pub fn backoff(&self, attempts: u32, rng: &mut impl Rng) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let full = self
            .retry_base
            .saturating_mul(1u32 << exp)
            .min(self.retry_max);
        let half = full / 2;
        half + rng.random_range(Duration::ZERO..=half)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("local store task failed: {0}")]
    Task(String),
}

/// What one round did.
#[derive(Debug)]
pub enum Round {
    /// Nothing was due.
    Idle,
    /// The back office answered for the batch.
    Answered {
        stored: usize,
        duplicate: usize,
        rejected: usize,
        /// Ratings of the batch the answer did not mention (kept pending).
        unanswered: usize,
    },
    /// No answer for the batch; its ratings stay pending and back off.
    Failed { error: ClientError, batch: usize },
}

/// When a rating waiting `wait` is due, in Unix milliseconds; saturating, never a panic.
fn due_ms(wait: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `f` on the store through [`crate::store::run`].
async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    crate::store::run(store, f)
        .await
        .map_err(|e| SyncError::Task(e.to_string()))?
        .map_err(SyncError::from)
}

/// Due entries, 差评 first then oldest (UUIDv7 ids sort by time). `all` ignores backoff
/// (a technician's "sync now").
fn claim(store: &Store, limit: usize, all: bool) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT o.rating_id, r.body FROM rating_outbox o JOIN ratings r ON r.id = o.rating_id
         WHERE o.state = 'pending' AND (?1 OR o.next_try_ms <= ?2)
         ORDER BY o.bad DESC, o.rating_id ASC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![all, now_ms(), limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Milliseconds until the earliest pending entry is due (0: now), or None if none pending.
pub fn next_due_in(store: &Store) -> Result<Option<Duration>, StoreError> {
    let next: Option<i64> = store.conn().query_row(
        "SELECT MIN(next_try_ms) FROM rating_outbox WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    Ok(next.map(|t: i64| Duration::from_millis(t.saturating_sub(now_ms()).max(0) as u64)))
}

/// Records the verdicts in one transaction. Returns (stored, duplicate, rejected,
/// unanswered); a callback number forgotten marks the store's scrub as due.
fn ack(
    store: &mut Store,
    claimed: &[String],
    verdicts: &HashMap<String, (RatingOutcome, Option<String>)>,
    policy: &Policy,
) -> Result<(usize, usize, usize, usize), StoreError> {
    store.writable()?;
    let mut counts = (0, 0, 0, 0);
    let mut forgotten = 0;
    let now = Utc::now().to_rfc3339();
    let mut rng = rand::rng();
    let tx = store.conn_mut().transaction()?;
    {
        let mut sent = tx.prepare_cached(
            "UPDATE rating_outbox SET state = 'sent', outcome = ?2, done_at = ?3, last_error = NULL
             WHERE rating_id = ?1 AND state = 'pending'",
        )?;
        // Once the back office has the rating, the callback number is not kept here.
        let mut forget_phone = tx.prepare_cached(
            "UPDATE ratings SET body = json_remove(body, '$.callback.phone')
             WHERE id = ?1 AND callback = 1",
        )?;
        let mut dead = tx.prepare_cached(
            "UPDATE rating_outbox SET state = 'dead', outcome = ?2, done_at = ?3
             WHERE rating_id = ?1 AND state = 'pending'",
        )?;
        let mut later = tx.prepare_cached(
            "UPDATE rating_outbox SET attempts = attempts + 1, next_try_ms = ?2, last_error = ?3
             WHERE rating_id = ?1 AND state = 'pending'",
        )?;
        let mut attempts_of =
            tx.prepare_cached("SELECT attempts FROM rating_outbox WHERE rating_id = ?1")?;
        for id in claimed {
            match verdicts.get(id) {
                Some((outcome @ (RatingOutcome::Stored | RatingOutcome::Duplicate), _)) => {
                    let word = if *outcome == RatingOutcome::Stored {
                        counts.0 += 1;
                        "stored"
                    } else {
                        counts.1 += 1;
                        "duplicate"
                    };
                    sent.execute(params![id, word, now])?;
                    forgotten += forget_phone.execute(params![id])?;
                }
                Some((RatingOutcome::Rejected, reason)) => {
                    counts.2 += 1;
                    let reason = reason.as_deref().unwrap_or("rejected without a reason");
                    log::warn!("rating {id} rejected by the back office: {reason}");
                    dead.execute(params![id, format!("rejected: {reason}"), now])?;
                }
                None => {
                    counts.3 += 1;
                    let attempts: u32 = attempts_of.query_row(params![id], |r| r.get(0))?;
                    let wait = policy.backoff(attempts + 1, &mut rng);
                    later.execute(params![
                        id,
                        due_ms(wait),
                        "the back office's answer did not mention this rating"
                    ])?;
                }
            }
        }
    }
    crate::failpoint::hit(crate::failpoint::BEFORE_ACK_COMMIT);
    tx.commit()?;
    if forgotten > 0 {
        store.mark_scrub_due();
    }
    Ok(counts)
}

/// Takes forgotten callback numbers out of the files when that is due: a
/// `wal_checkpoint(TRUNCATE)` (see [`SCRUB_RETRY`]). Returns true when nothing is left
/// to do; false when a reader held an older snapshot or the store is read-only (the
/// worker tries again). Due after every sync that forgot a number, and once after each
/// start (a number forgotten just before a crash).
pub fn scrub(store: &mut Store) -> Result<bool, StoreError> {
    if !store.scrub_due() {
        return Ok(true);
    }
    if store.read_only().is_some() {
        return Ok(false);
    }
    let done = store.checkpoint_truncate()?;
    if done {
        store.scrub_done();
    } else {
        log::debug!("checkpoint busy (a reader holds an older snapshot); trying again later");
    }
    Ok(done)
}

/// Every rating of a failed batch backs off; the error is kept for status and maintenance.
fn fail(
    store: &mut Store,
    claimed: &[String],
    error: &ClientError,
    policy: &Policy,
) -> Result<(), StoreError> {
    let mut rng = rand::rng();
    let text = error.to_string();
    let tx = store.conn_mut().transaction()?;
    {
        let mut later = tx.prepare_cached(
            "UPDATE rating_outbox SET attempts = attempts + 1, next_try_ms = ?2, last_error = ?3
             WHERE rating_id = ?1 AND state = 'pending' RETURNING attempts",
        )?;
        for id in claimed {
            // The delay grows with this rating's own failures.
            let attempts: Option<u32> = later
                .query_row(params![id, now_ms(), text], |r| r.get(0))
                .ok();
            if let Some(a) = attempts {
                let wait = policy.backoff(a, &mut rng);
                tx.execute(
                    "UPDATE rating_outbox SET next_try_ms = ?2 WHERE rating_id = ?1",
                    params![id, due_ms(wait)],
                )?;
            }
        }
    }
    tx.execute(
        "INSERT INTO sync_state(name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![
            STATE_LAST_ERROR,
            format!("{} {text}", Utc::now().to_rfc3339())
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// One round: claim up to a batch of due ratings, upload, record the verdicts.
pub async fn round(
    store: &Arc<Mutex<Store>>,
    client: &Client,
    policy: &Policy,
    ignore_backoff: bool,
) -> Result<Round, SyncError> {
    let limit = policy.batch_size;
    let claimed = blocking(store, move |st| claim(st, limit, ignore_backoff)).await?;
    if claimed.is_empty() {
        return Ok(Round::Idle);
    }
    let mut ids = Vec::with_capacity(claimed.len());
    let mut ratings = Vec::with_capacity(claimed.len());
    let mut unreadable = Vec::new();
    for (id, body) in claimed {
        match serde_json::from_str::<Rating>(&body) {
            Ok(r) => {
                ids.push(id);
                ratings.push(r);
            }
            Err(e) => unreadable.push((id, e.to_string())),
        }
    }
    if !unreadable.is_empty() {
        // A body this build cannot read will never upload: a dead letter, with the reason.
        blocking(store, move |st| {
            let now = Utc::now().to_rfc3339();
            for (id, why) in unreadable {
                log::error!("rating {id}: stored body unreadable ({why}); dead letter");
                st.conn().execute(
                    "UPDATE rating_outbox SET state = 'dead', outcome = ?2, done_at = ?3
                     WHERE rating_id = ?1 AND state = 'pending'",
                    params![id, format!("unreadable on this terminal: {why}"), now],
                )?;
            }
            Ok(())
        })
        .await?;
    }
    if ratings.is_empty() {
        return Ok(Round::Answered {
            stored: 0,
            duplicate: 0,
            rejected: 0,
            unanswered: 0,
        });
    }
    let batch = RatingBatch { ratings };
    let n = batch.ratings.len();
    log::debug!("uploading {n} rating(s)");
    match client.upload_ratings(&batch).await {
        Ok(answer) => {
            let verdicts: HashMap<String, (RatingOutcome, Option<String>)> = answer
                .results
                .into_iter()
                .map(|r| (r.id.to_string(), (r.outcome, r.reason)))
                .collect();
            let p = policy.clone();
            let (stored, duplicate, rejected, unanswered) = blocking(store, move |st| {
                let counts = ack(st, &ids, &verdicts, &p)?;
                st.set_state(STATE_LAST_SYNC, &Utc::now().to_rfc3339())?;
                st.set_state(STATE_LAST_ERROR, "")?;
                // At the sync itself: the numbers just forgotten leave the files now.
                if let Err(e) = scrub(st) {
                    log::warn!("checkpoint after the ratings sync: {e}");
                }
                Ok(counts)
            })
            .await?;
            log::info!(
                "ratings uploaded: {stored} stored, {duplicate} already there, {rejected} rejected, {unanswered} unanswered"
            );
            Ok(Round::Answered {
                stored,
                duplicate,
                rejected,
                unanswered,
            })
        }
        Err(error) => {
            log::warn!("ratings upload of {n} failed, will retry: {error}");
            let p = policy.clone();
            let e = error.clone();
            blocking(store, move |st| fail(st, &ids, &e, &p)).await?;
            Ok(Round::Failed { error, batch: n })
        }
    }
}

/// Current counts, off the caller's thread.
pub async fn counts(store: &Arc<Mutex<Store>>) -> Result<OutboxCounts, SyncError> {
    blocking(store, |st| super::counts(st)).await
}

/// Longest wait between a technician's tries ([`drain`]): someone is watching.
const DRAIN_MAX_WAIT: Duration = Duration::from_secs(10);

/// One step of [`drain`], worded as the technician reads it (CLI and maintenance page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainStep {
    /// How many ratings there are before anything is sent.
    Before(OutboxCounts),
    /// The back office answered for a batch; `pending` is what is left.
    Uploaded {
        stored: usize,
        duplicate: usize,
        rejected: usize,
        unanswered: usize,
        pending: Result<u64, String>,
    },
    /// No answer for a batch; the next try is in `wait`.
    Retrying {
        batch: usize,
        error: String,
        wait: Duration,
    },
}

impl std::fmt::Display for DrainStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrainStep::Before(c) => write!(
                f,
                "ratings: {} pending, {} sent, {} dead",
                c.pending, c.sent, c.dead
            ),
            DrainStep::Uploaded {
                stored,
                duplicate,
                rejected,
                unanswered,
                pending,
            } => {
                write!(
                    f,
                    "uploaded: {stored} stored, {duplicate} already there, {rejected} rejected"
                )?;
                if *unanswered > 0 {
                    write!(f, ", {unanswered} unanswered")?;
                }
                match pending {
                    Ok(n) => write!(f, "; {n} pending"),
                    Err(e) => write!(f, "; {e}"),
                }
            }
            DrainStep::Retrying { batch, error, wait } => write!(
                f,
                "upload of {batch} failed ({error}); retrying in {:.1} s",
                wait.as_secs_f64()
            ),
        }
    }
}

/// How [`drain`] ended: the outbox then, and the last error when ratings are left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    pub counts: OutboxCounts,
    pub last_error: Option<String>,
}

impl Drained {
    /// The closing lines, as the technician reads them.
    pub fn lines(&self, timeout: Duration) -> Vec<String> {
        let c = &self.counts;
        let mut lines = Vec::new();
        if c.dead > 0 {
            lines.push(format!(
                "{} rating(s) were rejected by the back office and kept as dead letters (see `civic-kiosk status`)",
                c.dead
            ));
        }
        if c.pending == 0 {
            lines.push(format!(
                "all ratings uploaded: {} sent, {} dead",
                c.sent, c.dead
            ));
        } else {
            lines.push(format!(
                "{} rating(s) still pending after {} s{}",
                c.pending,
                timeout.as_secs(),
                self.last_error
                    .as_ref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        lines
    }
}

/// A technician's "sync now" (`civic-kiosk sync`, the maintenance page): uploads every
/// pending rating, backoff ignored, until none is pending or `timeout` passes, retrying
/// failed batches after the policy's backoff (at most 10 s). `client` is `None` when the
/// back office could not be reached at all (`unreachable` says why). Each step goes to
/// `report` as it happens.
pub async fn drain(
    store: &Arc<Mutex<Store>>,
    client: Result<&Client, String>,
    policy: &Policy,
    timeout: Duration,
    mut report: impl FnMut(DrainStep),
) -> Result<Drained, SyncError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let before = counts(store).await?;
    let pending = before.pending;
    report(DrainStep::Before(before));
    let mut last_error = None;
    if pending > 0 {
        match client {
            Err(e) => last_error = Some(e),
            Ok(client) => {
                let mut failures = 0u32;
                // Held across awaits: a Send generator (the thread's is not).
                let mut rng = rand::make_rng::<rand::rngs::SmallRng>();
                while tokio::time::Instant::now() < deadline {
                    match round(store, client, policy, true).await? {
                        Round::Idle => break,
                        Round::Answered {
                            stored,
                            duplicate,
                            rejected,
                            unanswered,
                        } => {
                            failures = 0;
                            last_error = None;
                            let pending = counts(store)
                                .await
                                .map(|c| c.pending)
                                .map_err(|e| e.to_string());
                            report(DrainStep::Uploaded {
                                stored,
                                duplicate,
                                rejected,
                                unanswered,
                                pending,
                            });
                        }
                        Round::Failed { error, batch } => {
                            failures += 1;
                            let wait = policy.backoff(failures, &mut rng).min(DRAIN_MAX_WAIT).min(
                                deadline.saturating_duration_since(tokio::time::Instant::now()),
                            );
                            report(DrainStep::Retrying {
                                batch,
                                error: error.to_string(),
                                wait,
                            });
                            last_error = Some(error.to_string());
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
        }
    }
    Ok(Drained {
        counts: counts(store).await?,
        last_error,
    })
}

/// Wakes the uploader when a rating has been stored.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The terminal's uploader: a round whenever a rating is stored, when the earliest backoff
/// ends, and at least every `ratings.sync_interval_s`; stops when `shutdown` turns true.
pub async fn run_worker(
    client: Client,
    store: Arc<Mutex<Store>>,
    waker: Waker,
    mut config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let policy = Policy::from_config(&config.borrow_and_update().ratings);
        let wait = match round(&store, &client, &policy, false).await {
            // More may be due at once: go on without sleeping.
            Ok(Round::Answered { .. }) => Duration::ZERO,
            Ok(Round::Idle) | Ok(Round::Failed { .. }) => {
                match blocking(&store, |st| next_due_in(st)).await {
                    Ok(Some(d)) => d.min(policy.interval),
                    Ok(None) => policy.interval,
                    Err(e) => {
                        log::error!("ratings outbox: {e}");
                        policy.interval
                    }
                }
            }
            Err(e) => {
                log::error!("ratings outbox: {e}");
                policy.interval
            }
        };
        // A number forgotten while a reader held the WAL: try again soon (SCRUB_RETRY).
        let wait = match blocking(&store, scrub).await {
            Ok(true) => wait,
            Ok(false) => wait.min(SCRUB_RETRY),
            Err(e) => {
                log::warn!("checkpoint of the ratings outbox: {e}");
                wait.min(SCRUB_RETRY)
            }
        };
        if wait.is_zero() {
            if *shutdown.borrow() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = waker.0.notified() => {}
            _ = shutdown.wait_for(|s| *s) => return,
            Ok(()) = config.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Numbers no validated config holds still make finite delays and due times.
    #[test]
    fn extreme_numbers_cannot_overflow_a_clock() {
        let r = crate::config::RatingsSection {
            sync_interval_s: i64::MAX,
            retry_base_ms: i64::MAX,
            retry_max_s: i64::MAX,
            batch_size: i64::MAX,
            ..Default::default()
        };
        let p = Policy::from_config(&r);
        assert_eq!(p.interval, Duration::from_secs(3600));
        assert_eq!(p.retry_max, Duration::from_secs(86_400));
        assert_eq!(p.batch_size, 1000);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        assert!(p.backoff(u32::MAX, &mut rng) <= Duration::from_secs(86_400));
        assert_eq!(due_ms(Duration::MAX), i64::MAX);
        let r = crate::config::RatingsSection {
            sync_interval_s: i64::MIN,
            retry_base_ms: i64::MIN,
            retry_max_s: i64::MIN,
            batch_size: i64::MIN,
            ..Default::default()
        };
        let p = Policy::from_config(&r);
        assert_eq!(p.interval, Duration::from_secs(5));
        assert!(p.backoff(1, &mut rng) <= Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = Policy {
            batch_size: 10,
            interval: Duration::from_secs(60),
            retry_base: Duration::from_millis(1000),
            retry_max: Duration::from_secs(300),
        };
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for (attempts, full_ms) in [(1u32, 1000u64), (2, 2000), (3, 4000), (9, 256_000)] {
            for _ in 0..50 {
                let d = p.backoff(attempts, &mut rng).as_millis() as u64;
                assert!(
                    (full_ms / 2..=full_ms).contains(&d),
                    "attempt {attempts}: {d} ms not in [{}, {full_ms}]",
                    full_ms / 2
                );
            }
        }
        for attempts in [10, 20, 1000, u32::MAX] {
            let d = p.backoff(attempts, &mut rng);
            assert!(
                d <= p.retry_max && d >= p.retry_max / 2,
                "{attempts}: {d:?}"
            );
        }
        // Jitter: not all the same.
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| p.backoff(5, &mut rng)).collect();
        assert!(spread.len() > 10);
    }
}
