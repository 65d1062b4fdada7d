//! The reader on a pseudo-terminal: the master side served by a thread, the slave's
//! path handed to the terminal.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

use crate::card::SimCard;
use crate::frame::{Deframer, ProtocolError};
use crate::reader::{Counts, Reader, SimFault};

/// How long the line may stay quiet in the middle of a frame before the bytes so far
/// are given up (a cut-short frame is answered 0x11, stray bytes recorded).
pub const FRAME_TIMEOUT: Duration = Duration::from_millis(500);

/// A simulated ID card reader on a pseudo-terminal. Dropping it unplugs it.
#[derive(Debug)]
pub struct Sim {
    path: PathBuf,
    state: Arc<Mutex<Reader>>,
    /// The write end of the wake-up pipe: closing it tells the thread to unplug.
    wake: Mutex<Option<OwnedFd>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sim {
    /// Opens a pseudo-terminal in raw mode, starts serving its master side on a thread
    /// with `card` on the reader (or none), and returns at once. The sim keeps a slave
    /// descriptor open itself, so the terminal may close and reopen [`Sim::path`]
    /// without the line hanging up.
    pub fn start(card: Option<SimCard>) -> io::Result<Sim> {
        let pty = nix::pty::openpty(None, None)?;
        let mut t = tcgetattr(&pty.slave)?;
        cfmakeraw(&mut t);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &t)?;
        let path = nix::unistd::ttyname(&pty.slave)?;
        fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        let (wake_read, wake_write) = nix::unistd::pipe()?;
        let state = Arc::new(Mutex::new(Reader::new(card)));
        let thread = {
            let state = state.clone();
            let (master, slave) = (pty.master, pty.slave);
            std::thread::Builder::new()
                .name("gat467-sim".into())
                .spawn(move || {
                    serve(&master, &wake_read, &state);
                    lock(&state).unplugged = true;
                    drop(slave);
                    drop(master);
                })?
        };
        Ok(Sim {
            path,
            state,
            wake: Mutex::new(Some(wake_write)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The slave device, e.g. `/dev/pts/7`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The terminal's reader URL for this sim: `gat467+serial:///dev/pts/7?baud=115200`.
    pub fn url(&self) -> String {
        format!("gat467+serial://{}?baud=115200", self.path.display())
    }

    /// Puts a card on the reader (replacing any): the host must find and select it anew.
    pub fn place(&self, card: SimCard) {
        lock(&self.state).place(card);
    }

    /// Takes the card off the reader.
    pub fn remove(&self) {
        lock(&self.state).remove();
    }

    /// The card on the reader.
    pub fn card(&self) -> Option<SimCard> {
        lock(&self.state).card.clone()
    }

    /// Sets the fault for the next answer(s), replacing the one set before.
    pub fn set_fault(&self, fault: SimFault) {
        lock(&self.state).fault = fault;
    }

    /// The fault in force (one-shot faults clear themselves when they strike).
    pub fn fault(&self) -> SimFault {
        lock(&self.state).fault
    }

    /// Pulls the reader's cable: closes the master side and the sim's own slave
    /// descriptor, and returns when they are closed. The terminal's descriptor then
    /// hangs up: poll(2) reports POLLHUP, read(2) returns end of file at once (Linux; EIO
    /// on some systems), write(2) fails with EIO. There is no replug:
    /// the kernel frees the pty and its path; [`Sim::start`] again gives a new one.
    /// Control and inspection keep working. Idempotent.
    pub fn unplug(&self) {
        drop(lock(&self.wake).take());
        if let Some(thread) = lock(&self.thread).take() {
            // The thread only ends by closing its descriptors; a panic in it has
            // closed them just as well.
            let _ = thread.join();
        }
        lock(&self.state).unplugged = true;
    }

    /// The cable was pulled (or the line failed).
    pub fn is_unplugged(&self) -> bool {
        lock(&self.state).unplugged
    }

    /// Every frame received, in order: well-formed ones, ones with a bad checksum or an
    /// unknown command, and the header and length of one with a bad length field (a
    /// cut-short frame: what came of it). Stray bytes outside frames are not frames.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        lock(&self.state).frames.clone()
    }

    /// Every violation found in what the host sent, in order.
    pub fn protocol_errors(&self) -> Vec<ProtocolError> {
        lock(&self.state).errors.clone()
    }

    /// Commands received, by kind.
    pub fn counts(&self) -> Counts {
        lock(&self.state).counts
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// Serves the master side until the wake-up pipe closes or the line fails.
fn serve(master: &OwnedFd, wake: &OwnedFd, state: &Mutex<Reader>) {
    let mut deframer = Deframer::default();
    let mut last_byte = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let timeout = if deframer.pending() {
            let left = FRAME_TIMEOUT.saturating_sub(last_byte.elapsed());
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
        } else {
            PollTimeout::NONE
        };
        let (readable, woken) = {
            let mut fds = [
                PollFd::new(master.as_fd(), PollFlags::POLLIN),
                PollFd::new(wake.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            let any = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            (any(&fds[0]), any(&fds[1]))
        };
        if woken {
            return;
        }
        let mut answers = Vec::new();
        if readable {
            match nix::unistd::read(master, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    last_byte = Instant::now();
                    let mut reader = lock(state);
                    for parsed in deframer.push(&buf[..n]) {
                        answers.extend(reader.handle(parsed));
                    }
                }
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(_) => return,
            }
        } else if last_byte.elapsed() >= FRAME_TIMEOUT
            && let Some(parsed) = deframer.timeout()
        {
            answers.extend(lock(state).handle(parsed));
        }
        for answer in answers {
            if write_all(master, wake, &answer).is_err() {
                return;
            }
        }
    }
}

/// Writes the whole answer to the non-blocking master, waiting while the line is full;
/// gives up when woken (unplug) or the line fails.
fn write_all(master: &OwnedFd, wake: &OwnedFd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match nix::unistd::write(master, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [
                    PollFd::new(master.as_fd(), PollFlags::POLLOUT),
                    PollFd::new(wake.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(e),
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return Err(Errno::ECANCELED);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
