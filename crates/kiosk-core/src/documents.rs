//! 证明打印 and 快办 on paper: a certificate (monthly amounts as a table, verification QR) and a 受理回执, as documents and as A4 print jobs for the document printer.

use chrono::{DateTime, FixedOffset, Utc};

use crate::api::{Certificate, QuickReceipt, yuan};
use crate::identity::{IdNumber, mask_name};
use crate::print::document::{Column, Document};

/// The footer of every page of a certificate.
pub const CERTIFICATE_FOOTER: &str = "本证明由自助服务终端打印，核验码与内容一致方为有效";

/// Shanghai time (UTC+8 all year: China has no daylight saving), as a resident reads it.
fn shanghai(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// The ID as printed: the back office sends it masked; should anything unmasked ever
/// come, it is masked here (first 3 and last 4 kept, as `IdNumber::masked`) rather than
/// printed.
fn printed_id(masked_id: &str) -> String {
    let id = masked_id.trim();
    if let Ok(valid) = IdNumber::parse(id) {
        return valid.masked();
    }
    let chars: Vec<char> = id.chars().collect();
    if id.contains('*') || chars.len() < 8 {
        return id.to_string();
    }
    let mut out: String = chars[..3].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - 7));
    out.extend(&chars[chars.len() - 4..]);
    out
}

/// The name as printed: masked by the back office; a name without a `*` is masked here.
fn printed_name(masked_name: &str) -> String {
    if masked_name.contains('*') || masked_name.chars().count() < 2 {
        masked_name.to_string()
    } else {
        mask_name(masked_name)
    }
}

/// A job title safe as a spool file stem: ASCII letters, digits, `-` and `_` only.
fn file_stem(prefix: &str, id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}-{id}")
}

/// A certificate: title, issuer, the masked holder, the period, the months as a table
/// with a 合计 row, when and where it was printed, the verification QR (exactly the
/// signed code) and how to check it, the 办件编号; every page carries the footer and its
/// page number.
pub fn certificate_document(c: &Certificate, centre: &str) -> Document {
    let mut columns = vec![Column::center("月份", 3)];
    columns.extend(c.columns.iter().map(|h| Column::right(h.clone(), 4)));
    let amounts = |fen: &[i64]| -> Vec<String> {
        (0..c.columns.len())
            .map(|i| fen.get(i).map(|f| yuan(*f)).unwrap_or_default())
            .collect()
    };
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.month.clone()];
            cells.extend(amounts(&r.amounts_fen));
            cells
        })
        .collect();
    let mut total = vec!["合计".to_string()];
    total.extend(amounts(&c.totals_fen));
    Document::default()
        .title(c.title.clone())
        .feed(1)
        .text(format!("出具单位 {}", c.issuer))
        .text(format!(
            "姓名 {}　　证件号码 {}",
            printed_name(&c.holder_masked_name),
            printed_id(&c.holder_masked_id)
        ))
        .text(format!("期间 {} 至 {}", c.period_from, c.period_to))
        .feed(1)
        .table_with_total(columns, rows, total)
        .text(format!("出具时间 {}（北京时间）", shanghai(c.issued_at)))
        .text(format!("打印终端 {centre}"))
        .feed(1)
        .qr(c.verification_code.clone())
        .centered(format!(
            "扫描二维码或访问 /api/v1/documents/verify/{} 核验本证明真伪",
            c.verification_code
        ))
        .centered(format!("办件编号 {}", c.case_no))
        .footer(CERTIFICATE_FOOTER)
        .feed(2)
        .cut()
}

/// A 快办 受理回执: the item, the 办件编号 in large type, when it was submitted, what
/// happens next, a QR with the 办件编号, the centre.
pub fn receipt_document(r: &QuickReceipt, centre: &str) -> Document {
    let mut d = Document::default()
        .title("受理回执")
        .centered(r.item_name.clone())
        .feed(1)
        .centered("办件编号")
        .title(r.case_no.clone())
        .feed(1)
        .text(format!("事项编码 {}", r.item_code))
        .text(format!("提交时间 {}（北京时间）", shanghai(r.submitted_at)));
    if r.repeated {
        d = d.text("此申请此前已提交，办件编号不变");
    }
    let steps: Vec<&str> = r
        .next_steps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match steps.as_slice() {
        [] => {}
        [one] => d = d.text(format!("后续步骤 {one}")),
        many => {
            d = d.text("后续步骤");
            for (i, step) in many.iter().enumerate() {
                d = d.text(format!("{}. {step}", i + 1));
            }
        }
    }
    d.feed(1)
        .qr(r.case_no.clone())
        .centered(centre.to_string())
        .centered("请妥善保管本回执")
        .feed(2)
        .cut()
}

