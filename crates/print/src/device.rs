//! ESC/POS on a local line: a device file (`escpos:///dev/usb/lp0`) or a serial port (`escpos+serial://`, no libudev); status by DLE EOT on the same line where the device answers, honestly unknown where it does not.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::escpos::status_query;
use super::job::PrintError;
use super::status::Status;

/// Which kind of line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A character device or file, opened read-write (write-only if the driver refuses
    /// reading: then the status is unknown).
    Device,
    /// A serial port at this baud rate, 8N1, no flow control.
    Serial { baud: u32 },
}

/// An ESC/POS printer on a local line.
#[derive(Debug, Clone)]
pub struct EscposLine {
    pub path: PathBuf,
    pub kind: LineKind,
    /// Writing a job.
    pub timeout: Duration,
    /// Waiting for one DLE EOT answer; a device that stays silent this long does not
    /// report status.
    pub status_timeout: Duration,
}

trait Link: Read + Write + Send {
    /// Drops bytes already waiting to be read: a stale answer (to a DLE EOT sequence that
    /// occurred inside image data, which Epson documents printers may act on) must not be
    /// taken for the answer to the next query.
    fn drain(&mut self);
}

impl Link for Box<dyn serialport::SerialPort> {
    fn drain(&mut self) {
        let _ = self.clear(serialport::ClearBuffer::Input);
    }
}

/// A device file with reads bounded by poll(2).
struct DeviceFile {
    file: std::fs::File,
    readable: bool,
    timeout: Duration,
}

impl Read for DeviceFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsFd;
        if !self.readable {
            return Err(std::io::ErrorKind::Unsupported.into());
        }
        match civic_platform::sys::wait_readable(self.file.as_fd(), self.timeout)? {
            true => self.file.read(buf),
            false => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }
}

impl Link for DeviceFile {
    fn drain(&mut self) {
        use std::os::fd::AsFd;
        if !self.readable {
            return;
        }
        let mut buf = [0u8; 256];
        for _ in 0..64 {
            if !matches!(
                civic_platform::sys::wait_readable(self.file.as_fd(), Duration::ZERO),
                Ok(true)
            ) {
                return;
            }
            if !matches!(self.file.read(&mut buf), Ok(n) if n > 0) {
                return;
            }
        }
    }
}

impl Write for DeviceFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl EscposLine {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn open(&self) -> Result<Box<dyn Link>, PrintError> {
        let unreachable = |e: String| PrintError::Unreachable(self.name(), e);
        match &self.kind {
            LineKind::Device => {
                let rw = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&self.path);
                let (file, readable) = match rw {
                    Ok(f) => (f, true),
                    Err(_) => (
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&self.path)
                            .map_err(|e| unreachable(e.to_string()))?,
                        false,
                    ),
                };
                Ok(Box::new(DeviceFile {
                    file,
                    readable,
                    timeout: self.status_timeout,
                }))
            }
            LineKind::Serial { baud } => {
                let path = self.path.to_string_lossy().to_string();
                let port = serialport::new(path, *baud)
                    .data_bits(serialport::DataBits::Eight)
                    .parity(serialport::Parity::None)
                    .stop_bits(serialport::StopBits::One)
                    .flow_control(serialport::FlowControl::None)
                    .timeout(self.status_timeout)
                    .open()
                    .map_err(|e| unreachable(e.to_string()))?;
                Ok(Box::new(port))
            }
        }
    }

    /// DLE EOT 1, 2, 4 on the open line; `Status::unknown()` when the device does not
    /// answer (many USB printer-class devices never send anything back).
    fn query(&self, link: &mut dyn Link) -> Result<Status, PrintError> {
        let mut answers = [0u8; 3];
        link.drain();
        for (i, n) in [1u8, 2, 4].into_iter().enumerate() {
            link.write_all(&status_query(n))
                .and_then(|_| link.flush())
                .map_err(|e| PrintError::Io(e.to_string()))?;
            let mut b = [0u8; 1];
            let deadline = Instant::now() + self.status_timeout;
            loop {
                match link.read(&mut b) {
                    Ok(1) => {
                        answers[i] = b[0];
                        break;
                    }
                    Ok(_) if Instant::now() < deadline => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Ok(_) | Err(_) => return Ok(Status::unknown()),
                }
            }
        }
        Ok(Status::from_bytes(answers[0], answers[1], answers[2]))
    }

    fn print_blocking(&self, bytes: &[u8]) -> Result<Status, PrintError> {
        let mut link = self.open()?;
        let before = self.query(link.as_mut())?;
        if !before.can_print() {
            return Err(PrintError::NotReady(before));
        }
        link.write_all(bytes)
            .and_then(|_| link.flush())
            .map_err(|e| PrintError::Io(e.to_string()))?;
        if before.unknown {
            // Asking again would only wait for the same silence.
            return Ok(before);
        }
        self.query(link.as_mut())
    }

    /// The printer's status now (blocking I/O on the runtime's blocking pool).
    pub async fn status(&self) -> Result<Status, PrintError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut link = me.open()?;
            me.query(link.as_mut())
        })
        .await
        .map_err(|e| PrintError::Io(e.to_string()))?
    }

    /// Prints `bytes` if the printer can print now (or cannot say); answers the status
    /// after the job.
    pub async fn print(&self, bytes: &[u8]) -> Result<Status, PrintError> {
        let me = self.clone();
        let bytes = bytes.to_vec();
        let limit = self.timeout * 4 + self.status_timeout * 6;
        match tokio::time::timeout(
            limit,
            tokio::task::spawn_blocking(move || me.print_blocking(&bytes)),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(PrintError::Io(e.to_string())),
            Err(_) => Err(PrintError::Timeout(self.name(), limit)),
        }
    }
}
