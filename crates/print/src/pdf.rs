//! PDF output (printpdf, bundled CJK font, subset per document): the 离线码 card at 85.6 × 54 mm with a vector QR code, and any document on A4 or a roll (ruled tables, footer, page numbers).

use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem, WindingOrder,
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
    /// "第 N 页 / 共 M 页" at the foot of every page (paged media only).
    pub page_numbers: bool,
}

impl PageSpec {
    pub const A4: PageSpec = PageSpec {
        width_mm: 210.0,
        height_mm: Some(297.0),
        margin_mm: 18.0,
        body_pt: 12.0,
        page_numbers: true,
    };
    /// 80 mm roll paper, 72 mm printable.
    pub const RECEIPT: PageSpec = PageSpec {
        width_mm: 80.0,
        height_mm: None,
        margin_mm: 4.0,
        body_pt: 9.0,
        page_numbers: false,
    };
    pub const CARD: PageSpec = PageSpec {
        width_mm: CARD_W_MM,
        height_mm: Some(CARD_H_MM),
        margin_mm: 3.0,
        body_pt: 6.0,
        page_numbers: false,
    };
}

const PT_MM: f32 = 25.4 / 72.0;

/// Advance of `c` in ems, from the bundled font (so right-aligned amounts line up);
/// CJK square and Latin about half if the font cannot be read.
fn em_width(c: char) -> f32 {
    use ab_glyph::Font;
    let fallback = if c.is_ascii() { 0.55 } else { 1.0 };
    match super::escpos::raster_font() {
        Some(f) => match f.units_per_em() {
            Some(upem) if upem > 0.0 => f.h_advance_unscaled(f.glyph_id(c)) / upem,
            _ => fallback,
        },
        None => fallback,
    }
}

/// Width of `text` in mm at `size_pt`.
fn text_width(text: &str, size_pt: f32) -> f32 {
    text.chars().map(em_width).sum::<f32>() * size_pt * PT_MM
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

/// One thing placed on a page; lengths in mm, `y` measured down from the page's top.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Placed {
    Text {
        text: String,
        x: f32,
        baseline: f32,
        size_pt: f32,
    },
    Qr {
        data: String,
        x: f32,
        top: f32,
        side: f32,
    },
    Image {
        bitmap: super::document::Bitmap,
        x: f32,
        top: f32,
        dot: f32,
    },
    /// A straight rule from (x1, y1) to (x2, y2).
    Rule {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width_pt: f32,
    },
    /// A light grey box (behind a table's heading row).
    Shade { x: f32, top: f32, w: f32, h: f32 },
}

/// A document laid out: what goes on each page, and the page height (a roll's is the
/// content's).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub pages: Vec<Vec<Placed>>,
    pub height_mm: f32,
}

/// Where the next block goes, and when a page is full.
struct Cursor {
    pages: Vec<Vec<Placed>>,
    y: f32,
    top: f32,
    /// The lowest a block may reach; `None` on a roll.
    limit: Option<f32>,
}

impl Cursor {
    fn fits(&self, height: f32) -> bool {
        self.limit.is_none_or(|l| self.y + height <= l)
    }
    /// Whether the cursor is at the top of a page (nothing more can be gained by a new one).
    fn at_top(&self) -> bool {
        self.y <= self.top
    }
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.top;
    }
    /// The top of a block `height` high: on a new page if it does not fit on this one.
    fn place(&mut self, height: f32) -> f32 {
        if !self.fits(height) && !self.at_top() {
            self.new_page();
        }
        let top = self.y;
        self.y += height;
        top
    }
    fn push(&mut self, item: Placed) {
        if let Some(p) = self.pages.last_mut() {
            p.push(item);
        }
    }
}

/// Table geometry on the page.
struct Grid<'a> {
    columns: &'a [super::document::Column],
    /// Left edges of the columns, then the right edge of the last.
    edges: Vec<f32>,
    size_pt: f32,
    line_h: f32,
    pad: f32,
}

