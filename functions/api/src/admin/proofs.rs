//! `GET /admin/proofs/{aggregateType}/{id}/{version}`: the proof that one event is in a signed
//! digest of the log, as `auction-admin prove` prints it (docs/audit.md, "Digests").

use axum::Json;
use axum::extract::{Path, State};
use event_store::Store;
use notary::{NotaryError, Proof};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::Admin;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::parked::StoreLog;
use crate::problems::Problems;
use crate::reads::BoxFuture;
use crate::{App, Backend};

/// Proofs of the log's digests: the notary's prover, behind a port the API can hold.
pub trait Proofs: Send + Sync {
    fn prove<'a>(
        &'a self,
        aggregate_type: &'a str,
        aggregate_id: Uuid,
        version: u64,
        digest: Option<u64>,
    ) -> BoxFuture<'a, Result<Proof, NotaryError>>;
}

impl<H, A, L> Proofs for notary::Prover<H, A, L>
where
    H: notary::Heads,
    A: notary::Archive,
    L: event_store::EventLog,
{
    fn prove<'a>(
        &'a self,
        aggregate_type: &'a str,
        aggregate_id: Uuid,
        version: u64,
        digest: Option<u64>,
    ) -> BoxFuture<'a, Result<Proof, NotaryError>> {
        Box::pin(notary::Prover::prove(
            self,
            aggregate_type,
            aggregate_id,
            version,
            digest,
        ))
    }
}

/// Proofs over in-memory heads and an in-memory archive with the store's log: for routers that
/// run with no network (the fuzz targets). [`crate::testing::TestApp`] keeps its own handles.
pub fn in_memory<B: Backend>(store: &Store<B>) -> std::sync::Arc<dyn Proofs> {
    std::sync::Arc::new(notary::Prover::new(
        notary::InMemoryHeads::new(),
        notary::InMemoryArchive::new(),
        StoreLog::new(store.clone()),
    ))
}

/// The aggregate types whose streams the log holds.
const AGGREGATE_TYPES: [&str; 2] = [events::AGGREGATE_TYPE, events::ITEM_AGGREGATE_TYPE];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// The digest to prove against (its sequence); the latest when absent.
    #[param(minimum = 1)]
    pub digest: Option<u64>,
}

#[utoipa::path(get, path = "/admin/proofs/{aggregateType}/{id}/{version}", tag = "admin",
    params(
        ("aggregateType" = String, Path, description = "`Auction` or `Item`"),
        ("id" = Uuid, Path, description = "The stream's id"),
        ("version" = u64, Path, description = "The event's version, from 1", minimum = 1),
        ProofQuery,
    ),
    responses(
        (status = 200, description = "The proof (docs/audit.md, \"Digests and proofs: the formats\"): check it with tools/verifier/verify_proof.py against the digest object in the bucket and the signing key's public half", body = Object),
        Problems<400, 401, 403, 404, 409, 503>,
    ),
    security(("bearer" = [])))]
pub async fn proof<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    Path((aggregate_type, id, version)): Path<(String, String, String)>,
    QueryParams(query): QueryParams<ProofQuery>,
) -> Result<Json<Proof>, ApiError> {
    if !AGGREGATE_TYPES.contains(&aggregate_type.as_str()) {
        return Err(ApiError::StreamNotFound(format!(
            "no aggregate type {aggregate_type:?}: the log holds {}",
            AGGREGATE_TYPES.join(" and ")
        )));
    }
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::StreamNotFound(format!("{id:?} is not a stream id (a UUID)")))?;
    let version = version
        .parse::<u64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            ApiError::InvalidQuery(format!("version {version:?} is not a number from 1"))
        })?;
    if query.digest == Some(0) {
        return Err(ApiError::InvalidQuery(
            "digest sequences start at 1".to_owned(),
        ));
    }
    app.proofs
        .prove(&aggregate_type, id, version, query.digest)
        .await
        .map(Json)
        .map_err(ApiError::Proof)
}
