//! Catalogue sync: conditional fetch (ETag), validation, index build off the async workers, local cache, periodic worker.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

use super::Catalog;
use crate::api::Catalogue;
use crate::backoffice::{CatalogueFetch, Client, ClientError};
use crate::config::Config;
use crate::store::{CachedCatalogue, Store, StoreError};

/// What is known of the catalogue copy in use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogMeta {
    pub version: String,
    /// When the back office last confirmed this copy (fetched, or answered 304).
    pub fetched_at: DateTime<Utc>,
    pub etag: Option<String>,
}

impl CatalogMeta {
    pub fn age(&self, now: DateTime<Utc>) -> chrono::Duration {
        now - self.fetched_at
    }
    pub fn is_stale(&self, now: DateTime<Utc>, stale_after: Duration) -> bool {
        self.age(now).to_std().unwrap_or_default() > stale_after
    }
}

/// The catalogue state the UI and the CLI watch.
#[derive(Clone, Default)]
pub struct CatalogState {
    pub catalog: Option<Arc<Catalog>>,
    pub meta: Option<CatalogMeta>,
    pub last_error: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// A new copy was fetched and stored.
    Updated { version: String, items: usize },
    /// The back office confirmed the copy is current; no body was transferred.
    NotModified,
}

impl std::fmt::Display for SyncOutcome {
    /// As the technician reads it (`civic-kiosk catalogue sync`, the maintenance page).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncOutcome::Updated { version, items } => {
                write!(
                    f,
                    "catalogue {version}: updated, {items} items stored locally"
                )
            }
            SyncOutcome::NotModified => f.write_str(
                "catalogue unchanged: the back office answered 304, no catalogue body transferred",
            ),
        }
    }
}

/// A technician's "refresh now" (the maintenance page): the terminal's catalogue worker
/// syncs at once, puts a new copy in force as its own syncs do, and answers here.
#[derive(Debug)]
pub struct Refresh(pub tokio::sync::oneshot::Sender<Result<SyncOutcome, String>>);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("back office: {0}")]
    Backoffice(#[from] ClientError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("catalogue from the back office is not usable: {0}")]
    Invalid(String),
    #[error("worker: {0}")]
    Join(String),
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Join(e.to_string()))
}

/// Loads the cached copy and builds its indexes (blocking work: call it off the UI thread).
pub fn load_cached(store: &Mutex<Store>) -> Result<Option<(Catalog, CatalogMeta)>, SyncError> {
    let Some(cached) = crate::store::lock(store).cached_catalogue()? else {
        return Ok(None);
    };
    let data: Catalogue = serde_json::from_str(&cached.body).map_err(|e| {
        SyncError::Invalid(format!(
            "cached copy does not parse ({e}); it will be replaced at the next sync"
        ))
    })?;
    let meta = CatalogMeta {
        version: cached.version,
        fetched_at: cached.fetched_at,
        etag: cached.etag,
    };
    Ok(Some((Catalog::new(data), meta)))
}

/// One sync. On `Updated`, the new catalogue is returned with its indexes built.
pub async fn sync_once(
    client: &Client,
    store: &Arc<Mutex<Store>>,
) -> Result<(SyncOutcome, Option<(Arc<Catalog>, CatalogMeta)>), SyncError> {
    let etag = crate::store::run(store, |s| {
        s.cached_catalogue().map(|c| c.and_then(|c| c.etag))
    })
    .await
    .map_err(|e| SyncError::Join(e.to_string()))??;
    let now = Utc::now();
    match client.catalogue(etag.as_deref()).await? {
        CatalogueFetch::NotModified => {
            crate::store::run(store, move |s| s.touch_catalogue(now))
                .await
                .map_err(|e| SyncError::Join(e.to_string()))??;
            Ok((SyncOutcome::NotModified, None))
        }
        CatalogueFetch::Fresh { catalogue, etag } => {
            civic_contract::catalogue::check(&catalogue).map_err(SyncError::Invalid)?;
            if catalogue.items.is_empty() {
                return Err(SyncError::Invalid(
                    "it holds no items; keeping the copy we have".into(),
                ));
            }
            let s = store.clone();
            let (catalog, meta) = blocking(move || {
                let body = serde_json::to_string(&*catalogue)
                    .map_err(|e| SyncError::Invalid(e.to_string()))?;
                let cached = CachedCatalogue {
                    etag: etag.clone(),
                    version: catalogue.version.clone(),
                    fetched_at: now,
                    body,
                };
                let meta = CatalogMeta {
                    version: catalogue.version.clone(),
                    fetched_at: now,
                    etag,
                };
                let catalog = Catalog::new(*catalogue);
                match crate::store::lock(&s).save_catalogue(&cached) {
                    Ok(()) => {}
                    // A full disk: residents still get the fresh copy, from memory.
                    Err(e) if e.is_disk_full() => {
                        log::warn!("catalogue {} not cached: {e}", meta.version)
                    }
                    Err(e) => return Err(e.into()),
                }
                Ok::<_, SyncError>((catalog, meta))
            })
            .await??;
            let outcome = SyncOutcome::Updated {
                version: meta.version.clone(),
                items: catalog.data.items.len(),
            };
            Ok((outcome, Some((Arc::new(catalog), meta))))
        }
    }
}

