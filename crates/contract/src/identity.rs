//! Resident identity values (ID number, name, phone): GB 11643 validation and privacy by type.
//!
//! `Debug` and `Display` of every type here print a masked form, so a value that slips
//! into a log line or an error message never reveals the person. The clear value is only
//! reachable through a method whose name says so (`expose_*`). Serde writes the clear
//! value, because the back-office contract needs it on the wire.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a string is not a valid resident ID number (居民身份证号码, GB 11643-1999).
/// Each variant has its own message for the resident (Chinese first, then English).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号码应为18位，您输入了{0}位 / An ID number has 18 characters; you entered {0}")]
    WrongLength(usize),
    #[error(
        "身份证号码前17位只能是数字，最后一位是数字或X / The first 17 characters must be digits, the last a digit or X"
    )]
    BadCharacter,
    #[error("身份证号码中的出生日期不存在 / The birth date in the ID number does not exist")]
    ImpossibleDate,
    #[error("身份证号码中的出生日期晚于今天 / The birth date in the ID number is in the future")]
    FutureDate,
    #[error(
        "身份证号码校验位不对，请核对后重新输入 / The check digit does not match; please check the number"
    )]
    BadChecksum,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The GB 11643-1999 check character for the first 17 digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in first17.iter().zip(WEIGHTS) {
        if !b.is_ascii_digit() {
            return None;
        }
        sum += u32::from(b - b'0') * w;
    }
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// A validated 18-character resident ID number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses and validates against `today` (the birth date may not be later).
    /// Spaces are ignored and a lower-case x is accepted.
    pub fn parse_on(input: &str, today: NaiveDate) -> Result<Self, IdNumberError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let n = cleaned.chars().count();
        if n != 18 {
            return Err(IdNumberError::WrongLength(n));
        }
        let bytes = cleaned.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(IdNumberError::BadCharacter);
        }
        let birth = birth_date_of(bytes).ok_or(IdNumberError::ImpossibleDate)?;
        if birth.year() < 1880 {
            return Err(IdNumberError::ImpossibleDate);
        }
        if birth > today {
            return Err(IdNumberError::FutureDate);
        }
        if check_char(&bytes[..17]) != Some(bytes[17]) {
            return Err(IdNumberError::BadChecksum);
        }
        Ok(Self(cleaned))
    }

    /// Parses and validates against the local date.
    pub fn parse(input: &str) -> Result<Self, IdNumberError> {
        Self::parse_on(input, chrono::Local::now().date_naive())
    }

    /// The birth date encoded in positions 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        // Validated at construction, so the date exists.
        birth_date_of(self.0.as_bytes()).unwrap_or_default()
    }

    /// Full years of age on `on`.
    pub fn age_on(&self, on: NaiveDate) -> u32 {
        let b = self.birth_date();
        let mut age = on.year() - b.year();
        if (on.month(), on.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }

    /// The masked form `310***********1234` used everywhere a person may see it.
    pub fn masked(&self) -> String {
        format!("{}***********{}", &self.0[..3], &self.0[14..])
    }

    /// The clear value, for the back-office wire and the hashing of audit keys only.
    pub fn expose_id_number(&self) -> &str {
        &self.0
    }
}

fn birth_date_of(bytes: &[u8]) -> Option<NaiveDate> {
    let s = std::str::from_utf8(bytes.get(6..14)?).ok()?;
    let y: i32 = s[0..4].parse().ok()?;
    let m: u32 = s[4..6].parse().ok()?;
    let d: u32 = s[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}
impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}
impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Masks a name: the first character, then `*` for the rest, with the last
/// character kept for names of three or more (`王*英`, `李*`, `欧**锋`).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut s = String::new();
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 2));
            s.push(chars[n - 1]);
            s
        }
    }
}

/// A person's name. Masked in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into().trim().to_string())
    }
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
    /// The clear value, for the back office's own registry only.
    pub fn expose_name(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}
impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}
impl Serialize for PersonName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for PersonName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(String::deserialize(d)?))
    }
}

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error("手机号码应为11位数字，以1开头 / A mobile number has 11 digits and starts with 1")]
    Invalid,
}

