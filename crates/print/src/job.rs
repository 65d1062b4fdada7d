//! ESC/POS over TCP with status before and after every job, and the job lifecycle: held while the printer cannot print (polled on a real timer with backoff), cancelled when the resident's session ends, failed after a bounded wait.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::escpos::status_query;
use super::status::Status;

/// Why a job did not print (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("printer {0} unreachable: {1}; check power, cable and address")]
    Unreachable(String, String),
    #[error("printer {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("printer cannot print now: {}", .0.technician_detail())]
    NotReady(Status),
    #[error("printer I/O: {0}")]
    Io(String),
    /// The printer refused what the job asked for (IPP
    /// client-error-attributes-or-values-not-supported, document-format-not-supported,
    /// an unsupported-attributes group), or lists nothing the job can use: never paper.
    #[error("{0}")]
    Unsupported(String),
    /// The printer does not know the job (IPP client-error-not-found).
    #[error("{0}")]
    NotFound(String),
}

/// An ESC/POS printer on raw TCP (port 9100).
#[derive(Debug, Clone)]
pub struct EscposTcp {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

impl EscposTcp {
    fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    async fn connect(&self) -> Result<TcpStream, PrintError> {
        match tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(PrintError::Unreachable(self.name(), e.to_string())),
            Err(_) => Err(PrintError::Timeout(self.name(), self.timeout)),
        }
    }

    async fn query(&self, s: &mut TcpStream) -> Result<Status, PrintError> {
        let mut answers = [0u8; 3];
        for (i, n) in [1u8, 2, 4].into_iter().enumerate() {
            s.write_all(&status_query(n))
                .await
                .map_err(|e| PrintError::Io(e.to_string()))?;
            let mut b = [0u8; 1];
            match tokio::time::timeout(self.timeout, s.read_exact(&mut b)).await {
                Ok(Ok(_)) => answers[i] = b[0],
                Ok(Err(e)) => return Err(PrintError::Io(e.to_string())),
                Err(_) => return Err(PrintError::Timeout(self.name(), self.timeout)),
            }
        }
        Ok(Status::from_bytes(answers[0], answers[1], answers[2]))
    }

    /// The printer's status now.
    pub async fn status(&self) -> Result<Status, PrintError> {
        let mut s = self.connect().await?;
        self.query(&mut s).await
    }

    /// Prints `bytes` if the printer can print now; answers the status after the job.
    pub async fn print(&self, bytes: &[u8]) -> Result<Status, PrintError> {
        let mut s = self.connect().await?;
        let before = self.query(&mut s).await?;
        if !before.can_print() {
            return Err(PrintError::NotReady(before));
        }
        tokio::time::timeout(self.timeout * 4, async {
            s.write_all(bytes).await?;
            s.flush().await
        })
        .await
        .map_err(|_| PrintError::Timeout(self.name(), self.timeout * 4))?
        .map_err(|e| PrintError::Io(e.to_string()))?;
        self.query(&mut s).await
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for the printer (paper out, cover open …); prints when it recovers.
    Held(Status),
    /// Waiting: the printer cannot print this job as it is asked for (it does not list
    /// the card size, does not take PDF, or rejected an attribute). The text is the
    /// technician's: what the printer lists and the fix. Asked again on every poll, so
    /// a printer that is given card media prints the job.
    Unsupported(String),
    /// The printer could not be reached; tried again.
    Retrying(String),
    /// Accepted by the printer (an IPP queue) and not finished yet.
    Printing,
    Printed(Status),
    /// The resident's session ended before the job could print; nothing was printed.
    Cancelled,
    /// The job ended without printing and is not retried: the printer gave up on it
    /// (IPP aborted or canceled at the printer, or no longer knows it), it could not
    /// be made or written, or it waited past the give-up deadline. The text says which.
    Failed(String),
}

impl JobState {
    /// Whether the job is waiting for the printer (held, unsupported, unreachable).
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            JobState::Held(_) | JobState::Unsupported(_) | JobState::Retrying(_)
        )
    }

    /// What the job waits for, for the technician (the log, the CLI).
    pub fn waiting_for(&self) -> Option<String> {
        match self {
            JobState::Held(s) => Some(format!("{}: {}", s.state_name(), s.technician_detail())),
            JobState::Unsupported(m) => Some(m.clone()),
            JobState::Retrying(e) => Some(format!("printer not reachable: {e}")),
            _ => None,
        }
    }
}

/// How a job waits: the first poll interval, the ceiling the interval doubles up to,
/// and how long a job may wait for the printer before it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// The first interval between two looks at the printer (and again after a change).
    pub poll: Duration,
    /// The longest interval: a job held for long costs a request or two per `poll_max`.
    pub poll_max: Duration,
    /// A job not printed this long after it started fails, said plainly (and is
    /// cancelled at the printer if it was queued there).
    pub give_up: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(2),
            poll_max: Duration::from_secs(30),
            give_up: Duration::from_secs(300),
        }
    }
}

/// The intervals between polls: `poll`, doubling up to `poll_max`; back to `poll`
/// after the job's state changed (recovery is seen quickly, a long hold costs little).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(waits: &Waits) -> Self {
        // A zero interval would be a busy loop: at least 10 ms, and the ceiling at least
        // the first interval.
        let base = waits.poll.max(Duration::from_millis(10));
        let max = waits.poll_max.max(base);
        Self {
            base,
            max,
            next: base,
        }
    }

    /// The interval to wait now; the one after it is twice as long, up to the ceiling.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    /// The state changed: look again soon.
    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

