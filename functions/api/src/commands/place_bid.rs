use axum::extract::State;
use axum::response::Response;
use conventions::metrics::Command;
use domain::{PlaceBid, State as Aggregate, decide_place_bid};
use event_store::Outcome;
use events::{AuctionEvent, BidId, UserId};

use super::{Answer, CommandRequest, command_id_on, existing, money, run_command, version_after};
use crate::bodies::{BidAccepted, MoneyBody, PlaceBidRequest};
use crate::error::ApiError;
use crate::extract::{AuctionPath, JsonBody};
use crate::payment_identity::require_payment_method;
use crate::problems::{PaymentMethodRequired, Problems, SellerCannotBid};
use crate::{App, Backend};

/// Places a bid (with optional proxy maximum). Needs an `Idempotency-Key`: a retry with the
/// same key and body returns the first answer and changes nothing. Needs a card on file
/// (`PUT /me/payment-method`): without one the bid is refused before anything is written.
#[utoipa::path(post, path = "/auctions/{id}/bids", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 visible ASCII characters")),
    request_body = PlaceBidRequest,
    responses(
        (status = 201, description = "Accepted (also for a replayed retry)", body = BidAccepted,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay"))),
        SellerCannotBid,
        PaymentMethodRequired,
        Problems<400, 401, 404, 413, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn place_bid<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    request: CommandRequest,
    body: JsonBody<PlaceBidRequest>,
) -> Result<Response, ApiError> {
    let key = request.required_key()?;
    require_payment_method(&app, request.caller()).await?;
    let bid_id = command_id_on(auction_id, request.caller(), &key);
    let bid = body.value;
    let command = PlaceBid {
        bid_id,
        bidder_id: request.caller().clone(),
        amount: money(&bid.currency, bid.amount),
        max_amount: bid.max_amount.map(|a| money(&bid.currency, a)),
    };
    let request = request.keyed(Some(key), &body.raw);
    run_command(
        &app,
        Command("PlaceBid"),
        &request,
        auction_id,
        move |state, now| decide_place_bid(state, &command, now),
        |outcome| {
            Ok(Answer::created(bid_accepted(
                outcome,
                bid_id,
                request.caller(),
            )?))
        },
    )
    .await
}

/// The answer to a bid, from the events it appended, so that a replay (which returns the same
/// events) answers the same. A bid that took effect without a record of its events (the
/// domain recognised its id) answers from the current state.
fn bid_accepted(
    outcome: &Outcome<Aggregate>,
    bid_id: BidId,
    caller: &UserId,
) -> Result<BidAccepted, ApiError> {
    let mut price = None;
    let mut leading = None;
    for envelope in &outcome.events {
        match &envelope.event {
            AuctionEvent::BidPlaced(bid) if bid.bid_id == bid_id => {
                price = Some(MoneyBody::from(&bid.new_price));
                leading = Some(&bid.leader_id == caller);
            }
            AuctionEvent::MaxBidRaised(raise) if raise.bid_id == bid_id => {
                price = Some(MoneyBody::from(&raise.new_price));
                // Only the leader raises their maximum.
                leading = Some(true);
            }
            _ => {}
        }
    }
    let version = version_after(outcome);
    match (price, leading) {
        (Some(current_price), Some(leading)) => Ok(BidAccepted {
            accepted: true,
            bid_id: bid_id.0,
            current_price,
            leading,
            version,
        }),
        _ => {
            let auction = existing(&outcome.state)?;
            Ok(BidAccepted {
                accepted: true,
                bid_id: bid_id.0,
                current_price: MoneyBody::from(
                    &auction.money(auction.price.unwrap_or(auction.starting_price)),
                ),
                leading: auction.leader.as_ref() == Some(caller),
                version,
            })
        }
    }
}
