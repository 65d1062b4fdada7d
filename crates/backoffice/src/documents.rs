//! Document ids for issued certificates; their verification codes (`DV1`) are signed and
//! checked with [`civic_contract::api::document_code`], which the terminal uses too.

use civic_contract::api::document_code::{ALPHABET, ID_CHARS};
pub use civic_contract::api::document_code::{CodeError, PREFIX, is_document_id, sign, verify};

/// A fresh document id (the operating system's randomness through `rand`), opaque and
/// unguessable.
pub fn new_document_id() -> String {
    let bytes: [u8; 10] = rand::random();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let mut s = String::from("D");
    for i in (0..ID_CHARS).rev() {
        s.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_document_ids_and_differ() {
        let id = new_document_id();
        assert!(is_document_id(&id), "{id}");
        assert_ne!(id, new_document_id());
    }
}
