//! PDF output (printpdf, bundled CJK font, subset per document): the 离线码 card at 85.6 × 54 mm with a vector QR code.

use printpdf::{
    Color, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem, WindingOrder,
};
use std::sync::OnceLock;

use crate::api::IssuedCode;

use super::FONT;

/// ID-1 card size.
pub const CARD_W_MM: f32 = 85.6;
pub const CARD_H_MM: f32 = 54.0;

fn font() -> Result<&'static ParsedFont, String> {
    static PARSED: OnceLock<Option<ParsedFont>> = OnceLock::new();
    PARSED
        .get_or_init(|| ParsedFont::from_bytes(FONT, 0, &mut Vec::new()))
        .as_ref()
        .ok_or_else(|| "bundled font could not be parsed".to_string())
}

fn black() -> Color {
    Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    })
}

fn text_ops(font: &PdfFontHandle, x_mm: f32, y_mm: f32, size: f32, text: &str) -> Vec<Op> {
    vec![
        Op::StartTextSection,
        Op::SetFont {
            font: font.clone(),
            size: Pt(size),
        },
        Op::SetTextCursor {
            pos: Point::new(Mm(x_mm), Mm(y_mm)),
        },
        Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        },
        Op::EndTextSection,
    ]
}

/// Dark modules of a QR code as filled squares; `size_mm` includes a 4-module quiet zone.
fn qr_ops(data: &str, x_mm: f32, y_mm: f32, size_mm: f32) -> Result<Vec<Op>, String> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR: {e}"))?;
    let n = code.width();
    let module = size_mm / (n + 8) as f32;
    let colors = code.to_colors();
    let mut ops = vec![Op::SetFillColor { col: black() }];
    for row in 0..n {
        // One rectangle per horizontal run of dark modules keeps the PDF small.
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                let x = x_mm + (start + 4) as f32 * module;
                // PDF y grows upwards: row 0 is the top of the symbol.
                let y = y_mm + size_mm - (row + 5) as f32 * module;
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Mm(x).into(),
                        y: Mm(y).into(),
                        width: Mm((col - start) as f32 * module).into(),
                        height: Mm(module).into(),
                        mode: Some(PaintMode::Fill),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
            } else {
                col += 1;
            }
        }
    }
    Ok(ops)
}

