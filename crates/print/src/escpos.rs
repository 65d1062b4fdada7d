//! ESC/POS: encoding a [`Document`] to bytes (GB18030 Chinese mode, tables as aligned text columns, native or raster QR, cut) and reading status (DLE EOT).
//!
//! Commands follow the Epson ESC/POS reference (the command set Chinese thermal and card
//! printers clone). They are written here directly: the `escpos` crate's status query sends
//! `10 04 n 00` (a stray byte that some printers take as the start of the next command).

use super::document::{Align, Bitmap, Block, Column, Document, TextSize};
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

/// Character columns of a line in the printer's font A (12 × 24 dots; a Chinese
/// character is 24 dots, two columns): 48 on 80 mm paper.
pub const LINE_COLUMNS: usize = (LINE_DOTS / 12) as usize;

/// Columns `c` takes in the printer's font: one for ASCII, two for Chinese (GB 2312
/// prints every non-ASCII character it has, punctuation too, full width).
pub fn char_columns(c: char) -> usize {
    if c.is_ascii() { 1 } else { 2 }
}

/// Columns `text` takes in the printer's font.
pub fn text_columns(text: &str) -> usize {
    text.chars().map(char_columns).sum()
}

/// Widths in character columns of a table's columns on a line of `line` columns, one
/// space between neighbours: shares by weight, at least 2 each (one Chinese character),
/// what rounding leaves over going to the leftmost columns.
pub fn column_widths(columns: &[Column], line: usize) -> Vec<usize> {
    let n = columns.len();
    if n == 0 {
        return Vec::new();
    }
    let avail = line.saturating_sub(n - 1);
    let weights: Vec<usize> = columns.iter().map(|c| c.weight.max(1) as usize).collect();
    let sum: usize = weights.iter().sum();
    let mut widths: Vec<usize> = weights.iter().map(|w| (avail * w / sum).max(2)).collect();
    // Flooring each share loses less than one column each: one pass hands it back.
    let left = avail.saturating_sub(widths.iter().sum());
    for w in widths.iter_mut().take(left) {
        *w += 1;
    }
    widths
}

