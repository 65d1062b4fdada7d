//! The GA/T 467 frame codec between a terminal and the SAM of a 二代身份证 reader:
//! command frames, an incremental answer decoder, status words and the text of the
//! read answer (`30 01`).
//!
//! Command: `AA AA AA 96 69`, length (2 bytes BE, counting cmd + para + data + checksum),
//! cmd, para, data, XOR checksum over length..data.
//! Answer: `AA AA AA 96 69`, length (2 bytes BE, counting SW1 SW2 SW3 + data + checksum),
//! SW1 SW2 SW3, data, XOR checksum over length..data.

use std::fmt;

use chrono::NaiveDate;
use civic_contract::identity::{IdNumber, PersonName};

/// The preamble of every frame, both directions.
pub const HEADER: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// The largest length field the decoder accepts. The read answer is 1288 (text and
/// photo); readers that append a fingerprint (`30 10`) send about 2300.
pub const MAX_LEN: usize = 4096;

/// SW3 of a successful operation.
pub const SW3_OK: u8 = 0x90;
/// SW3 of a successful find (寻找证/卡成功).
pub const SW3_FIND_OK: u8 = 0x9F;
/// SW3 of a find that found no card (寻找证/卡失败).
pub const SW3_NO_CARD: u8 = 0x80;
/// SW3 of a failed select (选取证/卡失败).
pub const SW3_SELECT_FAILED: u8 = 0x81;
/// SW3 of a failed read (读证/卡操作失败).
pub const SW3_READ_FAILED: u8 = 0x41;

/// A command to the SAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `20 01`: find a card in the field.
    Find,
    /// `20 02`: select the card found.
    Select,
    /// `30 01`: read the text and the photo.
    ReadTextPhoto,
}

impl Command {
    /// The command and parameter bytes.
    pub fn code(self) -> [u8; 2] {
        match self {
            Command::Find => [0x20, 0x01],
            Command::Select => [0x20, 0x02],
            Command::ReadTextPhoto => [0x30, 0x01],
        }
    }

    /// A name for technicians' messages, with the bytes.
    pub fn name(self) -> &'static str {
        match self {
            Command::Find => "find card (20 01)",
            Command::Select => "select card (20 02)",
            Command::ReadTextPhoto => "read text and photo (30 01)",
        }
    }

    /// The complete frame of this command (no data).
    pub fn frame(self) -> Vec<u8> {
        let [cmd, para] = self.code();
        encode_command(cmd, para, &[])
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// XOR of all bytes.
pub fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// A command frame with data. `None` if the data is too long for the length field.
pub fn try_encode_command(cmd: u8, para: u8, data: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(data.len().checked_add(3)?).ok()?;
    let mut f = Vec::with_capacity(HEADER.len() + 2 + usize::from(len));
    f.extend_from_slice(&HEADER);
    f.extend_from_slice(&len.to_be_bytes());
    f.push(cmd);
    f.push(para);
    f.extend_from_slice(data);
    let sum = xor(&f[HEADER.len()..]);
    f.push(sum);
    Some(f)
}

/// A command frame whose data is short (every command this crate sends has none).
/// Data longer than the length field allows is cut to fit rather than panicking.
pub fn encode_command(cmd: u8, para: u8, data: &[u8]) -> Vec<u8> {
    let max = usize::from(u16::MAX) - 3;
    let data = data.get(..max).unwrap_or(data);
    try_encode_command(cmd, para, data).unwrap_or_default()
}

/// What SW3 means, in English for technicians (GA/T 467 status codes). "No content for
/// this item" is `91`; `40` is an unrecognised card type.
pub fn sw3_meaning(sw3: u8) -> &'static str {
    match sw3 {
        0x90 => "success",
        0x91 => "the card has no content for this item",
        0x9F => "card found",
        0x10 => "the SAM received a frame with a wrong checksum",
        0x11 => "the SAM received a frame with a wrong length",
        0x21 => "the SAM received a wrong command",
        0x23 => "operation not authorised",
        0x24 => "unrecognised error or command",
        0x31 => "the card failed to authenticate the SAM",
        0x32 => "the SAM failed to authenticate the card",
        0x33 => "information verification failed",
        0x40 => "unrecognised card type",
        0x41 => "reading the card failed",
        0x47 => "getting a random number failed",
        0x60 => "SAM self-check failed",
        0x66 => "SAM not authorised",
        0x80 => "no card found",
        0x81 => "selecting the card failed",
        _ => "unknown status",
    }
}

