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
}
