use axum::extract::State;
use axum::response::Response;
use domain::{CreateAuction, decide_create};
use events::{AuctionId, IncrementBand, IncrementPolicy, SoftClose};
use uuid::Uuid;

use super::{Answer, CommandRequest, changed, derived_id, money, run_command};
use crate::bodies::{AuctionChanged, CreateAuctionRequest, IncrementRequest};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::problems::Problems;
use crate::{App, Backend};

/// Puts an item up for auction; the caller is the seller.
#[utoipa::path(post, path = "/auctions", tag = "auctions",
    request_body = CreateAuctionRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes a retry create nothing new: the auction id derives from it")),
    responses(
        (status = 201, description = "Created", body = AuctionChanged,
            headers(("Location" = String, description = "/auctions/{id}"))),
        Problems<400, 401, 409, 413, 415, 422, 503>,
    ),
    security(("bearer" = [])))]
pub async fn create_auction<B: Backend>(
    State(app): State<App<B>>,
    request: CommandRequest,
    body: JsonBody<CreateAuctionRequest>,
) -> Result<Response, ApiError> {
    let key = request.optional_key()?;
    let auction_id = AuctionId(match &key {
        Some(key) => derived_id("create", request.caller(), key),
        None => Uuid::new_v4(),
    });
    let command = command(auction_id, &request, body.value);
    let derived = key.is_some();
    let request = request.keyed(key, &body.raw);
    run_command(
        &app,
        &request,
        auction_id,
        |state, now| {
            // The id derives from the seller's key, so an auction under it is that key's
            // earlier command whatever its body said (the domain would call another title a
            // different auction): nothing to decide, and the store compares the two requests.
            if derived
                && state
                    .auction
                    .as_ref()
                    .is_some_and(|a| a.id == auction_id && a.seller_id == command.seller_id)
            {
                return Ok(vec![]);
            }
            decide_create(state, &command, now)
        },
        |outcome| Ok(Answer::created(changed(outcome)?).at(format!("/auctions/{auction_id}"))),
    )
    .await
}

fn command(
    auction_id: AuctionId,
    request: &CommandRequest,
    body: CreateAuctionRequest,
) -> CreateAuction {
    let currency = body.currency;
    CreateAuction {
        auction_id,
        seller_id: request.caller().clone(),
        title: body.title,
        description: body.description,
        starting_price: money(&currency, body.starting_price),
        reserve_price: body.reserve_price.map(|a| money(&currency, a)),
        buy_now_price: body.buy_now_price.map(|a| money(&currency, a)),
        increment: body.increment.map(|increment| match increment {
            IncrementRequest::Fixed { amount_minor } => IncrementPolicy::Fixed { amount_minor },
            IncrementRequest::Tiered { bands } => IncrementPolicy::Tiered {
                bands: bands
                    .into_iter()
                    .map(|band| IncrementBand {
                        from_minor: band.from_minor,
                        increment_minor: band.increment_minor,
                    })
                    .collect(),
            },
        }),
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        soft_close: body.soft_close.map(|soft| SoftClose {
            window_seconds: soft.window_seconds,
            extension_seconds: soft.extension_seconds,
        }),
        currency,
    }
}
