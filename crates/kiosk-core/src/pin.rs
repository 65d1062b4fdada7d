//! PINs of the technician and of 帮办 staff: argon2id hashes in the local store, on-screen entry with a lockout that survives a restart, audits.
//!
//! Plain Rust (no Slint types). Hashing and checking take tens of milliseconds each, so
//! callers run them off the UI thread. Every entry, change and failed attempt is written to
//! the store's audit table; a PIN never is, nor is it logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{OptionalExtension, params};
use std::sync::Mutex;
use std::time::Duration;

use crate::store::{Store, StoreError};

/// Shortest and longest PIN, in digits.
pub const MIN_LEN: usize = 6;
pub const MAX_LEN: usize = 8;
/// Wrong PINs in a row that lock the PIN pad …
pub const MAX_FAILURES: u32 = 5;
/// … for this long.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);

/// Who a PIN belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Technician,
    Staff(StaffId),
}

impl Holder {
    /// How audits name the holder: `technician` or `staff:<id>`.
    pub fn actor(&self) -> String {
        match self {
            Holder::Technician => "technician".into(),
            Holder::Staff(s) => format!("staff:{}", s.as_str()),
        }
    }

    fn key(&self) -> (&'static str, &str) {
        match self {
            Holder::Technician => ("technician", ""),
            Holder::Staff(s) => ("staff", s.as_str()),
        }
    }
}

/// A staff member's id (工号 or login name): 1 to 32 ASCII letters, digits, '.', '_' or
/// '-'. Audits carry it, so it is an id and not a person's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffId(String);

impl StaffId {
    pub fn parse(s: &str) -> Result<Self, PinError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(PinError::BadStaffId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StaffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is {MIN_LEN} to {MAX_LEN} digits (0-9), nothing else")]
    Format,
    #[error(
        "that PIN is too easy to guess (one digit repeated, or a straight run such as 123456); choose another"
    )]
    Weak,
    #[error("the two PINs differ; nothing was changed")]
    Mismatch,
    #[error("that PIN already belongs to someone else on this terminal; choose another")]
    InUse,
    #[error(
        "--staff: use the staff member's id (工号 or login name): 1 to 32 letters, digits, '.', '_' or '-', not a personal name"
    )]
    BadStaffId,
    #[error("no PIN is set for staff member {0}")]
    NoSuchStaff(String),
    #[error("hashing the PIN: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for PinError {
    fn from(e: rusqlite::Error) -> Self {
        PinError::Store(StoreError::Db(e))
    }
}

/// A new PIN must be 6 to 8 digits and not trivially guessable.
pub fn check_new(pin: &str) -> Result<(), PinError> {
    if !(MIN_LEN..=MAX_LEN).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinError::Format);
    }
    let d: Vec<i16> = pin.bytes().map(|b| (b - b'0') as i16).collect();
    let steps: Vec<i16> = d.windows(2).map(|w| w[1] - w[0]).collect();
    let run = |s: i16| steps.iter().all(|&x| x == s || x == s - 10 * s.signum());
    if run(0) || run(1) || run(-1) {
        return Err(PinError::Weak);
    }
    Ok(())
}

/// An argon2id PHC string of the PIN, with a fresh random salt.
pub fn hash(pin: &str) -> Result<String, PinError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Whether `pin` matches the PHC string (argon2 with the parameters the string names). A
/// malformed hash matches nothing.
pub fn matches(phc: &str, pin: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(pin.as_bytes(), &h)
            .is_ok(),
        Err(e) => {
            log::warn!("a stored PIN hash is not a PHC string ({e}); it matches nothing");
            false
        }
    }
}

/// One reading of the clocks the lock is measured with.
#[derive(Debug, Clone)]
pub struct Now {
    pub wall: chrono::DateTime<chrono::Utc>,
    /// This boot's id and the time since boot (suspend included), when the kernel tells.
    pub boot: Option<(String, Duration)>,
}

impl Now {
    pub fn read() -> Self {
        Self {
            wall: chrono::Utc::now(),
            boot: boot_clock(),
        }
    }
}