/// Resolves when `cancel` turns true. A sender that is gone can never cancel: then this
/// never resolves (it must not wake a poll loop at once, every time).
pub async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits `delay` on a real timer, or less if `cancel` turns true; answers whether it did.
pub async fn sleep_or_cancel(cancel: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *cancel.borrow(),
        _ = cancelled(cancel) => true,
    }
}

/// The text of a job that waited past its deadline.
pub fn gave_up(waits: &Waits, last: Option<&JobState>) -> String {
    format!(
        "gave up after waiting {} s for the printer (printers.give_up_s): {}; nothing printed",
        waits.give_up.as_secs(),
        last.and_then(JobState::waiting_for)
            .unwrap_or_else(|| "it did not finish the job".into())
    )
}

/// Runs one job to its end: holds it while the printer cannot print, prints when it
/// recovers, gives up without printing when `cancel` turns true (the session that
/// asked for it was wiped, so no card ever prints for a person who has gone), and
/// fails after `waits.give_up`.
pub async fn run_job(
    printer: &EscposTcp,
    bytes: &[u8],
    cancel: watch::Receiver<bool>,
    waits: &Waits,
    on_state: impl FnMut(&JobState),
) -> JobState {
    run_attempts(|| printer.print(bytes), cancel, waits, on_state).await
}

/// The lifecycle of [`run_job`] over any transport whose `attempt` checks the status,
/// prints if it may, and answers the status after the job. Each attempt is one
/// connection; between two, a real timer with backoff. `on_state` sees each change.
pub async fn run_attempts<F, Fut>(
    mut attempt: F,
    mut cancel: watch::Receiver<bool>,
    waits: &Waits,
    mut on_state: impl FnMut(&JobState),
) -> JobState
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Status, PrintError>>,
{
    let deadline = tokio::time::Instant::now() + waits.give_up;
    let mut backoff = Backoff::new(waits);
    let mut last: Option<JobState> = None;
    loop {
        if *cancel.borrow() {
            on_state(&JobState::Cancelled);
            return JobState::Cancelled;
        }
        let state = match attempt().await {
            Ok(after) => {
                let done = JobState::Printed(after);
                on_state(&done);
                return done;
            }
            Err(PrintError::NotReady(status)) => JobState::Held(status),
            Err(e) => JobState::Retrying(e.to_string()),
        };
        if last.as_ref() != Some(&state) {
            log::warn!(
                "print job waiting: {}",
                state.waiting_for().unwrap_or_default()
            );
            on_state(&state);
            backoff.reset();
            last = Some(state);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let failed = JobState::Failed(gave_up(waits, last.as_ref()));
            log::warn!("print job: {failed:?}");
            on_state(&failed);
            return failed;
        }
        let delay = backoff.next_delay().min(deadline - now);
        sleep_or_cancel(&mut cancel, delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_ceiling_and_resets_after_a_change() {
        let waits = Waits {
            poll: Duration::from_secs(2),
            poll_max: Duration::from_secs(30),
            give_up: Duration::from_secs(300),
        };
        let mut b = Backoff::new(&waits);
        let got: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 16, 30, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        // A zero interval is not a busy loop; a ceiling below the start is the start.
        let mut b = Backoff::new(&Waits {
            poll: Duration::ZERO,
            poll_max: Duration::ZERO,
            give_up: Duration::ZERO,
        });
        assert_eq!(b.next_delay(), Duration::from_millis(10));
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }

    #[test]
    fn a_held_minute_costs_a_handful_of_polls_with_the_defaults() {
        let mut b = Backoff::new(&Waits::default());
        let mut t = Duration::ZERO;
        let mut polls = 1;
        while t < Duration::from_secs(60) {
            t += b.next_delay();
            polls += 1;
        }
        assert!(polls <= 8, "{polls} polls in the first minute");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_cancel_sender_never_cancels_and_a_sent_true_does() {
        let (tx, mut rx) = watch::channel(false);
        drop(tx);
        assert!(!sleep_or_cancel(&mut rx, Duration::from_secs(5)).await);
        let (tx, mut rx) = watch::channel(false);
        let _ = tx.send(true);
        assert!(sleep_or_cancel(&mut rx, Duration::from_secs(3600)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_back_off_and_fail_at_the_deadline_with_the_reason() {
        let waits = Waits {
            poll: Duration::from_secs(2),
            poll_max: Duration::from_secs(30),
            give_up: Duration::from_secs(120),
        };
        let (tx, rx) = watch::channel(false);
        drop(tx);
        let mut attempts = 0u32;
        let mut seen = Vec::new();
        let end = run_attempts(
            || {
                attempts += 1;
                async { Err(PrintError::NotReady(Status::from_bytes(0x12, 0x32, 0x72))) }
            },
            rx,
            &waits,
            |s| seen.push(s.clone()),
        )
        .await;
        // 0, 2, 6, 14, 30, 60, 90, 120: a dropped sender did not make it spin.
        assert_eq!(attempts, 8);
        let JobState::Failed(why) = &end else {
            panic!("{end:?}")
        };
        assert!(why.contains("120 s") && why.contains("paper_out"), "{why}");
        assert_eq!(seen.len(), 2, "held once, failed once: {seen:?}");
    }
}
