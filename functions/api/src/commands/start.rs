use axum::extract::State;
use axum::response::Response;
use conventions::metrics::Command;
use domain::{RequestStart, decide_request_start};

use super::{Answer, CommandRequest, changed, run_command};
use crate::bodies::AuctionChanged;
use crate::error::ApiError;
use crate::extract::AuctionPath;
use crate::problems::Problems;
use crate::{App, Backend};

/// Opens bidding once the start time has come (the scheduler's job, open to the seller too).
#[utoipa::path(post, path = "/auctions/{id}/start", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, description = "Active", body = AuctionChanged),
        Problems<401, 403, 404, 409, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn start_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    request: CommandRequest,
) -> Result<Response, ApiError> {
    let command = RequestStart {
        requested_by: request.caller().clone(),
    };
    run_command(
        &app,
        Command("StartAuction"),
        &request,
        auction_id,
        move |state, now| decide_request_start(state, &command, now),
        |outcome| Ok(Answer::ok(changed(outcome)?)),
    )
    .await
}
