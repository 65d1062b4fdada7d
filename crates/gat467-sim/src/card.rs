//! The card: its text fields, the 256-byte UCS-2LE text block, and the GB 11643 check
//! character of the citizen identification number.

/// Width in bytes of each text field, in the order they stand in the text block.
pub const FIELD_WIDTHS: [(&str, usize); 10] = [
    ("name", 30),
    ("sex", 2),
    ("nation", 4),
    ("birth", 16),
    ("address", 70),
    ("number", 36),
    ("authority", 30),
    ("valid_from", 16),
    ("valid_until", 16),
    ("reserved", 36),
];

/// Length in bytes of the text block of a read answer.
pub const TEXT_LEN: usize = 256;

/// The text fields of a 第二代居民身份证 as the card holds them. Any strings may be put
/// here, also wrong ones (a bad check character, an overlong name): the simulator serves
/// what it is given, so the terminal's validation can be tested. [`SimCard::check`] says
/// what a real card could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCard {
    /// 姓名, up to 15 characters.
    pub name: String,
    /// 性别 code: `1` male, `2` female (GB/T 2261.1).
    pub sex: String,
    /// 民族 code, two digits: `01` 汉 (GB/T 3304).
    pub nation: String,
    /// 出生 date, `YYYYMMDD`.
    pub birth: String,
    /// 住址, up to 35 characters.
    pub address: String,
    /// 公民身份号码, 18 characters (GB 11643).
    pub number: String,
    /// 签发机关, up to 15 characters.
    pub authority: String,
    /// Start of the validity period, `YYYYMMDD`.
    pub valid_from: String,
    /// End of the validity period, `YYYYMMDD` or `长期`.
    pub valid_until: String,
    /// The reserved tail of the text block (empty on issued cards).
    pub reserved: String,
}

/// Something a real card could not hold, found by [`SimCard::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The field is longer than its width on the card.
    #[error("field {field} is {chars} characters, the card holds at most {max}")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: usize,
    },
    /// UCS-2 cannot hold a character beyond U+FFFF.
    #[error("field {field} has {ch:?} (U+{code:04X}), beyond the UCS-2 range of the card")]
    NotUcs2 {
        field: &'static str,
        ch: char,
        code: u32,
    },
    /// The number is not 17 digits and a check character.
    #[error("number {0:?} is not 17 digits and a check character")]
    NumberForm(String),
    /// The number's check character is not the one GB 11643 computes.
    #[error("number {number:?} ends in {got:?}, GB 11643 computes {expected:?}")]
    CheckChar {
        number: String,
        got: char,
        expected: char,
    },
}

impl SimCard {
    /// 王秀英, female, 汉, born 1950-01-01, living at 上海市长宁区长宁路1号, card issued
    /// by 上海市公安局长宁分局 and valid from 2015-01-01 to 2035-01-01.
    pub fn demo() -> SimCard {
        SimCard {
            name: "王秀英".into(),
            sex: "2".into(),
            nation: "01".into(),
            birth: "19500101".into(),
            address: "上海市长宁区长宁路1号".into(),
            number: "310105195001011231".into(),
            authority: "上海市公安局长宁分局".into(),
            valid_from: "20150101".into(),
            valid_until: "20350101".into(),
            reserved: String::new(),
        }
    }

    /// The demo resident's previous card: valid from 2005-01-01 to 2025-01-01.
    pub fn expired() -> SimCard {
        SimCard {
            valid_from: "20050101".into(),
            valid_until: "20250101".into(),
            ..SimCard::demo()
        }
    }

    /// The demo resident with a long-term card (valid until `长期`, from 2015-01-01).
    pub fn long_term() -> SimCard {
        SimCard {
            valid_until: "长期".into(),
            ..SimCard::demo()
        }
    }

