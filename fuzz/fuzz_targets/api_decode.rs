//! Back-office answers: any bytes decode into the contract's types or are refused.
#![no_main]
use civic_kiosk_core::api::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<RatingBatchResult>(data);
    let _ = serde_json::from_slice::<IssuedCode>(data);
    let _ = serde_json::from_slice::<ResidentLookup>(data);
    let _ = serde_json::from_slice::<RemoteConfig>(data);
    let _ = serde_json::from_slice::<HeartbeatAck>(data);
    if let Ok(c) = serde_json::from_slice::<Catalogue>(data) {
        // A decoded catalogue must index and answer without panicking.
        let catalog = civic_kiosk_core::catalog::Catalog::new(c);
        let _ = catalog.answer("jzz", 5);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // A scanned or answered CK1 code: verified against a key, or refused.
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let _ = civic_kiosk_core::api::offline_code::verify(text, &key);
    }
});
