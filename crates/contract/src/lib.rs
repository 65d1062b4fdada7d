//! The contract between the terminal and the back office: the wire types of `/api/v1`,
//! CK1 离线码 signing and verifying, the identity value types that mask themselves (ID
//! number, name, phone), and the catalogue's validation. Both sides depend on it; it
//! depends on neither.

pub mod api;
pub mod catalogue;
pub mod identity;
