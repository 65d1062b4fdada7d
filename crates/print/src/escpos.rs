//! ESC/POS: encoding a [`Document`] to bytes (GB18030 Chinese mode, native or raster QR, cut) and reading status (DLE EOT).
//!
//! Commands follow the Epson ESC/POS reference (the command set Chinese thermal and card
//! printers clone). They are written here directly: the `escpos` crate's status query sends
//! `10 04 n 00` (a stray byte that some printers take as the start of the next command).

use super::document::{Align, Bitmap, Block, Document, TextSize};
pub use super::status::Status;
use crate::QrMode;

/// ESC @: initialize.
const INIT: [u8; 2] = [0x1B, 0x40];
/// FS &: select Chinese character mode (two-byte GB18030 from here on).
const CHINESE_ON: [u8; 2] = [0x1C, 0x26];
/// FS .: cancel Chinese character mode.
const CHINESE_OFF: [u8; 2] = [0x1C, 0x2E];
/// GS V 66 n: feed n and partial cut.
const CUT: [u8; 4] = [0x1D, 0x56, 0x42, 0x03];

/// DLE EOT n: real-time status, answered by one byte without waiting for the buffer.
pub fn status_query(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

/// Whether GB 2312 (the built-in Chinese font of these printers) can show `text`.
pub fn gb2312_can_show(text: &str) -> bool {
    text.chars().all(|c| {
        if c.is_ascii() {
            return true;
        }
        let mut buf = [0u8; 4];
        let (bytes, _, bad) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
        // GB 2312 is the GBK range with both bytes in A1..FE.
        !bad && bytes.len() == 2
            && (0xA1..=0xFE).contains(&bytes[0])
            && (0xA1..=0xFE).contains(&bytes[1])
    })
}

/// Dots of a printer line: 80 mm paper at 203 dpi (576 dots), the widest common head.
pub const LINE_DOTS: u32 = 576;

fn raster_font() -> Option<&'static ab_glyph::FontRef<'static>> {
    static FONT: std::sync::OnceLock<Option<ab_glyph::FontRef<'static>>> =
        std::sync::OnceLock::new();
    FONT.get_or_init(|| ab_glyph::FontRef::try_from_slice(super::FONT).ok())
        .as_ref()
}

/// Renders `text` with the bundled font at `px` dots per em into 1-bit lines at most
/// `max_width` dots wide (wrapped between characters).
pub fn render_text(text: &str, px: f32, max_width: u32) -> Result<Vec<Bitmap>, String> {
    use ab_glyph::{Font, ScaleFont};
    let font = raster_font().ok_or("the bundled font could not be read")?;
    let scaled = font.as_scaled(ab_glyph::PxScale::from(px));
    let ascent = scaled.ascent();
    let height = (ascent - scaled.descent()).ceil().max(1.0) as u32;
    // Split into lines by advance width first, then draw each.
    let mut lines: Vec<Vec<(ab_glyph::GlyphId, f32)>> = vec![Vec::new()];
    let mut x = 0.0f32;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let advance = scaled.h_advance(id);
        if x + advance > max_width as f32 && !lines.last().is_some_and(|l| l.is_empty()) {
            lines.push(Vec::new());
            x = 0.0;
        }
        if let Some(line) = lines.last_mut() {
            line.push((id, x));
        }
        x += advance;
    }
    let mut out = Vec::new();
    for line in lines {
        let width = line
            .last()
            .map(|(id, x)| (x + scaled.h_advance(*id)).ceil() as u32)
            .unwrap_or(1)
            .clamp(1, max_width.max(1));
        let mut pixels = vec![false; (width * height) as usize];
        for (id, x) in line {
            let glyph = id.with_scale_and_position(px, ab_glyph::point(x, ascent));
            if let Some(outlined) = font.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    let px = b.min.x as i64 + gx as i64;
                    let py = b.min.y as i64 + gy as i64;
                    if coverage >= 0.5
                        && (0..width as i64).contains(&px)
                        && (0..height as i64).contains(&py)
                    {
                        pixels[(py as u32 * width + px as u32) as usize] = true;
                    }
                });
            }
        }
        out.push(Bitmap {
            width,
            height,
            pixels,
        });
    }
    Ok(out)
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
    } else {
        let (bytes, _, _) = encoding_rs::GB18030.encode(text);
        out.extend_from_slice(&CHINESE_ON);
        out.extend_from_slice(&bytes);
        out.extend_from_slice(&CHINESE_OFF);
    }
}