    /// The fields with their names, in text block order.
    pub fn fields(&self) -> [(&'static str, &str); 10] {
        [
            ("name", &self.name),
            ("sex", &self.sex),
            ("nation", &self.nation),
            ("birth", &self.birth),
            ("address", &self.address),
            ("number", &self.number),
            ("authority", &self.authority),
            ("valid_from", &self.valid_from),
            ("valid_until", &self.valid_until),
            ("reserved", &self.reserved),
        ]
    }

    /// Every way this card differs from one a real card could be: overlong fields,
    /// characters beyond UCS-2, a malformed number or a wrong check character.
    pub fn check(&self) -> Vec<CardError> {
        let mut errors = Vec::new();
        for ((field, value), (_, width)) in self.fields().into_iter().zip(FIELD_WIDTHS) {
            let chars = value.chars().count();
            if chars > width / 2 {
                errors.push(CardError::TooLong {
                    field,
                    chars,
                    max: width / 2,
                });
            }
            if let Some(ch) = value.chars().find(|c| u32::from(*c) > 0xFFFF) {
                errors.push(CardError::NotUcs2 {
                    field,
                    ch,
                    code: u32::from(ch),
                });
            }
        }
        let number: Vec<char> = self.number.chars().collect();
        match number.split_last() {
            Some((&last, first)) if number.len() == 18 => {
                let first: String = first.iter().collect();
                match gb11643_check_char(&first) {
                    Some(expected) if expected == last => {}
                    Some(expected) => errors.push(CardError::CheckChar {
                        number: self.number.clone(),
                        got: last,
                        expected,
                    }),
                    None => errors.push(CardError::NumberForm(self.number.clone())),
                }
            }
            _ => errors.push(CardError::NumberForm(self.number.clone())),
        }
        errors
    }
}

/// The GB 11643 check character (`0`–`9` or `X`) of the first 17 digits of a citizen
/// identification number: the weighted sum (weights 2^(17-i) mod 11) mod 11, mapped
/// through `10X98765432`. `None` unless `first17` is exactly 17 ASCII digits.
pub fn gb11643_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let digits: Vec<u32> = first17
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if digits.len() != 17 || !first17.is_ascii() {
        return None;
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    CHECK.get((sum % 11) as usize).copied()
}

/// The 256-byte text block of a read answer: each field in UCS-2 little-endian,
/// space-padded (U+0020) to its width ([`FIELD_WIDTHS`]). A field longer than its width
/// is cut at the width; a character beyond U+FFFF (which UCS-2 cannot hold) is sent as
/// U+FFFD. [`SimCard::check`] reports both.
pub fn encode_text(card: &SimCard) -> [u8; TEXT_LEN] {
    let mut out = [0u8; TEXT_LEN];
    let mut at = 0;
    for ((_, value), (_, width)) in card.fields().into_iter().zip(FIELD_WIDTHS) {
        let units = value
            .chars()
            .map(|c| u16::try_from(u32::from(c)).unwrap_or(0xFFFD))
            .chain(std::iter::repeat(0x0020))
            .take(width / 2);
        for (i, unit) in units.enumerate() {
            let [lo, hi] = unit.to_le_bytes();
            out[at + 2 * i] = lo;
            out[at + 2 * i + 1] = hi;
        }
        at += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    }

    /// The fields' widths add up to the text block.
    #[test]
    fn widths_fill_the_block() {
        assert_eq!(FIELD_WIDTHS.iter().map(|(_, w)| w).sum::<usize>(), TEXT_LEN);
    }

    #[test]
    fn check_char_of_the_demo_number() {
        assert_eq!(gb11643_check_char("31010519500101123"), Some('1'));
        // The standard's own example.
        assert_eq!(gb11643_check_char("11010519491231002"), Some('X'));
        assert_eq!(gb11643_check_char("3101051950010112"), None);
        assert_eq!(gb11643_check_char("3101051950010112a"), None);
        assert_eq!(gb11643_check_char("31010519500101１２"), None);
    }

    #[test]
    fn the_three_cards_are_real_cards() {
        for card in [SimCard::demo(), SimCard::expired(), SimCard::long_term()] {
            assert_eq!(card.check(), vec![], "{card:?}");
        }
        assert_eq!(SimCard::expired().valid_from, "20050101");
        assert_eq!(SimCard::expired().valid_until, "20250101");
        assert_eq!(SimCard::long_term().valid_until, "长期");
    }

    #[test]
    fn check_finds_what_a_card_could_not_hold() {
        let card = SimCard {
            name: "𠀀".repeat(16),
            number: "310105195001011232".into(),
            ..SimCard::demo()
        };
        let errors = card.check();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(matches!(
            errors[0],
            CardError::TooLong {
                field: "name",
                chars: 16,
                max: 15
            }
        ));
        assert!(matches!(
            errors[1],
            CardError::NotUcs2 { field: "name", .. }
        ));
        assert_eq!(
            errors[2].to_string(),
            "number \"310105195001011232\" ends in '2', GB 11643 computes '1'"
        );
        let short = SimCard {
            number: "31010519500101123".into(),
            ..SimCard::demo()
        };
        assert!(matches!(short.check()[..], [CardError::NumberForm(_)]));
    }

    /// Byte by byte: 王 is U+738B, so `8B 73`; the name field is 15 UCS-2 units.
    #[test]
    fn demo_text_block() {
        let text = encode_text(&SimCard::demo());
        assert_eq!(&text[..6], &[0x8B, 0x73, 0xC0, 0x79, 0xF1, 0x82]);
        assert_eq!(decode(&text[0..30]), format!("王秀英{}", " ".repeat(12)));
        assert_eq!(decode(&text[30..32]), "2");
        assert_eq!(decode(&text[32..36]), "01");
        assert_eq!(decode(&text[36..52]), "19500101");
        assert_eq!(
            decode(&text[52..122]),
            format!("上海市长宁区长宁路1号{}", " ".repeat(24))
        );
        assert_eq!(decode(&text[122..158]), "310105195001011231");
        assert_eq!(
            decode(&text[158..188]),
            format!("上海市公安局长宁分局{}", " ".repeat(5))
        );
        assert_eq!(decode(&text[188..204]), "20150101");
        assert_eq!(decode(&text[204..220]), "20350101");
        assert_eq!(decode(&text[220..256]), " ".repeat(18));
        let long = encode_text(&SimCard::long_term());
        assert_eq!(decode(&long[204..220]), format!("长期{}", " ".repeat(6)));
    }

    #[test]
    fn overlong_and_non_ucs2_fields_are_cut_and_replaced() {
        let card = SimCard {
            name: format!("𠀀{}", "王".repeat(20)),
            ..SimCard::demo()
        };
        let text = encode_text(&card);
        assert_eq!(decode(&text[0..30]), format!("\u{FFFD}{}", "王".repeat(14)));
        // The next field is where it always is.
        assert_eq!(decode(&text[30..32]), "2");
    }
}
