//! ESC/POS status: any three answer bytes give a consistent state.
#![no_main]
use civic_kiosk_core::print::escpos::Status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: [u8; 3]| {
    let s = Status::from_bytes(data[0], data[1], data[2]);
    assert_eq!(s.can_print(), !(s.paper_end || s.cover_open || s.error));
    let state = s.state_name();
    assert_eq!(state == "ready", s.technician_detail() == "ready");
});