/// GS ( k: QR code model 2, module size, error correction M, store, print.
fn push_native_qr(out: &mut Vec<u8>, data: &str, module: u8) {
    // Function 165: model 2.
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
    // Function 167: module size in dots.
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, module]);
    // Function 169: error correction level M (49).
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]);
    // Function 180: store data; pL pH count the 3 bytes "1 P 0" plus the data.
    let len = data.len() + 3;
    out.extend_from_slice(&[
        0x1D,
        0x28,
        0x6B,
        (len & 0xFF) as u8,
        (len >> 8) as u8,
        0x31,
        0x50,
        0x30,
    ]);
    out.extend_from_slice(data.as_bytes());
    // Function 181: print the stored symbol.
    out.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
}

/// GS v 0: raster bit image, normal density.
pub fn push_raster(out: &mut Vec<u8>, b: &Bitmap) {
    let bytes_per_row = b.width.div_ceil(8);
    out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00]);
    out.extend_from_slice(&[(bytes_per_row & 0xFF) as u8, (bytes_per_row >> 8) as u8]);
    out.extend_from_slice(&[(b.height & 0xFF) as u8, (b.height >> 8) as u8]);
    for y in 0..b.height {
        for xb in 0..bytes_per_row {
            let mut byte = 0u8;
            for bit in 0..8 {
                let x = xb * 8 + bit;
                if x < b.width && b.pixels[(y * b.width + x) as usize] {
                    byte |= 0x80 >> bit;
                }
            }
            out.push(byte);
        }
    }
}

