//! Every call into libc the workspace makes, each behind a safe function. The only module
//! where `unsafe` is allowed (`[workspace.lints]` denies it everywhere else); each block
//! says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective group id.
pub fn egid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// Becomes `uid`:`gid` with no supplementary groups, for a root process acting on files
/// of a service user. Groups first, then the gid, then the uid: after setuid the others
/// could no longer be changed.
pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls on this process's credentials; setgroups with a count of 0
    // reads no memory.
    let rc = unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 {
            -1
        } else {
            libc::setuid(uid)
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Ends this process at once with SIGKILL, as a power cut would (crash tests).
pub fn kill_self() -> ! {
    // SAFETY: raise() has no memory-safety preconditions; SIGKILL cannot be caught.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
    // SIGKILL is not delivered late to the thread that raised it; should it be, nothing
    // after a failpoint may run.
    std::process::abort()
}

/// Time since boot, counting suspend (CLOCK_BOOTTIME): never set back by a clock change.
pub fn boottime() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec.clamp(0, 999_999_999)).ok()?,
    ))
}

/// Bytes an unprivileged user may still write on the file system holding `path` (which
/// must exist).
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail.saturating_mul(st.f_frsize))
}

/// Whether the file system holding `path` (which must exist) keeps its files in memory
/// only (tmpfs, ramfs): gone at a reboot, never on a disk. `None`: it could not be asked.
pub fn is_memory_backed(path: &Path) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    #[allow(clippy::unnecessary_cast)]
    let kind = st.f_type as i64;
    (rc == 0).then_some(kind == TMPFS_MAGIC || kind == RAMFS_MAGIC)
}

/// Waits up to `timeout` for `fd` to have input: `Ok(true)` when it has, `Ok(false)` when
/// the time ran out (a zero timeout only looks).
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    match n {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(fds.revents & libc::POLLIN != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_clock_and_disk_answer() {
        // The same ids std reports for a file this process creates.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "").unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (euid(), egid()));
        let a = boottime().unwrap();
        let b = boottime().unwrap();
        assert!(b >= a && a > Duration::ZERO);
        assert!(free_bytes(dir.path()).is_some_and(|n| n > 0));
        // /dev/shm is a tmpfs on Linux; /proc is not.
        assert_eq!(is_memory_backed(Path::new("/dev/shm")), Some(true));
        assert_eq!(is_memory_backed(Path::new("/proc")), Some(false));
        assert_eq!(is_memory_backed(Path::new("/no/such/dir")), None);
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }

    #[test]
    fn a_pipe_is_readable_only_once_written() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (reader, mut writer) = std::io::pipe().unwrap();
        assert!(!wait_readable(reader.as_fd(), Duration::ZERO).unwrap());
        assert!(!wait_readable(reader.as_fd(), Duration::from_millis(20)).unwrap());
        writer.write_all(b"x").unwrap();
        assert!(wait_readable(reader.as_fd(), Duration::from_secs(1)).unwrap());
    }
}
