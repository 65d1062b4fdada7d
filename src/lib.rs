//! civic-kiosk: software of a district's self-service government terminals (自助服务终端).
//!
//! Module map:
//! - `api`        — wire types of the back-office contract, shared with the reference back office
//! - `app`        — composition root: config, logging, back office, then the touch UI
//! - `backoffice` — HTTP client of the contract: token, timeouts, size limits, errors by kind
//! - `catalog`    — 一网通办 catalogue: local cache, sync (ETag), search index (汉字/pinyin/initials), browse, 一件事, FAQ
//! - `cli`        — command-line interface (clap)
//! - `commands`   — technician subcommands (status, catalogue …): load config, do one job, print
//! - `diagnose`   — `civic-kiosk diagnose`: which part is broken (back office, clock, printers, disk, store) and the fix
//! - `failpoint`  — named kill points for crash tests (armed only by an environment variable)
//! - `config`     — layered TOML config, validation naming field and fix, atomic save, live watch
//! - `guide`      — 办事指南 and 一件事 materials lists on paper: receipt (ESC/POS) or A4
//! - `heartbeat`  — heartbeat to the back office (health, audit entries) and the whitelisted remote config
//! - `identity`   — ID number (GB 11643), name and phone types that mask themselves
//! - `logging`    — journal (under systemd) or stderr + size-rotated file logger, an ID/phone scrubber, the panic hook
//! - `offline_code` — 离线码 on the terminal: verify an issued code against the trusted key, card layout
//! - `pin`        — technician and 帮办 staff PINs: argon2id hashes, lockout surviving restarts, audits
//! - `ratings`    — 好差评: drafts and their rules, the durable outbox, the idempotent upload worker
//! - `print`      — document model, ESC/POS, PDF, one status model, transports (TCP, device, serial, IPP, PDF spool) under one job lifecycle, URIs, probes
//! - `server`     — the reference back office (axum + SQLite, fault injection, embedded mode)
//! - `session`    — resident session rules: idle timer with countdown, entries, wipe
//! - `supervisor` — restarts a background worker that panicked, with backoff
//! - `status`     — the `status` report (config, back office, printers, store)
//! - `store`      — the terminal's local SQLite store (WAL, synchronous=FULL, versioned migrations)
//! - `ui`         — Slint types and the adapters connecting pages to controllers; headless snapshots
//! - `watchdog`   — systemd sd_notify (READY, WATCHDOG from the UI event loop) and the freeze failpoint

pub mod api;
pub mod app;
pub mod backoffice;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod failpoint;
pub mod flow;
pub mod guide;
pub mod heartbeat;
pub mod identity;
pub mod logging;
pub mod offline_code;
pub mod pin;
pub mod print;
pub mod ratings;
pub mod server;
pub mod session;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod ui;
pub mod watchdog;

/// Exit status of a technician's deliberate exit (maintenance page, 关闭终端程序): the
/// service unit does not restart on it (`RestartPreventExitStatus=64`). 64 is the first
/// status above the shell's and sysexits' common ones that this program uses for nothing
/// else (0 closed, 1 a command failed, 2 could not start).
pub const EXIT_TECHNICIAN: u8 = 64;
