use axum::extract::State;
use axum::response::Response;
use conventions::metrics::Command;
use domain::{BuyNow, Rejection, decide_buy_now};
use events::{AuctionEvent, AuctionResult};

use super::{Answer, CommandRequest, command_id_on, existing, run_command, version_after};
use crate::bodies::{AuctionStatus, MoneyBody, Purchase};
use crate::error::ApiError;
use crate::extract::AuctionPath;
use crate::payment_identity::require_payment_method;
use crate::problems::{PaymentMethodRequired, Problems};
use crate::{App, Backend};

/// Buys the item at its buy-now price, ending the auction. Needs an `Idempotency-Key`, and a
/// card on file (`PUT /me/payment-method`): without one nothing is written.
#[utoipa::path(post, path = "/auctions/{id}/buy-now", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 visible ASCII characters")),
    responses(
        (status = 201, description = "Bought (also for a replayed retry)", body = Purchase),
        PaymentMethodRequired,
        Problems<400, 401, 403, 404, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn buy_now<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    request: CommandRequest,
) -> Result<Response, ApiError> {
    let key = request.required_key()?;
    require_payment_method(&app, request.caller()).await?;
    let purchase_id = command_id_on(auction_id, request.caller(), &key);
    let command = BuyNow {
        purchase_id,
        buyer_id: request.caller().clone(),
    };
    let request = request.keyed(Some(key), b"");
    run_command(
        &app,
        Command("BuyNow"),
        &request,
        auction_id,
        move |state, now| decide_buy_now(state, &command, now),
        |outcome| {
            let auction = existing(&outcome.state)?;
            let price = outcome
                .events
                .iter()
                .find_map(|e| match &e.event {
                    AuctionEvent::AuctionEnded(ended) => match &ended.result {
                        AuctionResult::Sold { final_price, .. } => {
                            Some(MoneyBody::from(final_price))
                        }
                        AuctionResult::Unsold { .. } => None,
                    },
                    _ => None,
                })
                // A purchase that took effect without a record of its events: the ended state
                // holds the final price (a successful buy-now always sets it).
                .or_else(|| auction.price.map(|p| MoneyBody::from(&auction.money(p))))
                .or_else(|| {
                    auction
                        .buy_now_price
                        .map(|p| MoneyBody::from(&auction.money(p)))
                })
                .ok_or(ApiError::Rejected(Rejection::BuyNowNotOffered))?;
            Ok(Answer::created(Purchase {
                purchase_id: purchase_id.0,
                auction_id: auction_id.0,
                price,
                version: version_after(outcome),
                status: AuctionStatus::from(&auction.status),
            }))
        },
    )
    .await
}
