//! `gat467-sim`: a simulated ID card reader on a pseudo-terminal, driven from stdin.
//!
//! Prints `path=/dev/pts/N` on stdout, then takes one control line at a time:
//! `place demo|expired|long-term`, `remove`,
//! `fault none|bad-checksum|remove-during-read|silent|status XX`, `unplug`, `status`
//! (one JSON line: counts, frames, protocol errors, card, fault), `quit`. Ends at `quit`
//! or when stdin closes.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use gat467_sim::{Sim, SimCard, SimFault};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CardArg {
    Demo,
    Expired,
    LongTerm,
    None,
}

/// A simulated 第二代居民身份证 reader (GA/T 467 SAM frames) on a pseudo-terminal.
///
/// Prints `path=/dev/pts/N` (the device the terminal opens as
/// gat467+serial:///dev/pts/N?baud=115200), then reads control lines from stdin:
/// `place demo|expired|long-term`, `remove`,
/// `fault none|bad-checksum|remove-during-read|silent|status XX` (XX: the SW3 of the next
/// answer, in hex), `unplug`, `status` (one JSON line), `quit`. Exits at `quit` or when
/// stdin closes.
#[derive(Debug, Parser)]
#[command(name = "gat467-sim", version)]
struct Args {
    /// The card on the reader at the start.
    #[arg(long, value_enum, default_value = "demo")]
    card: CardArg,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Control {
    Place(Box<SimCard>),
    Remove,
    Fault(SimFault),
    Unplug,
    Status,
    Quit,
}

fn card(name: &str) -> Option<SimCard> {
    match name {
        "demo" => Some(SimCard::demo()),
        "expired" => Some(SimCard::expired()),
        "long-term" => Some(SimCard::long_term()),
        _ => None,
    }
}

fn parse_control(line: &str) -> Result<Control, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words[..] {
        ["place", name] => card(name)
            .map(|c| Control::Place(Box::new(c)))
            .ok_or_else(|| format!("unknown card '{name}': expected demo, expired or long-term")),
        ["place"] => Err("place needs a card: demo, expired or long-term".into()),
        ["remove"] => Ok(Control::Remove),
        ["fault", "none"] => Ok(Control::Fault(SimFault::None)),
        ["fault", "bad-checksum"] => Ok(Control::Fault(SimFault::BadChecksumOnce)),
        ["fault", "remove-during-read"] => Ok(Control::Fault(SimFault::RemoveDuringRead)),
        ["fault", "silent"] => Ok(Control::Fault(SimFault::Silent)),
        ["fault", "status", sw3] => {
            let hex = sw3
                .strip_prefix("0x")
                .or_else(|| sw3.strip_prefix("0X"))
                .unwrap_or(sw3);
            u8::from_str_radix(hex, 16)
                .map(|s| Control::Fault(SimFault::StatusOnce(s)))
                .map_err(|_| format!("status '{sw3}' is not a byte in hex (such as 41)"))
        }
        ["fault", ..] => Err(format!(
            "unknown fault '{}': expected none, bad-checksum, remove-during-read, silent or status XX",
            words[1..].join(" ")
        )),
        ["unplug"] => Ok(Control::Unplug),
        ["status"] => Ok(Control::Status),
        ["quit"] => Ok(Control::Quit),
        _ => Err(format!(
            "unknown command '{}': expected place, remove, fault, unplug, status or quit",
            line.trim()
        )),
    }
}

fn fault_name(fault: SimFault) -> String {
    match fault {
        SimFault::None => "none".into(),
        SimFault::BadChecksumOnce => "bad-checksum".into(),
        SimFault::RemoveDuringRead => "remove-during-read".into(),
        SimFault::Silent => "silent".into(),
        SimFault::StatusOnce(s) => format!("status {s:02X}"),
    }
}

fn status(sim: &Sim) -> serde_json::Value {
    let counts = sim.counts();
    serde_json::json!({
        "finds": counts.finds,
        "selects": counts.selects,
        "reads": counts.reads,
        "frames": sim.frames().len(),
        "protocol_errors": sim.protocol_errors().iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "card": sim.card().map(|c| format!("{} {}", c.name, c.number)),
        "fault": fault_name(sim.fault()),
        "unplugged": sim.is_unplugged(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let start = match args.card {
        CardArg::Demo => Some(SimCard::demo()),
        CardArg::Expired => Some(SimCard::expired()),
        CardArg::LongTerm => Some(SimCard::long_term()),
        CardArg::None => None,
    };
    let sim = match Sim::start(start) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("gat467-sim: cannot open a pseudo-terminal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "path={}", sim.path().display())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("gat467-sim: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_control(&line) {
            Ok(Control::Place(card)) => sim.place(*card),
            Ok(Control::Remove) => sim.remove(),
            Ok(Control::Fault(fault)) => sim.set_fault(fault),
            Ok(Control::Unplug) => sim.unplug(),
            Ok(Control::Status) => {
                if writeln!(out, "{}", status(&sim))
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return ExitCode::FAILURE;
                }
            }
            Ok(Control::Quit) => break,
            Err(e) => eprintln!("gat467-sim: {e}"),
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines() {
        assert_eq!(
            parse_control("place long-term"),
            Ok(Control::Place(Box::new(SimCard::long_term())))
        );
        assert_eq!(parse_control("  remove "), Ok(Control::Remove));
        assert_eq!(
            parse_control("fault status 41"),
            Ok(Control::Fault(SimFault::StatusOnce(0x41)))
        );
        assert_eq!(
            parse_control("fault status 0x9f"),
            Ok(Control::Fault(SimFault::StatusOnce(0x9F)))
        );
        assert_eq!(
            parse_control("fault remove-during-read"),
            Ok(Control::Fault(SimFault::RemoveDuringRead))
        );
        assert_eq!(
            parse_control("fault bad-checksum"),
            Ok(Control::Fault(SimFault::BadChecksumOnce))
        );
        assert_eq!(
            parse_control("fault silent"),
            Ok(Control::Fault(SimFault::Silent))
        );
        assert_eq!(
            parse_control("fault none"),
            Ok(Control::Fault(SimFault::None))
        );
        assert_eq!(parse_control("unplug"), Ok(Control::Unplug));
        assert_eq!(parse_control("status"), Ok(Control::Status));
        assert_eq!(parse_control("quit"), Ok(Control::Quit));
        assert_eq!(
            parse_control("place gold"),
            Err("unknown card 'gold': expected demo, expired or long-term".into())
        );
        assert_eq!(
            parse_control("fault status 1FF"),
            Err("status '1FF' is not a byte in hex (such as 41)".into())
        );
        assert!(parse_control("fault loud").is_err());
        assert!(parse_control("jump").is_err());
    }
}
