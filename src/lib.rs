//! civic-kiosk: software of a district's self-service government terminals (自助服务终端).
//!
//! This crate is the terminal's top: the Slint UI, the CLI, the composition root and
//! embedded mode. The workspace below it (nothing depends on this crate):
//! - `civic-contract`   — wire types, CK1 signing, identity value types, catalogue rules
//! - `civic-platform`   — logging and its scrubber, the panic hook, atomic files, libc calls
//! - `civic-print`      — documents, ESC/POS, PDF, IPP, transports, one job lifecycle
//! - `civic-backoffice` — the reference back office (a server and its binary)
//! - `civic-devices`    — the 二代身份证 reader (GA/T 467) and code scanners, each on its thread
//! - `civic-kiosk-core` — the terminal without UI: config, store, catalogue, ratings, PINs
//!
//! Module map of this crate:
//! - `app`        — composition root: config, logging, back office, then the touch UI
//! - `cli`        — command-line interface (clap)
//! - `commands`   — technician subcommands (status, catalogue …): load config, do one job, print
//! - `devices`    — the identity devices from `[identity]`: started, their events into the flows, `identity test`
//! - `diagnose`   — `civic-kiosk diagnose`: which part is broken (back office, clock, printers, disk, store) and the fix
//! - `embedded`   — embedded mode: the reference back office in this process (feature `embedded`)
//! - `reach`      — how a one-shot command reaches the back office (embedded mode may start one), and its status
//! - `status`     — the `status` report (config, back office, printers, store)
//! - `tools`      — what the CLI and the maintenance page both run: the test print, audit lines
//! - `ui`         — Slint types and the adapters connecting pages to controllers; headless snapshots
//! - `watchdog`   — systemd sd_notify (READY, WATCHDOG from the UI event loop) and the freeze failpoint
//!
//! The core's modules are re-exported under their names (`civic_kiosk::config` is
//! `civic_kiosk_core::config`).

pub mod app;
pub mod cli;
pub mod commands;
pub mod devices;
pub mod diagnose;
pub mod embedded;
pub mod reach;
pub mod status;
pub mod tools;
pub mod ui;
pub mod watchdog;

// The core's modules under the names this crate's modules use.
pub use civic_kiosk_core::{
    api, backoffice, catalog, config, documents, failpoint, flow, guide, health, heartbeat,
    identity, issuance, logging, offline_code, pin, print, ratings, resident, session, store,
    supervisor,
};

/// Exit status of a technician's deliberate exit (maintenance page, 关闭终端程序): the
/// service unit does not restart on it (`RestartPreventExitStatus=64`). 64 is the first
/// status above the shell's and sysexits' common ones that this program uses for nothing
/// else (0 closed, 1 a command failed, 2 could not start).
pub const EXIT_TECHNICIAN: u8 = 64;
