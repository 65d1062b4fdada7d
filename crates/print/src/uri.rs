//! Printer URIs from the config (`escpos+tcp://`, `escpos://`, `escpos+serial://`, `ipp://`, `pdf://`): parse and explain.

use std::fmt;
use std::path::PathBuf;

/// Where a printer role's jobs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterUri {
    /// ESC/POS over raw TCP (port 9100 by default).
    EscposTcp { host: String, port: u16 },
    /// ESC/POS to a device file such as `/dev/usb/lp0`.
    EscposDevice { path: PathBuf },
    /// ESC/POS over a serial line.
    EscposSerial { path: PathBuf, baud: u32 },
    /// CUPS (or any IPP printer); documents are sent as PDF.
    Ipp { url: String },
    /// PDF files written to a folder (a spool for development, demos and audits).
    /// A relative folder is relative to the data dir.
    Pdf { dir: PathBuf },
}

const SCHEMES: &str = "use escpos+tcp://, escpos://, escpos+serial://, ipp:// or pdf://";

impl PrinterUri {
    /// Parses a URI; the error says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let Some((scheme, rest)) = t.split_once("://") else {
            return Err(format!("'{t}' is not a URI; {SCHEMES}"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "escpos+tcp" => {
                let hostport = rest.trim_end_matches('/');
                if hostport.is_empty() {
                    return Err(
                        "escpos+tcp:// needs a host, e.g. escpos+tcp://192.0.2.10:9100".into(),
                    );
                }
                let (host, port) = split_host_port(hostport, 9100)?;
                if host.is_empty() {
                    return Err(
                        "escpos+tcp:// needs a host, e.g. escpos+tcp://192.0.2.10:9100".into(),
                    );
                }
                Ok(PrinterUri::EscposTcp { host, port })
            }
            "escpos" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(
                        "escpos:// needs an absolute device path, e.g. escpos:///dev/usb/lp0"
                            .into(),
                    );
                }
                Ok(PrinterUri::EscposDevice { path: rest.into() })
            }
            "escpos+serial" => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if !path.starts_with('/') || path.len() < 2 {
                    return Err("escpos+serial:// needs an absolute device path, e.g. escpos+serial:///dev/ttyS0?baud=115200".into());
                }
                let mut baud = 9600;
                for kv in query.split('&').filter(|s| !s.is_empty()) {
                    match kv.split_once('=') {
                        Some(("baud", v)) => {
                            baud = v.parse().ok().filter(|b| *b > 0).ok_or_else(|| {
                                format!("baud '{v}' is not a positive number, e.g. baud=115200")
                            })?
                        }
                        _ => {
                            return Err(format!(
                                "unknown parameter '{kv}'; only baud=N is understood"
                            ));
                        }
                    }
                }
                Ok(PrinterUri::EscposSerial {
                    path: path.into(),
                    baud,
                })
            }
            "ipp" | "ipps" => {
                let parsed =
                    url::Url::parse(t).map_err(|e| format!("'{t}' is not a valid URL ({e})"))?;
                if parsed.host_str().unwrap_or("").is_empty() {
                    return Err(
                        "ipp:// needs a host, e.g. ipp://localhost:631/printers/card".into(),
                    );
                }
                if parsed.path().len() <= 1 {
                    return Err(
                        "ipp:// needs the printer's path, e.g. ipp://localhost:631/printers/card"
                            .into(),
                    );
                }
                Ok(PrinterUri::Ipp { url: t.to_string() })
            }
            "pdf" => {
                if rest.is_empty() {
                    return Err(
                        "pdf:// needs a folder, e.g. pdf:///var/spool/civic-kiosk or pdf://spool"
                            .into(),
                    );
                }
                Ok(PrinterUri::Pdf { dir: rest.into() })
            }
            other => Err(format!("unknown scheme '{other}'; {SCHEMES}")),
        }
    }
}

fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    // [v6]:port, host:port or host
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{s}': unclosed '[' in IPv6 address"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if after.is_empty() => default_port,
            None => return Err(format!("'{s}': unexpected text after the address")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), parse_port(p)?)),
        None => Ok((s.to_string(), default_port)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port '{p}' is not a number from 1 to 65535"))
}

impl fmt::Display for PrinterUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterUri::EscposTcp { host, port } if host.contains(':') => {
                write!(f, "escpos+tcp://[{host}]:{port}")
            }
            PrinterUri::EscposTcp { host, port } => write!(f, "escpos+tcp://{host}:{port}"),
            PrinterUri::EscposDevice { path } => write!(f, "escpos://{}", path.display()),
            PrinterUri::EscposSerial { path, baud } => {
                write!(f, "escpos+serial://{}?baud={baud}", path.display())
            }
            PrinterUri::Ipp { url } => f.write_str(url),
            PrinterUri::Pdf { dir } => write!(f, "pdf://{}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            PrinterUri::parse("escpos+tcp://10.0.0.5:9100").unwrap(),
            PrinterUri::EscposTcp {
                host: "10.0.0.5".into(),
                port: 9100
            }
        );
        assert_eq!(
            PrinterUri::parse("escpos+tcp://printer.local").unwrap(),
            PrinterUri::EscposTcp {
                host: "printer.local".into(),
                port: 9100
            }
        );
        assert_eq!(
            PrinterUri::parse("escpos+tcp://[::1]:9101").unwrap(),
            PrinterUri::EscposTcp {
                host: "::1".into(),
                port: 9101
            }
        );
        assert_eq!(
            PrinterUri::parse("escpos:///dev/usb/lp0").unwrap(),
            PrinterUri::EscposDevice {
                path: "/dev/usb/lp0".into()
            }
        );
        assert_eq!(
            PrinterUri::parse("escpos+serial:///dev/ttyS0?baud=115200").unwrap(),
            PrinterUri::EscposSerial {
                path: "/dev/ttyS0".into(),
                baud: 115200
            }
        );
        assert!(matches!(
            PrinterUri::parse("ipp://localhost:631/printers/card").unwrap(),
            PrinterUri::Ipp { .. }
        ));
        assert_eq!(
            PrinterUri::parse("pdf://spool").unwrap(),
            PrinterUri::Pdf {
                dir: "spool".into()
            }
        );
        for uri in [
            "escpos+tcp://[::1]:9101",
            "escpos+serial:///dev/ttyS0?baud=115200",
            "pdf:///tmp/x",
        ] {
            assert_eq!(PrinterUri::parse(uri).unwrap().to_string(), uri);
        }
    }

    #[test]
    fn errors_say_how_to_fix() {
        let e = PrinterUri::parse("lpt://x").unwrap_err();
        assert!(
            e.contains("unknown scheme 'lpt'") && e.contains("escpos+tcp://"),
            "{e}"
        );
        assert!(
            PrinterUri::parse("escpos+tcp://")
                .unwrap_err()
                .contains("needs a host")
        );
        assert!(
            PrinterUri::parse("escpos+tcp://:9100")
                .unwrap_err()
                .contains("needs a host")
        );
        assert!(
            PrinterUri::parse("escpos+tcp://h:99999")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            PrinterUri::parse("escpos+serial:///dev/ttyS0?baud=x")
                .unwrap_err()
                .contains("baud")
        );
        assert!(
            PrinterUri::parse("escpos://lp0")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(
            PrinterUri::parse("ipp://host")
                .unwrap_err()
                .contains("path")
        );
        assert!(
            PrinterUri::parse("/dev/usb/lp0")
                .unwrap_err()
                .contains("not a URI")
        );
    }
}