/// One decoded answer frame. `Debug` shows the status and the data length only (the
/// data of a read answer is a person's identity), and the data is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Answer {
    pub sw: [u8; 3],
    pub data: Vec<u8>,
}

impl Answer {
    pub fn sw3(&self) -> u8 {
        self.sw[2]
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Answer {{ sw: {:02X} {:02X} {:02X} ({}), data: {} bytes }}",
            self.sw[0],
            self.sw[1],
            self.sw[2],
            sw3_meaning(self.sw[2]),
            self.data.len()
        )
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.data.fill(0);
    }
}

/// Why bytes did not make an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("answer checksum is {got:#04x}, the bytes give {expected:#04x}")]
    Checksum { expected: u8, got: u8 },
    #[error("answer length field {0} is impossible (4..={MAX_LEN})")]
    BadLength(usize),
}

/// An incremental answer decoder: push bytes as they arrive, then take answers with
/// [`Decoder::next_answer`] until it gives `None`. Garbage before a header is skipped; a
/// frame with an impossible length is reported and the search resumes one byte later;
/// a frame with a wrong checksum is reported and skipped whole.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything pushed so far (stale input before a new command).
    pub fn reset(&mut self) {
        self.buf.fill(0);
        self.buf.clear();
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete answer, an error for a broken frame, or `None` when more bytes
    /// are needed.
    pub fn next_answer(&mut self) -> Option<Result<Answer, DecodeError>> {
        let start = self.buf.windows(HEADER.len()).position(|w| w == HEADER);
        let Some(start) = start else {
            // Keep a tail that may be the beginning of a header.
            let keep = self.buf.len().min(HEADER.len() - 1);
            let cut = self.buf.len() - keep;
            self.buf.drain(..cut);
            return None;
        };
        self.buf.drain(..start);
        let len_at = HEADER.len();
        let len_bytes = self.buf.get(len_at..len_at + 2)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if !(4..=MAX_LEN).contains(&len) {
            self.buf.drain(..1);
            return Some(Err(DecodeError::BadLength(len)));
        }
        let total = len_at + 2 + len;
        if self.buf.len() < total {
            return None;
        }
        let frame = self.buf.get(..total)?;
        let expected = xor(&frame[len_at..total - 1]);
        let got = frame[total - 1];
        let result = if expected == got {
            let body = &frame[len_at + 2..total - 1];
            Ok(Answer {
                sw: [body[0], body[1], body[2]],
                data: body[3..].to_vec(),
            })
        } else {
            Err(DecodeError::Checksum { expected, got })
        };
        self.buf[..total].fill(0);
        self.buf.drain(..total);
        Some(result)
    }
}

/// GB/T 2261.1 sex code on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `0`
    Unknown,
    /// `1`
    Male,
    /// `2`
    Female,
    /// `9`
    Unspecified,
}

/// The end of a card's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid through this day.
    Until(NaiveDate),
    /// `长期`: no end.
    LongTerm,
}

/// What the terminal keeps of a card: no address, no issuing authority, no photo.
/// `Debug` shows the masked name and number only.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCard {
    pub name: PersonName,
    pub number: IdNumber,
    pub sex: Sex,
    pub birth: NaiveDate,
    pub valid_from: NaiveDate,
    pub valid_until: Validity,
}

