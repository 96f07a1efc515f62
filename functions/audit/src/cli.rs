//! The `auction-admin` command line: its arguments and what each command prints. Kept in the
//! library, apart from the binary's `main`, so that tests run commands against a test's tables
//! and read their output and exit code.

use std::io::Write;

use auction_events::AuctionId;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use event_store::DynamoDbStore;
use serde_json::json;
use uuid::Uuid;

use crate::{AsOf, AuditError, Report, dynamodb, export};

#[derive(Debug, Parser)]
#[command(name = "auction-admin", about = "Audit the auction event log")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every event of an auction with the state after it, one JSON object per line.
    History { id: Uuid },
    /// Print an auction's state at a version or an instant.
    State {
        id: Uuid,
        #[command(flatten)]
        as_of: AsOfArgs,
    },
    /// Check the hash chain of one auction, or of every auction.
    Verify {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<Uuid>,
        #[arg(long)]
        all: bool,
        /// How many auctions to check at once with --all.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Write stored events as JSON Lines to stdout.
    Export {
        #[arg(
            long,
            required_unless_present = "event_type",
            conflicts_with = "event_type"
        )]
        auction: Option<Uuid>,
        #[arg(long)]
        event_type: Option<String>,
        /// Earliest occurredAt (RFC 3339), inclusive; default: the beginning.
        #[arg(long, requires = "event_type")]
        from: Option<DateTime<Utc>>,
        /// Latest occurredAt (RFC 3339), inclusive; default: now.
        #[arg(long, requires = "event_type")]
        to: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AsOfArgs {
    /// After the event with this version.
    #[arg(long)]
    pub version: Option<u64>,
    /// After every event that occurred at or before this RFC 3339 instant.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
}

/// Why a command failed; [`Exit::code`] is the process's exit code.
#[derive(Debug)]
pub enum Exit {
    /// At least one verified log is tampered with (the reports say where). (exit 1)
    Tampered,
    /// The audit could not answer: bad input (exit 2) or the store failed (exit 3).
    Audit(AuditError),
    /// The output could not be written. (exit 3)
    Output(std::io::Error),
}

impl Exit {
    pub fn code(&self) -> u8 {
        match self {
            Self::Tampered => 1,
            Self::Audit(error) if error.is_bad_input() => 2,
            Self::Audit(_) | Self::Output(_) => 3,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tampered => write!(f, "the log is tampered with"),
            Self::Audit(error) => write!(f, "{error}"),
            Self::Output(error) => write!(f, "cannot write the output: {error}"),
        }
    }
}

impl From<AuditError> for Exit {
    fn from(error: AuditError) -> Self {
        Self::Audit(error)
    }
}

impl From<std::io::Error> for Exit {
    fn from(error: std::io::Error) -> Self {
        Self::Output(error)
    }
}

/// Runs one command against `store`, writing its output to `out`.
pub async fn run(
    store: &DynamoDbStore,
    command: Command,
    out: &mut impl Write,
) -> Result<(), Exit> {
    match command {
        Command::History { id } => {
            for step in crate::history(store, AuctionId(id)).await? {
                let line = json!({ "event": step.event, "state": step.state });
                writeln!(out, "{line}")?;
            }
        }
        Command::State { id, as_of } => {
            let as_of = match (as_of.version, as_of.at) {
                (Some(version), _) => AsOf::Version(version),
                (None, Some(at)) => AsOf::Instant(at),
                // clap's group makes exactly one of them present.
                (None, None) => AsOf::Version(0),
            };
            let at = crate::state_at(store, AuctionId(id), as_of).await?;
            let line = json!({ "version": at.version, "state": at.state });
            writeln!(out, "{line}")?;
        }
        Command::Verify {
            id,
            all,
            concurrency,
        } => {
            let reports = match id {
                Some(id) if !all => vec![crate::verify(store, AuctionId(id)).await?],
                _ => {
                    let ids =
                        dynamodb::aggregate_ids(store.client(), &store.tables().events, 4).await?;
                    crate::verify_all(store, &ids, concurrency).await?
                }
            };
            let tampered = print_reports(out, &reports)?;
            if all {
                writeln!(
                    out,
                    "{} auctions verified, {tampered} tampered with",
                    reports.len()
                )?;
            }
            out.flush()?;
            if tampered > 0 {
                return Err(Exit::Tampered);
            }
        }
        Command::Export {
            auction,
            event_type,
            from,
            to,
        } => match (auction, event_type) {
            (Some(id), _) => {
                let events = crate::history_events(store, AuctionId(id)).await?;
                out.write_all(export::encode_lines(&events)?.as_bytes())?;
            }
            (None, Some(event_type)) => {
                let from = from.unwrap_or(DateTime::<Utc>::MIN_UTC);
                let to = to.unwrap_or_else(Utc::now);
                let mut written = Ok(());
                dynamodb::events_of_type(
                    store.client(),
                    &store.tables().events,
                    &event_type,
                    from,
                    to,
                    |events| {
                        let lines = export::encode_lines(&events)?;
                        if written.is_ok() {
                            written = out.write_all(lines.as_bytes());
                        }
                        Ok(())
                    },
                )
                .await?;
                written?;
            }
            // clap requires one of them.
            (None, None) => {}
        },
    }
    out.flush()?;
    Ok(())
}

fn print_reports(out: &mut impl Write, reports: &[Report]) -> std::io::Result<usize> {
    let mut tampered = 0;
    for report in reports {
        writeln!(out, "{report}")?;
        if !report.is_clean() {
            tampered += 1;
        }
    }
    Ok(tampered)
}
