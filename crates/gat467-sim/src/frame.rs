//! Frames: the answer encoder and the deframer of the host's byte stream.

/// The preamble of every frame, either way.
pub const HEADER: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// The longest length field a command frame may carry. The commands this reader
/// knows carry no data (length 3); a longer field is taken as a corrupt one at once
/// rather than waited for.
pub const MAX_COMMAND_LEN: u16 = 0x0100;

/// SW3 of a success answer (select, read).
pub const SW_OK: u8 = 0x90;
/// SW3 of a successful find.
pub const SW_FOUND: u8 = 0x9F;
/// SW3: no card on the reader.
pub const SW_NO_CARD: u8 = 0x80;
/// SW3: select failed.
pub const SW_SELECT_FAILED: u8 = 0x81;
/// SW3: read failed.
pub const SW_READ_FAILED: u8 = 0x41;
/// SW3: the host's frame had a bad checksum.
pub const SW_BAD_CHECKSUM: u8 = 0x10;
/// SW3: the host's frame had a bad length.
pub const SW_BAD_LENGTH: u8 = 0x11;
/// SW3: unknown command.
pub const SW_UNKNOWN: u8 = 0x21;

/// XOR of the bytes.
pub fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// An answer frame: header, 2-byte big-endian length (status + data + checksum),
/// SW1 SW2 SW3 = `00 00 sw3`, the data, and the XOR of everything from the length
/// bytes on. Data longer than a length field can count is cut to fit.
pub fn answer(sw3: u8, data: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(usize::from(u16::MAX) - 4)];
    let len = u16::try_from(3 + data.len() + 1).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER.len() + 2 + usize::from(len));
    out.extend_from_slice(&HEADER);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0x00, 0x00, sw3]);
    out.extend_from_slice(data);
    out.push(xor(&out[HEADER.len()..]));
    out
}

/// A command frame the host could send: header, length, `cmd para`, data, checksum.
/// For the tests and for technicians; the simulator's own pins are literal bytes.
pub fn command(cmd: u8, para: u8, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(2 + data.len() + 1).unwrap_or(u16::MAX);
    let mut out = HEADER.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[cmd, para]);
    out.extend_from_slice(data);
    out.push(xor(&out[HEADER.len()..]));
    out
}

/// A violation found in what the host sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Bytes that are not part of a frame (before a header, or never followed by one).
    #[error("{} byte(s) outside any frame skipped (no AA AA AA 96 69 header): {}", .0.len(), hex(.0))]
    Garbage(Vec<u8>),
    /// A length field below 3 (a command frame has at least cmd, para and checksum).
    #[error(
        "length field {0:#06x} is below 3 (command, parameter and checksum); frame dropped, answered 0x11"
    )]
    LengthTooShort(u16),
    /// A length field above [`MAX_COMMAND_LEN`].
    #[error(
        "length field {0:#06x} is above {MAX_COMMAND_LEN:#06x}, the longest command frame taken; frame dropped, answered 0x11"
    )]
    LengthTooLong(u16),
    /// Fewer bytes came than the length field announced, and then nothing for a while.
    #[error(
        "frame incomplete: length field {len:#06x} announced {len} byte(s) after it, only {got} came before the line went quiet; answered 0x11"
    )]
    Incomplete { len: u16, got: usize },
    /// The checksum byte is not the XOR from the length bytes on.
    #[error("bad checksum in {}: got {got:#04x}, the XOR of length..data is {expected:#04x}; answered 0x10", hex(.frame))]
    BadChecksum {
        frame: Vec<u8>,
        got: u8,
        expected: u8,
    },
    /// A command this reader does not know.
    #[error("unknown command {cmd:02X} {para:02X} in {}; answered 0x21", hex(.frame))]
    UnknownCommand { cmd: u8, para: u8, frame: Vec<u8> },
    /// A known command with data it does not take.
    #[error(
        "command {cmd:02X} {para:02X} ({name}) takes no data, the frame carried {len} byte(s); answered 0x11"
    )]
    UnexpectedData {
        cmd: u8,
        para: u8,
        name: &'static str,
        len: usize,
    },
}

