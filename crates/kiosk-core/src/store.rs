//! The terminal's local SQLite store (`<data_dir>/kiosk.sqlite`): WAL, `synchronous=FULL`, embedded versioned migrations.
//!
//! One file holds what must survive a power cut: the catalogue cache now, and the tables
//! later capabilities add through new migrations (never by editing an applied one).

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE catalogue_cache (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT,
        version TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE sync_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
",
    "
    -- Audit log: maintenance, PIN failures, config changes, offline-code issuance.
    -- Never a full ID number, name or phone number.
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        actor TEXT,
        shipped INTEGER NOT NULL DEFAULT 0
    );
    -- Cards printed here, for the one-card-per-person-per-day rule: a salted hash of the
    -- ID number, not the number.
    CREATE TABLE card_issues (
        day TEXT NOT NULL,
        person TEXT NOT NULL,
        card_id TEXT NOT NULL,
        reissue INTEGER NOT NULL,
        PRIMARY KEY (day, person, card_id)
    );
",
    "
    -- 好差评, stored here first. body is the wire Rating as JSON, written once when the
    -- rating is made and sent unchanged on every try, so a retry is recognisably the same.
    -- Once the back office confirms it, the callback phone number leaves body (see
    -- docs/architecture.md, Ratings outbox).
    CREATE TABLE ratings (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
        item_code TEXT NOT NULL,
        callback INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    -- One entry per rating, made in the same transaction. state: pending → sent, or dead
    -- (the back office rejected it; never retried, kept with its reason).
    CREATE TABLE rating_outbox (
        rating_id TEXT PRIMARY KEY REFERENCES ratings(id),
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
        bad INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        outcome TEXT,
        done_at TEXT
    );
    CREATE INDEX rating_outbox_due ON rating_outbox(state, bad DESC, rating_id);
",
    "
    -- PINs of the technician (name '') and of 帮办 staff (name: their staff id): argon2id
    -- PHC strings written by `civic-kiosk set-pin`, never a PIN.
    CREATE TABLE pins (
        role TEXT NOT NULL CHECK (role IN ('technician', 'staff')),
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        set_at TEXT NOT NULL,
        PRIMARY KEY (role, name)
    );
    -- The on-screen PIN pad: wrong PINs in a row, and the lock they caused. Kept here so a
    -- restart neither resets the count nor lifts the lock. The lock's start is kept as
    -- wall-clock time and as time since boot (with the boot's id): within one boot the
    -- latter is used, so setting the clock moves nothing.
    CREATE TABLE pin_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failures INTEGER NOT NULL DEFAULT 0,
        locked_at TEXT,
        boot_id TEXT,
        boot_ms INTEGER
    );
",
    "
    -- #15: nothing reversible at rest. The once-a-day rule was keyed with an unkeyed
    -- SHA-256 of terminal id and ID number, which a few million guesses reverse when the
    -- audit's masked ID narrows them: those rows go (the day's limit starts again), and
    -- from now on `person` is an HMAC under the day key, which is never on this disk
    -- (see daykey.rs). `outcome`: printed, or voided (issued, never printed, voided at the
    -- back office); both move the issuance request id on.
    DELETE FROM card_issues;
    ALTER TABLE card_issues ADD COLUMN outcome TEXT NOT NULL DEFAULT 'printed'
        CHECK (outcome IN ('printed', 'voided'));
    -- The audit of issuance names the card, no longer the masked ID beside it.
    UPDATE audit SET detail = substr(detail, 1, instr(detail, ' for ') - 1)
            || substr(detail, instr(detail, ': '))
        WHERE kind IN ('offline_code_issued', 'offline_code_reported_lost')
          AND instr(detail, ' for ') > 0 AND instr(detail, ': ') > instr(detail, ' for ');
",
];

/// The store as the terminal's running parts share it.
pub type Shared = std::sync::Arc<std::sync::Mutex<Store>>;

/// The store was not reached: the blocking task running the closure panicked or the
/// runtime is shutting down.
#[derive(Debug, Clone, thiserror::Error)]
#[error("local store task: {0}")]
pub struct TaskError(pub String);

