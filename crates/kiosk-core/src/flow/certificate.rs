//! 证明打印: the resident picks a certificate and a period (buttons; nothing typed), the
//! back office answers its data with a signed verification code, the terminal lays it out
//! and prints it on the document printer. A printer that cannot print holds the job with
//! the usual message; the resident may wait or cancel it.

use crate::api::{CERTIFICATE_PERIODS, CertificateKind, CertificateRequest};

use super::card::PrintWait;

/// Where the certificate page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertStep {
    /// Choosing the certificate and the period.
    #[default]
    Choose,
    /// Asking the back office, laying out, printing.
    Working,
    /// The printer holds the job ("打印机缺纸，请联系工作人员"): wait, or 取消打印.
    Held(PrintWait),
    /// It could not be printed.
    Failed(CertProblem),
}

/// Why a certificate was not printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProblem {
    /// The back office cannot be reached, or the resident session is not open.
    Network,
    /// The back office refused the resident token (expired, ended): identify again.
    SessionEnded,
    /// No record of this kind for this resident: "没有查到您的…记录".
    NoRecords,
    /// The printer failed (not a wait: an error the job did not survive).
    Printer,
    /// Cancelled by the resident while the printer held it.
    Cancelled,
    /// The verification code the back office sent does not verify against the key this
    /// terminal trusts (or none is configured): nothing is printed that a bank could not
    /// check.
    NotVerified,
}

/// How a certificate job ended (the answer to [`CertEffect::Print`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertOutcome {
    Printed { case_no: String },
    Failed(CertProblem),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertEvent {
    Kind(CertificateKind),
    /// One of [`CERTIFICATE_PERIODS`].
    Months(u8),
    /// 打印证明.
    Print,
    /// 取消打印, while the printer holds the job.
    Cancel,
    /// 重新选择 after a failure.
    Again,
    /// While printing: what the job waits for now.
    Held(PrintWait),
    /// Answer to [`CertEffect::Print`].
    Done(CertOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertEffect {
    /// Ask for the certificate, lay it out, print it (the session adds the token).
    Print(CertificateRequest),
    /// Cancel the held job.
    Cancel,
}

/// The certificate page's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertFlow {
    step: CertStep,
    kind: Option<CertificateKind>,
    months: Option<u8>,
}

impl CertFlow {
    pub fn step(&self) -> CertStep {
        self.step
    }
    pub fn kind(&self) -> Option<CertificateKind> {
        self.kind
    }
    pub fn months(&self) -> Option<u8> {
        self.months
    }
    /// Both chosen: 打印证明 can be tapped.
    pub fn ready(&self) -> bool {
        self.kind.is_some() && self.months.is_some()
    }

    /// What the page asked for, and whether a job is out (the session counts prints).
    pub(crate) fn handle(&mut self, ev: CertEvent) -> Vec<CertEffect> {
        match ev {
            CertEvent::Kind(k) if self.step == CertStep::Choose => self.kind = Some(k),
            CertEvent::Months(m)
                if self.step == CertStep::Choose && CERTIFICATE_PERIODS.contains(&m) =>
            {
                self.months = Some(m);
            }
            CertEvent::Print if self.step == CertStep::Choose => {
                if let (Some(kind), Some(months)) = (self.kind, self.months) {
                    self.step = CertStep::Working;
                    return vec![CertEffect::Print(CertificateRequest { kind, months })];
                }
            }
            CertEvent::Held(w) if matches!(self.step, CertStep::Working | CertStep::Held(_)) => {
                self.step = if w == PrintWait::None {
                    CertStep::Working
                } else {
                    CertStep::Held(w)
                };
            }
            CertEvent::Cancel if matches!(self.step, CertStep::Held(_)) => {
                return vec![CertEffect::Cancel];
            }
            CertEvent::Done(CertOutcome::Failed(p)) if self.step != CertStep::Choose => {
                self.step = CertStep::Failed(p);
            }
            // Printed: the session hands the task to the end of the task.
            CertEvent::Done(CertOutcome::Printed { .. }) => *self = CertFlow::default(),
            CertEvent::Again => *self = CertFlow::default(),
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_preselected_and_print_needs_both_choices() {
        let mut f = CertFlow::default();
        assert!(f.handle(CertEvent::Print).is_empty());
        f.handle(CertEvent::Kind(CertificateKind::SocialInsurance));
        assert!(f.handle(CertEvent::Print).is_empty());
        f.handle(CertEvent::Months(13));
        assert!(!f.ready(), "13 months is not offered");
        f.handle(CertEvent::Months(12));
        assert_eq!(
            f.handle(CertEvent::Print),
            vec![CertEffect::Print(CertificateRequest {
                kind: CertificateKind::SocialInsurance,
                months: 12
            })]
        );
        assert!(
            f.handle(CertEvent::Print).is_empty(),
            "a double tap prints once"
        );
        assert_eq!(f.step(), CertStep::Working);
    }

    #[test]
    fn a_held_job_waits_then_is_cancelled_or_printed() {
        let mut f = CertFlow::default();
        f.handle(CertEvent::Kind(CertificateKind::HousingFund));
        f.handle(CertEvent::Months(24));
        f.handle(CertEvent::Print);
        assert!(f.handle(CertEvent::Cancel).is_empty(), "nothing held yet");
        f.handle(CertEvent::Held(PrintWait::Printer));
        assert_eq!(f.step(), CertStep::Held(PrintWait::Printer));
        assert_eq!(f.handle(CertEvent::Cancel), vec![CertEffect::Cancel]);
        f.handle(CertEvent::Done(CertOutcome::Failed(CertProblem::Cancelled)));
        assert_eq!(f.step(), CertStep::Failed(CertProblem::Cancelled));
        f.handle(CertEvent::Again);
        assert_eq!(f, CertFlow::default());
    }
}