/// Bytes as `AA BB CC`, the first 32 of them and a count of the rest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02X}")).collect();
    if bytes.len() > 32 {
        s.push(format!("… ({} more)", bytes.len() - 32));
    }
    s.join(" ")
}

/// What the deframer made of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A well-formed frame (header, consistent length, good checksum).
    Command {
        raw: Vec<u8>,
        cmd: u8,
        para: u8,
        data: Vec<u8>,
    },
    /// A frame or part of one that is answered with an error status.
    Bad {
        raw: Vec<u8>,
        error: ProtocolError,
        sw3: u8,
    },
    /// Bytes outside any frame: recorded, not answered.
    Garbage(ProtocolError),
}

/// Cuts the host's byte stream into frames; bytes may come in any pieces.
#[derive(Debug, Default)]
pub(crate) struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    /// Bytes wait for the rest of a frame.
    pub(crate) fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let Some(at) = self.buf.windows(HEADER.len()).position(|w| w == HEADER) else {
                // Keep a tail that may be the start of a header.
                let keep = (1..HEADER.len())
                    .rev()
                    .find(|&k| self.buf.ends_with(&HEADER[..k]))
                    .unwrap_or(0);
                let skip = self.buf.len().saturating_sub(keep);
                if skip > 0 {
                    let garbage: Vec<u8> = self.buf.drain(..skip).collect();
                    out.push(Parsed::Garbage(ProtocolError::Garbage(garbage)));
                }
                return out;
            };
            if at > 0 {
                let garbage: Vec<u8> = self.buf.drain(..at).collect();
                out.push(Parsed::Garbage(ProtocolError::Garbage(garbage)));
            }
            let Some(&[hi, lo]) = self.buf.get(5..7) else {
                return out;
            };
            let len = u16::from_be_bytes([hi, lo]);
            if !(3..=MAX_COMMAND_LEN).contains(&len) {
                let raw: Vec<u8> = self.buf.drain(..7).collect();
                let error = if len < 3 {
                    ProtocolError::LengthTooShort(len)
                } else {
                    ProtocolError::LengthTooLong(len)
                };
                out.push(Parsed::Bad {
                    raw,
                    error,
                    sw3: SW_BAD_LENGTH,
                });
                continue;
            }
            let total = 7 + usize::from(len);
            if self.buf.len() < total {
                return out;
            }
            let raw: Vec<u8> = self.buf.drain(..total).collect();
            let expected = xor(&raw[5..total - 1]);
            let got = raw[total - 1];
            if got != expected {
                out.push(Parsed::Bad {
                    error: ProtocolError::BadChecksum {
                        frame: raw.clone(),
                        got,
                        expected,
                    },
                    raw,
                    sw3: SW_BAD_CHECKSUM,
                });
                continue;
            }
            out.push(Parsed::Command {
                cmd: raw[7],
                para: raw[8],
                data: raw[9..total - 1].to_vec(),
                raw,
            });
        }
    }

    /// The line went quiet with bytes waiting: a frame cut short (answered 0x11), or
    /// bytes that never became a header.
    pub(crate) fn timeout(&mut self) -> Option<Parsed> {
        if self.buf.is_empty() {
            return None;
        }
        let raw = std::mem::take(&mut self.buf);
        if !raw.starts_with(&HEADER) {
            return Some(Parsed::Garbage(ProtocolError::Garbage(raw)));
        }
        let len = match raw.get(5..7) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        };
        Some(Parsed::Bad {
            error: ProtocolError::Incomplete {
                len,
                got: raw.len().saturating_sub(7),
            },
            raw,
            sw3: SW_BAD_LENGTH,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIND: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22];

    fn find() -> Parsed {
        Parsed::Command {
            raw: FIND.to_vec(),
            cmd: 0x20,
            para: 0x01,
            data: vec![],
        }
    }

    #[test]
    fn answer_pins() {
        assert_eq!(
            answer(0x9F, &[0, 0, 0, 0]),
            [
                0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0x00, 0x00, 0x00, 0x00,
                0x97
            ]
        );
        assert_eq!(
            answer(0x80, &[]),
            [
                0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84
            ]
        );
        assert_eq!(
            answer(0x90, &[0; 8]),
            [
                0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x0C, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x9C
            ]
        );
    }

    #[test]
    fn command_builder_matches_the_literal_find() {
        assert_eq!(command(0x20, 0x01, &[]), FIND);
    }

    #[test]
    fn find_is_parsed_as_find() {
        let mut d = Deframer::default();
        assert_eq!(d.push(&FIND), vec![find()]);
        assert!(!d.pending());
    }

    #[test]
    fn split_anywhere_and_back_to_back() {
        let mut stream = FIND.to_vec();
        stream.extend_from_slice(&FIND);
        for cut in 0..=stream.len() {
            let mut d = Deframer::default();
            let mut got = d.push(&stream[..cut]);
            got.extend(d.push(&stream[cut..]));
            assert_eq!(got, vec![find(), find()], "cut at {cut}");
        }
        // One byte at a time.
        let mut d = Deframer::default();
        let got: Vec<Parsed> = stream.iter().flat_map(|b| d.push(&[*b])).collect();
        assert_eq!(got, vec![find(), find()]);
    }

    #[test]
    fn garbage_before_the_header() {
        let mut d = Deframer::default();
        let mut stream = vec![0x00, 0xAA, 0x13, 0xAA, 0xAA];
        stream.extend_from_slice(&FIND);
        assert_eq!(
            d.push(&stream),
            vec![
                Parsed::Garbage(ProtocolError::Garbage(vec![0x00, 0xAA, 0x13, 0xAA, 0xAA])),
                find()
            ]
        );
        // A header's first bytes wait for the rest; plain garbage does not.
        let mut d = Deframer::default();
        assert_eq!(
            d.push(&[0x55, 0xAA, 0xAA]),
            vec![Parsed::Garbage(ProtocolError::Garbage(vec![0x55]))]
        );
        assert!(d.pending());
        assert_eq!(d.push(&FIND[2..]), vec![find()]);
    }

    #[test]
    fn bad_checksum_and_lengths() {
        let mut d = Deframer::default();
        let mut bad = FIND;
        bad[9] = 0x23;
        let got = d.push(&bad);
        assert_eq!(got.len(), 1);
        let Parsed::Bad { error, sw3, raw } = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(*sw3, 0x10);
        assert_eq!(raw, &bad);
        assert_eq!(
            error.to_string(),
            "bad checksum in AA AA AA 96 69 00 03 20 01 23: got 0x23, \
             the XOR of length..data is 0x22; answered 0x10"
        );

        // Too short: the header and length are dropped, the next frame still parses.
        let mut stream = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x02];
        stream.extend_from_slice(&FIND);
        let got = d.push(&stream);
        assert_eq!(
            got,
            vec![
                Parsed::Bad {
                    raw: stream[..7].to_vec(),
                    error: ProtocolError::LengthTooShort(2),
                    sw3: 0x11
                },
                find()
            ]
        );
        let got = d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x12, 0x34, 0x20]);
        // The 0x20 after it cannot start a header: garbage at once.
        assert!(matches!(
            &got[..],
            [
                Parsed::Bad {
                    error: ProtocolError::LengthTooLong(0x1234),
                    sw3: 0x11,
                    ..
                },
                Parsed::Garbage(ProtocolError::Garbage(g))
            ] if g == &[0x20]
        ));
        // A header's start left at the quiet is garbage too.
        assert_eq!(d.push(&[0xAA, 0xAA]), vec![]);
        assert_eq!(
            d.timeout(),
            Some(Parsed::Garbage(ProtocolError::Garbage(vec![0xAA, 0xAA])))
        );
    }

    #[test]
    fn cut_short_frame_at_the_quiet() {
        let mut d = Deframer::default();
        assert_eq!(d.push(&FIND[..8]), vec![]);
        assert!(d.pending());
        assert_eq!(
            d.timeout(),
            Some(Parsed::Bad {
                raw: FIND[..8].to_vec(),
                error: ProtocolError::Incomplete { len: 3, got: 1 },
                sw3: 0x11
            })
        );
        assert!(!d.pending());
        assert_eq!(d.timeout(), None);
    }

    #[test]
    fn hex_cuts_long_runs() {
        assert_eq!(hex(&[0xAA, 0x01]), "AA 01");
        assert!(hex(&[0; 40]).ends_with("00 … (8 more)"));
    }
}