impl IdCard {
    /// Whether the card has expired on `today` (it is valid through its last day).
    pub fn expired(&self, today: NaiveDate) -> bool {
        match self.valid_until {
            Validity::Until(d) => today > d,
            Validity::LongTerm => false,
        }
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdCard")
            .field("name", &self.name.masked())
            .field("number", &self.number.masked())
            .field("sex", &self.sex)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

/// Why the read answer's text is unusable. The message names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

/// Byte length of the text block.
pub const TEXT_LEN: usize = 256;
/// Byte length of the photo block (WLT).
pub const PHOTO_LEN: usize = 1024;

// Field byte ranges in the text block (UCS-2LE, space padded).
const NAME: (usize, usize) = (0, 30);
const SEX: (usize, usize) = (30, 32);
// nation 32..36, address 52..122, authority 158..188, reserved 220..256: not kept.
const BIRTH: (usize, usize) = (36, 52);
const NUMBER: (usize, usize) = (122, 158);
const VALID_FROM: (usize, usize) = (188, 204);
const VALID_UNTIL: (usize, usize) = (204, 220);

/// Parses the data of a read (`30 01`) answer: text length, photo length, text, photo.
/// The photo is not decoded nor kept: only its length is checked.
pub fn parse_read_data(data: &[u8]) -> Result<IdCard, TextError> {
    let err = |s: &str| TextError(s.to_string());
    let head = data
        .get(..4)
        .ok_or_else(|| err("read answer shorter than its 4 length bytes"))?;
    let text_len = usize::from(u16::from_be_bytes([head[0], head[1]]));
    let photo_len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if text_len < TEXT_LEN {
        return Err(TextError(format!(
            "read answer text length is {text_len}, expected {TEXT_LEN}"
        )));
    }
    if data.len() < 4 + text_len + photo_len {
        return Err(TextError(format!(
            "read answer has {} data bytes, its length fields announce {}",
            data.len(),
            4 + text_len + photo_len
        )));
    }
    parse_text(&data[4..4 + TEXT_LEN])
}

fn field(text: &[u8], (from, to): (usize, usize), name: &str) -> Result<String, TextError> {
    let bytes = text
        .get(from..to)
        .ok_or_else(|| TextError(format!("text block too short for the {name} field")))?;
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| TextError(format!("{name} field is not valid UCS-2 text")))?;
    Ok(
        s.trim_matches(|c: char| c == ' ' || c == '\0' || c == '\u{3000}')
            .to_string(),
    )
}

fn date(s: &str, name: &str) -> Result<NaiveDate, TextError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TextError(format!("{name} field is not a date YYYYMMDD")));
    }
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .map_err(|_| TextError(format!("{name} field is not an existing date")))
}

