//! The SAM's state: the card on it, the find → select → read sequence, the faults, and
//! the record of what the host sent. No I/O: the pty thread feeds it frames.

use crate::card::{SimCard, TEXT_LEN, encode_text};
use crate::frame::{
    Parsed, ProtocolError, SW_FOUND, SW_NO_CARD, SW_OK, SW_READ_FAILED, SW_SELECT_FAILED,
    SW_UNKNOWN, answer,
};

/// Length of the photo block of a read answer.
pub const PHOTO_LEN: usize = 1024;

/// Find card (寻找证/卡).
pub const CMD_FIND: (u8, u8) = (0x20, 0x01);
/// Select card (选取证/卡).
pub const CMD_SELECT: (u8, u8) = (0x20, 0x02);
/// Read text and photo (读基本信息).
pub const CMD_READ: (u8, u8) = (0x30, 0x01);
/// Read text, photo and fingerprint: this reader has no fingerprint module and answers
/// it 0x21, as older readers do.
pub const CMD_READ_FINGERPRINT: (u8, u8) = (0x30, 0x10);

/// A fault to inject into the next answer(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimFault {
    /// Answer as a working reader does.
    #[default]
    None,
    /// The next answer's checksum byte is wrong (inverted). Then clears itself.
    BadChecksumOnce,
    /// The card disappears right after the next successful find (answered 0x9F): select
    /// then answers 0x81, read 0x41, find 0x80 until a card is placed again. Clears
    /// itself when it strikes.
    RemoveDuringRead,
    /// Answer nothing (frames are still recorded and counted) until cleared.
    Silent,
    /// The next answer carries this SW3 instead (and no data, unless it is the status it
    /// would have carried anyway). The sim's state moves as if it had answered normally.
    /// Then clears itself.
    StatusOnce(u8),
}

/// Commands received, by kind: every well-formed frame of that command, whatever it
/// was answered (also no card, a fault, or silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    /// Find card (20 01).
    pub finds: u64,
    /// Select card (20 02).
    pub selects: u64,
    /// Read text and photo (30 01).
    pub reads: u64,
}

/// The photo block: WLT in a real card, which nobody here decodes; a fixed pattern
/// (`WLT` and then the bytes 0x00, 0x01, … 0xFF over and over).
pub fn dummy_photo() -> [u8; PHOTO_LEN] {
    let mut photo = [0u8; PHOTO_LEN];
    for (i, b) in photo.iter_mut().enumerate() {
        *b = (i % 256) as u8;
    }
    photo[..3].copy_from_slice(b"WLT");
    photo
}

/// The data of a successful read: text length, photo length (both big-endian), the
/// 256-byte text block, the 1024-byte photo.
pub fn read_data(card: &SimCard) -> Vec<u8> {
    let mut data = Vec::with_capacity(4 + TEXT_LEN + PHOTO_LEN);
    data.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
    data.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes());
    data.extend_from_slice(&encode_text(card));
    data.extend_from_slice(&dummy_photo());
    data
}

#[derive(Debug, Default)]
pub(crate) struct Reader {
    pub(crate) card: Option<SimCard>,
    found: bool,
    selected: bool,
    pub(crate) fault: SimFault,
    pub(crate) counts: Counts,
    pub(crate) frames: Vec<Vec<u8>>,
    pub(crate) errors: Vec<ProtocolError>,
    pub(crate) unplugged: bool,
}

impl Reader {
    pub(crate) fn new(card: Option<SimCard>) -> Reader {
        Reader {
            card,
            ..Reader::default()
        }
    }

    pub(crate) fn place(&mut self, card: SimCard) {
        self.card = Some(card);
        self.found = false;
        self.selected = false;
    }

    pub(crate) fn remove(&mut self) {
        self.card = None;
        self.found = false;
        self.selected = false;
    }

    /// The answer to what the deframer found, faults applied; `None`: say nothing.
    pub(crate) fn handle(&mut self, parsed: Parsed) -> Option<Vec<u8>> {
        let (sw3, data) = match parsed {
            Parsed::Garbage(error) => {
                self.errors.push(error);
                return None;
            }
            Parsed::Bad { raw, error, sw3 } => {
                self.frames.push(raw);
                self.errors.push(error);
                (sw3, Vec::new())
            }
            Parsed::Command {
                raw,
                cmd,
                para,
                data,
            } => {
                self.frames.push(raw.clone());
                self.command(raw, cmd, para, &data)
            }
        };
        self.fault_answer(sw3, data)
    }

