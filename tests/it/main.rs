//! The terminal's integration tests: one binary, one module per area. They start the
//! reference back office on 127.0.0.1:0 (in process, or as the `civic-backoffice` binary),
//! real printers and services (cupsd, an emulated ESC/POS printer, pty serial devices),
//! the `civic-kiosk` binary as a technician runs it, and the UI headless on the Slint
//! testing backend. A test that sets process-wide state (Slint's platform, the global
//! logger) runs in a process of its own: `common::in_own_process`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod backoffice;
mod cards;
mod cups;
mod disk;
mod foundation;
mod heartbeat;
mod held;
mod identity;
mod old_store;
mod ops;
mod printing;
mod properties;
mod ratings;
mod service;
mod ui;
mod ui_identity;
mod ui_language;
mod ui_layout;
mod ui_maintenance;
mod ui_mine;
mod ui_print;
mod ui_rating;
mod ui_session;
