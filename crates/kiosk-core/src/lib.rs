//! The terminal without its UI: everything a resident's visit and a technician's command
//! need that is not drawing. Knows nothing of Slint nor of the reference back office.
//!
//! Module map:
//! - `backoffice`   — HTTP client of the contract: token, timeouts, size limits, errors by kind
//! - `catalog`      — 一网通办 catalogue: local cache, sync (ETag), search index (汉字/pinyin/initials), browse, 一件事, FAQ
//! - `config`       — layered TOML config, validation naming field and fix, atomic save, live layers
//! - `daykey`       — the daily random secret (tmpfs, never beside the data) keying the once-a-day rule and issuance request ids
//! - `documents`    — 证明打印 certificates (monthly table, verification QR) and 快办 受理回执 on A4
//! - `failpoint`    — named kill points for crash tests (armed only by an environment variable)
//! - `flow`         — each resident flow as a state machine (card, rating, navigation and idle, help, 帮办, maintenance) and the session as one value, ended by dropping it
//! - `guide`        — 办事指南 and 一件事 materials lists on paper: receipt (ESC/POS) or A4
//! - `health`       — one health probe (back office, printers, disk) shared by status, diagnose, the heartbeat and the home screen
//! - `heartbeat`    — heartbeat to the back office (health, audit entries) and the whitelisted remote config
//! - `issuance`     — the one 离线码 issuance flow (CLI and touch UI): the keypad rule, once a day, signature check, audit
//! - `offline_code` — 离线码 on the terminal: verify an issued code against the trusted key, card layout
//! - `pin`          — technician and 帮办 staff PINs: argon2id hashes, lockout surviving restarts, audits
//! - `ratings`      — 好差评: drafts and their rules, the durable outbox, the idempotent upload worker
//! - `resident`     — who the resident is and how the terminal knows (card, code, keypad); the keypad rule
//! - `session`      — resident session rules: idle timer with countdown, entries
//! - `store`        — the terminal's local SQLite store (WAL, synchronous=FULL, versioned migrations)
//! - `supervisor`   — restarts a background worker that panicked, with backoff

pub mod backoffice;
pub mod catalog;
pub mod config;
pub mod daykey;
pub mod documents;
pub mod failpoint;
pub mod flow;
pub mod guide;
pub mod health;
pub mod heartbeat;
pub mod issuance;
pub mod offline_code;
pub mod pin;
pub mod ratings;
pub mod resident;
pub mod session;
pub mod store;
pub mod supervisor;

// The contract, the printers and the platform, under the names the modules use.
pub use civic_contract::{api, identity};
pub use civic_platform::logging;
pub use civic_print as print;
