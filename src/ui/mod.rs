//! The touch UI: Slint-generated types, the adapter that wires them to the core's flows, and the renderer.
//!
//! [`adapters`] turns Slint callbacks into `flow::Event`s, runs the terminal's effects on
//! the tokio runtime and brings their answers back; [`render`] draws the session into the
//! globals and maps the core's enums to the Slint enums. No resident-facing text is made
//! here: it lives in `.slint` with `@tr`, or comes from data.

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
pub mod health;
mod render;
mod services;
pub mod snapshot;
pub mod walk;

pub use adapters::{UiController, UiDeps, connect, system_clock};
pub use render::set_language;
