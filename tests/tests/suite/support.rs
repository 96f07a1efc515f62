//! What several files of the suite do alike: an auction to start from, and stopping a runner.

use std::time::Duration;

use domain::decide_create;
use e2e::fixtures;
use event_store::{DynamoDbStore, Store};
use events::AuctionId;
use local_triggers::{CancellationToken, TriggerError};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A runner of local-triggers, started: how to stop it, and its task.
pub type Running = (CancellationToken, JoinHandle<Result<(), TriggerError>>);

/// Stops a runner as SIGTERM does, and waits up to `budget` for it to finish its batch.
pub async fn stop_within(budget: Duration, (stop, task): Running) {
    stop.cancel();
    tokio::time::timeout(budget, task)
        .await
        .expect("the runner did not stop")
        .unwrap()
        .unwrap();
}

/// A fresh auction created by the seller through the real decision
/// ([`fixtures::create_command`]).
pub async fn created(store: &Store<DynamoDbStore>) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let create = fixtures::create_command(auction_id);
    store
        .execute(
            auction_id,
            &fixtures::context(&fixtures::user("seller"), None),
            |state, now| decide_create(state, &create, now),
        )
        .await
        .unwrap();
    auction_id
}
