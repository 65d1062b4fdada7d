//! The reference back office's SQLite store: residents and their codes, cards, ratings (idempotent by id), heartbeats, remote config, help requests.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::Path;

use crate::api::*;
use crate::identity::{IdNumber, PersonName};
use civic_contract::api::limits;

/// Days a card is valid, counting the issue day.
pub const CARD_VALID_DAYS: u64 = 180;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS residents (
    id_number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS resident_codes (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    id_number TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    card_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    request_id TEXT NOT NULL UNIQUE,
    issued_on TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    voided_reason TEXT,
    qr TEXT NOT NULL,
    staff TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_by_person ON cards(id_number);
CREATE TABLE IF NOT EXISTS ratings (
    id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    body TEXT NOT NULL,
    level INTEGER NOT NULL,
    bad_with_callback INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rating_counters (
    terminal_id TEXT PRIMARY KEY,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS heartbeats (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    terminal_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_config (
    terminal_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS help_requests (
    id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    page TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 1
);
-- A resident's session: the SHA-256 of its token (hex) only, never the token.
CREATE TABLE IF NOT EXISTS resident_sessions (
    token_sha256 TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    case_no TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_by_person ON applications(id_number);
-- The monthly records certificates are cut from, one row per resident and kind.
CREATE TABLE IF NOT EXISTS certificate_records (
    id_number TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (id_number, kind)
);
-- Every certificate issued: what `documents/verify` answers for its id.
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- 快办 submissions, one per submission_id: a retry answers the receipt stored here.
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    id_number TEXT NOT NULL,
    values_json TEXT NOT NULL,
    case_no TEXT NOT NULL UNIQUE,
    receipt_json TEXT NOT NULL
);
-- Numbering of the 办件编号 the back office makes (certificates, 快办).
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// One rating per 办件: ratings gained `case_number` after the first release, so an older
/// database gets the column here; the unique index holds against concurrent writers.
const RATINGS_BY_CASE: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS ratings_by_case ON ratings(case_number)
     WHERE case_number IS NOT NULL";

const UPSERT_CODE: &str = "INSERT INTO resident_codes(code, kind, id_number, expires_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(code) DO UPDATE SET kind = excluded.kind, id_number = excluded.id_number, expires_at = excluded.expires_at";

/// A failure the HTTP layer turns into a status and an [`ApiError`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{message}")]
    Api {
        status: u16,
        code: &'static str,
        message: String,
    },
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl StoreError {
    fn api(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Api {
            status,
            code,
            message: message.into(),
        }
    }
}

pub struct Store {
    conn: Connection,
}

/// Why a resident may or may not have a card, on `today`.
pub fn eligibility(
    id: &IdNumber,
    disabled: bool,
    today: NaiveDate,
) -> Result<EligibilityBasis, String> {
    let age = id.age_on(today);
    if age >= 60 {
        Ok(EligibilityBasis::Senior)
    } else if age < 18 {
        Ok(EligibilityBasis::Minor)
    } else if disabled {
        Ok(EligibilityBasis::Disabled)
    } else {
        Err(format!(
            "离线码卡片面向60周岁及以上老年人、未满18周岁未成年人和持证残疾人，您（{age}周岁）暂不符合申领条件，可使用手机随申码 / Cards are for residents aged 60 or more, under 18, or registered disabled; you ({age}) can use the mobile code"
        ))
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let has_case: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('ratings') WHERE name = 'case_number'")?
            .exists([])?;
        if !has_case {
            conn.execute_batch("ALTER TABLE ratings ADD COLUMN case_number TEXT")?;
        }
        conn.execute_batch(RATINGS_BY_CASE)?;
        Ok(Self { conn })
    }

    pub fn upsert_resident(
        &mut self,
        id: &IdNumber,
        name: &PersonName,
        disabled: bool,
    ) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "INSERT INTO residents(id_number, name, disabled) VALUES (?1, ?2, ?3)
             ON CONFLICT(id_number) DO UPDATE SET name = excluded.name, disabled = excluded.disabled",
            params![id.expose_id_number(), name.expose_name(), disabled],
        )?;
        Ok(())
    }

    /// Loads many residents in one transaction.
    pub fn load_residents(&mut self, records: &[ResidentRecord]) -> Result<(), rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO residents(id_number, name, disabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id_number) DO UPDATE SET name = excluded.name, disabled = excluded.disabled",
            )?;
            for r in records {
                stmt.execute(params![
                    r.id_number.expose_id_number(),
                    r.name.expose_name(),
                    r.disabled
                ])?;
            }
        }
        tx.commit()
    }

    /// Loads resident codes in one transaction, replacing codes of the same text. Each
    /// must name a resident of the registry: otherwise nothing is stored and the answer
    /// is `Ok(Some(index))` of the first that does not.
    pub fn load_codes<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a CodeRecord>,
    ) -> Result<Option<usize>, rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut known = tx.prepare("SELECT 1 FROM residents WHERE id_number = ?1")?;
            let mut insert = tx.prepare(UPSERT_CODE)?;
            for (i, r) in records.into_iter().enumerate() {
                if !known.exists(params![r.id_number.expose_id_number()])? {
                    return Ok(Some(i));
                }
                insert.execute(params![
                    r.code,
                    r.kind.name(),
                    r.id_number.expose_id_number(),
                    r.expires_at.to_rfc3339()
                ])?;
            }
        }
        tx.commit()?;
        Ok(None)
    }

    /// Adds or replaces one resident code; `404 resident_not_found` when it names no
    /// resident of the registry.
    pub fn upsert_code(&mut self, record: &CodeRecord) -> Result<(), StoreError> {
        match self.load_codes([record])? {
            None => Ok(()),
            Some(_) => Err(not_found()),
        }
    }

    /// The resident a code names, whatever its expiry; `None` for an unknown code.
    pub fn find_code(&self, code: &str) -> Result<Option<ResolvedCode>, StoreError> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT kind, id_number, expires_at FROM resident_codes WHERE code = ?1",
                params![code],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((kind, id, expires_at)) = row else {
            return Ok(None);
        };
        // Written by `load_codes` from checked values: a row that does not read back is
        // damage, not a resident's mistake.
        let damaged = |what: &str| {
            StoreError::api(
                500,
                "internal",
                format!("a stored code's {what} does not parse"),
            )
        };
        let kind = match kind.as_str() {
            "suishenma" => CodeKind::Suishenma,
            "e_id" => CodeKind::EId,
            _ => return Err(damaged("kind")),
        };
        let id_number = IdNumber::parse(&id).map_err(|_| damaged("ID number"))?;
        let expires_at = DateTime::parse_from_rfc3339(&expires_at)
            .map_err(|_| damaged("expiry"))?
            .with_timezone(&Utc);
        let Some((name, _)) = self.resident(&id_number)? else {
            return Ok(None);
        };
        Ok(Some(ResolvedCode {
            kind,
            masked_name: name.masked(),
            masked_id: id_number.masked(),
            id_number,
            expires_at,
        }))
    }

    /// The resident a code names: `404 code_not_found` for an unknown code, `410
    /// code_expired` for one past its expiry on `now`.
    pub fn resolve_code(&self, code: &str, now: DateTime<Utc>) -> Result<ResolvedCode, StoreError> {
        let Some(resolved) = self.find_code(code)? else {
            return Err(StoreError::api(
                404,
                limits::codes::CODE_NOT_FOUND,
                "无法识别此码，请出示随申码或电子身份证，或使用身份证 / Code not recognised; show your 随申码 or electronic ID, or use your ID card",
            ));
        };
        if now > resolved.expires_at {
            return Err(StoreError::api(
                410,
                limits::codes::CODE_EXPIRED,
                "此码已过期，请刷新后重新出示 / This code has expired; refresh it and show it again",
            ));
        }
        Ok(resolved)
    }

    fn resident(&self, id: &IdNumber) -> Result<Option<(PersonName, bool)>, rusqlite::Error> {
        self.conn
            .query_row(
                "SELECT name, disabled FROM residents WHERE id_number = ?1",
                params![id.expose_id_number()],
                |r| {
                    Ok((
                        PersonName::new(r.get::<_, String>(0)?),
                        r.get::<_, bool>(1)?,
                    ))
                },
            )
            .optional()
    }

    fn active_card(
        &self,
        id: &IdNumber,
        today: NaiveDate,
    ) -> Result<Option<(String, NaiveDate)>, rusqlite::Error> {
        self.conn
            .query_row(
                "SELECT card_id, expires_on FROM cards WHERE id_number = ?1 AND voided_reason IS NULL
                 AND expires_on >= ?2 ORDER BY created_at DESC LIMIT 1",
                params![id.expose_id_number(), today.to_string()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()
            .map(|o| o.and_then(|(c, e)| Some((c, e.parse().ok()?))))
    }

    pub fn lookup(&self, id: &IdNumber, today: NaiveDate) -> Result<ResidentLookup, StoreError> {
        let Some((name, disabled)) = self.resident(id)? else {
            return Err(not_found());
        };
        let active = self.active_card(id, today)?.map(|(c, _)| c);
        Ok(match eligibility(id, disabled, today) {
            Ok(basis) => ResidentLookup {
                masked_name: name.masked(),
                masked_id: id.masked(),
                eligible: true,
                basis: Some(basis),
                reason: None,
                active_card: active,
            },
            Err(reason) => ResidentLookup {
                masked_name: name.masked(),
                masked_id: id.masked(),
                eligible: false,
                basis: None,
                reason: Some(reason),
                active_card: active,
            },
        })
    }

    /// Issues a card. `sign` turns the payload into the QR string. The same `request_id`
    /// always answers the same card, so a retried request never issues twice.
    pub fn issue(
        &mut self,
        terminal_id: &str,
        req: &IssueCodeRequest,
        today: NaiveDate,
        sign: impl FnOnce(&offline_code::CodePayload) -> String,
    ) -> Result<IssuedCode, StoreError> {
        let tx = self.conn.transaction()?;
        type Row = (String, String, String, String, String, Option<String>);
        let existing: Option<Row> = tx
            .query_row(
                "SELECT card_id, qr, issued_on, expires_on, id_number, voided_reason FROM cards
                 WHERE request_id = ?1",
                params![req.request_id.to_string()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let name: Option<(String, bool)> = tx
            .query_row(
                "SELECT name, disabled FROM residents WHERE id_number = ?1",
                params![req.id_number.expose_id_number()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((name, disabled)) = name else {
            return Err(not_found());
        };
        let name = PersonName::new(name);
        if let Some((card_id, qr, iss, exp, holder, voided)) = existing {
            if holder != req.id_number.expose_id_number() {
                return Err(StoreError::api(
                    409,
                    "request_id_reused",
                    "request_id was already used for another resident",
                ));
            }
            if let Some(why) = voided {
                // Never hand out a voided card again, even to its own retry.
                return Err(StoreError::api(
                    409,
                    "request_voided",
                    format!(
                        "此请求的卡片已作废（{why}），请重新办理 / The card of this request was voided ({why}); start a new request"
                    ),
                ));
            }
            return Ok(IssuedCode {
                card_id,
                qr,
                masked_name: name.masked(),
                masked_id: req.id_number.masked(),
                issued_on: iss.parse().unwrap_or(today),
                expires_on: exp.parse().unwrap_or(today),
                voided_card: None,
            });
        }
        if let Err(reason) = eligibility(&req.id_number, disabled, today) {
            return Err(StoreError::api(403, "not_eligible", reason));
        }
        let active: Option<(String, String)> = tx
            .query_row(
                "SELECT card_id, expires_on FROM cards WHERE id_number = ?1 AND voided_reason IS NULL
                 AND expires_on >= ?2 ORDER BY created_at DESC LIMIT 1",
                params![req.id_number.expose_id_number(), today.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut voided = None;
        if let Some((card, exp)) = active {
            if !req.reissue {
                return Err(StoreError::api(
                    409,
                    "card_exists",
                    format!(
                        "您已有有效的离线码卡片（有效期至{exp}），如卡片遗失或损坏请选择补办 / You already have a valid card (until {exp}); choose reissue if it was lost or damaged"
                    ),
                ));
            }
            tx.execute(
                "UPDATE cards SET voided_reason = 'reissued' WHERE card_id = ?1",
                params![card],
            )?;
            voided = Some(card);
        }
        let card_id = new_card_id();
        let expires = today
            .checked_add_days(Days::new(CARD_VALID_DAYS - 1))
            .unwrap_or(today);
        let payload = offline_code::CodePayload {
            card: card_id.clone(),
            mid: req.id_number.masked(),
            mn: Some(name.masked()),
            iss: today,
            exp: expires,
            term: terminal_id.to_string(),
        };
        let qr = sign(&payload);
        tx.execute(
            "INSERT INTO cards(card_id, id_number, terminal_id, request_id, issued_on, expires_on, qr, staff, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                card_id,
                req.id_number.expose_id_number(),
                terminal_id,
                req.request_id.to_string(),
                today.to_string(),
                expires.to_string(),
                qr,
                req.staff,
                Utc::now().to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(IssuedCode {
            card_id,
            qr,
            masked_name: name.masked(),
            masked_id: req.id_number.masked(),
            issued_on: today,
            expires_on: expires,
            voided_card: voided,
        })
    }

    /// The issuing terminal voids a valid card it could not print. Voiding one already
    /// voided for that reason answers its status again (a retried void).
    pub fn void_unprinted(
        &mut self,
        terminal_id: &str,
        card_id: &str,
        today: NaiveDate,
    ) -> Result<CardStatus, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT terminal_id, voided_reason FROM cards WHERE card_id = ?1",
                params![card_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((issuer, voided)) = row else {
            return Err(not_found());
        };
        if issuer != terminal_id {
            return Err(StoreError::api(
                403,
                "not_issuer",
                "only the terminal that issued a card may void it as not printed",
            ));
        }
        match voided.as_deref() {
            None => {
                self.conn.execute(
                    "UPDATE cards SET voided_reason = 'not_printed' WHERE card_id = ?1",
                    params![card_id],
                )?;
            }
            Some("not_printed") => {}
            Some(other) => {
                return Err(StoreError::api(
                    409,
                    "card_voided",
                    format!("card {card_id} was already voided ({other})"),
                ));
            }
        }
        self.card_status(card_id, today)
    }

    pub fn card_status(&self, card_id: &str, today: NaiveDate) -> Result<CardStatus, StoreError> {
        let row: Option<(String, String, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT id_number, issued_on, expires_on, voided_reason FROM cards WHERE card_id = ?1",
                params![card_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, iss, exp, voided)) = row else {
            return Err(StoreError::api(
                404,
                "card_not_found",
                "没有这张卡片 / No such card",
            ));
        };
        let expires_on: NaiveDate = exp.parse().unwrap_or(today);
        let state = if voided.is_some() {
            CardState::Voided
        } else if expires_on < today {
            CardState::Expired
        } else {
            CardState::Valid
        };
        Ok(CardStatus {
            card_id: card_id.to_string(),
            state,
            masked_id: IdNumber::parse_on(&id, today)
                .map(|i| i.masked())
                .unwrap_or_default(),
            issued_on: iss.parse().unwrap_or(today),
            expires_on,
            voided_reason: voided,
        })
    }

    pub fn report_lost(
        &mut self,
        id: &IdNumber,
        today: NaiveDate,
    ) -> Result<CardStatus, StoreError> {
        if self.resident(id)?.is_none() {
            return Err(not_found());
        }
        let Some((card, _)) = self.active_card(id, today)? else {
            return Err(StoreError::api(
                404,
                "no_valid_card",
                "您没有有效的离线码卡片 / You have no valid card",
            ));
        };
        self.conn.execute(
            "UPDATE cards SET voided_reason = 'reported_lost' WHERE card_id = ?1",
            params![card],
        )?;
        self.card_status(&card, today)
    }

    /// Stores a batch; each rating is stored once by id. A rating seen before with the
    /// same content is a duplicate (a retry); with other content it is rejected.
    pub fn store_ratings(
        &mut self,
        terminal_id: &str,
        batch: &RatingBatch,
    ) -> Result<RatingBatchResult, StoreError> {
        let tx = self.conn.transaction()?;
        let mut results = Vec::with_capacity(batch.ratings.len());
        let mut dups = 0u64;
        let mut rejected = 0u64;
        for r in &batch.ratings {
            if let Err(v) = check_rating(terminal_id, r) {
                rejected += 1;
                results.push(RatingResult {
                    id: r.id,
                    outcome: RatingOutcome::Rejected,
                    reason: Some(v.message),
                    code: Some(v.code.into()),
                });
                continue;
            }
            let body = serde_json::to_string(r).unwrap_or_default();
            let previous: Option<String> = tx
                .query_row(
                    "SELECT body FROM ratings WHERE id = ?1",
                    params![r.id.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            match previous {
                Some(prev) if prev == body => {
                    dups += 1;
                    results.push(RatingResult {
                        id: r.id,
                        outcome: RatingOutcome::Duplicate,
                        reason: None,
                        code: None,
                    });
                }
                Some(_) => {
                    rejected += 1;
                    results.push(RatingResult {
                        id: r.id,
                        outcome: RatingOutcome::Rejected,
                        reason: Some("id already used by a rating with other content".into()),
                        code: Some(limits::codes::ID_REUSED.into()),
                    });
                }
                None => {
                    let case = r
                        .case_number
                        .as_deref()
                        .map(str::trim)
                        .filter(|c| !c.is_empty());
                    let rated_before = match case {
                        Some(c) => tx
                            .prepare_cached("SELECT 1 FROM ratings WHERE case_number = ?1")?
                            .exists(params![c])?,
                        None => false,
                    };
                    if rated_before {
                        rejected += 1;
                        results.push(case_already_rated(r));
                        continue;
                    }
                    let bad_cb = r.level.is_bad() && r.callback.as_ref().is_some_and(|c| c.consent);
                    let inserted = tx.execute(
                        "INSERT INTO ratings(id, terminal_id, body, level, bad_with_callback, received_at, case_number)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![r.id.to_string(), terminal_id, body, r.level as u8, bad_cb, Utc::now().to_rfc3339(), case],
                    );
                    match inserted {
                        Ok(_) => {}
                        // Another writer stored a rating of this 办件 in between (the
                        // unique index): the same refusal.
                        Err(rusqlite::Error::SqliteFailure(e, _))
                            if e.code == rusqlite::ErrorCode::ConstraintViolation
                                && case.is_some() =>
                        {
                            rejected += 1;
                            results.push(case_already_rated(r));
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    results.push(RatingResult {
                        id: r.id,
                        outcome: RatingOutcome::Stored,
                        reason: None,
                        code: None,
                    });
                }
            }
        }
        tx.execute(
            "INSERT INTO rating_counters(terminal_id, duplicates, rejected) VALUES (?1, ?2, ?3)
             ON CONFLICT(terminal_id) DO UPDATE SET duplicates = duplicates + excluded.duplicates,
             rejected = rejected + excluded.rejected",
            params![terminal_id, dups as i64, rejected as i64],
        )?;
        tx.commit()?;
        Ok(RatingBatchResult { results })
    }

    pub fn rating_stats(&self, terminal_id: &str) -> Result<RatingStats, StoreError> {
        let mut per_level: BTreeMap<String, u64> = (1..=5).map(|l| (l.to_string(), 0)).collect();
        let mut stmt = self
            .conn
            .prepare("SELECT level, COUNT(*) FROM ratings WHERE terminal_id = ?1 GROUP BY level")?;
        let rows = stmt.query_map(params![terminal_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut total = 0;
        for row in rows {
            let (level, n) = row?;
            per_level.insert(level.to_string(), n as u64);
            total += n as u64;
        }
        let bad_with_callback: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM ratings WHERE terminal_id = ?1 AND bad_with_callback = 1",
            params![terminal_id],
            |r| r.get(0),
        )?;
        let (duplicates, rejected): (i64, i64) = self
            .conn
            .query_row(
                "SELECT duplicates, rejected FROM rating_counters WHERE terminal_id = ?1",
                params![terminal_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0));
        Ok(RatingStats {
            terminal_id: terminal_id.to_string(),
            total,
            per_level,
            bad_with_callback: bad_with_callback as u64,
            duplicates_seen: duplicates as u64,
            rejected: rejected as u64,
        })
    }

    pub fn record_heartbeat(
        &mut self,
        terminal_id: &str,
        hb: &Heartbeat,
    ) -> Result<u64, StoreError> {
        self.conn.execute(
            "INSERT INTO heartbeats(terminal_id, received_at, body) VALUES (?1, ?2, ?3)",
            params![
                terminal_id,
                Utc::now().to_rfc3339(),
                serde_json::to_string(hb).unwrap_or_default()
            ],
        )?;
        Ok(self.remote_config(terminal_id)?.version)
    }

    pub fn remote_config(&self, terminal_id: &str) -> Result<RemoteConfig, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT version, settings FROM remote_config WHERE terminal_id = ?1",
                params![terminal_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((v, s)) => RemoteConfig {
                version: v as u64,
                settings: serde_json::from_str(&s).unwrap_or_default(),
            },
            None => RemoteConfig {
                version: 0,
                settings: BTreeMap::new(),
            },
        })
    }

    pub fn set_remote_config(
        &mut self,
        terminal_id: &str,
        settings: &BTreeMap<String, serde_json::Value>,
    ) -> Result<RemoteConfig, StoreError> {
        self.conn.execute(
            "INSERT INTO remote_config(terminal_id, version, settings) VALUES (?1, 1, ?2)
             ON CONFLICT(terminal_id) DO UPDATE SET version = version + 1, settings = excluded.settings",
            params![terminal_id, serde_json::to_string(settings).unwrap_or_default()],
        )?;
        self.remote_config(terminal_id)
    }

    pub fn record_help(&mut self, terminal_id: &str, req: &HelpRequest) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO help_requests(id, terminal_id, page, requested_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                req.id.to_string(),
                terminal_id,
                req.page,
                req.requested_at.to_rfc3339(),
                Utc::now().to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Terminals seen (heartbeat, rating, help or config), with their latest heartbeat.
    pub fn terminals(&self) -> Result<Vec<TerminalSummary>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT terminal_id FROM heartbeats UNION SELECT terminal_id FROM ratings
             UNION SELECT terminal_id FROM help_requests UNION SELECT terminal_id FROM remote_config
             ORDER BY 1",
        )?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            let last: Option<(String, String)> = self
                .conn
                .query_row(
                    "SELECT received_at, body FROM heartbeats WHERE terminal_id = ?1 ORDER BY seq DESC LIMIT 1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let heartbeats: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM heartbeats WHERE terminal_id = ?1",
                params![id],
                |r| r.get(0),
            )?;
            let open: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM help_requests WHERE terminal_id = ?1 AND open = 1",
                params![id],
                |r| r.get(0),
            )?;
            out.push(TerminalSummary {
                last_heartbeat: last
                    .as_ref()
                    .and_then(|(t, _)| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                last_heartbeat_body: last.and_then(|(_, b)| serde_json::from_str(&b).ok()),
                heartbeats: heartbeats as u64,
                open_help_requests: open as u64,
                config_version: self.remote_config(&id)?.version,
                terminal_id: id,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- resident sessions, 办件进度

impl Store {
    /// Opens a resident's session for `terminal_id`, keeping only `token_sha256` (the hex
    /// SHA-256 of the token). The resident's masked name; `404 resident_not_found` for an
    /// ID number not in the registry. Sessions ended long ago are cleared on the way.
    pub fn open_resident_session(
        &mut self,
        id: &IdNumber,
        terminal_id: &str,
        token_sha256: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let Some((name, _)) = self.resident(id)? else {
            return Err(not_found());
        };
        // Expired a day ago: nobody is told `resident_token_expired` for those any more.
        let stale = now - chrono::Duration::days(1);
        self.conn.execute(
            "DELETE FROM resident_sessions WHERE expires_at < ?1",
            params![stale.to_rfc3339()],
        )?;
        self.conn.execute(
            "INSERT INTO resident_sessions(token_sha256, id_number, terminal_id, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                token_sha256,
                id.expose_id_number(),
                terminal_id,
                expires_at.to_rfc3339()
            ],
        )?;
        Ok(name.masked())
    }

    /// The resident of a session token (by its hex SHA-256), for `terminal_id` on `now`:
    /// `401 resident_token_invalid` (unknown or ended), `403
    /// resident_token_other_terminal` (issued to another terminal), `401
    /// resident_token_expired`.
    pub fn session_resident(
        &self,
        token_sha256: &str,
        terminal_id: &str,
        now: DateTime<Utc>,
    ) -> Result<IdNumber, StoreError> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT id_number, terminal_id, expires_at FROM resident_sessions WHERE token_sha256 = ?1",
                params![token_sha256],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, issued_to, expires_at)) = row else {
            return Err(StoreError::api(
                401,
                limits::codes::RESIDENT_TOKEN_INVALID,
                "会话无效或已结束，请重新验证身份 / This session is unknown or has ended; identify again",
            ));
        };
        if issued_to != terminal_id {
            return Err(StoreError::api(
                403,
                limits::codes::RESIDENT_TOKEN_OTHER_TERMINAL,
                "此会话属于另一台终端 / This session was opened at another terminal",
            ));
        }
        let damaged = || StoreError::api(500, "internal", "a stored session does not parse");
        let expires_at = DateTime::parse_from_rfc3339(&expires_at)
            .map_err(|_| damaged())?
            .with_timezone(&Utc);
        if now >= expires_at {
            return Err(StoreError::api(
                401,
                limits::codes::RESIDENT_TOKEN_EXPIRED,
                "会话已超时，请重新验证身份 / This session has timed out; identify again",
            ));
        }
        IdNumber::parse(&id).map_err(|_| damaged())
    }

    /// Ends a session opened at `terminal_id`; an unknown or ended one (or another
    /// terminal's) is left as it is, without an error.
    pub fn end_resident_session(
        &mut self,
        token_sha256: &str,
        terminal_id: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM resident_sessions WHERE token_sha256 = ?1 AND terminal_id = ?2",
            params![token_sha256, terminal_id],
        )?;
        Ok(())
    }

    /// Moves a session's expiry to `at` (a session made to time out early: tests, or an
    /// operator cutting one short). `false` when no session has this hash.
    pub fn set_resident_session_expiry(
        &mut self,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE resident_sessions SET expires_at = ?2 WHERE token_sha256 = ?1",
            params![token_sha256, at.to_rfc3339()],
        )?;
        Ok(n > 0)
    }

    /// Loads applications in one transaction, replacing those of the same `case_no`. Each
    /// must name a resident of the registry: otherwise nothing is stored and the answer is
    /// `Ok(Some(index))` of the first that does not.
    pub fn load_applications<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a ApplicationRecord>,
    ) -> Result<Option<usize>, rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut known = tx.prepare("SELECT 1 FROM residents WHERE id_number = ?1")?;
            let mut insert = tx.prepare(
                "INSERT INTO applications(case_no, id_number, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(case_no) DO UPDATE SET id_number = excluded.id_number, body = excluded.body",
            )?;
            for (i, r) in records.into_iter().enumerate() {
                if !known.exists(params![r.id_number.expose_id_number()])? {
                    return Ok(Some(i));
                }
                insert.execute(params![
                    r.application.case_no,
                    r.id_number.expose_id_number(),
                    serde_json::to_string(&r.application).unwrap_or_default()
                ])?;
            }
        }
        tx.commit()?;
        Ok(None)
    }

    /// A resident's applications, the newest first.
    pub fn applications(&self, id: &IdNumber) -> Result<Vec<Application>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM applications WHERE id_number = ?1")?;
        let bodies = stmt
            .query_map(params![id.expose_id_number()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = bodies
            .iter()
            .map(|b| serde_json::from_str::<Application>(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::api(500, "internal", "a stored application does not parse"))?;
        out.sort_by(|a, b| {
            b.submitted_on
                .cmp(&a.submitted_on)
                .then_with(|| b.case_no.cmp(&a.case_no))
        });
        Ok(out)
    }
}

// ---------------------------------------------------------------- certificates, documents, 快办

/// A 快办 submission to file: who, which item, the values as JSON (a `BTreeMap`, so the
/// same values always give the same text).
pub struct QuickFiling {
    pub submission_id: String,
    pub id_number: IdNumber,
    pub item: QuickItem,
    pub values_json: String,
}

/// The number after `name`'s last one (from 1), in `tx`.
fn next_number(tx: &rusqlite::Transaction<'_>, name: &str) -> Result<i64, rusqlite::Error> {
    tx.execute(
        "INSERT INTO sequences(name, value) VALUES (?1, 1)
         ON CONFLICT(name) DO UPDATE SET value = value + 1",
        params![name],
    )?;
    tx.query_row(
        "SELECT value FROM sequences WHERE name = ?1",
        params![name],
        |r| r.get(0),
    )
}

/// The receipt filed before for `f.submission_id`, marked `repeated`, when the same
/// resident sent the same item and values; `409 submission_id_reused` when anything
/// differs; `None` when the id is new.
fn earlier_receipt(conn: &Connection, f: &QuickFiling) -> Result<Option<QuickReceipt>, StoreError> {
    let row: Option<(String, String, String, String)> = conn
        .query_row(
            "SELECT item_id, id_number, values_json, receipt_json FROM submissions WHERE submission_id = ?1",
            params![f.submission_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((item_id, id_number, values, receipt)) = row else {
        return Ok(None);
    };
    if item_id != f.item.id
        || id_number != f.id_number.expose_id_number()
        || values != f.values_json
    {
        return Err(StoreError::api(
            409,
            limits::codes::SUBMISSION_ID_REUSED,
            "此提交编号已用于另一份申请，请重新填写提交 / This submission_id was used for another submission; start again",
        ));
    }
    let mut receipt: QuickReceipt = serde_json::from_str(&receipt)
        .map_err(|_| StoreError::api(500, "internal", "a stored receipt does not parse"))?;
    receipt.repeated = true;
    Ok(Some(receipt))
}

impl Store {
    /// Loads certificate records in one transaction, replacing those of the same resident
    /// and kind. Each must name a resident of the registry: otherwise nothing is stored
    /// and the answer is `Ok(Some(index))` of the first that does not.
    pub fn load_certificates<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a crate::data::CertificateRecord>,
    ) -> Result<Option<usize>, rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut known = tx.prepare("SELECT 1 FROM residents WHERE id_number = ?1")?;
            let mut insert = tx.prepare(
                "INSERT INTO certificate_records(id_number, kind, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id_number, kind) DO UPDATE SET body = excluded.body",
            )?;
            for (i, r) in records.into_iter().enumerate() {
                if !known.exists(params![r.id_number.expose_id_number()])? {
                    return Ok(Some(i));
                }
                insert.execute(params![
                    r.id_number.expose_id_number(),
                    r.kind.name(),
                    serde_json::to_string(r).unwrap_or_default()
                ])?;
            }
        }
        tx.commit()?;
        Ok(None)
    }

    /// The masked name of a resident of the registry; `404 resident_not_found` otherwise.
    pub fn masked_name(&self, id: &IdNumber) -> Result<String, StoreError> {
        match self.resident(id)? {
            Some((name, _)) => Ok(name.masked()),
            None => Err(not_found()),
        }
    }

    /// Issues a certificate of the last `req.months` months on record (fewer when fewer
    /// are held), stores it as a document and gives it a 办件编号. `sign` makes the
    /// verification code of the new document id. `404 no_records` when the resident has
    /// no record of this kind. The period is checked by the caller.
    pub fn issue_certificate(
        &mut self,
        id: &IdNumber,
        req: &CertificateRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
        sign: impl FnOnce(&str) -> String,
    ) -> Result<Certificate, StoreError> {
        let masked_name = self.masked_name(id)?;
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM certificate_records WHERE id_number = ?1 AND kind = ?2",
                params![id.expose_id_number(), req.kind.name()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(body) = body else {
            return Err(StoreError::api(
                404,
                limits::codes::NO_RECORDS,
                format!(
                    "没有您的{}记录，请到窗口咨询 / No {} on record; please ask at a service window",
                    req.kind.title(),
                    req.kind.title_en().to_lowercase()
                ),
            ));
        };
        let record: crate::data::CertificateRecord = serde_json::from_str(&body).map_err(|_| {
            StoreError::api(
                500,
                "internal",
                "a stored certificate record does not parse",
            )
        })?;
        let n = usize::from(req.months).min(record.months.len());
        let rows = record.months[record.months.len() - n..].to_vec();
        let mut totals_fen = vec![0i64; record.columns.len()];
        for row in &rows {
            for (t, a) in totals_fen.iter_mut().zip(&row.amounts_fen) {
                *t += a;
            }
        }
        let period =
            |row: Option<&CertificateRow>| row.map(|r| r.month.clone()).unwrap_or_default();
        let tx = self.conn.transaction()?;
        let number = next_number(&tx, "certificate")?;
        let document_id = crate::documents::new_document_id();
        let certificate = Certificate {
            verification_code: sign(&document_id),
            case_no: format!("CN310105-{}-Z{number:06}", today.year()),
            kind: req.kind,
            title: req.kind.title().into(),
            issuer: record.issuer,
            holder_masked_name: masked_name,
            holder_masked_id: id.masked(),
            issued_at: now,
            period_from: period(rows.first()),
            period_to: period(rows.last()),
            columns: record.columns,
            rows,
            totals_fen,
        };
        tx.execute(
            "INSERT INTO documents(document_id, id_number, body, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                document_id,
                id.expose_id_number(),
                serde_json::to_string(&certificate).unwrap_or_default(),
                now.to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(certificate)
    }

    /// The certificate stored under a document id, if any.
    pub fn document(&self, document_id: &str) -> Result<Option<Certificate>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM documents WHERE document_id = ?1",
                params![document_id],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| {
            serde_json::from_str(&b)
                .map_err(|_| StoreError::api(500, "internal", "a stored document does not parse"))
        })
        .transpose()
    }

    /// What an earlier submission with this id answers (see [`earlier_receipt`]).
    pub fn earlier_submission(&self, f: &QuickFiling) -> Result<Option<QuickReceipt>, StoreError> {
        earlier_receipt(&self.conn, f)
    }

    /// Files a checked 快办 submission once: in one transaction, the submission and its
    /// application (status `accepted`, one step, `today`) under a new 办件编号, so 我的办件
    /// lists it at once. The same submission again answers the first receipt, `repeated`.
    pub fn file_quick(
        &mut self,
        f: &QuickFiling,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<QuickReceipt, StoreError> {
        let tx = self.conn.transaction()?;
        if let Some(receipt) = earlier_receipt(&tx, f)? {
            return Ok(receipt);
        }
        let number = next_number(&tx, "quick")?;
        let case_no = format!("CN310105-{}-Q{number:06}", today.year());
        let application = Application {
            case_no: case_no.clone(),
            item_code: f.item.item_code.clone(),
            item_name: f.item.name.clone(),
            submitted_on: today,
            status: ApplicationStatus::Accepted,
            timeline: vec![StatusStep {
                status: ApplicationStatus::Accepted,
                at: now,
            }],
            missing: None,
            collect: None,
        };
        let receipt = QuickReceipt {
            case_no: case_no.clone(),
            item_id: f.item.id.clone(),
            item_code: f.item.item_code.clone(),
            item_name: f.item.name.clone(),
            item_name_en: f.item.name_en.clone(),
            submitted_at: now,
            next_steps: f.item.next_steps.clone(),
            next_steps_en: f.item.next_steps_en.clone(),
            repeated: false,
        };
        tx.execute(
            "INSERT INTO applications(case_no, id_number, body) VALUES (?1, ?2, ?3)",
            params![
                case_no,
                f.id_number.expose_id_number(),
                serde_json::to_string(&application).unwrap_or_default()
            ],
        )?;
        tx.execute(
            "INSERT INTO submissions(submission_id, item_id, id_number, values_json, case_no, receipt_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                f.submission_id,
                f.item.id,
                f.id_number.expose_id_number(),
                f.values_json,
                case_no,
                serde_json::to_string(&receipt).unwrap_or_default()
            ],
        )?;
        tx.commit()?;
        Ok(receipt)
    }

    /// How many applications were filed for 快办 submissions (tests count them).
    pub fn submission_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM submissions", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn case_already_rated(r: &Rating) -> RatingResult {
    RatingResult {
        id: r.id,
        outcome: RatingOutcome::Rejected,
        reason: Some("此办件已评价过，一事一评 / this 办件 (case_number) was rated before".into()),
        code: Some(limits::codes::CASE_ALREADY_RATED.into()),
    }
}

fn not_found() -> StoreError {
    StoreError::api(
        404,
        "resident_not_found",
        "未找到户籍信息，请到窗口办理 / No household registration found; please go to a service window",
    )
}

fn new_card_id() -> String {
    // 80 random bits in Crockford-like base32: opaque, unguessable, short enough to print.
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes: [u8; 10] = rand::random();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let mut s = String::from("C");
    for i in (0..16).rev() {
        s.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    s
}

/// The contract's rules for one rating ([`Rating::check`] on this clock), and that it
/// comes from the token's own terminal.
fn check_rating(terminal_id: &str, r: &Rating) -> Result<(), limits::Violation> {
    if r.terminal_id != terminal_id {
        return Err(limits::Violation {
            code: limits::codes::TERMINAL_MISMATCH,
            // Cut: the sender chose it, and it goes back into the answer and the stats.
            message: format!(
                "terminal_id '{}' does not match the token's terminal",
                r.terminal_id
                    .chars()
                    .take(limits::MAX_ID_CHARS)
                    .collect::<String>()
            ),
        });
    }
    r.check(Utc::now())
}
