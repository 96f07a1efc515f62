//! The reconciler on one machine: a run every `RECONCILE_INTERVAL_SECONDS` until Ctrl-C or
//! SIGTERM, against whatever DynamoDB and SQS the standard AWS environment names (the local stack
//! in `scripts/run`).

use reconciler::reconcile_until;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    conventions::init_json_logging();
    let reconciler::Deployed { ports, settings } = reconciler::from_env().await?;
    let stop = async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { terminate.as_mut()?.recv().await } => {}
        }
    };
    tracing::info!(
        interval = ?settings.interval,
        lookback_seconds = settings.lookback.num_seconds(),
        grace_seconds = settings.grace.num_seconds(),
        saga_deadline_seconds = settings.saga_deadline.num_seconds(),
        parked_grace_seconds = settings.parked_grace.num_seconds(),
        max_replays = settings.max_replays,
        "reconciling the log's consequences every interval"
    );
    reconcile_until(&ports, &settings, chrono::Utc::now, stop).await;
    Ok(())
}