/// Splits `text` into lines of at most `max` characters.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(max.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// The card as a one-page PDF: QR code on the left, the masked identity, dates and the
/// service centre on the right. No health status.
pub fn card_pdf(issued: &IssuedCode, centre: &str) -> Result<Vec<u8>, String> {
    let parsed = font()?;
    let mut doc = PdfDocument::new("离线码");
    let font = PdfFontHandle::External(doc.add_font(parsed));
    let mut ops = qr_ops(&issued.qr, 2.5, 4.0, 46.0)?;
    let x = 50.0;
    ops.extend(text_ops(&font, x, 45.5, 12.0, "上海市离线码"));
    ops.extend(text_ops(
        &font,
        x,
        38.5,
        9.0,
        &format!("姓名 {}", issued.masked_name),
    ));
    ops.extend(text_ops(&font, x, 33.5, 6.5, "证件号"));
    ops.extend(text_ops(&font, x, 29.5, 7.5, &issued.masked_id));
    ops.extend(text_ops(
        &font,
        x,
        24.0,
        7.0,
        &format!("签发 {}", issued.issued_on),
    ));
    ops.extend(text_ops(
        &font,
        x,
        20.0,
        7.0,
        &format!("有效期至 {}", issued.expires_on),
    ));
    for (i, line) in wrap(centre, 15).iter().take(2).enumerate() {
        ops.extend(text_ops(&font, x, 12.0 - i as f32 * 3.2, 6.0, line));
    }
    ops.extend(text_ops(&font, x, 4.5, 5.0, &issued.card_id));
    let page = PdfPage::new(Mm(CARD_W_MM), Mm(CARD_H_MM), ops);
    Ok(doc
        .with_pages(vec![page])
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

/// A page format for [`document_pdf`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSpec {
    pub width_mm: f32,
    /// `None`: one page as long as the content (a receipt roll).
    pub height_mm: Option<f32>,
    pub margin_mm: f32,
    /// Body text size in points; titles are 1.6 times larger.
    pub body_pt: f32,
}

impl PageSpec {
    pub const A4: PageSpec = PageSpec {
        width_mm: 210.0,
        height_mm: Some(297.0),
        margin_mm: 18.0,
        body_pt: 12.0,
    };
    /// 80 mm roll paper, 72 mm printable.
    pub const RECEIPT: PageSpec = PageSpec {
        width_mm: 80.0,
        height_mm: None,
        margin_mm: 4.0,
        body_pt: 9.0,
    };
    pub const CARD: PageSpec = PageSpec {
        width_mm: CARD_W_MM,
        height_mm: Some(CARD_H_MM),
        margin_mm: 3.0,
        body_pt: 6.0,
    };
}

const PT_MM: f32 = 25.4 / 72.0;

/// Approximate advance of `c` in ems: CJK is square, Latin about half.
fn em_width(c: char) -> f32 {
    if c.is_ascii() { 0.55 } else { 1.0 }
}

/// Splits `text` into lines no wider than `width_mm` at `size_pt`.
fn wrap_to(text: &str, size_pt: f32, width_mm: f32) -> Vec<(String, f32)> {
    let em = size_pt * PT_MM;
    let mut lines = Vec::new();
    let (mut line, mut w) = (String::new(), 0.0f32);
    for c in text.chars() {
        let cw = em_width(c) * em;
        if w + cw > width_mm && !line.is_empty() {
            lines.push((std::mem::take(&mut line), w));
            w = 0.0;
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push((line, w));
    }
    lines
}

/// Dark pixels of a bitmap as rectangles, `dot_mm` per pixel, top-left at (x, top).
fn bitmap_ops(b: &super::document::Bitmap, x_mm: f32, top_mm: f32, dot_mm: f32) -> Vec<Op> {
    let mut ops = vec![Op::SetFillColor { col: black() }];
    for y in 0..b.height {
        let mut x = 0;
        while x < b.width {
            if b.pixels[(y * b.width + x) as usize] {
                let start = x;
                while x < b.width && b.pixels[(y * b.width + x) as usize] {
                    x += 1;
                }
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Mm(x_mm + start as f32 * dot_mm).into(),
                        y: Mm(top_mm - (y + 1) as f32 * dot_mm).into(),
                        width: Mm((x - start) as f32 * dot_mm).into(),
                        height: Mm(dot_mm).into(),
                        mode: Some(PaintMode::Fill),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
            } else {
                x += 1;
            }
        }
    }
    ops
}

/// Any [`Document`](super::document::Document) as a PDF on `page`: text wrapped and
/// aligned with the bundled font (subset), QR codes as vectors, new pages as needed.
pub fn document_pdf(
    doc: &super::document::Document,
    page: PageSpec,
    title: &str,
) -> Result<Vec<u8>, String> {
    use super::document::{Align, Block, TextSize};
    let parsed = font()?;
    let mut pdf = PdfDocument::new(title);
    let font = PdfFontHandle::External(pdf.add_font(parsed));
    let usable = page.width_mm - 2.0 * page.margin_mm;
    // Lay out top-down in mm from the top edge; placed items: (page, ops builder).
    enum Item {
        Text(String, f32, f32),
        Qr(String, f32, f32),
        Image(super::document::Bitmap, f32, f32),
    }
    let mut pages: Vec<Vec<(Item, f32)>> = vec![Vec::new()];
    let mut y = page.margin_mm;
    let limit = page.height_mm.map(|h| h - page.margin_mm);
    let place = |height: f32, pages: &mut Vec<Vec<(Item, f32)>>, y: &mut f32| -> f32 {
        if let Some(limit) = limit
            && *y + height > limit
            && *y > page.margin_mm
        {
            pages.push(Vec::new());
            *y = page.margin_mm;
        }
        let top = *y;
        *y += height;
        top
    };
    let body_line = page.body_pt * PT_MM * 1.5;
    for block in &doc.blocks {
        match block {
            Block::Text {
                text, size, align, ..
            } => {
                let size_pt = if *size == TextSize::Large {
                    page.body_pt * 1.6
                } else {
                    page.body_pt
                };
                let line_h = size_pt * PT_MM * 1.5;
                for (line, w) in wrap_to(text, size_pt, usable) {
                    let x = match align {
                        Align::Left => page.margin_mm,
                        Align::Center => page.margin_mm + (usable - w).max(0.0) / 2.0,
                        Align::Right => page.margin_mm + (usable - w).max(0.0),
                    };
                    let top = place(line_h, &mut pages, &mut y);
                    if let Some(p) = pages.last_mut() {
                        p.push((Item::Text(line, x, size_pt), top + size_pt * PT_MM * 1.15));
                    }
                }
            }
            Block::Qr { data } => {
                let side = usable.min(page.body_pt * 5.0).min(40.0);
                let top = place(side, &mut pages, &mut y);
                if let Some(p) = pages.last_mut() {
                    let x = page.margin_mm + (usable - side) / 2.0;
                    p.push((Item::Qr(data.clone(), x, side), top));
                }
            }
            Block::Image(b) => {
                // 203 dpi, as a thermal head would print it, shrunk to fit.
                let dot = (25.4 / 203.0f32).min(usable / b.width.max(1) as f32);
                let h = b.height as f32 * dot;
                let top = place(h, &mut pages, &mut y);
                if let Some(p) = pages.last_mut() {
                    let x = page.margin_mm + (usable - b.width as f32 * dot) / 2.0;
                    p.push((Item::Image(b.clone(), x, dot), top));
                }
            }
            Block::Feed(n) => y += body_line * *n as f32,
            Block::Cut => {}
        }
    }
    let height = page.height_mm.unwrap_or(y + page.margin_mm);
    let out: Vec<PdfPage> = pages
        .into_iter()
        .map(|items| {
            let mut ops = Vec::new();
            for (item, top) in items {
                match item {
                    Item::Text(line, x, size) => {
                        ops.extend(text_ops(&font, x, height - top, size, &line))
                    }
                    Item::Qr(data, x, side) => match qr_ops(&data, x, height - top - side, side) {
                        Ok(q) => ops.extend(q),
                        Err(e) => log::warn!("QR not drawn: {e}"),
                    },
                    Item::Image(b, x, dot) => ops.extend(bitmap_ops(&b, x, height - top, dot)),
                }
            }
            PdfPage::new(Mm(page.width_mm), Mm(height), ops)
        })
        .collect();
    Ok(pdf
        .with_pages(out)
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_pdf_is_small_and_card_sized() {
        let issued = IssuedCode {
            card_id: "C0123456789ABCDEF".into(),
            qr: format!("CK1.{}.{}", "a".repeat(150), "b".repeat(86)),
            masked_name: "王*英".into(),
            masked_id: "310***********1231".into(),
            issued_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            expires_on: chrono::NaiveDate::from_ymd_opt(2027, 5, 24).unwrap(),
            voided_card: None,
        };
        let pdf = card_pdf(&issued, "天山路街道社区事务受理服务中心").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // Subset font: far below the 6.9 MB of the whole font.
        assert!(pdf.len() < 300_000, "{} bytes", pdf.len());
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("MediaBox"), "a page box");
    }

    #[test]
    fn any_document_lays_out_on_a4_and_on_a_roll() {
        let mut doc = super::super::document::Document::default()
            .title("办事指南")
            .qr("CK1.a.b");
        for i in 0..80 {
            doc = doc.text(format!("第{i}行：居民身份证、户口簿原件及复印件各一份"));
        }
        let a4 = document_pdf(&doc, PageSpec::A4, "t").unwrap();
        let text = String::from_utf8_lossy(&a4);
        assert!(text.contains("/Type /Page") || text.contains("/Type/Page"));
        assert!(
            text.matches("MediaBox").count() >= 2,
            "80 lines need a second A4 page"
        );
        let roll = document_pdf(&doc, PageSpec::RECEIPT, "t").unwrap();
        assert_eq!(
            String::from_utf8_lossy(&roll).matches("MediaBox").count(),
            1
        );
    }
}
