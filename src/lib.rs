//! civic-kiosk: software of a district's self-service government terminals (自助服务终端).
//!
//! Module map:
//! - `api`        — wire types of the back-office contract, shared with the reference back office
//! - `app`        — composition root: config, logging, back office, then the touch UI
//! - `backoffice` — HTTP client of the contract: token, timeouts, size limits, errors by kind
//! - `catalog`    — 一网通办 catalogue: local cache, sync (ETag), search index (汉字/pinyin/initials), browse, 一件事, FAQ
//! - `cli`        — command-line interface (clap)
//! - `commands`   — technician subcommands (status, catalogue …): load config, do one job, print
//! - `config`     — layered TOML config, validation naming field and fix, atomic save, live watch
//! - `guide`      — 办事指南 and 一件事 materials lists on paper: receipt (ESC/POS) or A4
//! - `identity`   — ID number (GB 11643), name and phone types that mask themselves
//! - `logging`    — stderr + size-rotated file logger with an ID/phone scrubber
//! - `offline_code` — 离线码 on the terminal: verify an issued code against the trusted key, card layout
//! - `print`      — document model, ESC/POS, PDF, one status model, transports (TCP, device, serial, IPP, PDF spool) under one job lifecycle, URIs, probes
//! - `server`     — the reference back office (axum + SQLite, fault injection, embedded mode)
//! - `session`    — resident session rules: idle timer with countdown, entries, wipe
//! - `status`     — the `status` report (config, back office, printers, store)
//! - `store`      — the terminal's local SQLite store (WAL, synchronous=FULL, versioned migrations)
//! - `ui`         — Slint types and the adapters connecting pages to controllers; headless snapshots

pub mod api;
pub mod app;
pub mod backoffice;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod guide;
pub mod identity;
pub mod logging;
pub mod offline_code;
pub mod print;
pub mod server;
pub mod session;
pub mod status;
pub mod store;
pub mod ui;

/// Exit status of a technician's deliberate exit: the service unit does not restart on it.
pub const EXIT_TECHNICIAN: i32 = 64;
