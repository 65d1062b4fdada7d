//! A simulated 第二代居民身份证 (resident ID card) reader: the SAM frame protocol of
//! GA/T 467 on a pseudo-terminal, for the terminal's tests and for technicians.
//!
//! Written from the protocol alone (no civic-* crate), so that the terminal's codec and
//! this simulator cannot agree on a mistake.
//!
//! # The protocol as implemented
//!
//! **Command frame** (host → reader): header `AA AA AA 96 69`, a 2-byte big-endian
//! length counting command, parameter, data and checksum, the command byte, the
//! parameter byte, the data, and a checksum: the XOR of every byte from the length
//! bytes on. Find card is `AA AA AA 96 69 00 03 20 01 22`.
//!
//! **Answer frame** (reader → host): header, 2-byte big-endian length counting the
//! three status bytes, data and checksum, status SW1 SW2 SW3 (always `00 00 xx` here),
//! the data, the XOR of length..data. Statuses (SW3):
//!
//! | SW3  | meaning                                   | data |
//! |------|-------------------------------------------|------|
//! | `9F` | find: a card is there                     | `00 00 00 00` |
//! | `90` | select or read succeeded                  | select: 8 × `00`; read: below |
//! | `80` | find: no card                             | none |
//! | `81` | select failed                             | none |
//! | `41` | read failed                               | none |
//! | `10` | the host's frame had a bad checksum       | none |
//! | `11` | the host's frame had a bad length         | none |
//! | `21` | unknown command                           | none |
//!
//! **Commands**: find `20 01`, select `20 02`, read text and photo `30 01`, all without
//! data. `30 10` (text, photo and fingerprint, on newer readers) is answered `21`: this
//! reader has no fingerprint module, like the older readers a terminal must fall back
//! for; it is not recorded as a protocol error. Any other command is answered `21` and
//! recorded.
//!
//! **Sequence**: find succeeds whenever a card is on the reader (and cancels a previous
//! selection); select needs a successful find of the card on the reader since it was
//! placed (else `81`); read needs a successful select (else `41`) and may be repeated.
//! Placing or removing a card starts over. Out-of-order commands are answered, not
//! recorded as protocol errors.
//!
//! **Read answer** data (1284 bytes, so the length field is `05 08` and the whole frame
//! 1295 bytes): text length `01 00`, photo length `04 00`, the 256-byte text block, the
//! 1024-byte photo (WLT on a real card; here a fixed dummy pattern, [`dummy_photo`]).
//! The text block holds, in UCS-2 little-endian, each space-padded (U+0020) to its width
//! in bytes: name 30, sex 2 (`1` male, `2` female), nation 4 (`01` 汉), birth date 16
//! (`YYYYMMDD`), address 70, number 36 (18 characters, GB 11643), issuing authority 30,
//! valid from 16 (`YYYYMMDD`), valid until 16 (`YYYYMMDD` or `长期`), reserved 36. See
//! [`encode_text`].
//!
//! **Bad host frames**: bytes outside any frame (before a header) are skipped and
//! recorded, not answered; a length field below 3 or above [`MAX_COMMAND_LEN`] is
//! answered `11` and the reader resynchronises on the next header; a frame whose checksum
//! does not match is answered `10`; a known command carrying data is answered `11`; a
//! frame cut short (the line quiet for [`FRAME_TIMEOUT`] in the middle of it) is answered
//! `11`. Each is recorded in [`Sim::protocol_errors`] with a message that says what was
//! wrong. Frames may arrive in any pieces.
//!
//! # Use
//!
//! [`Sim::start`] opens the pty and serves it on a thread; the terminal opens
//! [`Sim::path`] (`gat467+serial:///dev/pts/N?baud=115200`, [`Sim::url`]). The test
//! controls the card ([`Sim::place`], [`Sim::remove`]), injects faults
//! ([`Sim::set_fault`], [`SimFault`]), pulls the cable ([`Sim::unplug`]), and inspects
//! what the host sent ([`Sim::frames`], [`Sim::protocol_errors`], [`Sim::counts`]). The
//! `gat467-sim` binary does the same from stdin lines, for technicians.

mod card;
mod frame;
mod reader;
mod sim;

pub use card::{CardError, FIELD_WIDTHS, SimCard, TEXT_LEN, encode_text, gb11643_check_char};
pub use frame::{
    HEADER, MAX_COMMAND_LEN, ProtocolError, SW_BAD_CHECKSUM, SW_BAD_LENGTH, SW_FOUND, SW_NO_CARD,
    SW_OK, SW_READ_FAILED, SW_SELECT_FAILED, SW_UNKNOWN, answer, command, xor,
};
pub use reader::{
    CMD_FIND, CMD_READ, CMD_READ_FINGERPRINT, CMD_SELECT, Counts, PHOTO_LEN, SimFault, dummy_photo,
    read_data,
};
pub use sim::{FRAME_TIMEOUT, Sim};
