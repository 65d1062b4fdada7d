//! Files written whole or not at all.

use std::path::{Path, PathBuf};

/// Writes `contents` to `path` atomically: a temp file in the same folder, fsync, rename,
/// fsync of the folder. A crash leaves either the old file or the new one, never half.
/// The old file's mode is kept, and so are its owner and group when root writes (a `0640
/// root:civic-kiosk` config holding the token stays so; a non-root writer's file is its
/// own, with its group), and a symlink is followed: its target gets the new contents and the
/// link stays a link. A new file gets 0666 less the process umask, as `File::create` would.
pub fn save_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use atomic_write_file::unix::OpenOptionsExt;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let target = resolve_symlinks(path)?;
    let (euid, egid) = (crate::sys::euid(), crate::sys::egid());
    // Owner and group are set back (fchown) only by root and only when they differ from
    // what the new file gets anyway. Not as the service: its unit filters out @chown
    // (packaging/civic-kiosk.service, `SystemCallFilter=~@privileged`), where an fchown
    // kills the process with SIGSYS; and a non-root writer cannot give a file away anyway.
    let chown_back =
        euid == 0 && std::fs::metadata(&target).is_ok_and(|m| (m.uid(), m.gid()) != (euid, egid));
    let mut options = atomic_write_file::OpenOptions::new();
    options.preserve_mode(true).preserve_owner(chown_back);
    let mut f = options.open(&target)?;
    f.write_all(contents)?;
    f.commit()
}

/// Follows symlinks (also dangling ones, whose target is then created) to the file a write
/// should replace. atomic-write-file renames over the name it is given, which would replace
/// the link itself.
fn resolve_symlinks(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    // The kernel's own limit (MAXSYMLINKS): a loop is refused, not followed for ever.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(link)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}
