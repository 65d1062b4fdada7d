//! The document model every printer understands: text lines, tables, QR codes, images, feeds, cuts, and a footer.

/// Horizontal alignment of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Character size: ESC/POS `GS !` multiplies width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSize {
    Normal,
    /// Double width and height, for titles.
    Large,
}

/// A 1-bit image, row-major, `true` = black.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<bool>,
}

impl Bitmap {
    /// A QR code drawn with `module` dots per module and a 4-module quiet zone.
    pub fn qr(data: &str, module: u32) -> Result<Self, String> {
        let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| format!("QR: {e}"))?;
        let n = code.width() as u32;
        let quiet = 4;
        let size = (n + 2 * quiet) * module;
        let colors = code.to_colors();
        let mut pixels = vec![false; (size * size) as usize];
        for y in 0..size {
            for x in 0..size {
                let (mx, my) = (x / module, y / module);
                if mx >= quiet && my >= quiet && mx < n + quiet && my < n + quiet {
                    let c = colors[((my - quiet) * n + (mx - quiet)) as usize];
                    pixels[(y * size + x) as usize] = c == qrcode::Color::Dark;
                }
            }
        }
        Ok(Self {
            width: size,
            height: size,
            pixels,
        })
    }
}

/// One column of a [`Block::Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub heading: String,
    /// Share of the table's width, relative to the other columns' (PDF: of the text
    /// width; ESC/POS: of the line's character columns).
    pub weight: u16,
    /// Of the heading and of every cell; amounts right.
    pub align: Align,
}

impl Column {
    pub fn left(heading: impl Into<String>, weight: u16) -> Self {
        Self {
            heading: heading.into(),
            weight,
            align: Align::Left,
        }
    }
    pub fn center(heading: impl Into<String>, weight: u16) -> Self {
        Self {
            heading: heading.into(),
            weight,
            align: Align::Center,
        }
    }
    pub fn right(heading: impl Into<String>, weight: u16) -> Self {
        Self {
            heading: heading.into(),
            weight,
            align: Align::Right,
        }
    }
}

/// One block of a document, printed in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Text {
        text: String,
        size: TextSize,
        bold: bool,
        align: Align,
    },
    /// A QR code; the printer's QR mode decides native command or raster image.
    Qr {
        data: String,
    },
    Image(Bitmap),
    /// Rows of cells under column headings. A cell too long for its column wraps inside
    /// it; a row with fewer cells than columns leaves the rest empty, extra cells are
    /// dropped. On paged media the heading row is repeated at the top of every page
    /// the table continues on.
    Table {
        columns: Vec<Column>,
        rows: Vec<Vec<String>>,
        /// Whether the heading row is printed (and repeated on every page).
        header: bool,
        /// A last row set apart by a double rule (合计).
        total: Option<Vec<String>>,
    },
    /// Blank lines.
    Feed(u8),
    Cut,
}

/// A print job's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub blocks: Vec<Block>,
    /// A line at the foot of every page on paged media (A4), above the page number;
    /// printed once after the last block on a roll.
    pub footer: Option<String>,
}

impl Document {
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            size: TextSize::Normal,
            bold: false,
            align: Align::Left,
        });
        self
    }
    pub fn title(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            size: TextSize::Large,
            bold: true,
            align: Align::Center,
        });
        self
    }
    pub fn centered(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            size: TextSize::Normal,
            bold: false,
            align: Align::Center,
        });
        self
    }
    pub fn qr(mut self, data: impl Into<String>) -> Self {
        self.blocks.push(Block::Qr { data: data.into() });
        self
    }
    /// A table with its heading row.
    pub fn table(mut self, columns: Vec<Column>, rows: Vec<Vec<String>>) -> Self {
        self.blocks.push(Block::Table {
            columns,
            rows,
            header: true,
            total: None,
        });
        self
    }
    /// A table with its heading row and a 合计 row.
    pub fn table_with_total(
        mut self,
        columns: Vec<Column>,
        rows: Vec<Vec<String>>,
        total: Vec<String>,
    ) -> Self {
        self.blocks.push(Block::Table {
            columns,
            rows,
            header: true,
            total: Some(total),
        });
        self
    }
    /// The footer line of every page (see [`Document::footer`]).
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = Some(text.into());
        self
    }
    pub fn feed(mut self, lines: u8) -> Self {
        self.blocks.push(Block::Feed(lines));
        self
    }
    pub fn cut(mut self) -> Self {
        self.blocks.push(Block::Cut);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_bitmap_has_quiet_zone_and_finder() {
        let b = Bitmap::qr("CK1.abc.def", 2).unwrap();
        assert_eq!(b.width, b.height);
        // Quiet zone: the first 8 rows (4 modules × 2 dots) are white.
        assert!(b.pixels[..(b.width * 8) as usize].iter().all(|p| !p));
        // Top-left finder pattern starts dark right after the quiet zone.
        assert!(b.pixels[(8 * b.width + 8) as usize]);
    }
}
