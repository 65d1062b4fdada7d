//! systemd readiness and watchdog: `sd_notify` datagrams to `$NOTIFY_SOCKET`, sent from the Slint event loop so a frozen UI stops them; and the freeze failpoint that proves it.
//!
//! `READY=1` goes out once the window is shown and the event loop runs; `WATCHDOG=1` every
//! half of `$WATCHDOG_USEC`, from a `slint::Timer`. A UI thread that hangs stops the
//! pings, and systemd (`WatchdogSec=` in packaging/civic-kiosk.service) kills and restarts
//! the terminal. Without `$NOTIFY_SOCKET` (not under systemd) nothing is sent.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Environment variable of the failpoints (tests, and a technician checking on a real
/// terminal that the watchdog restarts a hung UI).
pub const FAILPOINT_ENV: &str = "CIVIC_KIOSK_FAILPOINT";

/// Where `sd_notify` messages go.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`: a path, or `@name` for an abstract socket. `None` when unset.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        match Self::new(std::path::Path::new(&path)) {
            Ok(n) => Some(n),
            Err(e) => {
                log::error!(
                    "NOTIFY_SOCKET {}: {e}; systemd will not hear from this process",
                    std::path::Path::new(&path).display()
                );
                None
            }
        }
    }

    pub fn new(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let addr = match bytes.split_first() {
            None => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "empty socket name",
                ));
            }
            Some((b'@', name)) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name)?
            }
            Some(_) => SocketAddr::from_pathname(path)?,
        };
        let socket = UnixDatagram::unbound()?;
        // A stalled receiver must never stall the UI thread.
        socket.set_nonblocking(true)?;
        Ok(Self { socket, addr })
    }

    /// Sends one message, e.g. `READY=1` or `WATCHDOG=1`, without blocking.
    pub fn notify(&self, state: &str) -> std::io::Result<()> {
        self.socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map(|_| ())
    }
}

/// Half of `$WATCHDOG_USEC` (as `sd_watchdog_enabled` advises), or `None` when the service
/// has no watchdog or `$WATCHDOG_PID` names another process.
pub fn ping_interval() -> Option<Duration> {
    interval_from(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

fn interval_from(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(10)))
}

/// What the failpoint variable asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// `freeze-event-loop:SECONDS`: after that long, the UI thread hangs for good.
    FreezeEventLoop(Duration),
}

/// Reads `$CIVIC_KIOSK_FAILPOINT`; an unknown value is reported and ignored.
pub fn failpoint_from_env() -> Option<Failpoint> {
    let v = std::env::var(FAILPOINT_ENV).ok()?;
    match parse_failpoint(&v) {
        Some(f) => {
            log::warn!(
                "{FAILPOINT_ENV}={v}: failpoint armed (for tests; never on a live terminal)"
            );
            Some(f)
        }
        None => {
            log::error!(
                "{FAILPOINT_ENV}={v}: unknown failpoint, ignored; known: freeze-event-loop:SECONDS"
            );
            None
        }
    }
}

fn parse_failpoint(v: &str) -> Option<Failpoint> {
    let (name, arg) = v.trim().split_once(':').unwrap_or((v.trim(), "0"));
    match name {
        "freeze-event-loop" => {
            let s: f64 = arg.trim().parse().ok()?;
            (s.is_finite() && (0.0..=86_400.0).contains(&s))
                .then(|| Failpoint::FreezeEventLoop(Duration::from_secs_f64(s)))
        }
        _ => None,
    }
}

/// The timers on the event loop; they stop when this is dropped.
pub struct UiWatchdog {
    _ready: slint::Timer,
    _pings: slint::Timer,
    _failpoint: slint::Timer,
}

impl UiWatchdog {
    /// Call on the UI thread after the window is shown, before the event loop runs:
    /// `READY=1` goes out from the loop's first turn, then `WATCHDOG=1` every `interval`.
    pub fn start(
        notifier: Option<std::rc::Rc<Notifier>>,
        interval: Option<Duration>,
        failpoint: Option<Failpoint>,
    ) -> Self {
        let ready = slint::Timer::default();
        let pings = slint::Timer::default();
        let freeze = slint::Timer::default();
        if let Some(n) = notifier.clone() {
            ready.start(slint::TimerMode::SingleShot, Duration::ZERO, move || {
                let status = format!(
                    "READY=1\nSTATUS=civic-kiosk {} UI shown",
                    env!("CARGO_PKG_VERSION")
                );
                match n.notify(&status) {
                    Ok(()) => log::info!("systemd notified: ready"),
                    Err(e) => log::error!("sd_notify READY=1: {e}"),
                }
            });
        }
        if let (Some(n), Some(every)) = (notifier, interval) {
            log::info!(
                "watchdog pings every {} ms from the UI thread",
                every.as_millis()
            );
            pings.start(slint::TimerMode::Repeated, every, move || {
                if let Err(e) = n.notify("WATCHDOG=1") {
                    log::warn!("sd_notify WATCHDOG=1: {e}");
                }
            });
        }
        if let Some(Failpoint::FreezeEventLoop(after)) = failpoint {
            freeze.start(slint::TimerMode::SingleShot, after, || {
                log::warn!("failpoint: the UI thread hangs now");
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            });
        }
        Self {
            _ready: ready,
            _pings: pings,
            _failpoint: freeze,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_half_of_watchdog_usec_for_this_pid() {
        assert_eq!(
            interval_from(Some("30000000"), None, 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            interval_from(Some("30000000"), Some("7"), 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(interval_from(Some("30000000"), Some("8"), 7), None);
        assert_eq!(interval_from(None, None, 7), None);
        assert_eq!(interval_from(Some("0"), None, 7), None);
        assert_eq!(interval_from(Some("soon"), None, 7), None);
    }

    #[test]
    fn failpoints_parse_or_are_refused() {
        assert_eq!(
            parse_failpoint("freeze-event-loop:2.5"),
            Some(Failpoint::FreezeEventLoop(Duration::from_millis(2500)))
        );
        assert_eq!(
            parse_failpoint("freeze-event-loop"),
            Some(Failpoint::FreezeEventLoop(Duration::ZERO))
        );
        for bad in ["freeze-event-loop:-1", "freeze-event-loop:NaN", "crash", ""] {
            assert_eq!(parse_failpoint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn notifies_path_and_abstract_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        Notifier::new(&path).unwrap().notify("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("civic-kiosk-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        Notifier::new(std::path::Path::new(&format!("@{name}")))
            .unwrap()
            .notify("WATCHDOG=1")
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
        assert!(Notifier::new(std::path::Path::new("")).is_err());
    }
}
