//! The floor for `scripts/bench-ui.sh`: a bare Slint window, built with the same toolchain,
//! features and renderer as the terminal, filled with the attract screen's blue.
//! Run: `cargo run --release --example bare_window`.

slint::slint! {
    export component BareWindow inherits Window {
        width: 1080px;
        height: 1920px;
        background: rgb(11, 79, 163);
    }
}

fn main() -> Result<(), slint::PlatformError> {
    BareWindow::new()?.run()
}
