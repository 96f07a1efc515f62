//! The `auction-admin` command line: its arguments and what each command prints. Kept in the
//! library, apart from the binary's `main`, so that tests run commands against a test's tables
//! and read their output and exit code.

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use event_store::{CommandContext, SnapshotPolicy, Store};
use events::{Actor, AuctionId, ItemId, UserId};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use read_models::ViewTables;
use serde_json::json;
use uuid::Uuid;

use fan_out::Queue;
use notary::{NotaryError, Prover};
use parking::{ParkedItems, ParkingError};

use crate::Sources;
use audit::rebuild::{Progress, RebuildOptions, fresh_tables, rebuild};
use audit::{AsOf, AuditError, dynamodb, export};
use conventions::names;

#[derive(Debug, Parser)]
#[command(name = "auction-admin", about = "Audit the auction event log")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every event of an auction (or with --item, of an item) with the state after it,
    /// one JSON object per line.
    History {
        id: Uuid,
        /// The id is an item's: its stream in the ownership ledger.
        #[arg(long)]
        item: bool,
    },
    /// Print an auction's (or with --item, an item's) state at a version or an instant.
    State {
        id: Uuid,
        #[command(flatten)]
        as_of: AsOfArgs,
        /// The id is an item's: its stream in the ownership ledger.
        #[arg(long)]
        item: bool,
    },
    /// Check the hash chain of one auction (or with --item, one item), or with --all of every
    /// stream in the table: every auction's and every item's.
    Verify {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<Uuid>,
        /// The id is an item's: its stream in the ownership ledger.
        #[arg(long, conflicts_with = "all")]
        item: bool,
        #[arg(long)]
        all: bool,
        /// How many streams to check at once with --all.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Write stored events as JSON Lines to stdout.
    Export {
        #[arg(long, required_unless_present_any = ["event_type", "item"], conflicts_with_all = ["event_type", "item"])]
        auction: Option<Uuid>,
        /// An item's stream in the ownership ledger.
        #[arg(long, conflicts_with = "event_type")]
        item: Option<Uuid>,
        #[arg(long)]
        event_type: Option<String>,
        /// Earliest occurredAt (RFC 3339), inclusive; default: the beginning.
        #[arg(long, requires = "event_type")]
        from: Option<DateTime<Utc>>,
        /// Latest occurredAt (RFC 3339), inclusive; default: now.
        #[arg(long, requires = "event_type")]
        to: Option<DateTime<Utc>>,
    },
    /// Rebuild the read models from the Events table into fresh tables, catch up from the
    /// stream, and switch readers and the projector over. Prints a summary as JSON; progress
    /// goes to stderr.
    Rebuild(RebuildArgs),
    /// What the consumers gave up on: list, show, replay from the log, or discard.
    Parked {
        #[command(subcommand)]
        command: ParkedCommand,
    },
    /// Move a queue's dead letters back to it (SQS StartMessageMoveTask where the service has
    /// it, else receive and resend). Prints what it did as JSON.
    Redrive(RedriveArgs),
    /// Give the events written before the audit index was sharded their index keys (`typeShard`,
    /// `typeOrder`), so that exports by type and the reconciler see them. Touches nothing else
    /// of an event; safe to run again. Prints what it did as JSON.
    BackfillAuditIndex,
    /// Print the proof that event VERSION of a stream is in a signed digest of the log (the
    /// latest, or --digest N), as JSON: what `tools/verifier/verify_proof.py` checks.
    Prove {
        /// The stream's aggregate type.
        #[arg(value_enum, ignore_case = true)]
        aggregate_type: AggregateType,
        id: Uuid,
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        version: u64,
        /// Against this digest instead of the latest.
        #[arg(long)]
        digest: Option<u64>,
    },
    /// The log's signed digests: write one now, show one as stored, print the signing key.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Forget a user (docs/privacy.md): append the tombstone to their Subject stream, then
    /// delete their key, so that every value the log, the views and the inbox hold for them
    /// reads as erased. Prints what was done as JSON; exit 2 if the user has no key (never
    /// seen, or forgotten already).
    Forget {
        /// The user's id as the identity provider names them (the token's `sub`).
        user: String,
    },
}

