//! A printer's status in one model for every transport: ESC/POS DLE EOT bits, IPP printer-state-reasons, or honestly unknown.

/// What the printer reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// DLE EOT 1 bit 3; IPP `offline`, `connecting-to-device`, `timed-out`.
    pub offline: bool,
    /// DLE EOT 2 bit 2; IPP `cover-open`, `door-open`, `interlock-open`.
    pub cover_open: bool,
    /// DLE EOT 2 bit 5 or DLE EOT 4 bits 5–6; IPP `media-empty`, `media-needed`.
    pub paper_end: bool,
    /// DLE EOT 4 bits 2–3; IPP `media-low`.
    pub paper_near_end: bool,
    /// DLE EOT 2 bit 6 (cutter, overheating …); IPP `media-jam` and other errors.
    pub error: bool,
    /// The queue does not print until someone resumes it: IPP printer-state `stopped`,
    /// `paused`, `shutdown`, or not accepting jobs. ESC/POS printers never set it.
    pub stopped: bool,
    /// The transport cannot read the printer's status (a device file that does not
    /// answer DLE EOT, or answers a byte that is not a status byte): nothing above is
    /// known.
    pub unknown: bool,
    /// With `unknown`: why, when the printer answered something that is not a status
    /// (which DLE EOT and the byte), for the technician.
    pub unknown_why: Option<String>,
    /// The IPP printer-state-reasons as the printer sent them (empty for ESC/POS), so
    /// the technician sees exactly what CUPS said.
    pub reasons: Vec<String>,
}

/// IPP printer-state values (RFC 8011 §5.4.11).
pub const IPP_PRINTER_STOPPED: i32 = 5;

/// The fixed bits of every DLE EOT answer, `0xx1xx10`: bit 1 and bit 4 set, bit 0 and
/// bit 7 clear (Epson ESC/POS reference, DLE EOT n = 1, 2, 4).
const FIXED_MASK: u8 = 0b1001_0011;
const FIXED_BITS: u8 = 0b0001_0010;

/// Whether `b` has the fixed bits of a DLE EOT status byte.
pub fn is_status_byte(b: u8) -> bool {
    b & FIXED_MASK == FIXED_BITS
}

impl Status {
    /// Reads the answers to DLE EOT 1, 2 and 4. An answer without the fixed bits
    /// (`0xx1xx10`) is not a status (line noise, a printer echoing, another protocol):
    /// the status is unknown, never read as ready.
    pub fn from_bytes(printer: u8, offline_cause: u8, paper: u8) -> Self {
        if let Some((n, b)) = [(1, printer), (2, offline_cause), (4, paper)]
            .into_iter()
            .find(|(_, b)| !is_status_byte(*b))
        {
            return Self {
                unknown: true,
                unknown_why: Some(format!(
                    "DLE EOT {n} answered 0x{b:02X}, which is not a status byte (bits 0xx1xx10); check that the printer speaks ESC/POS and the line's settings (baud, port)"
                )),
                ..Self::default()
            };
        }
        Self {
            offline: printer & 0b0000_1000 != 0,
            cover_open: offline_cause & 0b0000_0100 != 0,
            paper_end: offline_cause & 0b0010_0000 != 0 || paper & 0b0110_0000 != 0,
            paper_near_end: paper & 0b0000_1100 != 0,
            error: offline_cause & 0b0100_0000 != 0,
            ..Self::default()
        }
    }

    /// A printer whose status cannot be read.
    pub fn unknown() -> Self {
        Self {
            unknown: true,
            ..Self::default()
        }
    }

    /// Maps IPP printer-state, printer-is-accepting-jobs and printer-state-reasons
    /// (RFC 8011 §5.4.11–12, PWG 5100.9) into the model. A reason with the `-report` or
    /// `-warning` suffix informs and does not stop a job; one with `-error` or no suffix
    /// does.
    pub fn from_ipp(printer_state: i32, accepting: bool, reasons: &[String]) -> Self {
        let mut s = Self {
            stopped: printer_state == IPP_PRINTER_STOPPED || !accepting,
            reasons: reasons
                .iter()
                .filter(|r| r.as_str() != "none")
                .cloned()
                .collect(),
            ..Self::default()
        };
        for reason in reasons {
            let (base, severe) = if let Some(b) = reason.strip_suffix("-report") {
                (b, false)
            } else if let Some(b) = reason.strip_suffix("-warning") {
                (b, false)
            } else {
                (reason.strip_suffix("-error").unwrap_or(reason), true)
            };
            match base {
                "none" => {}
                "media-empty" | "media-needed" if severe => s.paper_end = true,
                "media-empty" | "media-needed" | "media-low" => s.paper_near_end = true,
                "cover-open" | "door-open" | "interlock-open" if severe => s.cover_open = true,
                "paused" | "shutdown" | "moving-to-paused" if severe => s.stopped = true,
                "offline" | "connecting-to-device" | "timed-out" => {
                    s.offline = true;
                    if severe {
                        s.stopped = true;
                    }
                }
                _ if severe => s.error = true,
                _ => {}
            }
        }
        s
    }

    /// Whether a job may start: paper, cover closed, no error, queue running. Near-end
    /// still prints; an unknown status is tried (the job itself is the test).
    pub fn can_print(&self) -> bool {
        !(self.paper_end || self.cover_open || self.error || self.stopped)
    }