    fn command(&mut self, raw: Vec<u8>, cmd: u8, para: u8, data: &[u8]) -> (u8, Vec<u8>) {
        let name = match (cmd, para) {
            CMD_FIND => "find card",
            CMD_SELECT => "select card",
            CMD_READ => "read text and photo",
            CMD_READ_FINGERPRINT => return (SW_UNKNOWN, Vec::new()),
            _ => {
                self.errors.push(ProtocolError::UnknownCommand {
                    cmd,
                    para,
                    frame: raw,
                });
                return (SW_UNKNOWN, Vec::new());
            }
        };
        match (cmd, para) {
            CMD_FIND => self.counts.finds += 1,
            CMD_SELECT => self.counts.selects += 1,
            _ => self.counts.reads += 1,
        }
        if !data.is_empty() {
            self.errors.push(ProtocolError::UnexpectedData {
                cmd,
                para,
                name,
                len: data.len(),
            });
            return (crate::frame::SW_BAD_LENGTH, Vec::new());
        }
        match ((cmd, para), &self.card) {
            (CMD_FIND, None) => (SW_NO_CARD, Vec::new()),
            (CMD_FIND, Some(_)) => {
                self.found = true;
                self.selected = false;
                if self.fault == SimFault::RemoveDuringRead {
                    self.fault = SimFault::None;
                    self.remove();
                }
                (SW_FOUND, vec![0; 4])
            }
            (CMD_SELECT, Some(_)) if self.found => {
                self.selected = true;
                (SW_OK, vec![0; 8])
            }
            (CMD_SELECT, _) => (SW_SELECT_FAILED, Vec::new()),
            (_, Some(card)) if self.selected => (SW_OK, read_data(card)),
            _ => (SW_READ_FAILED, Vec::new()),
        }
    }

    fn fault_answer(&mut self, sw3: u8, data: Vec<u8>) -> Option<Vec<u8>> {
        match self.fault {
            SimFault::None | SimFault::RemoveDuringRead => Some(answer(sw3, &data)),
            SimFault::Silent => None,
            SimFault::BadChecksumOnce => {
                self.fault = SimFault::None;
                let mut frame = answer(sw3, &data);
                if let Some(last) = frame.last_mut() {
                    *last = !*last;
                }
                Some(frame)
            }
            SimFault::StatusOnce(status) => {
                self.fault = SimFault::None;
                if status == sw3 {
                    Some(answer(sw3, &data))
                } else {
                    Some(answer(status, &[]))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Deframer, command};

    fn run(reader: &mut Reader, frame: &[u8]) -> Option<Vec<u8>> {
        let mut d = Deframer::default();
        let mut parsed = d.push(frame);
        assert_eq!(parsed.len(), 1, "{parsed:?}");
        reader.handle(parsed.remove(0))
    }

    fn sw3(answer: &Option<Vec<u8>>) -> u8 {
        answer.as_ref().unwrap()[9]
    }

    const FIND: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22];
    const SELECT: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x02, 0x21];
    const READ: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x01, 0x32];

    #[test]
    fn literal_commands_match_the_builder() {
        assert_eq!(command(0x20, 0x02, &[]), SELECT);
        assert_eq!(command(0x30, 0x01, &[]), READ);
    }

    /// The read answer: 0x0508 in the length field, 1295 bytes in all (5 header, 2
    /// length, 0x508 counted by it), the lengths, the name back from UCS-2LE.
    #[test]
    fn read_answer_layout() {
        let mut r = Reader::new(Some(SimCard::demo()));
        run(&mut r, &FIND);
        run(&mut r, &SELECT);
        let a = run(&mut r, &READ).unwrap();
        assert_eq!(a.len(), 1295);
        assert_eq!(
            &a[..10],
            &[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x05, 0x08, 0x00, 0x00, 0x90]
        );
        assert_eq!(&a[10..14], &[0x01, 0x00, 0x04, 0x00]);
        let units: Vec<u16> = a[14..44]
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        assert_eq!(
            String::from_utf16(&units).unwrap(),
            format!("王秀英{}", " ".repeat(12))
        );
        assert_eq!(&a[270..1294], &dummy_photo());
        assert_eq!(a[1294], crate::frame::xor(&a[5..1294]));
        assert_eq!(
            r.counts,
            Counts {
                finds: 1,
                selects: 1,
                reads: 1
            }
        );
        assert_eq!(r.errors, vec![]);
        assert_eq!(
            r.frames,
            vec![FIND.to_vec(), SELECT.to_vec(), READ.to_vec()]
        );
    }

