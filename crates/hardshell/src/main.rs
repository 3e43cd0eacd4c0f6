//! The `hardshell` binary: parse arguments, set up logging, run, and turn
//! any error into a message and a non-zero exit status.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let log = hardshell::logging::init();
    let cli = hardshell::cli::Cli::parse();
    match hardshell::cli::run(cli, log).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
