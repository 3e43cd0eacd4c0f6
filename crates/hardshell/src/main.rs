//! The `hardshell` binary: parse arguments, set up logging, run, and turn
//! any error into a message and a non-zero exit status.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `hardshell __sandbox-exec ...` is the sandbox's inner helper: it must
    // run before logging, threads or the runtime start, and never returns.
    sandbox::run_helper_if_requested();
    // Before any thread exists, so every thread uses the capped arenas.
    hardshell::footprint::cap_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking-pool threads a burst started exit after 2 s idle
        // (tokio's default is 10 s); each keeps a stack and arena space.
        .thread_keep_alive(hardshell::footprint::BLOCKING_KEEP_ALIVE)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

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