impl Grid<'_> {
    fn new(columns: &[super::document::Column], left: f32, width: f32, size_pt: f32) -> Grid<'_> {
        let sum: f32 = columns.iter().map(|c| c.weight.max(1) as f32).sum();
        let mut edges = vec![left];
        let mut x = left;
        for c in columns {
            x += width * c.weight.max(1) as f32 / sum;
            edges.push(x);
        }
        Grid {
            columns,
            edges,
            size_pt,
            line_h: size_pt * PT_MM * 1.5,
            pad: 1.5,
        }
    }

    /// Each cell's lines, wrapped inside its column.
    fn wrap(&self, cells: &[String]) -> Vec<Vec<(String, f32)>> {
        (0..self.columns.len())
            .map(|i| {
                let inner = (self.edges[i + 1] - self.edges[i] - 2.0 * self.pad).max(1.0);
                wrap_to(
                    cells.get(i).map(String::as_str).unwrap_or(""),
                    self.size_pt,
                    inner,
                )
            })
            .collect()
    }

    fn height(&self, wrapped: &[Vec<(String, f32)>]) -> f32 {
        wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * self.line_h
    }

    /// The row's text with its top at `top`, and the rule under it.
    fn draw(&self, cur: &mut Cursor, wrapped: Vec<Vec<(String, f32)>>, top: f32, rule_pt: f32) {
        use super::document::Align;
        let h = self.height(&wrapped);
        for (i, lines) in wrapped.into_iter().enumerate() {
            let (l, r) = (self.edges[i] + self.pad, self.edges[i + 1] - self.pad);
            for (k, (text, w)) in lines.into_iter().enumerate() {
                let x = match self.columns[i].align {
                    Align::Left => l,
                    Align::Right => (r - w).max(l),
                    Align::Center => l + ((r - l - w) / 2.0).max(0.0),
                };
                cur.push(Placed::Text {
                    text,
                    x,
                    baseline: top + k as f32 * self.line_h + self.size_pt * PT_MM * 1.15,
                    size_pt: self.size_pt,
                });
            }
        }
        self.rule(cur, top + h, rule_pt);
    }

    fn rule(&self, cur: &mut Cursor, y: f32, width_pt: f32) {
        cur.push(Placed::Rule {
            x1: self.edges[0],
            y1: y,
            x2: *self.edges.last().unwrap_or(&self.edges[0]),
            y2: y,
            width_pt,
        });
    }

    /// The vertical rules of the part of the table between `top` and `bottom` on this page.
    fn verticals(&self, cur: &mut Cursor, top: f32, bottom: f32) {
        for &x in &self.edges {
            cur.push(Placed::Rule {
                x1: x,
                y1: top,
                x2: x,
                y2: bottom,
                width_pt: 0.5,
            });
        }
    }

    /// The heading row at the cursor, shaded, with the top rule and a heavier rule under it.
    fn heading(&self, cur: &mut Cursor) {
        let headings: Vec<String> = self.columns.iter().map(|c| c.heading.clone()).collect();
        let wrapped = self.wrap(&headings);
        let h = self.height(&wrapped);
        let top = cur.place(h);
        cur.push(Placed::Shade {
            x: self.edges[0],
            top,
            w: self.edges[self.edges.len() - 1] - self.edges[0],
            h,
        });
        self.rule(cur, top, 0.8);
        self.draw(cur, wrapped, top, 0.8);
    }
}

