//! The technician's tools that both the CLI and the maintenance page run: a test print,
//! the audit and the recent log as lines to read. (Sync now is
//! [`crate::ratings::sync::drain`]; a catalogue refresh is the catalogue worker's
//! [`crate::catalog::sync::Refresh`].)

use crate::config::{Config, PrinterRole};
use crate::print::job::JobState;
use crate::print::uri::PrinterUri;

/// The test page: who and where, when, which printer, a QR code, Chinese text and rare
/// characters of names (printed as an image on ESC/POS).
pub fn test_page(config: &Config, uri: &str, now: &str) -> crate::print::document::Document {
    crate::print::document::Document::default()
        .title("打印测试 Print test")
        .centered(config.terminal.name.clone())
        .text(format!("终端 Terminal: {}", config.terminal.id))
        .text(format!("时间 Time: {now}"))
        .text(format!("打印机 Printer: {uri}"))
        .qr(format!(
            "civic-kiosk print-test {} {now}",
            config.terminal.id
        ))
        .text("中文：一网通办 离线码 办事指南 好差评")
        .text("生僻字 Rare: 李*燊 王*堃 张*喆 陈*赟")
        .text("ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789")
        .feed(2)
        .cut()
}

/// Prints the test page on `uri` as `role`'s printer. `say` hears the lines a technician
/// reads as it goes (the printer, its status before); the answer is the last line (printed
/// and the status after) or why nothing was printed. With `wait`, a printer that cannot
/// print now is waited for (each wait state goes to `waiting`) until `cancel` turns true
/// or `printers.give_up_s`; without it the first hold cancels the job (the maintenance
/// page never waits).
pub async fn test_print(
    config: &Config,
    role: PrinterRole,
    uri: &PrinterUri,
    wait: bool,
    cancel: tokio::sync::watch::Receiver<bool>,
    mut say: impl FnMut(String),
    mut waiting: impl FnMut(&JobState) + Send,
) -> Result<String, String> {
    let options = config.job_options(role);
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let doc = test_page(config, &uri.to_string(), &now);
    let (page, media) = match role {
        PrinterRole::Card => (
            crate::print::pdf::PageSpec::CARD,
            crate::print::ipp::Media::Card,
        ),
        PrinterRole::Receipt => (
            crate::print::pdf::PageSpec::RECEIPT,
            crate::print::ipp::Media::A4,
        ),
        PrinterRole::Document => (
            crate::print::pdf::PageSpec::A4,
            crate::print::ipp::Media::A4,
        ),
    };
    let for_pdf = doc.clone();
    let job = crate::print::PrintJob {
        title: format!(
            "print-test-{}-{}",
            role.name(),
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ),
        document: doc,
        pdf: Box::new(move || crate::print::pdf::document_pdf(&for_pdf, page, "打印测试")),
        media,
    };
    say(format!("printer {}: {uri}", role.name()));
    let before = crate::print::status(uri, &options)
        .await
        .map_err(|e| format!("printer not reachable: {e}"))?;
    say(format!(
        "status before: {} ({})",
        before.state_name(),
        before.technician_detail()
    ));
    if !before.can_print() && !wait {
        return Err(format!(
            "printer not ready: {}: {}",
            before.state_name(),
            before.technician_detail()
        ));
    }
    let (hold_tx, hold_rx) = tokio::sync::watch::channel(false);
    let mut cancel = cancel;
    let mut held = hold_rx;
    // The job stops on the caller's cancel, or (without `wait`) on its first hold.
    let either = {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = crate::print::job::cancelled(&mut cancel) => {}
                _ = crate::print::job::cancelled(&mut held) => {}
            }
            let _ = tx.send(true);
            std::future::pending::<()>().await;
        });
        rx
    };
    let mut why = String::new();
    let outcome = crate::print::run(uri, job, &options, either, |s| {
        match s {
            JobState::Held(status) => {
                why = format!(
                    "printer not ready: {}: {}",
                    status.state_name(),
                    status.technician_detail()
                )
            }
            JobState::Unsupported(m) => why = m.clone(),
            JobState::Retrying(e) => why = format!("printer not reachable: {e}"),
            _ => {}
        }
        if s.is_waiting() {
            if wait {
                waiting(s);
            } else {
                let _ = hold_tx.send(true);
            }
        }
    })
    .await;
    match outcome.state {
        JobState::Printed(after) => Ok(format!(
            "printed {}; status after: {} ({})",
            outcome.place,
            after.state_name(),
            after.technician_detail()
        )),
        JobState::Cancelled if why.is_empty() => Err("cancelled; nothing printed".into()),
        JobState::Cancelled => Err(format!("{why}; nothing printed")),
        JobState::Failed(e) => Err(format!("not printed: {e}")),
        other => Err(format!("not printed: {other:?}")),
    }
}

/// The newest `entries` as lines, newest first: local time, kind, who, what. Details were
/// scrubbed when written ([`crate::store::Store::audit`]); they are scrubbed again here, a
/// second net for an entry an older version wrote.
pub fn audit_lines(entries: &[crate::api::AuditEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let at = e.at.with_timezone(&chrono::Local).format("%m-%d %H:%M:%S");
            let who = e
                .actor
                .as_deref()
                .map(|a| format!(" [{a}]"))
                .unwrap_or_default();
            crate::logging::scrub(&format!("{at} {}{who}: {}", e.kind, e.detail))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_lines_are_scrubbed_again_and_name_who() {
        let at = chrono::Utc::now();
        let lines = audit_lines(&[
            crate::api::AuditEntry {
                at,
                kind: "offline_code_issued".into(),
                detail: "terminal T1 card C-9: printed".into(),
                actor: Some("staff:S1024".into()),
            },
            crate::api::AuditEntry {
                at,
                kind: "old".into(),
                detail: "lookup 310105194506150021 by 13812345678".into(),
                actor: None,
            },
        ]);
        assert!(
            lines[0].ends_with("offline_code_issued [staff:S1024]: terminal T1 card C-9: printed"),
            "{}",
            lines[0]
        );
        assert!(!lines[1].contains("310105194506150021"), "{}", lines[1]);
        assert!(!lines[1].contains("13812345678"), "{}", lines[1]);
        assert!(lines[1].contains("310***********0021"), "{}", lines[1]);
    }
}
