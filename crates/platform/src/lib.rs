//! What both programs (the terminal and the reference back office) need from the
//! operating system: logging (the journal under systemd, else stderr and a size-rotated
//! file) with the scrubber that keeps ID and phone numbers out of logs, the panic hook,
//! and files replaced atomically.

pub mod fs;
pub mod logging;
pub mod sys;