/// `/proc/sys/kernel/random/boot_id` and `CLOCK_BOOTTIME`: unaffected by setting the clock.
fn boot_clock() -> Option<(String, Duration)> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let since_boot = civic_platform::sys::boottime()?;
    Some((id.trim().to_string(), since_boot))
}

/// What an on-screen PIN entry came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Accepted(Holder),
    /// Wrong; this many tries are left before the lock.
    Wrong {
        attempts_left: u32,
    },
    /// The pad is locked (by this attempt or an earlier one) for this much longer.
    Locked {
        remaining: Duration,
    },
    /// No PIN is set on this terminal: nobody can enter.
    NoPins,
}

/// The lock as stored.
#[derive(Debug, Clone, Default)]
struct LockRow {
    failures: u32,
    locked_at: Option<chrono::DateTime<chrono::Utc>>,
    boot_id: Option<String>,
    boot_ms: Option<i64>,
}

fn load_lock(store: &Store) -> Result<LockRow, PinError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT failures, locked_at, boot_id, boot_ms FROM pin_lock WHERE id = 1",
            [],
            |r| {
                Ok(LockRow {
                    failures: r.get::<_, i64>(0)?.clamp(0, u32::MAX as i64) as u32,
                    locked_at: r
                        .get::<_, Option<String>>(1)?
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&chrono::Utc)),
                    boot_id: r.get(2)?,
                    boot_ms: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

fn save_lock(store: &Store, row: &LockRow) -> Result<(), PinError> {
    store.conn().execute(
        "INSERT INTO pin_lock(id, failures, locked_at, boot_id, boot_ms) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET failures = excluded.failures, locked_at = excluded.locked_at,
         boot_id = excluded.boot_id, boot_ms = excluded.boot_ms",
        params![
            row.failures,
            row.locked_at.map(|t| t.to_rfc3339()),
            row.boot_id,
            row.boot_ms
        ],
    )?;
    Ok(())
}

fn locked_row(failures: u32, now: &Now) -> LockRow {
    LockRow {
        failures,
        locked_at: Some(now.wall),
        boot_id: now.boot.as_ref().map(|(id, _)| id.clone()),
        boot_ms: now
            .boot
            .as_ref()
            .map(|(_, t)| t.as_millis().min(i64::MAX as u128) as i64),
    }
}

/// How long the lock has run. Within the boot that set it: time since boot, which no
/// clock change moves. After a reboot only the wall clock is left: a clock set back
/// (an RTC that lost its time) would make the lock last until the clock caught up, so a
/// lock that seems to start in the future is counted from now instead (re-anchored).
fn lock_elapsed(row: &LockRow, now: &Now) -> (Duration, bool) {
    if let (Some(id), Some(ms), Some((now_id, now_boot))) = (&row.boot_id, row.boot_ms, &now.boot)
        && id == now_id
        && ms >= 0
    {
        return (
            now_boot.saturating_sub(Duration::from_millis(ms as u64)),
            false,
        );
    }
    match row.locked_at {
        Some(at) if now.wall >= at => ((now.wall - at).to_std().unwrap_or_default(), false),
        Some(_) => (Duration::ZERO, true),
        None => (LOCKOUT, false),
    }
}

/// The time left on the PIN pad's lock, if it is locked. An expired lock is cleared (and
/// with it the count of wrong PINs).
pub fn lock_remaining(store: &mut Store, now: &Now) -> Result<Option<Duration>, PinError> {
    let row = load_lock(store)?;
    if row.locked_at.is_none() {
        return Ok(None);
    }
    let (elapsed, reanchor) = lock_elapsed(&row, now);
    if elapsed >= LOCKOUT {
        save_lock(store, &LockRow::default())?;
        store.audit("pin_unlocked", "the PIN pad's lock ran out", None)?;
        return Ok(None);
    }
    if reanchor {
        // Counted from now on; and from the boot clock while this boot lasts.
        save_lock(store, &locked_row(row.failures, now))?;
    }
    Ok(Some(LOCKOUT - elapsed))
}

/// The stored hashes: technician first (the store's, or else `config_hash`, a hash a fleet
/// may provision through the config), then staff by id.
fn holders(store: &Store, config_hash: Option<&str>) -> Result<Vec<(Holder, String)>, PinError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT role, name, hash FROM pins ORDER BY role = 'staff', name")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (role, name, hash) = row?;
        match role.as_str() {
            "technician" => out.push((Holder::Technician, hash)),
            _ => match StaffId::parse(&name) {
                Ok(id) => out.push((Holder::Staff(id), hash)),
                Err(_) => log::warn!("a staff PIN with an unusable id is ignored"),
            },
        }
    }
    if !out.iter().any(|(h, _)| *h == Holder::Technician)
        && let Some(h) = config_hash
    {
        out.insert(0, (Holder::Technician, h.to_string()));
    }
    Ok(out)
}

