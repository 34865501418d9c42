//! `kube-apiserver`: parse the configuration, set up logging, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use aggregator::config::{RawConfig, Settings};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let command_line = RawConfig::parse();
    // RUST_LOG picks what is logged; without it (or when it does not
    // parse) info and above.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let settings = match Settings::load(command_line) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!("invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(aggregator::server::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