/// An 11-digit mainland mobile number. Masked in `Debug` and `Display` (`138****5678`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let ok = digits.len() == 11
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.starts_with('1')
            && matches!(digits.as_bytes()[1], b'3'..=b'9');
        if ok {
            Ok(Self(digits))
        } else {
            Err(PhoneNumberError::Invalid)
        }
    }
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
    /// The clear value, for the rating upload to the back office only.
    pub fn expose_phone_number(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}
impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}
impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn with_check(first17: &str) -> String {
        let c = check_char(first17.as_bytes()).unwrap() as char;
        format!("{first17}{c}")
    }

    #[test]
    fn valid_number_parses_and_masks() {
        let s = with_check("31010519500101123");
        let id = IdNumber::parse_on(&s, today()).unwrap();
        assert_eq!(id.masked(), format!("310***********{}", &s[14..]));
        assert_eq!(format!("{id}"), id.masked());
        assert!(!format!("{id:?}").contains(&s));
        assert_eq!(id.age_on(today()), 76);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
        );
    }

    #[test]
    fn check_char_x_is_accepted_in_either_case() {
        // Find a 17-digit prefix whose check character is X.
        let prefix = (100..999)
            .map(|seq| format!("31010519800101{seq:03}"))
            .find(|p| check_char(p.as_bytes()) == Some(b'X'))
            .unwrap();
        assert!(IdNumber::parse_on(&format!("{prefix}X"), today()).is_ok());
        let lower = IdNumber::parse_on(&format!("{prefix}x"), today()).unwrap();
        assert!(lower.expose_id_number().ends_with('X'));
    }

    #[test]
    fn each_error_has_its_own_message() {
        let good = with_check("31010519500101123");
        let mut bad_sum = good.clone();
        let last = if good.ends_with('1') { "2" } else { "1" };
        bad_sum.replace_range(17..18, last);
        let cases = [
            ("3101051950", IdNumberError::WrongLength(10)),
            ("31010519500101123AB", IdNumberError::WrongLength(19)),
            ("31010519500A011231", IdNumberError::BadCharacter),
            ("3101051950010112Y1", IdNumberError::BadCharacter),
            (
                &*with_check("31010519500230123"),
                IdNumberError::ImpossibleDate,
            ),
            (
                &*with_check("31010519501301123"),
                IdNumberError::ImpossibleDate,
            ),
            (&*with_check("31010520300101123"), IdNumberError::FutureDate),
            (&*bad_sum, IdNumberError::BadChecksum),
        ];
        let mut messages = std::collections::HashSet::new();
        for (input, want) in cases {
            let got = IdNumber::parse_on(input, today()).unwrap_err();
            assert_eq!(got, want, "{input}");
            messages.insert(std::mem::discriminant(&got));
        }
        assert_eq!(messages.len(), 5);
    }

    #[test]
    fn age_counts_birthdays() {
        let id = IdNumber::parse_on(&with_check("31010519661126123"), today()).unwrap();
        assert_eq!(id.age_on(today()), 60);
        let id = IdNumber::parse_on(&with_check("31010519661127123"), today()).unwrap();
        assert_eq!(id.age_on(today()), 59);
    }

    #[test]
    fn names_and_phones_mask() {
        assert_eq!(mask_name("王秀英"), "王*英");
        assert_eq!(mask_name("李堃"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        let p = PhoneNumber::parse("138 1234 5678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert_eq!(format!("{p:?}"), "PhoneNumber(138****5678)");
        assert!(PhoneNumber::parse("1381234567").is_err());
        assert!(PhoneNumber::parse("23812345678").is_err());
        assert!(PhoneNumber::parse("1381234567a").is_err());
    }

    #[test]
    fn serde_keeps_the_clear_value_on_the_wire() {
        let s = with_check("31010519500101123");
        let id: IdNumber = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        assert!(serde_json::from_str::<IdNumber>("\"123\"").is_err());
    }
}
