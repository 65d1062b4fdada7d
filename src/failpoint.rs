//! Named failpoints: places where a test may kill this process as a power cut would.
//!
//! `CIVIC_KIOSK_FAILPOINTS=name[@N][,name[@N]…]` makes the N-th hit (default the first) of
//! `name` send SIGKILL to this process: no destructor, no flush, no reply, exactly like
//! `kill -9` or the plug being pulled at that moment. Unset (always, in production), a hit
//! costs one load of an initialised `OnceLock`.
//!
//! The names in use (see docs/architecture.md, "Ratings outbox"):
//! - `after-rating-commit`: a rating and its outbox entry have just been committed;
//! - `after-upload-sent`: a rating batch reached the back office and its answer's headers
//!   came back, before the answer is read;
//! - `before-ack-commit`: the answer was read, before the outbox records it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::OnceLock;

/// The environment variable that arms failpoints.
pub const ENV: &str = "CIVIC_KIOSK_FAILPOINTS";

pub const AFTER_RATING_COMMIT: &str = "after-rating-commit";
pub const AFTER_UPLOAD_SENT: &str = "after-upload-sent";
pub const BEFORE_ACK_COMMIT: &str = "before-ack-commit";

/// Every failpoint this build has, for tests and `--help` texts.
pub const ALL: [&str; 3] = [AFTER_RATING_COMMIT, AFTER_UPLOAD_SENT, BEFORE_ACK_COMMIT];

struct Armed {
    /// name → (hit that kills, hits so far)
    points: Mutex<HashMap<String, (u64, u64)>>,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(ENV).ok()?;
            let points = parse(&spec);
            if points.is_empty() {
                return None;
            }
            log::warn!("failpoints armed: {spec} (test builds only; never set on a terminal)");
            Some(Armed {
                points: Mutex::new(points),
            })
        })
        .as_ref()
}

fn parse(spec: &str) -> HashMap<String, (u64, u64)> {
    spec.split(',')
        .filter_map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return None;
            }
            let (name, nth) = match p.split_once('@') {
                Some((n, k)) => (n, k.trim().parse::<u64>().ok().filter(|k| *k > 0)?),
                None => (p, 1),
            };
            Some((name.trim().to_string(), (nth, 0)))
        })
        .collect()
}

/// Marks that execution reached `name`; kills the process if a test armed it for this hit.
pub fn hit(name: &str) {
    let Some(armed) = armed() else { return };
    let fire = {
        let mut points = armed.points.lock().unwrap_or_else(|p| p.into_inner());
        match points.get_mut(name) {
            Some((nth, seen)) => {
                *seen += 1;
                *seen == *nth
            }
            None => false,
        }
    };
    if fire {
        log::warn!("failpoint {name}: killing this process (SIGKILL)");
        log::logger().flush();
        // SAFETY: raise() has no memory-safety preconditions; SIGKILL cannot be caught.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_hit_numbers() {
        let p = parse("after-rating-commit, before-ack-commit@3,,bad@x,zero@0");
        assert_eq!(p.get("after-rating-commit"), Some(&(1, 0)));
        assert_eq!(p.get("before-ack-commit"), Some(&(3, 0)));
        assert!(
            !p.contains_key("bad"),
            "an unreadable hit number arms nothing"
        );
        assert!(!p.contains_key("zero"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn an_unarmed_hit_returns() {
        // The test process has no CIVIC_KIOSK_FAILPOINTS: hitting any point is a no-op.
        for name in ALL {
            hit(name);
        }
    }
}
