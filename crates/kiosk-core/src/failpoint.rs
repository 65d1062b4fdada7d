//! Named failpoints: places where a test may kill this process as a power cut would, or make the thread panic.
//!
//! `CIVIC_KIOSK_FAILPOINTS=name[@N][:panic][,…]` makes the N-th hit (default the first) of
//! `name` send SIGKILL to this process: no destructor, no flush, no reply, exactly like
//! `kill -9` or the plug being pulled at that moment. With `:panic` the hit panics
//! instead, as a bug in that code would (for the panic hook and the worker supervisor).
//! Unset (always, in production), a hit costs one load of an initialised `OnceLock`.
//!
//! The names in use (see docs/architecture.md, "Ratings outbox"):
//! - `after-rating-commit`: a rating and its outbox entry have just been committed;
//! - `after-upload-sent`: a rating batch reached the back office and its answer's headers
//!   came back, before the answer is read;
//! - `before-ack-commit`: the answer was read, before the outbox records it;
//! - `heartbeat-beat`: the heartbeat worker is about to send a heartbeat.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::OnceLock;

/// The environment variable that arms failpoints.
pub const ENV: &str = "CIVIC_KIOSK_FAILPOINTS";

pub const AFTER_RATING_COMMIT: &str = "after-rating-commit";
pub const AFTER_UPLOAD_SENT: &str = "after-upload-sent";
pub const BEFORE_ACK_COMMIT: &str = "before-ack-commit";
pub const HEARTBEAT_BEAT: &str = "heartbeat-beat";

/// Every failpoint this build has, for tests and `--help` texts.
pub const ALL: [&str; 4] = [
    AFTER_RATING_COMMIT,
    AFTER_UPLOAD_SENT,
    BEFORE_ACK_COMMIT,
    HEARTBEAT_BEAT,
];

/// What an armed failpoint does on its hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Kill,
    Panic,
}

/// One armed point: the hit that fires, hits so far, what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    nth: u64,
    seen: u64,
    action: Action,
}

struct Armed {
    points: Mutex<HashMap<String, Point>>,
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

fn parse(spec: &str) -> HashMap<String, Point> {
    spec.split(',')
        .filter_map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return None;
            }
            let (p, action) = match p.rsplit_once(':') {
                Some((rest, "panic")) => (rest, Action::Panic),
                Some(_) => return None,
                None => (p, Action::Kill),
            };
            let (name, nth) = match p.split_once('@') {
                Some((n, k)) => (n, k.trim().parse::<u64>().ok().filter(|k| *k > 0)?),
                None => (p, 1),
            };
            Some((
                name.trim().to_string(),
                Point {
                    nth,
                    seen: 0,
                    action,
                },
            ))
        })
        .collect()
}

/// Marks that execution reached `name`; kills the process (or panics) if a test armed it
/// for this hit.
pub fn hit(name: &str) {
    let Some(armed) = armed() else { return };
    let fire = {
        let mut points = armed.points.lock().unwrap_or_else(|p| p.into_inner());
        match points.get_mut(name) {
            Some(p) => {
                p.seen += 1;
                (p.seen == p.nth).then_some(p.action)
            }
            None => None,
        }
    };
    match fire {
        None => {}
        Some(Action::Panic) => {
            log::warn!("failpoint {name}: panicking as armed");
            // The point of this failpoint: behave as a bug in the worker would.
            #[allow(clippy::panic)]
            {
                panic!("failpoint {name} armed to panic");
            }
        }
        Some(Action::Kill) => {
            log::warn!("failpoint {name}: killing this process (SIGKILL)");
            log::logger().flush();
            civic_platform::sys::kill_self();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_hit_numbers_and_actions() {
        let p = parse(
            "after-rating-commit, before-ack-commit@3,,bad@x,zero@0,heartbeat-beat@2:panic,x:boom",
        );
        let at = |n: &str| p.get(n).map(|p| (p.nth, p.action));
        assert_eq!(at("after-rating-commit"), Some((1, Action::Kill)));
        assert_eq!(at("before-ack-commit"), Some((3, Action::Kill)));
        assert_eq!(at("heartbeat-beat"), Some((2, Action::Panic)));
        assert!(
            !p.contains_key("bad"),
            "an unreadable hit number arms nothing"
        );
        assert!(!p.contains_key("zero"));
        assert!(!p.contains_key("x"), "an unknown action arms nothing");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn an_unarmed_hit_returns() {
        // The test process has no CIVIC_KIOSK_FAILPOINTS: hitting any point is a no-op.
        for name in ALL {
            hit(name);
        }
    }
}