/// Lays a table out from the cursor: ruled grid, heading row repeated at the top of every
/// page the table continues on, the total row under a heavy rule.
fn layout_table(
    cur: &mut Cursor,
    grid: &Grid<'_>,
    rows: &[Vec<String>],
    header: bool,
    total: Option<&[String]>,
) {
    let heading_h = if header {
        grid.height(
            &grid.wrap(
                &grid
                    .columns
                    .iter()
                    .map(|c| c.heading.clone())
                    .collect::<Vec<_>>(),
            ),
        )
    } else {
        0.0
    };
    let first_h = rows
        .first()
        .map(|r| grid.height(&grid.wrap(r)))
        .unwrap_or(0.0);
    // No heading alone at the foot of a page.
    if !cur.fits(heading_h + first_h) && !cur.at_top() {
        cur.new_page();
    }
    let mut seg_top = cur.y;
    if header {
        grid.heading(cur);
    } else {
        grid.rule(cur, cur.y, 0.8);
    }
    let all = rows
        .iter()
        .map(|r| (r.as_slice(), false))
        .chain(total.map(|t| (t, true)));
    for (cells, is_total) in all {
        let wrapped = grid.wrap(cells);
        let h = grid.height(&wrapped);
        if !cur.fits(h) && !cur.at_top() {
            grid.verticals(cur, seg_top, cur.y);
            cur.new_page();
            seg_top = cur.y;
            if header {
                grid.heading(cur);
            } else {
                grid.rule(cur, cur.y, 0.8);
            }
        }
        let top = cur.place(h);
        if is_total {
            grid.rule(cur, top, 1.6);
        }
        grid.draw(cur, wrapped, top, if is_total { 0.8 } else { 0.3 });
    }
    grid.verticals(cur, seg_top, cur.y);
}

/// Places every block of `doc` on pages of `page`, and the footer and page numbers.
pub(crate) fn layout(doc: &super::document::Document, page: PageSpec) -> Layout {
    use super::document::{Align, Block, TextSize};
    let usable = page.width_mm - 2.0 * page.margin_mm;
    let footer_pt = page.body_pt * 0.8;
    let footer_line = footer_pt * PT_MM * 1.5;
    let paged = page.height_mm.is_some();
    let footer_lines: Vec<(String, f32)> = match (&doc.footer, paged) {
        (Some(f), true) => wrap_to(f, footer_pt, usable),
        _ => Vec::new(),
    };
    let numbered = paged && page.page_numbers;
    let footer_rows = footer_lines.len() + usize::from(numbered);
    // The footer zone: a thin rule, then its lines, inside the bottom margin's edge.
    let footer_h = if footer_rows > 0 {
        2.0 + footer_rows as f32 * footer_line
    } else {
        0.0
    };
    let mut cur = Cursor {
        pages: vec![Vec::new()],
        y: page.margin_mm,
        top: page.margin_mm,
        limit: page.height_mm.map(|h| h - page.margin_mm - footer_h),
    };
    let body_line = page.body_pt * PT_MM * 1.5;
    let text = |cur: &mut Cursor, text: &str, size_pt: f32, align: Align| {
        let line_h = size_pt * PT_MM * 1.5;
        for (line, w) in wrap_to(text, size_pt, usable) {
            let x = match align {
                Align::Left => page.margin_mm,
                Align::Center => page.margin_mm + (usable - w).max(0.0) / 2.0,
                Align::Right => page.margin_mm + (usable - w).max(0.0),
            };
            let top = cur.place(line_h);
            cur.push(Placed::Text {
                text: line,
                x,
                baseline: top + size_pt * PT_MM * 1.15,
                size_pt,
            });
        }
    };
    // A roll has no pages: its footer prints once, after the last block that is not a
    // feed or a cut.
    let roll_footer_after = doc
        .blocks
        .iter()
        .rposition(|b| !matches!(b, Block::Feed(_) | Block::Cut));
    for (i, block) in doc.blocks.iter().enumerate() {
        match block {
            Block::Text {
                text: t,
                size,
                align,
                ..
            } => {
                let size_pt = if *size == TextSize::Large {
                    page.body_pt * 1.6
                } else {
                    page.body_pt
                };
                text(&mut cur, t, size_pt, *align);
            }
            Block::Table {
                columns,
                rows,
                header,
                total,
            } => {
                if !columns.is_empty() {
                    let grid = Grid::new(columns, page.margin_mm, usable, page.body_pt);
                    layout_table(&mut cur, &grid, rows, *header, total.as_deref());
                    // Air between the bottom rule and what follows.
                    cur.y += body_line * 0.5;
                }
            }
            Block::Qr { data } => {
                let side = usable.min(page.body_pt * 5.0).min(40.0);
                let top = cur.place(side);
                let x = page.margin_mm + (usable - side) / 2.0;
                cur.push(Placed::Qr {
                    data: data.clone(),
                    x,
                    top,
                    side,
                });
            }
            Block::Image(b) => {
                // 203 dpi, as a thermal head would print it, shrunk to fit.
                let dot = (25.4 / 203.0f32).min(usable / b.width.max(1) as f32);
                let h = b.height as f32 * dot;
                let top = cur.place(h);
                let x = page.margin_mm + (usable - b.width as f32 * dot) / 2.0;
                cur.push(Placed::Image {
                    bitmap: b.clone(),
                    x,
                    top,
                    dot,
                });
            }
            Block::Feed(n) => cur.y += body_line * *n as f32,
            Block::Cut => {}
        }
        if !paged
            && Some(i) == roll_footer_after
            && let Some(f) = &doc.footer
        {
            text(&mut cur, f, page.body_pt, Align::Center);
        }
    }
    if !paged
        && roll_footer_after.is_none()
        && let Some(f) = &doc.footer
    {
        text(&mut cur, f, page.body_pt, Align::Center);
    }
    let height = page.height_mm.unwrap_or(cur.y + page.margin_mm);
    let mut pages = cur.pages;
    let count = pages.len();
    if footer_rows > 0 {
        let zone = height - page.margin_mm - footer_h;
        for (n, items) in pages.iter_mut().enumerate() {
            items.push(Placed::Rule {
                x1: page.margin_mm,
                y1: zone + 1.0,
                x2: page.margin_mm + usable,
                y2: zone + 1.0,
                width_pt: 0.3,
            });
            let numbers = numbered.then(|| {
                let t = format!("第 {} 页 / 共 {} 页", n + 1, count);
                let w = text_width(&t, footer_pt);
                (t, w)
            });
            for (k, (t, w)) in footer_lines.iter().cloned().chain(numbers).enumerate() {
                items.push(Placed::Text {
                    text: t,
                    x: page.margin_mm + (usable - w).max(0.0) / 2.0,
                    baseline: zone + 2.0 + k as f32 * footer_line + footer_pt * PT_MM * 1.15,
                    size_pt: footer_pt,
                });
            }
        }
    }
    Layout {
        pages,
        height_mm: height,
    }
}

