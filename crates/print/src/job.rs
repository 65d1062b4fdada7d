//! ESC/POS over TCP with status before and after every job, and the job lifecycle: held while the printer cannot print, cancelled when the resident's session ends.

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
    /// The printer could not be reached; tried again.
    Retrying(String),
    /// Accepted by the printer (an IPP queue) and not finished yet.
    Printing,
    Printed(Status),
    /// The resident's session ended before the job could print; nothing was printed.
    Cancelled,
    /// The printer gave up on the job (IPP aborted or canceled at the printer), or the
    /// job could not be made or written; it is not retried.
    Failed(String),
}

/// Runs one job to its end: holds it while the printer cannot print, prints when it
/// recovers, and gives up without printing when `cancel` turns true (the session that
/// asked for it was wiped), so no card ever prints for a person who has gone.
pub async fn run_job(
    printer: &EscposTcp,
    bytes: &[u8],
    cancel: watch::Receiver<bool>,
    poll: Duration,
    on_state: impl FnMut(&JobState),
) -> JobState {
    run_attempts(|| printer.print(bytes), cancel, poll, on_state).await
}

/// The lifecycle of [`run_job`] over any transport whose `attempt` checks the status,
/// prints if it may, and answers the status after the job.
pub async fn run_attempts<F, Fut>(
    mut attempt: F,
    mut cancel: watch::Receiver<bool>,
    poll: Duration,
    mut on_state: impl FnMut(&JobState),
) -> JobState
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Status, PrintError>>,
{
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
        log::warn!("print job waiting: {state:?}");
        on_state(&state);
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = cancel.wait_for(|c| *c) => {}
        }
    }
}