/// Syncs at start and then every `catalogue.sync_interval_s` (read live from the config),
/// publishing each new copy and each error; stops when `shutdown` turns true.
pub async fn run_worker(
    client: Client,
    store: Arc<Mutex<Store>>,
    state: watch::Sender<CatalogState>,
    mut config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
    refresh: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Refresh>>>,
) {
    // Shared (not owned) so that a worker started again after a panic still hears it.
    let mut refresh = refresh.lock().await;
    // Who asked for the sync under way (a technician's refresh), to be answered.
    let mut asked: Option<Refresh> = None;
    loop {
        let attempt = Utc::now();
        let result = sync_once(&client, &store).await;
        let answer = asked.take().map(|Refresh(reply)| {
            let said = match &result {
                Ok((outcome, _)) => Ok(outcome.clone()),
                Err(e) => Err(e.to_string()),
            };
            (reply, said)
        });
        match result {
            Ok((outcome, fresh)) => {
                log::info!("catalogue sync: {outcome:?}");
                state.send_modify(|s| {
                    s.last_error = None;
                    s.last_attempt = Some(attempt);
                    match fresh {
                        Some((catalog, meta)) => {
                            s.catalog = Some(catalog);
                            s.meta = Some(meta);
                        }
                        None => {
                            if let Some(m) = &mut s.meta {
                                m.fetched_at = attempt;
                            }
                        }
                    }
                });
            }
            Err(e) => {
                log::warn!("catalogue sync failed: {e}");
                state.send_modify(|s| {
                    s.last_error = Some(e.to_string());
                    s.last_attempt = Some(attempt);
                });
            }
        }
        // Answered once the copy is in force.
        if let Some((reply, said)) = answer {
            let _ = reply.send(said);
        }
        // Wait for the next sync. A config change only moves the deadline (a new interval);
        // it does not trigger a sync of its own.
        let synced = tokio::time::Instant::now();
        loop {
            let due = next_sync_at(synced, config.borrow_and_update().catalogue.sync_interval_s);
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                Some(r) = refresh.recv() => {
                    asked = Some(r);
                    break;
                }
                _ = shutdown.wait_for(|s| *s) => return,
                Ok(()) = config.changed() => continue,
            }
        }
    }
}

/// When the next sync is due, `interval_s` after `synced`: clamped to the validator's bounds
/// and added with checked_add, so no interval can overflow the clock (2^63 s once panicked
/// the catalogue task).
pub fn next_sync_at(synced: tokio::time::Instant, interval_s: i64) -> tokio::time::Instant {
    let interval = Duration::from_secs(interval_s.clamp(30, crate::config::DAY_S) as u64);
    synced
        .checked_add(interval)
        .unwrap_or_else(|| synced + Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_interval_overflows_the_clock() {
        let now = tokio::time::Instant::now();
        for s in [i64::MIN, -1, 0, 900, i64::MAX] {
            let due = next_sync_at(now, s);
            let wait = due - now;
            assert!(
                (Duration::from_secs(30)..=Duration::from_secs(86_400)).contains(&wait),
                "{s}: {wait:?}"
            );
        }
    }
}