/// Parses the 256-byte text block.
pub fn parse_text(text: &[u8]) -> Result<IdCard, TextError> {
    if text.len() < TEXT_LEN {
        return Err(TextError(format!(
            "text block has {} bytes, expected {TEXT_LEN}",
            text.len()
        )));
    }
    let name = field(text, NAME, "name")?;
    if name.is_empty() {
        return Err(TextError("name field is empty".to_string()));
    }
    let sex = match field(text, SEX, "sex")?.as_str() {
        "0" => Sex::Unknown,
        "1" => Sex::Male,
        "2" => Sex::Female,
        "9" => Sex::Unspecified,
        _ => return Err(TextError("sex field is not 0, 1, 2 or 9".to_string())),
    };
    let birth = date(&field(text, BIRTH, "birth date")?, "birth date")?;
    let number = IdNumber::parse(&field(text, NUMBER, "ID number")?)
        .map_err(|e| TextError(format!("ID number field: {e}")))?;
    let valid_from = date(&field(text, VALID_FROM, "valid-from")?, "valid-from")?;
    let until = field(text, VALID_UNTIL, "valid-until")?;
    let valid_until = if until == "长期" {
        Validity::LongTerm
    } else {
        Validity::Until(date(&until, "valid-until")?)
    };
    Ok(IdCard {
        name: PersonName::new(name),
        number,
        sex,
        birth,
        valid_from,
        valid_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_command_frames() {
        assert_eq!(
            Command::Find.frame(),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22]
        );
        assert_eq!(
            Command::Select.frame(),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x02, 0x21]
        );
        assert_eq!(
            Command::ReadTextPhoto.frame(),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x01, 0x32]
        );
    }

    #[test]
    fn command_with_data_counts_and_sums_it() {
        let f = encode_command(0x12, 0xFF, &[0x01, 0x02]);
        assert_eq!(
            f,
            [
                0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x05, 0x12, 0xFF, 0x01, 0x02, 0xEB
            ]
        );
        assert_eq!(xor(&f[5..]), 0);
    }

    // Find success: length 00 04, SW 00 00 9F, checksum 00^04^00^00^9F = 9B.
    const FIND_OK: [u8; 11] = [
        0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x9F, 0x9B,
    ];

    #[test]
    fn decodes_a_literal_answer() {
        let mut d = Decoder::new();
        d.push(&FIND_OK);
        let a = d.next_answer().unwrap().unwrap();
        assert_eq!(a.sw, [0x00, 0x00, 0x9F]);
        assert!(a.data.is_empty());
        assert!(d.next_answer().is_none());
    }

    #[test]
    fn split_reads_and_garbage_before_the_header() {
        let mut d = Decoder::new();
        let mut bytes = vec![0x00, 0xAA, 0x13, 0xAA, 0xAA];
        bytes.extend_from_slice(&FIND_OK);
        // No-card answer right behind: 00 04 00 00 80, checksum 84.
        bytes.extend_from_slice(&[
            0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84,
        ]);
        let mut answers = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(r) = d.next_answer() {
                answers.push(r.unwrap().sw3());
            }
        }
        assert_eq!(answers, [0x9F, 0x80]);
    }

    #[test]
    fn wrong_checksum_is_reported_then_next_frame_decodes() {
        let mut d = Decoder::new();
        let mut bad = FIND_OK;
        bad[10] = 0x9C;
        d.push(&bad);
        d.push(&FIND_OK);
        assert_eq!(
            d.next_answer(),
            Some(Err(DecodeError::Checksum {
                expected: 0x9B,
                got: 0x9C
            }))
        );
        assert_eq!(d.next_answer().unwrap().unwrap().sw3(), 0x9F);
    }

    #[test]
    fn impossible_length_resynchronises() {
        let mut d = Decoder::new();
        d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF]);
        d.push(&FIND_OK);
        assert_eq!(d.next_answer(), Some(Err(DecodeError::BadLength(0xFFFF))));
        assert_eq!(d.next_answer().unwrap().unwrap().sw3(), 0x9F);
        let mut d = Decoder::new();
        d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x02, 0x00, 0x00]);
        assert_eq!(d.next_answer(), Some(Err(DecodeError::BadLength(2))));
    }

    /// UCS-2LE, space padded to `bytes`.
    fn ucs2(s: &str, bytes: usize) -> Vec<u8> {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        while v.len() < bytes {
            v.extend_from_slice(&[0x20, 0x00]);
        }
        assert_eq!(v.len(), bytes);
        v
    }

    /// The demo resident's text block, field by field.
    pub(crate) fn demo_text(until: &str) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend(ucs2("王秀英", 30));
        t.extend(ucs2("2", 2));
        t.extend(ucs2("01", 4));
        t.extend(ucs2("19500101", 16));
        t.extend(ucs2("上海市徐汇区漕溪北路1号", 70));
        t.extend(ucs2("310105195001011231", 36));
        t.extend(ucs2("上海市公安局徐汇分局", 30));
        t.extend(ucs2("20150101", 16));
        t.extend(ucs2(until, 16));
        t.extend(ucs2("", 36));
        assert_eq!(t.len(), 256);
        t
    }

    /// A complete read answer frame: 00 00 90, 01 00, 04 00, text, 1024 photo bytes.
    fn demo_answer(until: &str) -> Vec<u8> {
        let mut f = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90];
        f.extend_from_slice(&[0x01, 0x00, 0x04, 0x00]);
        f.extend(demo_text(until));
        f.extend(std::iter::repeat_n(0x5Au8, 1024));
        let sum = f[5..].iter().fold(0u8, |a, b| a ^ b);
        f.push(sum);
        assert_eq!(f.len(), 7 + 1288);
        f
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_the_demo_read_answer() {
        let mut d = Decoder::new();
        let frame = demo_answer("20350101");
        d.push(&frame[..600]);
        assert!(d.next_answer().is_none());
        d.push(&frame[600..]);
        let a = d.next_answer().unwrap().unwrap();
        assert_eq!(a.sw3(), 0x90);
        assert_eq!(a.data.len(), 1284);
        let card = parse_read_data(&a.data).unwrap();
        assert_eq!(card.name.expose_name(), "王秀英");
        assert_eq!(card.number.expose_id_number(), "310105195001011231");
        assert_eq!(card.sex, Sex::Female);
        assert_eq!(card.birth, ymd(1950, 1, 1));
        assert_eq!(card.valid_from, ymd(2015, 1, 1));
        assert_eq!(card.valid_until, Validity::Until(ymd(2035, 1, 1)));
        assert!(!card.expired(ymd(2035, 1, 1)));
        assert!(card.expired(ymd(2035, 1, 2)));
        let dbg = format!("{card:?}");
        assert!(!dbg.contains("王秀英"), "{dbg}");
        assert!(!dbg.contains("310105195001011231"), "{dbg}");
        assert!(dbg.contains("王*英"), "{dbg}");
        assert!(format!("{a:?}").contains("1284 bytes"));
    }

    #[test]
    fn long_term_card_never_expires() {
        let mut d = Decoder::new();
        d.push(&demo_answer("长期"));
        let a = d.next_answer().unwrap().unwrap();
        let card = parse_read_data(&a.data).unwrap();
        assert_eq!(card.valid_until, Validity::LongTerm);
        assert!(!card.expired(ymd(2999, 12, 31)));
    }

    #[test]
    fn malformed_text_is_an_error() {
        // Bad check character.
        let mut t = demo_text("20350101");
        t[122 + 34] = b'2';
        let e = parse_text(&t).unwrap_err();
        assert!(e.0.starts_with("ID number field"), "{e}");
        assert!(!e.0.contains("31010519500101"), "{e}");
        // Unpaired surrogate in the name.
        let mut t = demo_text("20350101");
        t[0] = 0x00;
        t[1] = 0xD8;
        assert!(parse_text(&t).unwrap_err().0.contains("name"));
        // Impossible date.
        let mut t = demo_text("20350101");
        t[188..204].copy_from_slice(&ucs2("20150231", 16));
        assert!(parse_text(&t).unwrap_err().0.contains("valid-from"));
        let mut t = demo_text("20350101");
        t[204..220].copy_from_slice(&ucs2("永久", 16));
        assert!(parse_text(&t).unwrap_err().0.contains("valid-until"));
        // Short data and short lengths.
        assert!(parse_read_data(&[0x01, 0x00, 0x04, 0x00, 0x20]).is_err());
        assert!(parse_read_data(&[0x00, 0x10, 0x00, 0x00]).is_err());
        assert!(parse_read_data(&[]).is_err());
    }

    #[test]
    fn status_meanings() {
        assert_eq!(sw3_meaning(0x80), "no card found");
        assert_eq!(sw3_meaning(0x66), "SAM not authorised");
        assert_eq!(sw3_meaning(0x01), "unknown status");
    }

    proptest! {
        #[test]
        fn decoder_never_panics(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..32)) {
            let mut d = Decoder::new();
            for c in chunks {
                d.push(&c);
                while let Some(r) = d.next_answer() {
                    if let Ok(a) = r {
                        let _ = parse_read_data(&a.data);
                    }
                }
            }
        }

        #[test]
        fn decoder_never_panics_near_headers(body in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let mut d = Decoder::new();
            d.push(&HEADER);
            d.push(&body);
            while let Some(r) = d.next_answer() {
                if let Ok(a) = r {
                    let _ = parse_read_data(&a.data);
                }
            }
        }

        #[test]
        fn text_parser_never_panics(text in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_text(&text);
        }
    }
}