    /// `ready`, `paper_out`, `cover_open`, `error`, `stopped`, `offline`,
    /// `paper_near_end` or `unknown`: for the heartbeat and the technician.
    pub fn state_name(&self) -> &'static str {
        if self.paper_end {
            "paper_out"
        } else if self.cover_open {
            "cover_open"
        } else if self.error {
            "error"
        } else if self.stopped {
            "stopped"
        } else if self.offline {
            "offline"
        } else if self.paper_near_end {
            "paper_near_end"
        } else if self.unknown {
            "unknown"
        } else {
            "ready"
        }
    }

    /// Which status and bit (ESC/POS) or which printer-state-reasons (IPP), for the
    /// technician.
    pub fn technician_detail(&self) -> String {
        if self.unknown {
            return match &self.unknown_why {
                Some(why) => format!("status unknown: {why}"),
                None => "status unknown: this connection cannot read the printer's status (no DLE EOT answer)".into(),
            };
        }
        if !self.reasons.is_empty() || self.stopped {
            let mut out = format!(
                "IPP printer-state-reasons: {}",
                if self.reasons.is_empty() {
                    "none".to_string()
                } else {
                    self.reasons.join(", ")
                }
            );
            if self.stopped {
                out.push_str(" (queue stopped or not accepting jobs: cupsenable / cupsaccept)");
            }
            return out;
        }
        let mut parts = Vec::new();
        if self.paper_end {
            parts.push("paper end (DLE EOT 2 bit 5 / DLE EOT 4 bits 5-6)");
        }
        if self.cover_open {
            parts.push("cover open (DLE EOT 2 bit 2)");
        }
        if self.error {
            parts.push("error (DLE EOT 2 bit 6)");
        }
        if self.offline {
            parts.push("offline (DLE EOT 1 bit 3)");
        }
        if self.paper_near_end {
            parts.push("paper near end (DLE EOT 4 bits 2-3)");
        }
        if parts.is_empty() {
            "ready".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ipp_reasons_map_into_the_same_model() {
        let s = Status::from_ipp(3, true, &reasons(&["none"]));
        assert!(s.can_print() && s.reasons.is_empty());
        assert_eq!(s.state_name(), "ready");

        let s = Status::from_ipp(5, true, &reasons(&["media-empty-error"]));
        assert!(s.paper_end && !s.can_print());
        assert_eq!(s.state_name(), "paper_out");
        assert!(
            s.technician_detail().contains("media-empty-error"),
            "{}",
            s.technician_detail()
        );

        let s = Status::from_ipp(4, true, &reasons(&["media-needed"]));
        assert!(s.paper_end, "no suffix counts as an error");

        let s = Status::from_ipp(3, true, &reasons(&["media-low-report"]));
        assert!(s.paper_near_end && s.can_print());

        let s = Status::from_ipp(3, true, &reasons(&["cover-open-error"]));
        assert_eq!(s.state_name(), "cover_open");

        let s = Status::from_ipp(5, true, &reasons(&["paused"]));
        assert!(s.stopped && !s.can_print());
        assert_eq!(s.state_name(), "stopped");

        let s = Status::from_ipp(3, false, &[]);
        assert!(!s.can_print(), "a queue that refuses jobs cannot print");
        assert!(s.technician_detail().contains("not accepting"));

        let s = Status::from_ipp(3, true, &reasons(&["offline-report"]));
        assert!(s.offline && s.can_print(), "a report does not stop a job");

        let s = Status::from_ipp(3, true, &reasons(&["media-jam-error"]));
        assert_eq!(s.state_name(), "error");

        let s = Status::from_ipp(3, true, &reasons(&["toner-low-warning"]));
        assert!(s.can_print());
    }

    #[test]
    fn a_byte_without_the_fixed_bits_is_unknown_never_ready() {
        // 0x12 = 0001 0010: the fixed bits alone.
        assert!(is_status_byte(0x12) && is_status_byte(0x12 | 0x6C));
        for bad in [0x00, 0xFF, 0x13, 0x10, 0x02, 0x92, b'A'] {
            assert!(!is_status_byte(bad), "{bad:#04x}");
            for s in [
                Status::from_bytes(bad, 0x12, 0x12),
                Status::from_bytes(0x12, bad, 0x12),
                Status::from_bytes(0x12, 0x12, bad),
            ] {
                assert_eq!(s.state_name(), "unknown", "{bad:#04x}: {s:?}");
                assert!(s.technician_detail().contains("not a status byte"));
            }
        }
        // Bit 7 set with paper-end bits: still not read as paper out or ready.
        let s = Status::from_bytes(0x12, 0x12 | 0x20 | 0x80, 0x12);
        assert!(s.unknown && !s.paper_end);
        assert!(s.technician_detail().contains("DLE EOT 2 answered 0xB2"));
        assert_eq!(Status::from_bytes(0x12, 0x12, 0x12).state_name(), "ready");
    }

    #[test]
    fn unknown_is_said_plainly() {
        let s = Status::unknown();
        assert!(s.can_print());
        assert_eq!(s.state_name(), "unknown");
        assert!(s.technician_detail().contains("unknown"));
    }
}
