//! Who the resident at the terminal is, and how the terminal knows: their ID card on the
//! reader, a code they scanned, or a number typed on the keypad (`identity.keypad`).
//!
//! A [`Resident`] lives only in the session value: it is never logged in clear (its
//! `Debug` is masked), never written to the store, never in the heartbeat, and it goes
//! when the session is dropped.

use std::fmt;

use chrono::NaiveDate;

use crate::config::Keypad;
use crate::identity::{IdNumber, PersonName};

/// How the terminal learnt who the resident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// Their 二代身份证, read by the reader.
    Card,
    /// A 随申码 / 电子身份证 code, resolved by the back office.
    Code,
    /// A number typed on the keypad (the touch screen's, or the CLI's `--id`).
    Typed,
}

impl IdSource {
    /// Proven by a document the resident holds (card or code), not just a number known.
    pub fn proven(self) -> bool {
        matches!(self, IdSource::Card | IdSource::Code)
    }
}

/// A resident the terminal identified by their card or code.
#[derive(Clone, PartialEq, Eq)]
pub struct Resident {
    pub id: IdNumber,
    /// The name read from the card (a code's answer only has it masked).
    pub name: Option<PersonName>,
    /// `王*英`: what the screen shows.
    pub masked_name: String,
    pub source: IdSource,
    /// The card's last valid day (`None`: 长期, or a code).
    pub valid_until: Option<NaiveDate>,
}

impl fmt::Debug for Resident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resident")
            .field("id", &self.id)
            .field("masked_name", &self.masked_name)
            .field("source", &self.source)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// Why a typed number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TypedRefusal {
    /// `identity.keypad = "staff"` and no 帮办 staff member signed in.
    #[error(
        "identity.keypad is \"staff\": a typed ID number needs a 帮办 staff member signed in with their staff PIN (or the resident's ID card on the reader, or their scanned code)"
    )]
    StaffRequired,
    /// 补办 / 挂失 by a typed number: only with staff, whatever `identity.keypad` says.
    #[error(
        "补办 and 挂失 with a typed ID number need a 帮办 staff member signed in with their staff PIN (or the resident's ID card on the reader, or their scanned code)"
    )]
    StaffRequiredForReissue,
    /// `identity.keypad = "off"`.
    #[error(
        "identity.keypad is \"off\": typed ID numbers are not accepted here; read the resident's ID card or scan their code"
    )]
    KeypadOff,
}

/// The keypad rule, in one place for the touch screen and the CLI: may a typed number be
/// used, for a new card (`change == false`) or for 补办 / 挂失 (`change == true`)?
pub fn typed_allowed(keypad: Keypad, change: bool, staff: bool) -> Result<(), TypedRefusal> {
    match keypad {
        Keypad::Off => Err(TypedRefusal::KeypadOff),
        _ if staff => Ok(()),
        Keypad::Staff => Err(TypedRefusal::StaffRequired),
        Keypad::Open if change => Err(TypedRefusal::StaffRequiredForReissue),
        Keypad::Open => Ok(()),
    }
}

/// The same rule for any source: a card or a code is always enough.
pub fn allowed(
    source: IdSource,
    keypad: Keypad,
    change: bool,
    staff: bool,
) -> Result<(), TypedRefusal> {
    if source.proven() {
        Ok(())
    } else {
        typed_allowed(keypad, change, staff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keypad_rule_table() {
        use Keypad::*;
        use TypedRefusal::*;
        let cases = [
            // keypad, change, staff → result
            (Open, false, false, Ok(())),
            (Open, true, false, Err(StaffRequiredForReissue)),
            (Open, true, true, Ok(())),
            (Staff, false, false, Err(StaffRequired)),
            (Staff, false, true, Ok(())),
            (Staff, true, true, Ok(())),
            (Off, false, true, Err(KeypadOff)),
            (Off, true, false, Err(KeypadOff)),
        ];
        for (k, change, staff, want) in cases {
            assert_eq!(
                typed_allowed(k, change, staff),
                want,
                "{k:?} {change} {staff}"
            );
        }
        for src in [IdSource::Card, IdSource::Code] {
            assert_eq!(allowed(src, Off, true, false), Ok(()));
        }
        assert_eq!(
            allowed(IdSource::Typed, Staff, false, false),
            Err(StaffRequired)
        );
    }

    #[test]
    fn debug_shows_no_name_or_number() {
        let r = Resident {
            id: IdNumber::parse("310105195001011231").unwrap(),
            name: Some(PersonName::new("王秀英")),
            masked_name: "王*英".into(),
            source: IdSource::Card,
            valid_until: None,
        };
        let d = format!("{r:?}");
        assert!(
            !d.contains("310105195001011231") && !d.contains("王秀英"),
            "{d}"
        );
    }
}
