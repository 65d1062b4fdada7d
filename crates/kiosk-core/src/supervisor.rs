//! Keeps the terminal's background workers alive: one that panics is logged and started again with backoff.
//!
//! Why restart rather than exit (and let systemd restart the process): the worker threads
//! share the process with the touch UI, where a resident may be halfway through printing
//! a card; an exit would blank the screen under them and drop the embedded back office
//! with it. The workers keep no state that a panic can leave half-written (the outbox and
//! the catalogue cache are SQLite transactions; a heartbeat is stateless), so starting a
//! fresh one is safe. The backoff (1 s doubling to 5 min, reset after 10 min of healthy
//! running) keeps a worker that panics on every run (a bad value, say) from spinning,
//! and each panic is in the log with its place (see `logging::install_panic_hook`).

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How a supervised worker is restarted.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// Wait before the first restart.
    pub first: Duration,
    /// The longest wait (the delay doubles up to this).
    pub max: Duration,
    /// A run at least this long counts as healthy: the next panic waits `first` again.
    pub healthy_after: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(300),
            healthy_after: Duration::from_secs(600),
        }
    }
}

/// How a supervised worker ended for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It returned (it saw the shutdown signal).
    Returned,
    /// Shutdown came while it was waiting to be restarted.
    Shutdown,
    /// The runtime cancelled it (the process is stopping).
    Cancelled,
}

/// Runs the worker `make` builds, and builds and runs a new one after each panic, until
/// one returns or `shutdown` turns true. Answers how it ended and how many restarts.
pub async fn supervise<F, Fut>(
    name: &'static str,
    policy: Restart,
    mut shutdown: watch::Receiver<bool>,
    mut make: F,
) -> (Ended, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut delay = policy.first;
    let mut restarts = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        match tokio::spawn(make()).await {
            Ok(()) => return (Ended::Returned, restarts),
            Err(e) if e.is_panic() => {
                if started.elapsed() >= policy.healthy_after {
                    delay = policy.first;
                }
                // The panic itself (thread, place, message) was logged by the panic hook.
                log::error!(
                    "worker {name} panicked after {:.1} s; restarting it in {} s",
                    started.elapsed().as_secs_f64(),
                    delay.as_secs_f64()
                );
            }
            Err(e) => {
                log::warn!("worker {name} cancelled: {e}");
                return (Ended::Cancelled, restarts);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|s| *s) => return (Ended::Shutdown, restarts),
        }
        restarts += 1;
        log::warn!("worker {name} started again after a panic (restart {restarts})");
        delay = (delay * 2).min(policy.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> Restart {
        Restart {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
            healthy_after: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_worker_that_panics_twice_is_restarted_until_it_returns() {
        let runs = Arc::new(AtomicU32::new(0));
        let (_tx, rx) = watch::channel(false);
        let r = runs.clone();
        let (ended, restarts) = supervise("test", quick(), rx, move || {
            let r = r.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("worker fault");
                }
            }
        })
        .await;
        assert_eq!((ended, restarts), (Ended::Returned, 2));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn shutdown_during_the_backoff_stops_restarting() {
        let (tx, rx) = watch::channel(false);
        let policy = Restart {
            first: Duration::from_secs(60),
            ..quick()
        };
        let task = tokio::spawn(supervise("test", policy, rx, || async {
            panic!("always");
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(true).unwrap();
        let (ended, restarts) = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((ended, restarts), (Ended::Shutdown, 0));
    }
}
