//! Helpers shared by the integration test binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shipped `config/kiosk.toml`, as text.
pub fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kiosk.toml"))
        .unwrap()
}

/// Writes `text` (a kiosk config) into `dir` with its data and logs moved into `dir`.
pub fn config_in(dir: &Path, text: &str) -> PathBuf {
    let text = text
        .replace(
            "data_dir = \"../data\"",
            &format!("data_dir = {:?}", dir.join("data")),
        )
        .replace(
            "dir = \"../logs\"",
            &format!("dir = {:?}", dir.join("logs")),
        );
    let path = dir.join("kiosk.toml");
    std::fs::write(&path, text).unwrap();
    path
}
