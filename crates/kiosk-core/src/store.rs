//! The terminal's local SQLite store (`<data_dir>/kiosk.sqlite`): WAL, `synchronous=FULL`, `secure_delete`, embedded versioned migrations, and a read-only fallback for a full disk.
//!
//! One file holds what must survive a power cut: the catalogue cache now, and the tables
//! later capabilities add through new migrations (never by editing an applied one).
//!
//! A full disk must not stop the terminal serving residents: WAL mode cannot create or
//! grow its `-wal`/`-shm` files then, and even a read fails with "disk I/O error".
//! [`Store::open_for_reading`] then falls back, in this order, to
//! 1. `mode=ro`: a normal read-only connection (works while the `-wal`/`-shm` files exist
//!    or can still be made);
//! 2. `immutable=1`: the main file alone, no locks, no `-wal`/`-shm` — only when the
//!    `-wal` file is absent or empty. A non-empty `-wal` holds commits (or half a
//!    checkpoint) the main file lacks, so reading the main file alone could show a torn
//!    database: then the fallback is refused and the caller runs without a store.
//!
//! A store opened so says why ([`Store::read_only`]); every write through it is refused
//! with [`StoreError::ReadOnly`] before SQLite is asked. Nothing here ever writes in
//! the fallback, so it cannot damage the file.

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
    "
    -- #17: 一事一评. A rating of a 办件 carries its 办件编号; one 办件 has one rating here
    -- (the back office refuses a second from any terminal as well).
    ALTER TABLE ratings ADD COLUMN case_number TEXT;
    UPDATE ratings SET case_number = json_extract(body, '$.case_number');
    CREATE UNIQUE INDEX ratings_one_per_case ON ratings(case_number)
        WHERE case_number IS NOT NULL;
",
];

/// The store's schema version, refused when newer than this build knows (it would be
/// misread).
fn known_schema(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    Ok(found)
}

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

/// Below this many free bytes on the data dir's file system the store counts as on a full
/// disk: a commit needs a few WAL frames (4 KiB each) and, at first, 32 KiB of `-shm`.
pub const FULL_BELOW: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("local store: {0}")]
    Db(#[from] rusqlite::Error),
    /// The disk holding the store is full (an I/O error with under [`FULL_BELOW`] free).
    #[error(
        "local store {path}: the disk is full ({free} bytes free; {source}): free space on {dir}"
    )]
    DiskFull {
        path: PathBuf,
        dir: PathBuf,
        free: u64,
        source: rusqlite::Error,
    },
    /// The blocking task that used the store did not finish (panicked, or shutdown).
    #[error("local store task: {0}")]
    Task(String),
    /// A rating of a 办件 that was rated before (一事一评): nothing is stored.
    #[error("the 办件 {0} was rated before: one rating per 办件")]
    CaseRated(String),
    /// The store was opened read-only (the fallback) and cannot save anything.
    #[error(
        "local store {path} is open read-only ({why}): nothing can be saved until space is freed on {dir}"
    )]
    ReadOnly {
        path: PathBuf,
        dir: PathBuf,
        why: String,
    },
    #[error(
        "local store {path} has schema version {found}, newer than this build knows ({known}); install the newer civic-kiosk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// Nothing can be saved because the disk is full (or the store fell back to read-only
    /// for that reason): the resident is told so, the technician to free space.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::DiskFull { .. } | StoreError::ReadOnly { .. }
        )
    }

    /// SQLite found the file damaged (not an I/O error): the one case a restore is for.
    pub fn is_corrupt(&self) -> bool {
        let e = match self {
            StoreError::Open { source, .. } | StoreError::DiskFull { source, .. } => source,
            StoreError::Db(e) => e,
            _ => return false,
        };
        matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        )
    }
}

/// How the store is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Normal: WAL, everything can be saved.
    ReadWrite,
    /// Fallback 1: `mode=ro`.
    ReadOnly,
    /// Fallback 2: `immutable=1`, the main file alone (its `-wal` was empty).
    Immutable,
    /// The file could not be read at all: an empty stand-in in memory that saves nothing,
    /// so the terminal still starts (the catalogue comes from the back office only).
    Unavailable,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::ReadWrite => "read-write",
            Access::ReadOnly => "read-only",
            Access::Immutable => "read-only (immutable)",
            Access::Unavailable => "unavailable",
        }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    access: Access,
    /// Why the store is not read-write (the error of the read-write open).
    why_read_only: Option<String>,
    /// Deleted personal data (a synced callback number) may still be in the `-wal`: a
    /// `wal_checkpoint(TRUNCATE)` is due (`ratings::sync::scrub`). True at each open, for
    /// a number forgotten just before a crash.
    scrub_due: bool,
}