fn guard(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Checks a PIN typed on the screen. While the pad is locked the PIN is not even looked at.
/// The store is locked only to read and to record, not while hashing.
pub fn enter(
    store: &Mutex<Store>,
    config_hash: Option<&str>,
    pin: &str,
    now: &Now,
) -> Result<Entry, PinError> {
    enter_as(store, config_hash, None, pin, now)
}

/// Checks the PIN of one named staff member (the CLI's `--staff ID`): the same lock,
/// count of wrong PINs and audits as the pad; a PIN of anyone else is a wrong PIN here.
pub fn enter_staff(
    store: &Mutex<Store>,
    id: &StaffId,
    pin: &str,
    now: &Now,
) -> Result<Entry, PinError> {
    enter_as(store, None, Some(id), pin, now)
}

fn enter_as(
    store: &Mutex<Store>,
    config_hash: Option<&str>,
    only: Option<&StaffId>,
    pin: &str,
    now: &Now,
) -> Result<Entry, PinError> {
    let candidates = {
        let mut s = guard(store);
        if let Some(remaining) = lock_remaining(&mut s, now)? {
            s.audit(
                "pin_refused",
                &format!(
                    "PIN typed while the pad is locked ({} s left); not checked",
                    remaining.as_secs()
                ),
                None,
            )?;
            return Ok(Entry::Locked { remaining });
        }
        holders(&s, config_hash)?
    };
    if candidates.is_empty() {
        return Ok(Entry::NoPins);
    }
    let candidates: Vec<(Holder, String)> = match only {
        Some(id) => candidates
            .into_iter()
            .filter(|(h, _)| matches!(h, Holder::Staff(s) if s == id))
            .collect(),
        None => candidates,
    };
    // Every hash is tried, so the time taken does not tell whose PIN was typed.
    let mut found = None;
    for (holder, phc) in &candidates {
        if matches(phc, pin) && found.is_none() {
            found = Some(holder.clone());
        }
    }
    let mut s = guard(store);
    let mut row = load_lock(&s)?;
    if let Some(holder) = found {
        save_lock(&s, &LockRow::default())?;
        let what = match &holder {
            Holder::Technician => "technician PIN accepted: maintenance mode".to_string(),
            Holder::Staff(id) => format!("staff PIN accepted: {id} signed in (帮办)"),
        };
        s.audit("pin_entered", &what, Some(&holder.actor()))?;
        return Ok(Entry::Accepted(holder));
    }
    row.failures = row.failures.saturating_add(1);
    s.audit(
        "pin_failed",
        &format!("wrong PIN, {} of {MAX_FAILURES} in a row", row.failures),
        None,
    )?;
    if row.failures >= MAX_FAILURES {
        save_lock(&s, &locked_row(row.failures, now))?;
        s.audit(
            "pin_locked",
            &format!(
                "{MAX_FAILURES} wrong PINs in a row: PIN pad locked for {} minutes",
                LOCKOUT.as_secs() / 60
            ),
            None,
        )?;
        return Ok(Entry::Locked { remaining: LOCKOUT });
    }
    save_lock(&s, &row)?;
    Ok(Entry::Wrong {
        attempts_left: MAX_FAILURES - row.failures,
    })
}

/// Sets (or replaces) a holder's PIN. `actor` names who did it (for the audit). A PIN that
/// another holder already uses is refused: on the pad, a PIN alone says who is signing in.
pub fn set(
    store: &Mutex<Store>,
    holder: &Holder,
    pin: &str,
    actor: &str,
    config_hash: Option<&str>,
) -> Result<(), PinError> {
    check_new(pin)?;
    let others: Vec<String> = holders(&guard(store), config_hash)?
        .into_iter()
        .filter(|(h, _)| h != holder)
        .map(|(_, phc)| phc)
        .collect();
    if others.iter().any(|phc| matches(phc, pin)) {
        return Err(PinError::InUse);
    }
    let phc = hash(pin)?;
    let mut s = guard(store);
    let (role, name) = holder.key();
    let replaced = s
        .conn()
        .query_row(
            "SELECT 1 FROM pins WHERE role = ?1 AND name = ?2",
            params![role, name],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    s.conn().execute(
        "INSERT INTO pins(role, name, hash, set_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(role, name) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at",
        params![role, name, phc, chrono::Utc::now().to_rfc3339()],
    )?;
    let what = match holder {
        Holder::Technician => "technician PIN",
        Holder::Staff(_) => "staff PIN",
    };
    s.audit(
        "pin_set",
        &format!(
            "{what} {} for {}",
            if replaced { "changed" } else { "set" },
            holder.actor()
        ),
        Some(actor),
    )?;
    Ok(())
}

/// Removes a staff member's PIN (they left, or the PIN was seen).
pub fn remove_staff(store: &Mutex<Store>, id: &StaffId, actor: &str) -> Result<(), PinError> {
    let mut s = guard(store);
    let n = s.conn().execute(
        "DELETE FROM pins WHERE role = 'staff' AND name = ?1",
        params![id.as_str()],
    )?;
    if n == 0 {
        return Err(PinError::NoSuchStaff(id.to_string()));
    }
    s.audit(
        "pin_removed",
        &format!("staff PIN removed for staff:{id}"),
        Some(actor),
    )?;
    Ok(())
}

/// Staff ids with a PIN, for `set-pin --list`.
pub fn staff(store: &Store) -> Result<Vec<(String, String)>, PinError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT name, set_at FROM pins WHERE role = 'staff' ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a technician PIN is set (in the store, or through the config).
pub fn technician_set(store: &Store, config_hash: Option<&str>) -> Result<bool, PinError> {
    Ok(holders(store, config_hash)?
        .iter()
        .any(|(h, _)| *h == Holder::Technician))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Mutex<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_in(dir.path()).unwrap();
        (dir, Mutex::new(s))
    }

    fn at(wall_s: i64, boot: Option<(&str, u64)>) -> Now {
        Now {
            wall: chrono::DateTime::from_timestamp(1_800_000_000 + wall_s, 0).unwrap(),
            boot: boot.map(|(id, s)| (id.to_string(), Duration::from_secs(s))),
        }
    }

    fn kinds(s: &Mutex<Store>) -> Vec<String> {
        let mut v: Vec<String> = guard(s)
            .audit_tail(100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        v.reverse();
        v
    }

    #[test]
    fn new_pins_are_six_to_eight_digits_and_not_trivial() {
        for bad in ["", "12345", "123456789", "12a456", "１２３４５６", "12 456"] {
            assert!(matches!(check_new(bad), Err(PinError::Format)), "{bad:?}");
        }
        for weak in [
            "000000", "123456", "654321", "7890123", "99999999", "89012345",
        ] {
            assert!(matches!(check_new(weak), Err(PinError::Weak)), "{weak:?}");
        }
        for ok in ["260417", "1357924", "80451236", "112233"] {
            assert!(check_new(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn staff_ids_are_ids() {
        assert!(StaffId::parse("S1024").is_ok());
        assert!(StaffId::parse("wang.li_2").is_ok());
        for bad in ["", "王丽", "a b", &"x".repeat(33), "a;drop"] {
            assert!(StaffId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hash_is_argon2id_and_never_the_pin() {
        let h = hash("260417").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(!h.contains("260417"));
        assert!(matches(&h, "260417"));
        assert!(!matches(&h, "260418"));
        assert!(!matches("not a hash", "260417"));
        assert_ne!(h, hash("260417").unwrap(), "a fresh salt each time");
    }

    #[test]
    fn entry_roles_lockout_and_audit() {
        let (_d, s) = store();
        let t0 = at(0, Some(("boot-a", 100)));
        assert_eq!(enter(&s, None, "260417", &t0).unwrap(), Entry::NoPins);
        set(&s, &Holder::Technician, "260417", "test", None).unwrap();
        let staff = Holder::Staff(StaffId::parse("S1024").unwrap());
        assert!(matches!(
            set(&s, &staff, "260417", "test", None),
            Err(PinError::InUse)
        ));
        set(&s, &staff, "480213", "test", None).unwrap();
        assert_eq!(
            enter(&s, None, "260417", &t0).unwrap(),
            Entry::Accepted(Holder::Technician)
        );
        assert_eq!(
            enter(&s, None, "480213", &t0).unwrap(),
            Entry::Accepted(staff.clone())
        );
        for left in (1..MAX_FAILURES).rev() {
            assert_eq!(
                enter(&s, None, "111112", &t0).unwrap(),
                Entry::Wrong {
                    attempts_left: left
                }
            );
        }
        assert_eq!(
            enter(&s, None, "111112", &t0).unwrap(),
            Entry::Locked { remaining: LOCKOUT }
        );
        // Locked: even the right PIN is not looked at.
        let t1 = at(60, Some(("boot-a", 160)));
        assert_eq!(
            enter(&s, None, "260417", &t1).unwrap(),
            Entry::Locked {
                remaining: LOCKOUT - Duration::from_secs(60)
            }
        );
        let t2 = at(301, Some(("boot-a", 401)));
        assert_eq!(
            enter(&s, None, "260417", &t2).unwrap(),
            Entry::Accepted(Holder::Technician)
        );
        let k = kinds(&s);
        assert_eq!(k.iter().filter(|k| *k == "pin_failed").count(), 5);
        assert_eq!(k.iter().filter(|k| *k == "pin_entered").count(), 3);
        for kind in ["pin_set", "pin_locked", "pin_refused", "pin_unlocked"] {
            assert!(k.iter().any(|x| x == kind), "{kind} audited: {k:?}");
        }
        let tail = guard(&s).audit_tail(100).unwrap();
        assert!(
            tail.iter()
                .all(|e| !e.detail.contains("260417") && !e.detail.contains("111112")),
            "no PIN in the audit"
        );
        let entered: Vec<_> = tail.iter().filter(|e| e.kind == "pin_entered").collect();
        assert!(
            entered
                .iter()
                .any(|e| e.actor.as_deref() == Some("staff:S1024"))
        );
    }

    #[test]
    fn a_named_staff_member_signs_in_with_their_own_pin_only() {
        let (_d, s) = store();
        let t0 = at(0, Some(("boot-a", 100)));
        let s1 = StaffId::parse("S1024").unwrap();
        assert_eq!(enter_staff(&s, &s1, "480213", &t0).unwrap(), Entry::NoPins);
        set(&s, &Holder::Technician, "260417", "test", None).unwrap();
        set(&s, &Holder::Staff(s1.clone()), "480213", "test", None).unwrap();
        assert_eq!(
            enter_staff(&s, &s1, "480213", &t0).unwrap(),
            Entry::Accepted(Holder::Staff(s1.clone()))
        );
        // The technician's PIN is not this staff member's: wrong, and counted.
        assert_eq!(
            enter_staff(&s, &s1, "260417", &t0).unwrap(),
            Entry::Wrong {
                attempts_left: MAX_FAILURES - 1
            }
        );
        // An id with no PIN: wrong too (the answer does not tell which ids exist).
        let other = StaffId::parse("S9999").unwrap();
        assert_eq!(
            enter_staff(&s, &other, "480213", &t0).unwrap(),
            Entry::Wrong {
                attempts_left: MAX_FAILURES - 2
            }
        );
        for _ in 0..3 {
            let _ = enter_staff(&s, &s1, "111112", &t0).unwrap();
        }
        // The same lock as the pad's.
        assert!(matches!(
            enter(&s, None, "260417", &t0).unwrap(),
            Entry::Locked { .. }
        ));
        assert!(matches!(
            enter_staff(&s, &s1, "480213", &t0).unwrap(),
            Entry::Locked { .. }
        ));
    }

    #[test]
    fn wrong_count_and_lock_survive_a_reopen_and_clock_changes() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Mutex::new(Store::open_in(dir.path()).unwrap());
        let s = open();
        set(&s, &Holder::Technician, "260417", "test", None).unwrap();
        let t0 = at(0, Some(("boot-a", 1000)));
        for _ in 0..3 {
            enter(&s, None, "111112", &t0).unwrap();
        }
        drop(s);
        let s = open();
        assert_eq!(
            enter(&s, None, "111112", &t0).unwrap(),
            Entry::Wrong { attempts_left: 1 },
            "the count survives a restart"
        );
        assert!(matches!(
            enter(&s, None, "111112", &t0).unwrap(),
            Entry::Locked { .. }
        ));
        drop(s);
        let s = open();
        // Same boot, clock set two hours ahead: still locked (boot time counts).
        let ahead = at(7200, Some(("boot-a", 1030)));
        assert_eq!(
            lock_remaining(&mut guard(&s), &ahead).unwrap(),
            Some(LOCKOUT - Duration::from_secs(30))
        );
        // Rebooted with a clock that went back a year: counted from now, not for a year.
        let back = at(-365 * 86400, Some(("boot-b", 20)));
        assert_eq!(
            lock_remaining(&mut guard(&s), &back).unwrap(),
            Some(LOCKOUT)
        );
        let later = at(-365 * 86400 + 100, Some(("boot-b", 120)));
        assert_eq!(
            lock_remaining(&mut guard(&s), &later).unwrap(),
            Some(LOCKOUT - Duration::from_secs(100))
        );
        // No boot clock at all: the wall clock alone.
        let wall_only = at(-365 * 86400 + 200, None);
        assert_eq!(
            lock_remaining(&mut guard(&s), &wall_only).unwrap(),
            Some(LOCKOUT - Duration::from_secs(200))
        );
        let done = at(-365 * 86400 + 400, Some(("boot-b", 420)));
        assert_eq!(lock_remaining(&mut guard(&s), &done).unwrap(), None);
        assert_eq!(
            enter(&s, None, "111112", &done).unwrap(),
            Entry::Wrong {
                attempts_left: MAX_FAILURES - 1
            },
            "a fresh count after the lock"
        );
    }

    #[test]
    fn config_hash_is_the_technician_pin_until_one_is_set_here() {
        let (_d, s) = store();
        let provisioned = hash("260417").unwrap();
        let now = Now::read();
        assert!(technician_set(&guard(&s), Some(&provisioned)).unwrap());
        assert_eq!(
            enter(&s, Some(&provisioned), "260417", &now).unwrap(),
            Entry::Accepted(Holder::Technician)
        );
        set(
            &s,
            &Holder::Technician,
            "739155",
            "test",
            Some(&provisioned),
        )
        .unwrap();
        assert!(matches!(
            enter(&s, Some(&provisioned), "260417", &now).unwrap(),
            Entry::Wrong { .. }
        ));
        let id = StaffId::parse("S7").unwrap();
        assert!(matches!(
            remove_staff(&s, &id, "test"),
            Err(PinError::NoSuchStaff(_))
        ));
        set(&s, &Holder::Staff(id.clone()), "480213", "test", None).unwrap();
        assert_eq!(staff(&guard(&s)).unwrap().len(), 1);
        remove_staff(&s, &id, "test").unwrap();
        assert!(staff(&guard(&s)).unwrap().is_empty());
    }

    #[test]
    fn boot_clock_reads_on_linux() {
        let (id, t) = boot_clock().expect("CLOCK_BOOTTIME and boot_id on Linux");
        assert_eq!(id.len(), 36);
        assert!(t > Duration::ZERO);
    }
}
