//! `civic-kiosk`: the terminal. Thin: parse the command line, then hand over to the library.

use clap::Parser;
use std::process::ExitCode;

use civic_kiosk::cli::{Cli, Command};
use civic_kiosk::config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every command: a panic is written scrubbed (to the log once `run` started it).
    civic_kiosk::logging::install_panic_hook();
    let config_path = cli.config.clone().unwrap_or_else(config::default_path);
    match cli.command.unwrap_or(Command::Run { headless: false }) {
        Command::Run { headless } => match civic_kiosk::app::run(&config_path, headless) {
            Ok(civic_kiosk::app::RunEnd::Closed) => ExitCode::SUCCESS,
            Ok(civic_kiosk::app::RunEnd::TechnicianExit) => {
                ExitCode::from(civic_kiosk::EXIT_TECHNICIAN)
            }
            Err(e) => {
                eprintln!("civic-kiosk: {e}");
                ExitCode::from(2)
            }
        },
        Command::Version => {
            civic_kiosk::commands::write_out(format_args!(
                "civic-kiosk {}",
                env!("CARGO_PKG_VERSION")
            ));
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => {
            civic_kiosk::commands::check_config(&file.unwrap_or(config_path))
        }
        Command::Status { json } => civic_kiosk::commands::status(&config_path, json),
        Command::OfflineCode {
            id,
            yes,
            reissue,
            printer,
            staff,
            wait_timeout,
        } => civic_kiosk::commands::offline_code(
            &config_path,
            &id,
            yes,
            reissue,
            printer.as_deref(),
            staff.as_deref(),
            wait_timeout,
        ),
        Command::PrintTest {
            role,
            printer,
            wait_timeout,
        } => {
            civic_kiosk::commands::print_test(&config_path, &role, printer.as_deref(), wait_timeout)
        }
        Command::Screenshot {
            page,
            large_font,
            lang,
            size,
            out,
        } => civic_kiosk::commands::screenshot(&config_path, &page, large_font, &lang, &size, out),
        Command::Sync { timeout } => civic_kiosk::commands::sync_ratings(&config_path, timeout),
        Command::Diagnose { json } => civic_kiosk::commands::diagnose(&config_path, json),
        Command::Identity(civic_kiosk::cli::IdentityCommand::Test { json, wait }) => {
            civic_kiosk::commands::identity_test(&config_path, json, wait)
        }
        Command::Config(civic_kiosk::cli::ConfigCommand::Set { key, value }) => {
            civic_kiosk::commands::config_set(&config_path, &key, &value)
        }
        Command::Config(civic_kiosk::cli::ConfigCommand::Unset { key }) => {
            civic_kiosk::commands::config_unset(&config_path, &key)
        }
        Command::Catalogue(cmd) => civic_kiosk::commands::catalogue(&config_path, cmd),
        Command::SetPin {
            staff,
            remove,
            list,
        } => civic_kiosk::commands::set_pin(&config_path, staff.as_deref(), remove, list),
    }
}