    #[test]
    fn sequence_is_enforced() {
        let mut r = Reader::new(Some(SimCard::demo()));
        assert_eq!(sw3(&run(&mut r, &SELECT)), 0x81, "select before find");
        assert_eq!(sw3(&run(&mut r, &READ)), 0x41, "read before select");
        run(&mut r, &FIND);
        assert_eq!(sw3(&run(&mut r, &READ)), 0x41, "read before select");
        assert_eq!(sw3(&run(&mut r, &SELECT)), 0x90);
        assert_eq!(sw3(&run(&mut r, &READ)), 0x90);
        assert_eq!(sw3(&run(&mut r, &READ)), 0x90, "read again");
        r.remove();
        assert_eq!(sw3(&run(&mut r, &READ)), 0x41);
        assert_eq!(sw3(&run(&mut r, &FIND)), 0x80);
        r.place(SimCard::expired());
        assert_eq!(sw3(&run(&mut r, &SELECT)), 0x81, "a new card needs a find");
        // Ordering is not a framing violation.
        assert_eq!(r.errors, vec![]);
    }

    #[test]
    fn unknown_and_fingerprint_and_data() {
        let mut r = Reader::new(Some(SimCard::demo()));
        let a = run(&mut r, &command(0x12, 0xFF, &[]));
        assert_eq!(a.unwrap(), answer(0x21, &[]));
        assert_eq!(
            r.errors[0].to_string(),
            "unknown command 12 FF in AA AA AA 96 69 00 03 12 FF EE; answered 0x21"
        );
        let a = run(&mut r, &command(0x30, 0x10, &[]));
        assert_eq!(a.unwrap(), answer(0x21, &[]));
        assert_eq!(
            r.errors.len(),
            1,
            "30 10 is a known command this reader lacks"
        );
        let a = run(&mut r, &command(0x20, 0x01, &[0x00]));
        assert_eq!(a.unwrap(), answer(0x11, &[]));
        assert_eq!(
            r.errors[1].to_string(),
            "command 20 01 (find card) takes no data, the frame carried 1 byte(s); answered 0x11"
        );
    }

    #[test]
    fn faults() {
        let mut r = Reader::new(Some(SimCard::demo()));
        r.fault = SimFault::BadChecksumOnce;
        let a = run(&mut r, &FIND).unwrap();
        assert_eq!(a[..14], answer(0x9F, &[0; 4])[..14]);
        assert_eq!(a[14], !0x97);
        assert_eq!(run(&mut r, &FIND).unwrap(), answer(0x9F, &[0; 4]), "once");

        r.fault = SimFault::StatusOnce(0x80);
        assert_eq!(run(&mut r, &FIND).unwrap(), answer(0x80, &[]));
        assert_eq!(run(&mut r, &FIND).unwrap(), answer(0x9F, &[0; 4]), "once");
        r.fault = SimFault::StatusOnce(0x9F);
        assert_eq!(
            run(&mut r, &FIND).unwrap(),
            answer(0x9F, &[0; 4]),
            "same status"
        );

        r.fault = SimFault::Silent;
        assert_eq!(run(&mut r, &FIND), None);
        assert_eq!(run(&mut r, &SELECT), None);
        r.fault = SimFault::None;
        assert_eq!(sw3(&run(&mut r, &READ)), 0x90, "state moved while silent");

        r.fault = SimFault::RemoveDuringRead;
        assert_eq!(run(&mut r, &FIND).unwrap(), answer(0x9F, &[0; 4]));
        assert_eq!(run(&mut r, &SELECT).unwrap(), answer(0x81, &[]));
        assert_eq!(run(&mut r, &READ).unwrap(), answer(0x41, &[]));
        assert_eq!(run(&mut r, &FIND).unwrap(), answer(0x80, &[]));
        assert_eq!(r.fault, SimFault::None);
        r.place(SimCard::demo());
        assert_eq!(sw3(&run(&mut r, &FIND)), 0x9F);
        assert_eq!(
            r.counts,
            Counts {
                finds: 9,
                selects: 2,
                reads: 2
            }
        );
    }
}
