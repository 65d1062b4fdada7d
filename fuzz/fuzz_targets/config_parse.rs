//! The config parser and validator answer any text: a config, or problems naming the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/etc/civic-kiosk/kiosk.toml");
    match civic_kiosk_core::config::Layers::from_parts(path, text, Vec::<(String, String)>::new())
        .and_then(|l| l.effective())
    {
        Ok(c) => assert!(c.validate().is_empty()),
        Err(e) => assert!(e.lines().iter().all(|l| l.contains("kiosk.toml"))),
    }
});
