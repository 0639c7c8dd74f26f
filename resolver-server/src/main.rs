//! The `resolver-server` binary: parses the command line, installs logging, and hands the
//! command to the library.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The argv goes on to the running server's control socket when there is one.
    let argv: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let cli = resolver_server::cli::Cli::parse_from(&argv);
    // Buffered and written by a thread of its own, so a request never waits for stderr; colours
    // only for a terminal. The guard flushes what is buffered when main returns.
    let (writer, _guard) = tracing_appender::non_blocking(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SSRM_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .init();
    match resolver_server::cli::run(cli, argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
