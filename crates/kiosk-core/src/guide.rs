//! 办事指南 on paper: an item's guide, or a 一件事's combined materials list, as a print job for the receipt printer (ESC/POS) or the A4 document printer.

use crate::api::ServiceItem;
use crate::catalog::BundleView;
use crate::config::{Config, PrinterRole};
use crate::print::document::Document;
use crate::print::uri::PrinterUri;

/// The guide of one item: what it is, conditions, materials, time limits, fee, where.
pub fn item_document(item: &ServiceItem, centre: &str) -> Document {
    let mut d = Document::default()
        .title("办事指南")
        .centered(item.name.clone())
        .text(format!("事项编码 {}", item.code))
        .text(format!("办理部门 {}", item.department))
        .text(item.summary.clone());
    if !item.conditions.is_empty() {
        d = d.feed(1).text("【受理条件】");
        for (i, c) in item.conditions.iter().enumerate() {
            d = d.text(format!("{}. {c}", i + 1));
        }
    }
    d = d.feed(1).text("【申请材料】");
    for (i, m) in item.materials.iter().enumerate() {
        let note = m
            .note
            .as_deref()
            .map(|n| format!("（{n}）"))
            .unwrap_or_default();
        d = d.text(format!(
            "{}. {}，{}，{} 份{note}",
            i + 1,
            m.name,
            m.form,
            m.count
        ));
    }
    d = d.feed(1).text("【办理时限】");
    if let Some(days) = item.legal_limit_days {
        d = d.text(format!("法定办结时限 {days} 个工作日"));
    }
    d = d.text(if item.promised_limit_days == 0 {
        "承诺办结时限 即办".to_string()
    } else {
        format!("承诺办结时限 {} 个工作日", item.promised_limit_days)
    });
    d = d.text(format!("收费 {}", item.fee)).text(format!(
        "{}；到现场 {} 次",
        if item.online {
            "可网上办理"
        } else {
            "不可网上办理"
        },
        item.visits
    ));
    if !item.locations.is_empty() {
        d = d.feed(1).text("【办理地点】");
        for l in &item.locations {
            d = d.text(format!("{}，{}，{}", l.name, l.address, l.hours));
        }
    }
    footer(d, centre)
}

/// A 一件事: its items in order and one combined materials list.
pub fn bundle_document(view: &BundleView<'_>, centre: &str) -> Document {
    let mut d = Document::default()
        .title("一件事 材料清单")
        .centered(view.bundle.name.clone())
        .text(view.bundle.summary.clone())
        .feed(1)
        .text("【一次准备好这些材料】");
    for (i, m) in view.materials.iter().enumerate() {
        d = d.text(format!("{}. {}，{}，{} 份", i + 1, m.name, m.form, m.count));
    }
    d = d.feed(1).text("【包含的事项】");
    for (i, item) in view.items.iter().enumerate() {
        d = d.text(format!("{}. {}（{}）", i + 1, item.name, item.department));
    }
    footer(d, centre)
}

fn footer(d: Document, centre: &str) -> Document {
    d.feed(1)
        .centered(centre.to_string())
        .centered(format!(
            "打印时间 {}",
            chrono::Local::now().format("%Y-%m-%d %H:%M")
        ))
        .feed(2)
        .cut()
}

/// Where a guide prints: on the receipt printer when it is an ESC/POS printer (a slip
/// at the terminal), otherwise as A4 on the document printer.
pub fn printer_for_guides(config: &Config) -> (PrinterRole, PrinterUri) {
    let receipt = config.printer_uri(PrinterRole::Receipt);
    match receipt {
        PrinterUri::EscposTcp { .. }
        | PrinterUri::EscposDevice { .. }
        | PrinterUri::EscposSerial { .. } => (PrinterRole::Receipt, receipt),
        _ => (
            PrinterRole::Document,
            config.printer_uri(PrinterRole::Document),
        ),
    }
}

/// A guide document as a job for `role`: A4 PDF for the document printer, a roll-width
/// PDF for a receipt role that is not ESC/POS.
pub fn job(doc: Document, title: &str, role: PrinterRole) -> crate::print::PrintJob {
    let page = if role == PrinterRole::Receipt {
        crate::print::pdf::PageSpec::RECEIPT
    } else {
        crate::print::pdf::PageSpec::A4
    };
    let for_pdf = doc.clone();
    crate::print::PrintJob {
        title: title.to_string(),
        document: doc,
        pdf: Box::new(move || crate::print::pdf::document_pdf(&for_pdf, page, "办事指南")),
        media: crate::print::ipp::Media::A4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guide_names_the_item_and_every_material() {
        let catalogue = civic_contract::catalogue::demo().unwrap();
        let item = &catalogue.items[0];
        let doc = item_document(item, "天山路街道社区事务受理服务中心");
        let text = format!("{doc:?}");
        assert!(text.contains(&item.name));
        for m in &item.materials {
            assert!(text.contains(&m.name), "{}", m.name);
        }
    }
}