/// Splits `text` into pieces of at most `width` columns, never splitting a character; a
/// bracketed unit (`缴费基数（元）`) moves to the next line whole rather than split.
fn wrap_columns(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let (mut line, mut used) = (String::new(), 0);
    for c in text.chars() {
        let w = char_columns(c);
        if used + w > width && !line.is_empty() {
            let cut = line.rfind(['（', '(']).filter(|at| *at > 0);
            let rest = cut.map(|at| line.split_off(at)).unwrap_or_default();
            lines.push(std::mem::replace(&mut line, rest));
            used = text_columns(&line);
        }
        line.push(c);
        used += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One table row as printer lines: each cell wrapped in its column and aligned.
fn row_lines(columns: &[Column], widths: &[usize], cells: &[String]) -> Vec<String> {
    let wrapped: Vec<Vec<String>> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| wrap_columns(cells.get(i).map(String::as_str).unwrap_or(""), *w))
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    (0..height)
        .map(|l| {
            let mut out = String::new();
            for (i, (col, w)) in columns.iter().zip(widths).enumerate() {
                let piece = wrapped[i].get(l).map(String::as_str).unwrap_or("");
                let pad = w.saturating_sub(text_columns(piece));
                let (before, after) = match col.align {
                    Align::Left => (0, pad),
                    Align::Right => (pad, 0),
                    Align::Center => (pad / 2, pad - pad / 2),
                };
                if i > 0 {
                    out.push(' ');
                }
                out.extend(std::iter::repeat_n(' ', before));
                out.push_str(piece);
                out.extend(std::iter::repeat_n(' ', after));
            }
            out.trim_end().to_string()
        })
        .collect()
}

/// A table as printer lines of at most `line` columns: the heading row, a rule, the
/// rows, and the total row under a double rule. The `bool` marks the total row's lines
/// (printed bold).
pub fn table_lines(
    columns: &[Column],
    rows: &[Vec<String>],
    header: bool,
    total: Option<&[String]>,
    line: usize,
) -> Vec<(String, bool)> {
    let widths = column_widths(columns, line);
    let mut out = Vec::new();
    if header {
        let headings: Vec<String> = columns.iter().map(|c| c.heading.clone()).collect();
        out.extend(
            row_lines(columns, &widths, &headings)
                .into_iter()
                .map(|l| (l, false)),
        );
        out.push(("-".repeat(line), false));
    }
    for row in rows {
        out.extend(
            row_lines(columns, &widths, row)
                .into_iter()
                .map(|l| (l, false)),
        );
    }
    if let Some(total) = total {
        out.push(("=".repeat(line), false));
        out.extend(
            row_lines(columns, &widths, total)
                .into_iter()
                .map(|l| (l, true)),
        );
    }
    out
}

pub(crate) fn raster_font() -> Option<&'static ab_glyph::FontRef<'static>> {
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

/// One line of text, aligned; a line the printer's font cannot show goes as an image.
fn push_line(
    out: &mut Vec<u8>,
    text: &str,
    size: TextSize,
    bold: bool,
    align: Align,
) -> Result<(), String> {
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
        out.extend_from_slice(&[0x1B, 0x45, u8::from(bold)]);
        out.extend_from_slice(&[
            0x1D,
            0x21,
            if size == TextSize::Large { 0x11 } else { 0x00 },
        ]);
        push_text(out, text);
        out.push(b'\n');
        out.extend_from_slice(&[0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00]);
    } else {
        // The printer's GB 2312 font would print '?' or a wrong glyph for a rare
        // character in a name (燊, 堃 …): print the line as an image drawn with the
        // bundled font, at the size of the built-in font (24 dots, 48 when doubled).
        let px = if size == TextSize::Large { 48.0 } else { 24.0 };
        for line in render_text(text, px, LINE_DOTS)? {
            push_raster(out, &line);
        }
    }
    Ok(())
}

/// Encodes a document for an ESC/POS printer.
pub fn encode(doc: &Document, qr: QrMode) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(&INIT);
    // A roll has no pages: the footer prints once, after the last block that is not a
    // feed or a cut.
    let footer_after = doc
        .blocks
        .iter()
        .rposition(|b| !matches!(b, Block::Feed(_) | Block::Cut));
    if footer_after.is_none()
        && let Some(f) = &doc.footer
    {
        push_line(&mut out, f, TextSize::Normal, false, Align::Center)?;
    }
    for (i, block) in doc.blocks.iter().enumerate() {
        match block {
            Block::Text {
                text,
                size,
                bold,
                align,
            } => push_line(&mut out, text, *size, *bold, *align)?,
            Block::Table {
                columns,
                rows,
                header,
                total,
            } => {
                for (line, bold) in
                    table_lines(columns, rows, *header, total.as_deref(), LINE_COLUMNS)
                {
                    push_line(&mut out, &line, TextSize::Normal, bold, Align::Left)?;
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
        if Some(i) == footer_after
            && let Some(f) = &doc.footer
        {
            push_line(&mut out, f, TextSize::Normal, false, Align::Center)?;
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

    fn amounts() -> (Vec<Column>, Vec<Vec<String>>, Vec<String>) {
        (
            vec![
                Column::center("月份", 3),
                Column::right("缴费基数（元）", 4),
                Column::right("个人缴纳（元）", 4),
            ],
            vec![
                vec!["2026-01".into(), "12,315.00".into(), "985.20".into()],
                vec!["2026-02".into(), "9.00".into(), "1,970.47".into()],
            ],
            vec!["合计".into(), "12,324.00".into(), "2,955.67".into()],
        )
    }

    #[test]
    fn a_chinese_character_takes_two_columns() {
        assert_eq!(text_columns("2026-01"), 7);
        assert_eq!(text_columns("合计"), 4);
        assert_eq!(text_columns("（元）"), 6);
        assert_eq!(LINE_COLUMNS, 48);
    }

    #[test]
    fn column_widths_fill_the_line_by_weight() {
        let (columns, ..) = amounts();
        let w = column_widths(&columns, 48);
        assert_eq!(w.iter().sum::<usize>() + 2, 48, "{w:?}");
        assert!(w[0] < w[1] && w[1].abs_diff(w[2]) <= 1, "{w:?}");
        assert_eq!(column_widths(&columns, 32).iter().sum::<usize>() + 2, 32);
    }

    #[test]
    fn table_lines_align_amounts_right_and_never_pass_the_line() {
        let (columns, rows, total) = amounts();
        let lines = table_lines(&columns, &rows, true, Some(&total), 48);
        for (l, _) in &lines {
            assert!(text_columns(l) <= 48, "{l}");
        }
        // Heading, rule, 2 rows, double rule, total.
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(lines[1].0.chars().all(|c| c == '-') && lines[4].0.starts_with('='));
        assert!(lines[5].1 && !lines[2].1, "only the total row is bold");
        // The last column's amounts end at the line's end, whatever their length; the
        // heading, with its Chinese characters, too.
        for (l, _) in [&lines[0], &lines[2], &lines[3], &lines[5]] {
            assert_eq!(text_columns(l), 48, "{l:?}");
        }
        // The middle column ends at the same column in every row.
        let widths = column_widths(&columns, 48);
        let end = widths[0] + 1 + widths[1];
        for (l, amount) in [(&lines[2].0, "12,315.00"), (&lines[3].0, "9.00")] {
            let at = l.find(amount).unwrap();
            assert_eq!(text_columns(&l[..at]) + amount.len(), end, "{l}");
        }
        let heading = &lines[0].0;
        let at = heading.find("缴费基数（元）").unwrap();
        assert_eq!(text_columns(&heading[..at]) + 14, end, "{heading}");
    }

    #[test]
    fn a_heading_too_wide_breaks_before_its_bracketed_unit() {
        assert_eq!(wrap_columns("缴费基数（元）", 12), ["缴费基数", "（元）"]);
        assert_eq!(
            wrap_columns("（元）（元）（元）", 8),
            ["（元）", "（元）", "（元）"]
        );
    }

    #[test]
    fn a_long_cell_wraps_inside_its_column() {
        let columns = vec![Column::left("事项", 1), Column::left("说明", 1)];
        let rows = vec![vec!["甲".into(), "很长的说明".repeat(6)]];
        let lines = table_lines(&columns, &rows, false, None, 32);
        assert!(lines.len() >= 4, "{lines:#?}");
        let w = column_widths(&columns, 32);
        for (l, _) in &lines[1..] {
            // Continuation lines leave the first column empty.
            assert!(l.starts_with(&" ".repeat(w[0] + 1)), "{l:?}");
            assert!(text_columns(l) <= 32);
        }
    }

    #[test]
    fn a_table_prints_as_gb18030_text_lines_and_the_footer_once_before_the_cut() {
        let (columns, rows, total) = amounts();
        let doc = Document::default()
            .table_with_total(columns, rows, total)
            .footer("请妥善保管本回执")
            .feed(2)
            .cut();
        let bytes = encode(&doc, QrMode::Native).unwrap();
        let (gb, _, _) = encoding_rs::GB18030.encode("请妥善保管本回执");
        let footer = find(&bytes, &gb).expect("footer");
        assert_eq!(bytes.windows(gb.len()).filter(|w| *w == &gb[..]).count(), 1);
        let (total, _, _) = encoding_rs::GB18030.encode("合计");
        let total = find(&bytes, &total).expect("total row");
        assert!(total < footer && footer < find(&bytes, &CUT).unwrap());
        assert!(find(&bytes, b"12,315.00").is_some());
        assert!(
            find(&bytes, &[0x1B, 0x45, 0x01]).is_some_and(|b| b < total),
            "the total row is bold"
        );
    }
}
