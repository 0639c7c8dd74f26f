//! The `demo-shop` binary: parses its settings and serves the shop.

use clap::Parser;
use std::net::TcpListener;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let config = demo_shop::ShopConfig::parse();
    let listener = match TcpListener::bind(&config.listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let served = actix_web::rt::System::new()
        .block_on(async move { demo_shop::run(listener, config)?.await });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
