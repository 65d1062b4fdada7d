//! The ID validator answers any input; an accepted number has a right check character and
//! never shows itself in full when printed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = civic_kiosk_core::identity::IdNumber::parse(text) {
        let clear = id.expose_id_number();
        assert_eq!(clear.len(), 18);
        let check = civic_kiosk_core::identity::check_char(&clear.as_bytes()[..17]).unwrap();
        assert_eq!(clear.as_bytes()[17], check);
        assert!(!format!("{id} {id:?}").contains(clear));
    }
});