/// Takes the shared store's lock, whichever thread held it when it panicked (a poisoned
/// lock is taken anyway: SQLite's own transactions keep the data consistent).
pub fn lock(store: &std::sync::Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on the shared store off the async workers: the lock is taken inside
/// `spawn_blocking`, so no async worker waits on disk or on the lock. The one way async
/// code reaches the store.
pub async fn run<T, F>(store: &Shared, f: F) -> Result<T, TaskError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> T + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&store)))
        .await
        .map_err(|e| TaskError(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("local store: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(
        "local store {path} has schema version {found}, newer than this build knows ({known}); install the newer civic-kiosk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

pub struct Store {
    conn: Connection,
}

/// The cached catalogue as stored.
#[derive(Debug, Clone)]
pub struct CachedCatalogue {
    pub etag: Option<String>,
    pub version: String,
    pub fetched_at: chrono::DateTime<chrono::Utc>,
    pub body: String,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and applies pending migrations.
    pub fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("kiosk.sqlite");
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        Self::open(&path)
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction().map_err(open_err)?;
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)
                .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Self { conn })
    }

    /// The connection, for modules that own their tables (`pin`, `ratings`).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Journal mode and synchronous level in force, for tests and diagnostics.
    pub fn settings(&self) -> Result<(String, i64), StoreError> {
        let mode: String = self
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        let sync: i64 = self
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))?;
        Ok((mode, sync))
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn cached_catalogue(&self) -> Result<Option<CachedCatalogue>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT etag, version, fetched_at, body FROM catalogue_cache WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?
            .map(|(etag, version, fetched, body)| CachedCatalogue {
                etag,
                version,
                fetched_at: chrono::DateTime::parse_from_rfc3339(&fetched)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_default(),
                body,
            }))
    }

    pub fn save_catalogue(&mut self, c: &CachedCatalogue) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO catalogue_cache(id, etag, version, fetched_at, body) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET etag = excluded.etag, version = excluded.version,
             fetched_at = excluded.fetched_at, body = excluded.body",
            params![c.etag, c.version, c.fetched_at.to_rfc3339(), c.body],
        )?;
        Ok(())
    }

    /// Marks the cached copy as confirmed current (a 304) without rewriting the body.
    pub fn touch_catalogue(&mut self, at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE catalogue_cache SET fetched_at = ?1 WHERE id = 1",
            params![at.to_rfc3339()],
        )?;
        Ok(())
    }

    pub fn get_state(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM sync_state WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_state(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sync_state(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    /// Appends an audit entry.
    pub fn audit(
        &mut self,
        kind: &str,
        detail: &str,
        actor: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit(at, kind, detail, actor) VALUES (?1, ?2, ?3, ?4)",
            params![
                chrono::Utc::now().to_rfc3339(),
                kind,
                crate::logging::scrub(detail),
                actor
            ],
        )?;
        Ok(())
    }

    /// The newest `n` audit entries, newest first.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<crate::api::AuditEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, kind, detail, actor FROM audit ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map(params![n as i64], |r| {
            Ok(crate::api::AuditEntry {
                at: chrono::DateTime::parse_from_rfc3339(&r.get::<_, String>(0)?)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_default(),
                kind: r.get(1)?,
                detail: r.get(2)?,
                actor: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit entries not yet shipped with a heartbeat, oldest first, with their sequence.
    pub fn audit_unshipped(
        &self,
        limit: usize,
    ) -> Result<Vec<(i64, crate::api::AuditEntry)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, kind, detail, actor FROM audit WHERE shipped = 0 ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                crate::api::AuditEntry {
                    at: chrono::DateTime::parse_from_rfc3339(&r.get::<_, String>(1)?)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .unwrap_or_default(),
                    kind: r.get(2)?,
                    detail: r.get(3)?,
                    actor: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks audit entries up to `seq` as shipped (the back office acknowledged them).
    pub fn mark_audit_shipped(&mut self, seq: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE audit SET shipped = 1 WHERE seq <= ?1 AND shipped = 0",
            params![seq],
        )?;
        Ok(())
    }

    /// Cards (not reissues) printed here on `day` for `person`.
    pub fn cards_issued(&self, day: &str, person: &str) -> Result<u32, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM card_issues WHERE day = ?1 AND person = ?2 AND reissue = 0
             AND outcome = 'printed'",
            params![day, person],
            |r| r.get(0),
        )?)
    }

    /// Issuances that ended (printed or voided) on `day` for `person`, reissues too.
    pub fn issuances_ended(&self, day: &str, person: &str) -> Result<u32, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM card_issues WHERE day = ?1 AND person = ?2",
            params![day, person],
            |r| r.get(0),
        )?)
    }

    /// Records how an issuance ended (`printed` or `voided`), and forgets the days before
    /// `day`: the rule's window is one day, and an older row is only a trace.
    pub fn record_card(
        &mut self,
        day: &str,
        person: &str,
        card_id: &str,
        reissue: bool,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO card_issues(day, person, card_id, reissue, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![day, person, card_id, reissue, outcome],
        )?;
        tx.execute("DELETE FROM card_issues WHERE day < ?1", params![day])?;
        tx.commit()?;
        Ok(())
    }

    /// Whether `card_id` printed here (today: older rows are gone).
    pub fn card_printed(&self, card_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM card_issues WHERE card_id = ?1 AND outcome = 'printed'",
            params![card_id],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    /// Forgets once-a-day rows of the days before `day` (at start and at each card).
    pub fn prune_card_issues(&mut self, day: &str) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM card_issues WHERE day < ?1", params![day])?)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite before 3.50.2 has known memory-safety bugs (CVE-2025-6965 among them):
    /// the bundled copy must be at least that.
    #[test]
    fn bundled_sqlite_is_recent() {
        assert!(
            rusqlite::version_number() >= 3_050_002,
            "bundled SQLite is {}; bump rusqlite",
            rusqlite::version()
        );
    }

    #[test]
    fn opens_with_wal_full_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_in(dir.path()).unwrap();
        assert_eq!(s.settings().unwrap(), ("wal".to_string(), 2));
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let mut s = Store::open_in(dir.path()).unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
        s.set_state("k", "v").unwrap();
        assert_eq!(s.get_state("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open_in(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join("kiosk.sqlite")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Store::open_in(dir.path()),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
