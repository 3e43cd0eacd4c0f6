//! The `hardshell` binary: parse arguments, set up logging, run, and turn
//! any error into a message and a non-zero exit status.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `hardshell __sandbox-exec ...` is the sandbox's inner helper: it must
    // run before logging, threads or the runtime start, and never returns.
    sandbox::run_helper_if_requested();
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
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
