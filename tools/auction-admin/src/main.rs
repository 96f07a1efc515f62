//! `auction-admin`: audits of the Events table from a terminal. Table names come from
//! `EVENTS_TABLE` (and the store's other variables), the endpoint and credentials from the
//! standard AWS environment. Exits 0 when the audit answered and every log is intact, 1 when a
//! log is tampered with, 2 on bad input, 3 when the store failed.

use std::process::ExitCode;

use auction_admin::Sources;
use auction_admin::cli::{Cli, run};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = aws_config::load_from_env().await;
    let sources = Sources::from_env(&config);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match run(&sources, cli.command, &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            eprintln!("auction-admin: {exit}");
            ExitCode::from(exit.code())
        }
    }
}