/// The aggregate types whose streams the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AggregateType {
    #[value(name = "Auction")]
    Auction,
    #[value(name = "Item")]
    Item,
    #[value(name = "Subject")]
    Subject,
}

impl AggregateType {
    /// As the envelopes name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auction => events::AGGREGATE_TYPE,
            Self::Item => events::ITEM_AGGREGATE_TYPE,
            Self::Subject => events::SUBJECT_AGGREGATE_TYPE,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Write the next digest now (as the digester's schedule does) and print what was written.
    Write,
    /// Print a digest object as stored (the latest, or --sequence N).
    Show {
        #[arg(long)]
        sequence: Option<u64>,
    },
    /// Print the public half of the signing key (DIGEST_KEY_ID) as PEM.
    PublicKey,
}

#[derive(Debug, Subcommand)]
pub enum ParkedCommand {
    /// Every parked item (or one consumer's), one JSON object per line.
    List {
        #[arg(long)]
        consumer: Option<String>,
    },
    /// One parked item as JSON.
    Show { consumer: String, parked_id: String },
    /// Re-drive parked events from the log through their consumer and remove the items: one
    /// item, or with --all every item (of --consumer, if given). Prints each replayed item.
    Replay {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        consumer: Option<String>,
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        parked_id: Option<String>,
        #[arg(long)]
        all: bool,
        /// With --all: only this consumer's items.
        #[arg(long = "consumer", id = "only", requires = "all")]
        only: Option<String>,
    },
    /// Remove a parked item without replaying it; the reason is logged.
    Discard {
        consumer: String,
        parked_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The queue whose DLQ to empty: `notifications`, `payments` or `live`.
    pub queue: String,
    /// The queue's URL (default: NOTIFICATIONS_QUEUE_URL / PAYMENTS_QUEUE_URL / LIVE_QUEUE_URL,
    /// else looked up by its name).
    #[arg(long)]
    pub queue_url: Option<String>,
    /// The DLQ's URL (default: NOTIFICATIONS_DLQ_URL / PAYMENTS_DLQ_URL / LIVE_DLQ_URL, else
    /// looked up by the queue's name with `-dlq` before `.fifo`).
    #[arg(long)]
    pub dlq_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The fresh auction views table (default: the live name with -r<start time>).
    #[arg(long, requires = "user_bids_table")]
    pub auction_views_table: Option<String>,
    /// The fresh user bids table (default: the live name with -r<start time>).
    #[arg(long, requires = "auction_views_table")]
    pub user_bids_table: Option<String>,
    /// Parallel Scan segments.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub segments: i32,
    /// BatchWriteItem requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub writers: u16,
    /// Fill and catch up the fresh tables, but leave readers on the live ones.
    #[arg(long)]
    pub no_switch: bool,
    /// Seconds to keep catching up after the switch (at least the alias TTL, 5 s).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub grace_seconds: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    pub no_progress: bool,
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
    /// A parking command could not be done: bad input (exit 2) or a failure (exit 3).
    Parking(ParkingError),
    /// A digest or proof could not be made: nothing to prove yet (exit 2) or a failure (exit 3).
    Notary(NotaryError),
    /// A user could not be forgotten: they have no key (exit 2) or a failure (exit 3).
    Erasure(erasure::ErasureError),
}

impl Exit {
    pub fn code(&self) -> u8 {
        match self {
            Self::Tampered => 1,
            Self::Audit(error) if error.is_bad_input() => 2,
            Self::Parking(error) if error.is_bad_input() => 2,
            Self::Notary(
                NotaryError::NoDigest(_)
                | NotaryError::NotInDigest { .. }
                | NotaryError::NotYetDigested { .. },
            ) => 2,
            Self::Erasure(erasure::ErasureError::SubjectNotFound) => 2,
            Self::Audit(_)
            | Self::Output(_)
            | Self::Parking(_)
            | Self::Notary(_)
            | Self::Erasure(_) => 3,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tampered => write!(f, "the log is tampered with"),
            Self::Audit(error) => write!(f, "{error}"),
            Self::Erasure(error) => write!(f, "{error}"),
            Self::Output(error) => write!(f, "cannot write the output: {error}"),
            Self::Parking(error) => write!(f, "{error}"),
            Self::Notary(error) => write!(f, "{error}"),
        }
    }
}

impl From<erasure::ErasureError> for Exit {
    fn from(error: erasure::ErasureError) -> Self {
        Self::Erasure(error)
    }
}

impl From<AuditError> for Exit {
    fn from(error: AuditError) -> Self {
        Self::Audit(error)
    }
}

impl From<ParkingError> for Exit {
    fn from(error: ParkingError) -> Self {
        Self::Parking(error)
    }
}

impl From<NotaryError> for Exit {
    fn from(error: NotaryError) -> Self {
        Self::Notary(error)
    }
}

impl From<std::io::Error> for Exit {
    fn from(error: std::io::Error) -> Self {
        Self::Output(error)
    }
}

/// Runs one command against `sources`, writing its output to `out`.
pub async fn run(sources: &Sources, command: Command, out: &mut impl Write) -> Result<(), Exit> {
    let store = &sources.rebuild.log;
    match command {
        Command::History { id, item: false } => {
            for step in audit::history(store, AuctionId(id)).await? {
                let line = json!({ "event": step.event, "state": step.state });
                writeln!(out, "{line}")?;
            }
        }
        Command::History { id, item: true } => {
            for step in audit::item_history(store, ItemId(id)).await? {
                let line = json!({ "event": step.event, "state": step.state });
                writeln!(out, "{line}")?;
            }
        }
        Command::State { id, as_of, item } => {
            let as_of = match (as_of.version, as_of.at) {
                (Some(version), _) => AsOf::Version(version),
                (None, Some(at)) => AsOf::Instant(at),
                // clap's group makes exactly one of them present.
                (None, None) => AsOf::Version(0),
            };
            let line = if item {
                let at = audit::item_state_at(store, ItemId(id), as_of).await?;
                json!({ "version": at.version, "state": at.state })
            } else {
                let at = audit::state_at(store, AuctionId(id), as_of).await?;
                json!({ "version": at.version, "state": at.state })
            };
            writeln!(out, "{line}")?;
        }
        Command::Verify {
            id,
            item,
            all,
            concurrency,
        } => {
            let tampered = match id {
                Some(id) if !all && item => {
                    print_reports(out, &[audit::verify_item(store, ItemId(id)).await?])?
                }
                Some(id) if !all => {
                    print_reports(out, &[audit::verify(store, AuctionId(id)).await?])?
                }
                _ => {
                    let streams =
                        dynamodb::streams(store.client(), &store.tables().events, 4).await?;
                    let auctions = audit::verify_all(store, &streams.auctions, concurrency).await?;
                    let items = audit::verify_items(store, &streams.items, concurrency).await?;
                    let subjects =
                        audit::verify_subjects(store, &streams.subjects, concurrency).await?;
                    let tampered_auctions = print_reports(out, &auctions)?;
                    let tampered_items = print_reports(out, &items)?;
                    let tampered_subjects = print_reports(out, &subjects)?;
                    writeln!(
                        out,
                        "{} auctions verified, {tampered_auctions} tampered with",
                        auctions.len()
                    )?;
                    writeln!(
                        out,
                        "{} items verified, {tampered_items} tampered with",
                        items.len()
                    )?;
                    writeln!(
                        out,
                        "{} subjects verified, {tampered_subjects} tampered with",
                        subjects.len()
                    )?;
                    for (aggregate_type, ids) in &streams.others {
                        writeln!(
                            out,
                            "{} streams of aggregate type {aggregate_type:?} not verified: this build does not know it",
                            ids.len()
                        )?;
                    }
                    tampered_auctions + tampered_items + tampered_subjects
                }
            };
            out.flush()?;
            if tampered > 0 {
                return Err(Exit::Tampered);
            }
        }
        Command::Export {
            auction,
            item,
            event_type,
            from,
            to,
        } => match (auction, item, event_type) {
            (Some(id), _, _) => {
                let events = audit::history_events(store, AuctionId(id)).await?;
                let lines = revealed(sources, &export::encode_lines(&events)?).await?;
                out.write_all(lines.as_bytes())?;
            }
            (None, Some(id), _) => {
                let events = audit::item_history_events(store, ItemId(id)).await?;
                let lines = revealed(sources, &export::encode_lines(&events)?).await?;
                out.write_all(lines.as_bytes())?;
            }
            (None, None, Some(event_type)) => {
                let from = from.unwrap_or(DateTime::<Utc>::MIN_UTC);
                let to = to.unwrap_or_else(Utc::now);
                let mut written = Ok(());
                export::events_of_type(store, &event_type, from, to, |events| {
                    let lines = export::encode_lines(&events)?;
                    if written.is_ok() {
                        written = out.write_all(lines.as_bytes());
                    }
                    Ok(())
                })
                .await?;
                written?;
            }
            // clap requires one of them.
            (None, None, None) => {}
        },
        Command::Rebuild(args) => {
            let target = match (args.auction_views_table, args.user_bids_table) {
                (Some(auction_views), Some(user_bids)) => ViewTables {
                    auction_views,
                    user_bids,
                },
                _ => fresh_tables(&sources.rebuild.fallback, Utc::now()),
            };
            let mut options = RebuildOptions::new(target);
            options.segments = args.segments;
            options.writers = usize::from(args.writers);
            options.switch = !args.no_switch;
            options.grace = Duration::from_secs(args.grace_seconds);
            let progress = Progress::default();
            let rebuilt = {
                let work = rebuild(&sources.rebuild, &options, &progress);
                if args.no_progress {
                    work.await
                } else {
                    with_progress_lines(&progress, work).await
                }
            }?;
            let line = json!({
                "auctionViewsTable": rebuilt.target.auction_views,
                "userBidsTable": rebuilt.target.user_bids,
                "events": rebuilt.events,
                "auctions": rebuilt.auctions,
                "itemsWritten": rebuilt.items,
                "reread": rebuilt.reread,
                "streamRecordsApplied": rebuilt.caught_up,
                "bulkSeconds": rebuilt.bulk.as_secs_f64(),
                "eventsPerSecond": rebuilt.rate().round(),
                "totalSeconds": rebuilt.total.as_secs_f64(),
                "switchedToGeneration": rebuilt.generation,
            });
            writeln!(out, "{line}")?;
        }
        Command::Parked { command } => parked(sources, command, out).await?,
        Command::Redrive(args) => {
            let (queue_url, dlq_url) = redrive_urls(sources, &args).await?;
            let redriven = parking::redrive(&sources.sqs, &dlq_url, &queue_url).await?;
            let line = json!({
                "queue": queue_url,
                "deadLetterQueue": dlq_url,
                "method": redriven.method,
                "moved": redriven.moved,
            });
            writeln!(out, "{line}")?;
        }
        Command::BackfillAuditIndex => {
            let done = store
                .backfill_audit_keys()
                .await
                .map_err(AuditError::from)?;
            writeln!(out, "{}", json!(done))?;
        }
        Command::Prove {
            aggregate_type,
            id,
            version,
            digest,
        } => {
            let prover = Prover::new(&sources.heads, &sources.archive, store);
            let proof = prover
                .prove(aggregate_type.name(), id, version, digest)
                .await?;
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&proof).unwrap_or_default()
            )?;
        }
        Command::Digest { command } => digest(sources, command, out).await?,
        Command::Forget { user } => {
            let user =
                UserId::try_from(user.as_str()).map_err(|error| AuditError::MalformedLine {
                    line: 0,
                    reason: format!("not a user id: {error}"),
                })?;
            let context = CommandContext {
                command_id: Uuid::new_v4().to_string(),
                correlation_id: Uuid::new_v4().to_string(),
                actor: Actor::System {
                    name: "auction-admin".to_owned(),
                },
                idempotency_key: None,
                now: Utc::now(),
            };
            let log = Store::new(store.clone(), SnapshotPolicy::default());
            let forgotten = erasure::forget(
                &log,
                &sources.subject_keys,
                &sources.email_notices,
                &user,
                &context,
            )
            .await?;
            let line = json!({
                "subjectId": forgotten.subject_id,
                "erasedAs": forgotten.erased_as,
                "version": forgotten.version,
                "forgottenAt": forgotten.forgotten_at,
            });
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A stream's export with what its pseudonyms reveal beside each line (`revealed`); an export
/// by type streams its pages as stored instead: revealing needs the key store per page.
async fn revealed(sources: &Sources, lines: &str) -> Result<String, Exit> {
    personal_data::reveal_lines(&sources.subject_keys, lines)
        .await
        .map_err(|error| Exit::Audit(AuditError::Keys(error.to_string())))
}

async fn digest(
    sources: &Sources,
    command: DigestCommand,
    out: &mut impl Write,
) -> Result<(), Exit> {
    match command {
        DigestCommand::Write => {
            let signer = sources.signer().await?;
            let published =
                notary::publish(&sources.heads, &signer, &sources.archive, Utc::now()).await?;
            writeln!(out, "{}", json!(published))?;
        }
        DigestCommand::Show { sequence } => {
            let prover = Prover::new(&sources.heads, &sources.archive, &sources.rebuild.log);
            let digest = prover.digest(sequence).await?;
            out.write_all(&digest.to_json())?;
            writeln!(out)?;
        }
        DigestCommand::PublicKey => {
            let der = sources.signer().await?.public_key().await?;
            write!(out, "{}", pem("PUBLIC KEY", &der))?;
        }
    }
    Ok(())
}

/// `der` as PEM: base64 in lines of 64 between the label's armour lines.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

async fn parked(
    sources: &Sources,
    command: ParkedCommand,
    out: &mut impl Write,
) -> Result<(), Exit> {
    match command {
        ParkedCommand::List { consumer } => {
            for item in sources.parked.list(consumer.as_deref()).await? {
                writeln!(out, "{}", item_json(&item))?;
            }
        }
        ParkedCommand::Show {
            consumer,
            parked_id,
        } => {
            let item = sources.parked.get(&consumer, &parked_id).await?.ok_or(
                ParkingError::NotParked {
                    consumer,
                    parked_id,
                },
            )?;
            writeln!(out, "{}", item_json(&item))?;
        }
        ParkedCommand::Replay {
            consumer,
            parked_id,
            all,
            only,
        } => {
            let consumers = sources.consumers().await?;
            let targets: Vec<(String, String)> = match (consumer, parked_id) {
                (Some(consumer), Some(parked_id)) if !all => vec![(consumer, parked_id)],
                _ => sources
                    .parked
                    .list(only.as_deref())
                    .await?
                    .iter()
                    .map(|item| (item.consumer.clone(), item.parked_id()))
                    .collect(),
            };
            // One failing item does not stop the others; the exit code reports the first.
            let mut first_error = None;
            for (consumer, parked_id) in targets {
                match parking::replay(
                    &sources.parked,
                    &sources.rebuild.log,
                    &*consumers,
                    &consumer,
                    &parked_id,
                )
                .await
                {
                    Ok(item) => {
                        let mut line = item_json(&item);
                        line["replayed"] = json!(true);
                        writeln!(out, "{line}")?;
                    }
                    Err(error) => {
                        writeln!(
                            out,
                            "{}",
                            json!({"consumer": consumer, "parkedId": parked_id, "replayed": false, "error": error.to_string()})
                        )?;
                        first_error.get_or_insert(error);
                    }
                }
            }
            if let Some(error) = first_error {
                out.flush()?;
                return Err(error.into());
            }
        }
        ParkedCommand::Discard {
            consumer,
            parked_id,
            reason,
        } => {
            let item = parking::discard(&sources.parked, &consumer, &parked_id, &reason).await?;
            let mut line = item_json(&item);
            line["discarded"] = json!(reason);
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn item_json(item: &parking::Parked) -> serde_json::Value {
    let mut line = json!(item);
    line["parkedId"] = json!(item.parked_id());
    line
}

/// The queue and its DLQ: from the arguments, else the environment, else by name.
async fn redrive_urls(sources: &Sources, args: &RedriveArgs) -> Result<(String, String), Exit> {
    let queue = match args.queue.as_str() {
        "notifications" => Queue::Notifications,
        "payments" => Queue::Payments,
        "live" => Queue::Live,
        other => {
            return Err(ParkingError::BadInput(format!(
                "no queue is called {other:?}; queues: notifications, payments, live"
            ))
            .into());
        }
    };
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let name = env(queue.name_env()).unwrap_or_else(|| queue.default_name().to_owned());
    let dlq_name = names::dlq_name(&name);
    let dlq_env = match queue {
        Queue::Notifications => names::NOTIFICATIONS_DLQ_URL_ENV,
        Queue::Payments => names::PAYMENTS_DLQ_URL_ENV,
        Queue::Live => names::LIVE_DLQ_URL_ENV,
    };
    let lookup = |name: String| async move {
        sources
            .sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .ok()
            .and_then(|found| found.queue_url)
            .ok_or_else(|| {
                Exit::from(ParkingError::BadInput(format!(
                    "no queue named {name} was found: give its URL"
                )))
            })
    };
    let queue_url = match args.queue_url.clone().or_else(|| env(queue.url_env())) {
        Some(url) => url,
        None => lookup(name).await?,
    };
    let dlq_url = match args.dlq_url.clone().or_else(|| env(dlq_env)) {
        Some(url) => url,
        None => lookup(dlq_name).await?,
    };
    Ok((queue_url, dlq_url))
}

/// Prints one line per report (an auction's or an item's); answers how many are tampered with.
fn print_reports<I: std::fmt::Display>(
    out: &mut impl Write,
    reports: &[event_store::verify::Report<I>],
) -> std::io::Result<usize> {
    let mut tampered = 0;
    for report in reports {
        writeln!(out, "{report}")?;
        if !report.is_clean() {
            tampered += 1;
        }
    }
    Ok(tampered)
}

/// Drives `work` while printing the rebuild's progress to stderr: one line rewritten in place
/// on a terminal, else a line every five seconds (and one at the end).
async fn with_progress_lines<T>(
    progress: &Progress,
    work: impl std::future::Future<Output = T>,
) -> T {
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    let started = Instant::now();
    let print = || {
        let line = progress.line();
        if terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    };
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            result = &mut work => {
                print();
                if terminal {
                    eprintln!();
                }
                eprintln!("rebuild took {:.1} s", started.elapsed().as_secs_f64());
                return result;
            }
            _ = ticker.tick() => print(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("auction-admin").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    const ID: &str = "0b7e7a4c-3f1e-4c55-9d7a-2f0c8e5b6a10";

    #[test]
    fn an_items_stream_is_named_with_item_for_history_state_verify_and_export() {
        assert!(matches!(
            parse(&["history", ID, "--item"]).unwrap(),
            Command::History { item: true, .. }
        ));
        assert!(matches!(
            parse(&["state", ID, "--item", "--version", "2"]).unwrap(),
            Command::State { item: true, .. }
        ));
        assert!(matches!(
            parse(&["verify", ID, "--item"]).unwrap(),
            Command::Verify {
                item: true,
                all: false,
                ..
            }
        ));
        assert!(matches!(
            parse(&["export", "--item", ID]).unwrap(),
            Command::Export {
                item: Some(_),
                auction: None,
                event_type: None,
                ..
            }
        ));
        // Without --item the id is an auction's, as before
        assert!(matches!(
            parse(&["verify", ID]).unwrap(),
            Command::Verify { item: false, .. }
        ));
    }

    #[test]
    fn an_export_names_exactly_one_stream_or_one_event_type() {
        assert!(parse(&["export", "--auction", ID, "--item", ID]).is_err());
        assert!(parse(&["export", "--item", ID, "--event-type", "ItemRegistered"]).is_err());
        assert!(parse(&["export"]).is_err());
        assert!(parse(&["export", "--event-type", "OwnershipTransferred"]).is_ok());
        // --all checks every stream of both types; --item names one
        assert!(parse(&["verify", "--all", "--item"]).is_err());
        assert!(parse(&["verify", "--all"]).is_ok());
    }
}
