use axum::extract::State;
use axum::response::Response;
use conventions::metrics::Command;
use domain::{CancelAuction, decide_cancel};

use super::{Answer, CommandRequest, changed, run_command};
use crate::bodies::{AuctionChanged, CancelRequest};
use crate::error::ApiError;
use crate::extract::{AuctionPath, OptionalJsonBody};
use crate::problems::{NotSeller, Problems};
use crate::{App, Backend};

/// Withdraws the auction; only its seller may, and only before the first bid.
#[utoipa::path(post, path = "/auctions/{id}/cancel", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    request_body(content = CancelRequest, description = "Optional; an empty body means no reason"),
    responses(
        (status = 200, description = "Cancelled", body = AuctionChanged),
        NotSeller,
        Problems<401, 404, 409, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn cancel_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    request: CommandRequest,
    body: OptionalJsonBody<CancelRequest>,
) -> Result<Response, ApiError> {
    let command = CancelAuction {
        requested_by: request.caller().clone(),
        reason: body.value.reason,
    };
    run_command(
        &app,
        Command("CancelAuction"),
        &request,
        auction_id,
        move |state, now| decide_cancel(state, &command, now),
        |outcome| Ok(Answer::ok(changed(outcome)?)),
    )
    .await
}
