//! The touch UI: Slint-generated types and the adapters that connect pages to controllers.
//!
//! Adapters translate between controllers (plain Rust: catalogue, session, entries) and the
//! Slint globals. Slow work (search, loading) runs on the tokio runtime; results come back
//! with `upgrade_in_event_loop`. No resident-facing text is made here: it lives in `.slint`
//! with `@tr`, or comes from data.

/// The code slint-build generates from `ui/app.slint`: not ours to lint.
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]
mod generated {
    slint::include_modules!();
}
pub use generated::*;

pub mod adapters;
pub mod snapshot;
pub mod walk;

pub use adapters::{UiController, UiDeps, connect, set_language, system_clock};
