//! The scheduler on one machine: sweeps every `SWEEP_INTERVAL` until Ctrl-C or SIGTERM, against
//! whatever DynamoDB the standard AWS environment names (the local stack in `scripts/run`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    conventions::init_json_logging();
    let (store, index) = scheduler::from_env().await;
    let stop = async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { terminate.as_mut()?.recv().await } => {}
        }
    };
    tracing::info!(
        "sweeping for due auctions every {:?}",
        scheduler::SWEEP_INTERVAL
    );
    scheduler::sweep_until(&store, &index, chrono::Utc::now, stop).await;
    Ok(())
}