/// An I/O-ish SQLite failure (not a damaged file, not a schema problem): what a full disk
/// gives.
fn io_like(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::ReadOnly
        )
    )
}

/// Free bytes on the file system holding `dir` (or its nearest existing parent).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    civic_platform::sys::free_bytes(&probe)
}

/// `e` as [`StoreError::DiskFull`] when it is an I/O error and the disk holding `path` has
/// under [`FULL_BELOW`] free; otherwise `e`.
fn disk_full_or(path: &Path, e: StoreError) -> StoreError {
    if !matches!(&e, StoreError::Open { source, .. } | StoreError::Db(source) if io_like(source)) {
        return e;
    }
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    match free_bytes(&dir) {
        Some(free) if free < FULL_BELOW => {
            let source = match e {
                StoreError::Open { source, .. } | StoreError::Db(source) => source,
                other => return other,
            };
            StoreError::DiskFull {
                path: path.to_path_buf(),
                dir,
                free,
                source,
            }
        }
        _ => e,
    }
}

/// `path` as an SQLite URI (`file:` + percent-encoded path) with `query`.
fn uri(path: &Path, query: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut s = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.push('?');
    s.push_str(query);
    s
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

    /// Opens the store in `data_dir` read-write, or, when the disk is full, read-only
    /// (see the module's notes: `mode=ro`, then `immutable=1` when the `-wal` is empty).
    /// For the terminal and for commands that only read (`status`, `diagnose`,
    /// `catalogue search`). Any other failure (a damaged file, a newer schema) is returned.
    pub fn open_for_reading(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("kiosk.sqlite");
        let first = match Self::open_in(data_dir) {
            Ok(s) => return Ok(s),
            Err(e) if e.is_disk_full() && path.exists() => e,
            Err(e) => return Err(e),
        };
        let why = first.to_string();
        match Self::open_read_only(&path, "mode=ro", Access::ReadOnly) {
            Ok(mut s) => {
                log::warn!("{why}; the store is open read-only");
                s.why_read_only = Some(why);
                return Ok(s);
            }
            Err(e) => log::warn!("{why}; read-only open failed too ({e})"),
        }
        let wal = data_dir.join("kiosk.sqlite-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if wal_len > 0 {
            // Commits (or half a checkpoint) the main file lacks: reading it alone is not safe.
            log::error!(
                "{why}; {} holds {wal_len} bytes not yet in the main file, so it is not read without them",
                wal.display()
            );
            return Err(first);
        }
        let mut s = Self::open_read_only(&path, "immutable=1", Access::Immutable)?;
        log::warn!(
            "{why}; the store is open read-only (immutable: {} is empty)",
            wal.display()
        );
        s.why_read_only = Some(why);
        Ok(s)
    }

    /// An empty store in memory that refuses every write with [`StoreError::ReadOnly`]
    /// (`why`): what the terminal runs with when `path` cannot be read at all, so the UI
    /// still starts and says the disk is full instead of exiting.
    pub fn unavailable(path: &Path, why: String) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        for sql in MIGRATIONS {
            conn.execute_batch(sql)?;
        }
        conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            access: Access::Unavailable,
            why_read_only: Some(why),
            scrub_due: false,
        })
    }

    fn open_read_only(path: &Path, query: &str, access: Access) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            uri(path, query),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        // The first read: where a WAL file that cannot be made fails.
        known_schema(&conn, path)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            access,
            why_read_only: None,
            scrub_due: false,
        })
    }

    /// The folder holding the store.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// Why the store is open read-only (`None`: it is read-write).
    pub fn read_only(&self) -> Option<&str> {
        self.why_read_only.as_deref()
    }

    /// Refuses a write on a read-only store with [`StoreError::ReadOnly`], before SQLite
    /// is asked. Every writing function of the store's modules calls it first.
    pub(crate) fn writable(&self) -> Result<(), StoreError> {
        match &self.why_read_only {
            None => Ok(()),
            Some(why) => Err(StoreError::ReadOnly {
                path: self.path.clone(),
                dir: self.dir().to_path_buf(),
                why: why.clone(),
            }),
        }
    }

    /// A failed write as the caller should see it: [`StoreError::DiskFull`] when it was an
    /// I/O error and the disk has under [`FULL_BELOW`] free.
    pub(crate) fn classify(&self, e: StoreError) -> StoreError {
        disk_full_or(&self.path, e)
    }

    /// When the store fell back to read-only and the disk has room again, opens it
    /// read-write in its place. Returns whether the store is read-write now.
    pub fn try_reopen_writable(&mut self) -> bool {
        if self.why_read_only.is_none() {
            return true;
        }
        if self.access == Access::Unavailable && !self.path.exists() {
            return false;
        }
        if free_bytes(self.dir()).is_none_or(|f| f < FULL_BELOW) {
            return false;
        }
        match Self::open(&self.path) {
            Ok(s) => {
                log::info!("local store {} is read-write again", self.path.display());
                *self = s;
                true
            }
            Err(e) => {
                log::warn!("local store still read-only: {e}");
                false
            }
        }
    }

    /// A checkpoint is due to take deleted personal data out of the `-wal`.
    pub fn scrub_due(&self) -> bool {
        self.scrub_due
    }

    pub(crate) fn mark_scrub_due(&mut self) {
        self.scrub_due = true;
    }

    pub(crate) fn scrub_done(&mut self) {
        self.scrub_due = false;
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: every committed page into the main file, then the
    /// `-wal` cut to zero bytes, so what was deleted (overwritten with zeros by
    /// `secure_delete`) is gone from both files. Does not wait for readers: `Ok(false)`
    /// when one still holds an older snapshot (try again later).
    pub fn checkpoint_truncate(&self) -> Result<bool, StoreError> {
        self.writable()?;
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        let r = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        match r {
            Ok(busy) => Ok(busy == 0),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
            Err(e) => Err(self.classify(e.into())),
        }
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_rw(path).map_err(|e| disk_full_or(path, e))
    }

    fn open_rw(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // Deleted content (a synced callback number) is overwritten with zeros, in the
        // page and on the free list, instead of lingering in free space.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let found = known_schema(&conn, path)?;
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction().map_err(open_err)?;
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)
                .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            access: Access::ReadWrite,
            why_read_only: None,
            scrub_due: true,
        })
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
        self.writable()?;
        self.conn.execute(
            "INSERT INTO catalogue_cache(id, etag, version, fetched_at, body) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET etag = excluded.etag, version = excluded.version,
             fetched_at = excluded.fetched_at, body = excluded.body",
            params![c.etag, c.version, c.fetched_at.to_rfc3339(), c.body],
        ).map_err(|e| self.classify(e.into()))?;
        Ok(())
    }

    /// Marks the cached copy as confirmed current (a 304) without rewriting the body.
    pub fn touch_catalogue(&mut self, at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
        self.writable()?;
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
        self.writable()?;
        self.conn.execute(
            "INSERT INTO sync_state(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        ).map_err(|e| self.classify(e.into()))?;
        Ok(())
    }

    /// Appends an audit entry.
    pub fn audit(
        &mut self,
        kind: &str,
        detail: &str,
        actor: Option<&str>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        self.conn
            .execute(
                "INSERT INTO audit(at, kind, detail, actor) VALUES (?1, ?2, ?3, ?4)",
                params![
                    chrono::Utc::now().to_rfc3339(),
                    kind,
                    crate::logging::scrub(detail),
                    actor
                ],
            )
            .map_err(|e| self.classify(e.into()))?;
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
        self.writable()?;
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
        self.writable()?;
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
        self.writable()?;
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

    /// A 2 MiB tmpfs on a fresh folder, unmounted when dropped: a real full disk (the
    /// tests run as root; without root this fails and says why, it never skips).
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn mount() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=2m", "civic-kiosk-test"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "mount -t tmpfs on {} failed (the store's full-disk tests need root): {}",
                dir.path().display(),
                String::from_utf8_lossy(&out.stderr)
            );
            Self(dir)
        }

        fn path(&self) -> &Path {
            self.0.path()
        }

        /// Writes a file until the disk refuses more.
        fn fill(&self) {
            use std::io::Write;
            let mut f = std::fs::File::create(self.path().join("fill")).unwrap();
            for chunk in [65536usize, 4096, 512, 1] {
                let buf = vec![0xA5u8; chunk];
                while f.write_all(&buf).is_ok() {}
            }
            let _ = f.sync_all();
            assert!(free_bytes(self.path()).unwrap() < 4096, "the disk is full");
        }

        fn unfill(&self) {
            std::fs::remove_file(self.path().join("fill")).unwrap();
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0.path())
                .status();
        }
    }

    fn catalogue(version: &str) -> CachedCatalogue {
        CachedCatalogue {
            etag: Some(format!("\"{version}\"")),
            version: version.into(),
            fetched_at: chrono::Utc::now(),
            body: format!("{{\"version\":\"{version}\"}}"),
        }
    }

    #[test]
    fn a_full_disk_opens_the_store_read_only_and_refuses_writes() {
        let disk = Tmpfs::mount();
        let mut s = Store::open_in(disk.path()).unwrap();
        s.save_catalogue(&catalogue("v1")).unwrap();
        drop(s); // a clean close: the -wal is checkpointed and removed
        disk.fill();

        // Read-write cannot open (WAL cannot make its files): a disk-full error naming
        // the folder, not "disk I/O error" alone.
        let e = Store::open_in(disk.path())
            .err()
            .expect("read-write fails on a full disk");
        assert!(e.is_disk_full() && !e.is_corrupt(), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("free space on {}", disk.path().display())),
            "{text}"
        );

        let mut s = Store::open_for_reading(disk.path()).unwrap();
        assert_ne!(s.access(), Access::ReadWrite);
        assert!(s.read_only().is_some_and(|w| w.contains("disk is full")));
        assert_eq!(s.cached_catalogue().unwrap().unwrap().version, "v1");
        assert_eq!(s.integrity_check().unwrap(), "ok");
        let refused = s.set_state("k", "v").unwrap_err();
        assert!(refused.is_disk_full(), "{refused:?}");
        let rating = crate::ratings::Draft {
            item_code: "310105-JZZ-001".into(),
            level: Some(crate::api::RatingLevel::VerySatisfied),
            ..Default::default()
        }
        .finish("CN-TSL-001", &[], chrono::Utc::now())
        .unwrap();
        let refused = crate::ratings::record(&mut s, &rating).unwrap_err();
        assert!(refused.is_disk_full(), "{refused:?}");
        // Still full: it stays read-only.
        assert!(!s.try_reopen_writable());

        // Room again: read-write in place, nothing lost.
        disk.unfill();
        assert!(s.try_reopen_writable());
        assert_eq!(s.access(), Access::ReadWrite);
        s.set_state("k", "v").unwrap();
        assert_eq!(s.cached_catalogue().unwrap().unwrap().version, "v1");
        crate::ratings::record(&mut s, &rating).unwrap();
    }

    #[test]
    fn a_wal_holding_commits_is_read_with_them_never_without() {
        let disk = Tmpfs::mount();
        let mut s = Store::open_in(disk.path()).unwrap();
        s.save_catalogue(&catalogue("v1")).unwrap();
        drop(s);
        // A writer that never checkpoints and never closes (as after a power cut): v2 is
        // only in the -wal.
        let w = Connection::open(disk.path().join("kiosk.sqlite")).unwrap();
        w.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        w.execute("UPDATE catalogue_cache SET version = 'v2'", [])
            .unwrap();
        std::mem::forget(w);
        let wal = std::fs::metadata(disk.path().join("kiosk.sqlite-wal")).unwrap();
        assert!(wal.len() > 0);
        disk.fill();

        // The -wal and -shm exist already, so this open may even be read-write; either
        // way the commits in the -wal are read: never the main file alone (immutable).
        let mut s = Store::open_for_reading(disk.path()).unwrap();
        assert_ne!(s.access(), Access::Immutable);
        assert_eq!(s.cached_catalogue().unwrap().unwrap().version, "v2");
        assert_eq!(s.integrity_check().unwrap(), "ok");
        // A write that needs room fails as a full disk, not as a bare I/O error.
        let big = CachedCatalogue {
            body: "x".repeat(256 * 1024),
            ..catalogue("v3")
        };
        let e = s.save_catalogue(&big).unwrap_err();
        assert!(e.is_disk_full(), "{e:?}");
    }

    #[test]
    fn the_in_memory_stand_in_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            Store::unavailable(&dir.path().join("kiosk.sqlite"), "disk full".into()).unwrap();
        assert_eq!(s.access(), Access::Unavailable);
        assert!(s.cached_catalogue().unwrap().is_none());
        assert!(s.set_state("k", "v").unwrap_err().is_disk_full());
    }

    #[test]
    fn a_truncating_checkpoint_empties_the_wal_unless_a_reader_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        let wal = dir.path().join("kiosk.sqlite-wal");
        s.set_state("k", "v").unwrap();
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        let reader = Connection::open(dir.path().join("kiosk.sqlite")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM sync_state", [], |r| r.get(0))
            .unwrap();
        s.set_state("k", "w").unwrap();
        assert!(
            !s.checkpoint_truncate().unwrap(),
            "a reader holds an older snapshot"
        );
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        reader.execute_batch("COMMIT").unwrap();
        assert!(s.checkpoint_truncate().unwrap());
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let mode: i64 = s
            .conn()
            .query_row("PRAGMA secure_delete", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 1, "secure_delete is on");
    }

    #[test]
    fn uri_escapes_what_sqlite_would_read_as_query() {
        assert_eq!(
            uri(Path::new("/var/lib/a b?#%/kiosk.sqlite"), "mode=ro"),
            "file:/var/lib/a%20b%3F%23%25/kiosk.sqlite?mode=ro"
        );
    }
}