/// Encodes a document for an ESC/POS printer.
pub fn encode(doc: &Document, qr: QrMode) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(&INIT);
    for block in &doc.blocks {
        match block {
            Block::Text {
                text,
                size,
                bold,
                align,
            } => {
                out.extend_from_slice(&[
                    0x1B,
                    0x61,
                    match align {
                        Align::Left => 0,
                        Align::Center => 1,
                        Align::Right => 2,
                    },
                ]);
                if gb2312_can_show(text) {
                    out.extend_from_slice(&[0x1B, 0x45, u8::from(*bold)]);
                    out.extend_from_slice(&[
                        0x1D,
                        0x21,
                        if *size == TextSize::Large { 0x11 } else { 0x00 },
                    ]);
                    push_text(&mut out, text);
                    out.push(b'\n');
                    out.extend_from_slice(&[0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00]);
                } else {
                    // The printer's GB 2312 font would print '?' or a wrong glyph for a
                    // rare character in a name (燊, 堃 …): print the line as an image
                    // drawn with the bundled font, at the size of the built-in font
                    // (24 dots, 48 when doubled).
                    let px = if *size == TextSize::Large { 48.0 } else { 24.0 };
                    for line in render_text(text, px, LINE_DOTS)? {
                        push_raster(&mut out, &line);
                    }
                }
            }
            Block::Qr { data } => {
                out.extend_from_slice(&[0x1B, 0x61, 1]);
                match qr {
                    QrMode::Native => push_native_qr(&mut out, data, 6),
                    QrMode::Raster => push_raster(&mut out, &Bitmap::qr(data, 6)?),
                }
                out.push(b'\n');
            }
            Block::Image(b) => {
                out.extend_from_slice(&[0x1B, 0x61, 1]);
                push_raster(&mut out, b);
            }
            Block::Feed(n) => out.extend_from_slice(&[0x1B, 0x64, *n]),
            Block::Cut => out.extend_from_slice(&CUT),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn chinese_text_is_gb18030_inside_chinese_mode() {
        let doc = Document::default().title("离线码").text("abc");
        let bytes = encode(&doc, QrMode::Native).unwrap();
        assert_eq!(&bytes[..2], &INIT);
        let (gb, _, _) = encoding_rs::GB18030.encode("离线码");
        let at = find(&bytes, &gb).expect("GB18030 bytes");
        assert_eq!(&bytes[at - 2..at], &CHINESE_ON);
        assert_eq!(&bytes[at + gb.len()..at + gb.len() + 2], &CHINESE_OFF);
        assert!(find(&bytes, b"abc\n").is_some());
        assert!(
            find(&bytes, &[0x1D, 0x21, 0x11]).is_some(),
            "double size title"
        );
    }

    #[test]
    fn native_qr_stores_exactly_the_data_and_prints() {
        let data = "CK1.eyJjIjoxfQ.c2ln";
        let bytes = encode(&Document::default().qr(data).cut(), QrMode::Native).unwrap();
        let store = find(&bytes, &[0x1D, 0x28, 0x6B]).unwrap();
        let len = data.len() + 3;
        let header = [0x1D, 0x28, 0x6B, len as u8, 0, 0x31, 0x50, 0x30];
        let at = find(&bytes[store..], &header).unwrap() + store + header.len();
        assert_eq!(&bytes[at..at + data.len()], data.as_bytes());
        assert!(find(&bytes, &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]).is_some());
        assert!(bytes.ends_with(&CUT));
    }

    #[test]
    fn raster_qr_is_gs_v_0_with_the_right_size() {
        let bytes = encode(&Document::default().qr("CK1.a.b"), QrMode::Raster).unwrap();
        let at = find(&bytes, &[0x1D, 0x76, 0x30, 0x00]).unwrap();
        let bmp = Bitmap::qr("CK1.a.b", 6).unwrap();
        let (x, y) = (
            bytes[at + 4] as u32 | (bytes[at + 5] as u32) << 8,
            bytes[at + 6] as u32 | (bytes[at + 7] as u32) << 8,
        );
        assert_eq!((x, y), (bmp.width.div_ceil(8), bmp.height));
        assert!(bytes.len() >= at + 8 + (x * y) as usize);
        assert!(
            find(&bytes, &[0x1D, 0x28, 0x6B]).is_none(),
            "no native QR command in raster mode"
        );
    }

    #[test]
    fn status_bits_follow_the_reference() {
        assert!(Status::from_bytes(0x12, 0x12, 0x12).can_print());
        let s = Status::from_bytes(0x12, 0x12 | 0x04, 0x12);
        assert!(s.cover_open && !s.can_print());
        assert_eq!(s.state_name(), "cover_open");
        let s = Status::from_bytes(0x12, 0x12 | 0x20, 0x12 | 0x60);
        assert!(s.paper_end && !s.can_print());
        assert!(s.technician_detail().contains("DLE EOT 2 bit 5"));
        let s = Status::from_bytes(0x12, 0x12, 0x12 | 0x0C);
        assert!(s.paper_near_end && s.can_print());
        assert!(Status::from_bytes(0x12 | 0x08, 0x12, 0x12).offline);
        assert_eq!(status_query(2), [0x10, 0x04, 0x02]);
    }

    #[test]
    fn rare_characters_print_as_a_raster_image_not_as_question_marks() {
        let doc = Document::default().centered("姓名 李*燊");
        let bytes = encode(&doc, QrMode::Native).unwrap();
        let at = find(&bytes, &[0x1D, 0x76, 0x30, 0x00]).expect("GS v 0 raster");
        let (x, y) = (
            bytes[at + 4] as usize | (bytes[at + 5] as usize) << 8,
            bytes[at + 6] as usize | (bytes[at + 7] as usize) << 8,
        );
        assert!((20..=30).contains(&y), "24-dot line, got {y}");
        let raster = &bytes[at + 8..at + 8 + x * y];
        assert!(raster.iter().any(|b| *b != 0), "the glyphs are drawn");
        assert!(
            find(&bytes, &CHINESE_ON).is_none(),
            "no text mode for this line"
        );
        let (gb, _, _) = encoding_rs::GB18030.encode("李");
        assert!(find(&bytes, &gb).is_none(), "the line is not sent as text");
        assert!(!bytes[..at].contains(&b'?') && !bytes[at + 8 + x * y..].contains(&b'?'));
        // The same line with a GB 2312 name stays text.
        let bytes = encode(&Document::default().centered("姓名 李*英"), QrMode::Native).unwrap();
        assert!(find(&bytes, &[0x1D, 0x76, 0x30, 0x00]).is_none());
        let (gb, _, _) = encoding_rs::GB18030.encode("姓名 李*英");
        assert!(find(&bytes, &gb).is_some());
    }

    #[test]
    fn rendered_text_wraps_at_the_line_width_and_draws_every_rare_character() {
        let lines = render_text("燊堃喆赟", 24.0, 576).unwrap();
        assert_eq!(lines.len(), 1);
        let b = &lines[0];
        // Each 24-dot glyph leaves ink in its own quarter of the line.
        for i in 0..4u32 {
            let from = i * b.width / 4;
            let to = (i + 1) * b.width / 4;
            let ink = (0..b.height)
                .flat_map(|y| (from..to).map(move |x| (x, y)))
                .filter(|(x, y)| b.pixels[(y * b.width + x) as usize])
                .count();
            assert!(ink > 20, "glyph {i} has {ink} dots");
        }
        let long = render_text(&"燊".repeat(40), 24.0, 576).unwrap();
        assert!(long.len() >= 2 && long.iter().all(|l| l.width <= 576));
    }

    #[test]
    fn gb2312_coverage_check() {
        assert!(gb2312_can_show("王秀英 310***1231"));
        assert!(!gb2312_can_show("李堃"), "堃 is outside GB 2312");
        assert!(!gb2312_can_show("陈赟"));
    }
}
