//! The `quantshift` binary.

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match server::cli::Cli::parse().run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quantshift: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