fn grey(level: f32) -> Color {
    Color::Rgb(Rgb {
        r: level,
        g: level,
        b: level,
        icc_profile: None,
    })
}

/// Any [`Document`](super::document::Document) as a PDF on `page`: text wrapped and
/// aligned with the bundled font (subset), tables as ruled grids, QR codes as vectors,
/// new pages as needed, the footer and "第 N 页 / 共 M 页" on every page of paged media.
pub fn document_pdf(
    doc: &super::document::Document,
    page: PageSpec,
    title: &str,
) -> Result<Vec<u8>, String> {
    let parsed = font()?;
    let mut pdf = PdfDocument::new(title);
    let font = PdfFontHandle::External(pdf.add_font(parsed));
    let laid = layout(doc, page);
    let height = laid.height_mm;
    let point = |x: f32, y: f32| LinePoint {
        p: Point::new(Mm(x), Mm(height - y)),
        bezier: false,
    };
    let out: Vec<PdfPage> = laid
        .pages
        .into_iter()
        .map(|items| {
            let mut ops = vec![
                Op::SetOutlineColor { col: black() },
                Op::SetFillColor { col: black() },
            ];
            for item in items {
                match item {
                    Placed::Text {
                        text,
                        x,
                        baseline,
                        size_pt,
                    } => ops.extend(text_ops(&font, x, height - baseline, size_pt, &text)),
                    Placed::Qr { data, x, top, side } => {
                        match qr_ops(&data, x, height - top - side, side) {
                            Ok(q) => ops.extend(q),
                            Err(e) => log::warn!("QR not drawn: {e}"),
                        }
                    }
                    Placed::Image {
                        bitmap,
                        x,
                        top,
                        dot,
                    } => ops.extend(bitmap_ops(&bitmap, x, height - top, dot)),
                    Placed::Rule {
                        x1,
                        y1,
                        x2,
                        y2,
                        width_pt,
                    } => {
                        ops.push(Op::SetOutlineThickness { pt: Pt(width_pt) });
                        ops.push(Op::DrawLine {
                            line: Line {
                                points: vec![point(x1, y1), point(x2, y2)],
                                is_closed: false,
                            },
                        });
                    }
                    Placed::Shade { x, top, w, h } => {
                        ops.push(Op::SetFillColor { col: grey(0.9) });
                        ops.push(Op::DrawRectangle {
                            rectangle: Rect {
                                x: Mm(x).into(),
                                y: Mm(height - top - h).into(),
                                width: Mm(w).into(),
                                height: Mm(h).into(),
                                mode: Some(PaintMode::Fill),
                                winding_order: Some(WindingOrder::NonZero),
                            },
                        });
                        ops.push(Op::SetFillColor { col: black() });
                    }
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

    use crate::document::{Column, Document};

    fn texts(items: &[Placed]) -> Vec<(&str, f32, f32, f32)> {
        items
            .iter()
            .filter_map(|i| match i {
                Placed::Text {
                    text,
                    x,
                    baseline,
                    size_pt,
                } => Some((text.as_str(), *x, *baseline, *size_pt)),
                _ => None,
            })
            .collect()
    }

    fn verticals(items: &[Placed]) -> Vec<f32> {
        let mut xs: Vec<f32> = items
            .iter()
            .filter_map(|i| match i {
                Placed::Rule { x1, x2, y1, y2, .. } if x1 == x2 && y1 != y2 => Some(*x1),
                _ => None,
            })
            .collect();
        xs.sort_by(f32::total_cmp);
        xs.dedup();
        xs
    }

    fn amounts(rows: usize) -> Document {
        let rows = (0..rows)
            .map(|i| vec![format!("2026-{:02}", i % 12 + 1), format!("{i},234.50")])
            .collect();
        Document::default().title("缴费记录").table_with_total(
            vec![
                Column::center("月份", 1),
                Column::right("个人缴纳（元）", 3),
            ],
            rows,
            vec!["合计".into(), "99,999.99".into()],
        )
    }

    #[test]
    fn chinese_is_a_full_em_and_digits_about_half() {
        let em = 12.0 * PT_MM;
        assert!((text_width("缴费", 12.0) - 2.0 * em).abs() < 0.05 * em);
        let digits = text_width("1234567890", 12.0) / 10.0;
        assert!((0.45 * em..0.65 * em).contains(&digits), "{digits}");
        // Every digit as wide as the next: right-aligned amounts line up.
        assert_eq!(text_width("1", 12.0), text_width("8", 12.0));
    }

    #[test]
    fn table_columns_share_the_text_width_by_weight() {
        let l = layout(&amounts(3), PageSpec::A4);
        let xs = verticals(&l.pages[0]);
        let usable = 210.0 - 36.0;
        assert_eq!(xs.len(), 3, "{xs:?}");
        assert!((xs[0] - 18.0).abs() < 0.01 && (xs[2] - (18.0 + usable)).abs() < 0.01);
        assert!(
            (xs[1] - (18.0 + usable / 4.0)).abs() < 0.01,
            "weights 1 : 3"
        );
    }

    #[test]
    fn amounts_are_right_aligned_and_months_centred_in_their_cells() {
        let l = layout(&amounts(3), PageSpec::A4);
        let t = texts(&l.pages[0]);
        let right = 18.0 + 174.0 - 1.5;
        for amount in ["0,234.50", "2,234.50", "99,999.99", "个人缴纳（元）"] {
            let (s, x, _, size) = t.iter().find(|(s, ..)| *s == amount).unwrap();
            assert!((x + text_width(s, *size) - right).abs() < 0.01, "{amount}");
        }
        let mid = 18.0 + 174.0 / 8.0;
        let (s, x, _, size) = t.iter().find(|(s, ..)| *s == "2026-01").unwrap();
        assert!((x + text_width(s, *size) / 2.0 - mid).abs() < 0.01);
    }

    #[test]
    fn a_long_cell_wraps_inside_its_column_and_the_row_grows() {
        let doc = Document::default().table(
            vec![Column::left("事项", 1), Column::left("说明", 1)],
            vec![
                vec!["甲".into(), "很长的说明".repeat(8)],
                vec!["乙".into(), "短".into()],
            ],
        );
        let l = layout(&doc, PageSpec::A4);
        let t = texts(&l.pages[0]);
        let edge = 18.0 + 87.0;
        let pieces: Vec<_> = t
            .iter()
            .filter(|(s, ..)| s.contains("说明") && s.len() > 6)
            .collect();
        assert!(pieces.len() >= 2, "{t:?}");
        for (s, x, _, size) in &pieces {
            assert!(*x >= edge && x + text_width(s, *size) <= 18.0 + 174.0 - 1.5 + 0.01);
        }
        let y = |name: &str| t.iter().find(|(s, ..)| *s == name).unwrap().2;
        let line = 12.0 * PT_MM * 1.5;
        assert!(y("乙") - y("甲") >= pieces.len() as f32 * line - 0.01);
    }

    #[test]
    fn a_table_across_pages_repeats_its_heading_and_every_page_is_numbered() {
        let doc = amounts(70).footer("核验码与内容一致方为有效");
        let l = layout(&doc, PageSpec::A4);
        let n = l.pages.len();
        assert!(n >= 2, "70 rows take more than a page");
        for (i, page) in l.pages.iter().enumerate() {
            let t = texts(page);
            let heading = t.iter().find(|(s, ..)| *s == "月份").expect("heading");
            let first_row = t
                .iter()
                .filter(|(s, ..)| s.starts_with("2026-"))
                .map(|r| r.2)
                .fold(f32::MAX, f32::min);
            assert!(
                heading.2 < first_row,
                "heading above the rows on page {}",
                i + 1
            );
            let number = format!("第 {} 页 / 共 {n} 页", i + 1);
            let foot = t.iter().find(|(s, ..)| *s == number).expect(&number);
            let footer = t.iter().find(|(s, ..)| s.contains("核验码")).unwrap();
            assert!(footer.2 < foot.2 && foot.2 < 297.0 - 5.0, "inside the page");
            // Nothing else reaches into the footer zone.
            for (s, _, y, _) in &t {
                if *s != number && !s.contains("核验码") {
                    assert!(*y < footer.2 - 4.0, "{s} at {y}");
                }
            }
        }
        let all: Vec<_> = l.pages.iter().flat_map(|p| texts(p)).collect();
        assert_eq!(
            all.iter().filter(|(s, ..)| s.ends_with(",234.50")).count(),
            70
        );
        assert_eq!(all.iter().filter(|(s, ..)| *s == "合计").count(), 1);
    }

    #[test]
    fn a_roll_has_no_page_numbers_and_its_footer_once_at_the_end() {
        let doc = amounts(40).footer("请妥善保管").feed(2).cut();
        let l = layout(&doc, PageSpec::RECEIPT);
        assert_eq!(l.pages.len(), 1);
        let t = texts(&l.pages[0]);
        assert!(!t.iter().any(|(s, ..)| s.contains('页')));
        let footer: Vec<_> = t.iter().filter(|(s, ..)| *s == "请妥善保管").collect();
        assert_eq!(footer.len(), 1);
        assert!(t.iter().all(|r| r.2 <= footer[0].2));
    }
}