/// A document for the document printer: A4 PDF, the document model for an ESC/POS one.
fn a4_job(doc: Document, title: String, pdf_title: &'static str) -> crate::print::PrintJob {
    let for_pdf = doc.clone();
    crate::print::PrintJob {
        title,
        document: doc,
        pdf: Box::new(move || {
            crate::print::pdf::document_pdf(&for_pdf, crate::print::pdf::PageSpec::A4, pdf_title)
        }),
        media: crate::print::ipp::Media::A4,
    }
}

/// A certificate as a job for [`PrinterRole::Document`](crate::config::PrinterRole):
/// titled by its 办件编号 (never personal data).
pub fn certificate_job(c: &Certificate, centre: &str) -> crate::print::PrintJob {
    a4_job(
        certificate_document(c, centre),
        file_stem("certificate", &c.case_no),
        "证明",
    )
}

/// A 受理回执 as a job for [`PrinterRole::Document`](crate::config::PrinterRole).
pub fn receipt_job(r: &QuickReceipt, centre: &str) -> crate::print::PrintJob {
    a4_job(
        receipt_document(r, centre),
        file_stem("receipt", &r.case_no),
        "受理回执",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateKind, CertificateRow};
    use crate::print::pdf::{PageSpec, document_pdf};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const CENTRE: &str = "天山路街道社区事务受理服务中心";
    /// A valid-looking full ID number the masked one stands for: it must never print.
    const FULL_ID: &str = "310105194601011231";

    /// The path of an external tool, or a failure naming the Debian package.
    fn tool(name: &str, package: &str) -> PathBuf {
        for dir in ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
        panic!("{name} is missing: install the Debian package {package}");
    }

    fn run(cmd: &mut Command) -> Vec<u8> {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A certificate of `months` months ending 2026-11, with amounts that differ by
    /// month (and one in the thousands, to show the grouping).
    fn certificate(months: u32) -> Certificate {
        let mut rows = Vec::new();
        let (mut y, mut m) = (2026i32, 11u32);
        for _ in 0..months {
            rows.push((y, m));
            if m == 1 {
                y -= 1;
                m = 12;
            } else {
                m -= 1;
            }
        }
        rows.reverse();
        let rows: Vec<CertificateRow> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (y, m))| {
                let base = 1_231_500 + i as i64 * 1_00;
                CertificateRow {
                    month: format!("{y}-{m:02}"),
                    amounts_fen: vec![base, base * 8 / 100 + i as i64, base * 16 / 100 + 7],
                }
            })
            .collect();
        let totals_fen = (0..3)
            .map(|k| rows.iter().map(|r| r.amounts_fen[k]).sum())
            .collect();
        Certificate {
            verification_code: format!("DV1.D{months:02}X7Q2M9K4.{}", "s1gNaTuRe_-".repeat(6)),
            case_no: "SB20261201000123".into(),
            kind: CertificateKind::SocialInsurance,
            title: CertificateKind::SocialInsurance.title().into(),
            issuer: "上海市长宁区社会保险事业管理中心".into(),
            holder_masked_name: "王*英".into(),
            holder_masked_id: "310***********1231".into(),
            issued_at: "2026-12-01T02:30:00Z".parse().unwrap(),
            period_from: rows[0].month.clone(),
            period_to: rows[rows.len() - 1].month.clone(),
            columns: vec![
                "缴费基数（元）".into(),
                "个人缴纳（元）".into(),
                "单位缴纳（元）".into(),
            ],
            rows,
            totals_fen,
        }
    }

    struct Rendered {
        text: String,
        pages: usize,
        qr: String,
        _dir: tempfile::TempDir,
    }

    /// Renders `doc` on A4 into a temp dir, reads its text back with pdftotext and the QR
    /// code of its last page with zbarimg.
    fn render(doc: &Document) -> Rendered {
        let pdftotext = tool("pdftotext", "poppler-utils");
        let pdftoppm = tool("pdftoppm", "poppler-utils");
        let pdfinfo = tool("pdfinfo", "poppler-utils");
        let zbarimg = tool("zbarimg", "zbar-tools");
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("c.pdf");
        let bytes = document_pdf(doc, PageSpec::A4, "证明").unwrap();
        std::fs::write(&pdf, bytes).unwrap();
        let text = String::from_utf8(run(Command::new(pdftotext)
            .arg("-layout")
            .arg(&pdf)
            .arg("-")))
        .unwrap();
        let info = String::from_utf8(run(Command::new(pdfinfo).arg(&pdf))).unwrap();
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        // The QR is on the last page.
        let png = dir.path().join("last");
        run(Command::new(pdftoppm)
            .args(["-r", "200", "-png", "-singlefile", "-f"])
            .arg(pages.to_string())
            .arg(&pdf)
            .arg(&png));
        let qr = String::from_utf8(run(Command::new(zbarimg)
            .args(["-q", "--raw"])
            .arg(png.with_extension("png"))))
        .unwrap();
        Rendered {
            text,
            pages,
            qr: qr.trim_end_matches('\n').to_string(),
            _dir: dir,
        }
    }

    fn check(c: &Certificate, r: &Rendered) {
        let t = &r.text;
        assert!(t.contains(&c.title), "{t}");
        assert!(t.contains(&c.issuer));
        assert!(
            t.contains("王*英") && t.contains("310***********1231"),
            "{t}"
        );
        assert!(t.contains(&format!("{} 至 {}", c.period_from, c.period_to)));
        for h in &c.columns {
            assert!(t.contains(h.as_str()), "heading {h}");
        }
        for row in &c.rows {
            let line = t
                .lines()
                .find(|l| l.trim_start().starts_with(&row.month))
                .unwrap_or_else(|| panic!("month {} missing:\n{t}", row.month));
            for fen in &row.amounts_fen {
                assert!(line.contains(&yuan(*fen)), "{} in {line}", yuan(*fen));
            }
        }
        let total = t.lines().find(|l| l.contains("合计")).expect("合计 row");
        for fen in &c.totals_fen {
            assert!(total.contains(&yuan(*fen)), "{} in {total}", yuan(*fen));
        }
        assert!(t.contains("2026-12-01 10:30"), "issued in Shanghai time");
        assert!(t.contains(CENTRE));
        assert!(t.contains(&format!("办件编号 {}", c.case_no)));
        assert!(t.contains("核验本证明真伪"));
        // The verification code may wrap: compare without white space.
        let flat: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            flat.contains(&format!(
                "/api/v1/documents/verify/{}核验",
                c.verification_code
            )),
            "{t}"
        );
        assert_eq!(
            t.matches(CERTIFICATE_FOOTER).count(),
            r.pages,
            "footer on every page"
        );
        for n in 1..=r.pages {
            assert!(
                flat.contains(&format!("第{n}页/共{}页", r.pages)),
                "page number {n}:\n{t}"
            );
        }
        assert_eq!(r.qr, c.verification_code, "the QR carries exactly the code");
        // Nothing like a full ID number anywhere (18 digits, or 17 and an X).
        let chars: Vec<char> = flat.chars().collect();
        assert!(
            !chars
                .windows(18)
                .any(|w| w[..17].iter().all(char::is_ascii_digit)
                    && (w[17].is_ascii_digit() || w[17] == 'X')),
            "a full ID number in the text"
        );
        assert!(!t.contains(FULL_ID));
    }

    #[test]
    fn a_12_month_certificate_prints_every_month_and_total_on_one_page() {
        let c = certificate(12);
        let r = render(&certificate_document(&c, CENTRE));
        check(&c, &r);
        assert_eq!(r.pages, 1, "{}", r.text);
        assert!(r.text.contains("2025-12 至 2026-11"));
    }

    #[test]
    fn a_36_month_certificate_fits_two_pages_with_the_heading_on_each() {
        let c = certificate(36);
        let r = render(&certificate_document(&c, CENTRE));
        check(&c, &r);
        assert_eq!(r.pages, 2, "{}", r.text);
        // The heading row repeats on the second page.
        let second = r.text.split('\u{c}').nth(1).unwrap();
        assert!(second.contains("月份") && second.contains("缴费基数（元）"));
    }

    #[test]
    fn on_an_escpos_document_printer_the_table_is_48_aligned_columns() {
        use crate::print::document::Block;
        use crate::print::escpos::{LINE_COLUMNS, table_lines, text_columns};
        let c = certificate(12);
        let doc = certificate_document(&c, CENTRE);
        let Some(Block::Table {
            columns,
            rows,
            header,
            total,
        }) = doc.blocks.iter().find(|b| matches!(b, Block::Table { .. }))
        else {
            panic!("no table");
        };
        let lines = table_lines(columns, rows, *header, total.as_deref(), LINE_COLUMNS);
        let text: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
        for l in &text {
            assert!(text_columns(l) <= LINE_COLUMNS, "{l}");
        }
        for row in &c.rows {
            let line = text.iter().find(|l| l.contains(&row.month)).unwrap();
            let last = yuan(row.amounts_fen[2]);
            assert!(line.ends_with(&last), "{line}");
        }
        assert!(text.iter().any(|l| l.contains("合计")));
        assert!(crate::print::escpos::encode(&doc, crate::print::QrMode::Native).is_ok());
    }

    #[test]
    fn a_full_id_or_name_from_the_back_office_is_masked_before_it_prints() {
        let mut c = certificate(12);
        c.holder_masked_id = FULL_ID.into();
        c.holder_masked_name = "王秀英".into();
        let text = format!("{:?}", certificate_document(&c, CENTRE));
        assert!(!text.contains(FULL_ID) && !text.contains("王秀英"));
        assert!(text.contains("310***********1231") && text.contains("王*英"));
    }

    #[test]
    fn a_receipt_carries_the_case_number_large_and_in_its_qr() {
        let r = QuickReceipt {
            case_no: "KB20261201000042".into(),
            item_id: "quick-1".into(),
            item_code: "310105-KB-001".into(),
            item_name: "居住证签注".into(),
            item_name_en: String::new(),
            submitted_at: "2026-12-01T15:59:00Z".parse().unwrap(),
            next_steps: "3 个工作日内短信通知办理结果\n凭本回执到窗口领取".into(),
            next_steps_en: String::new(),
            repeated: false,
        };
        let doc = receipt_document(&r, CENTRE);
        let text = format!("{doc:?}");
        assert!(text.contains("受理回执") && text.contains("居住证签注"));
        assert!(text.contains("2026-12-01 23:59"), "Shanghai time: {text}");
        assert!(text.contains("请妥善保管本回执") && text.contains(CENTRE));
        assert!(text.contains("2. 凭本回执到窗口领取"));
        assert!(doc.blocks.iter().any(|b| matches!(b,
            crate::print::document::Block::Qr { data } if *data == r.case_no)));
        assert!(doc.blocks.iter().any(|b| matches!(b,
            crate::print::document::Block::Text { text, size: crate::print::document::TextSize::Large, .. }
                if *text == r.case_no)));
        let printed = render(&doc);
        assert_eq!(printed.pages, 1);
        assert_eq!(printed.qr, r.case_no);
        for line in [
            "受理回执",
            "居住证签注",
            "KB20261201000042",
            "2026-12-01 23:59",
            CENTRE,
        ] {
            assert!(printed.text.contains(line), "{line}: {}", printed.text);
        }
        let flat: String = printed.text.split_whitespace().collect();
        assert!(flat.contains("第1页/共1页"), "A4 pages are numbered");
        let job = receipt_job(&r, CENTRE);
        assert_eq!(job.title, "receipt-KB20261201000042");
        let pdf = (job.pdf)().unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn job_titles_are_safe_file_stems() {
        let mut c = certificate(12);
        c.case_no = "../etc/SB 1".into();
        assert_eq!(certificate_job(&c, CENTRE).title, "certificate-___etc_SB_1");
    }
}
