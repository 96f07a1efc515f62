use axum::extract::State;
use axum::response::Response;
use conventions::metrics::Command;
use domain::item::{ItemState, RegisterItem, decide_register};
use domain::{CreateAuction, decide_create};
use event_store::CommandContext;
use events::{AuctionId, IncrementBand, IncrementPolicy, ItemId, SoftClose};
use uuid::Uuid;

use super::{Answer, CommandRequest, changed, derived_id, money, run_command};
use crate::bodies::{AuctionChanged, CreateAuctionRequest, IncrementRequest};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::payment_identity::require_payout_account;
use crate::problems::{PayoutAccountRequired, Problems};
use crate::{App, Backend};

/// Puts an item up for auction; the caller is the seller, who needs a payout account on file
/// (`PUT /me/payout-account`): without one nothing is written.
#[utoipa::path(post, path = "/auctions", tag = "auctions",
    request_body = CreateAuctionRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes a retry create nothing new: the auction id derives from it")),
    responses(
        (status = 201, description = "Created", body = AuctionChanged,
            headers(("Location" = String, description = "/auctions/{id}"))),
        PayoutAccountRequired,
        Problems<400, 401, 413, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn create_auction<B: Backend>(
    State(app): State<App<B>>,
    request: CommandRequest,
    body: JsonBody<CreateAuctionRequest>,
) -> Result<Response, ApiError> {
    require_payout_account(&app, request.caller()).await?;
    let key = request.optional_key()?;
    let auction_id = AuctionId(match &key {
        Some(key) => derived_id("create", request.caller(), key),
        None => Uuid::new_v4(),
    });
    let command = command(auction_id, &request, body.value);
    let derived = key.is_some();
    let request = request.keyed(key, &body.raw);
    let decided = command.clone();
    let decide = move |state: &domain::State, now| {
        // The id derives from the seller's key, so an auction under it is that key's
        // earlier command whatever its body said (the domain would call another title a
        // different auction): nothing to decide, and the store compares the two requests.
        if derived
            && state
                .auction
                .as_ref()
                .is_some_and(|a| a.id == auction_id && a.seller_id == decided.seller_id)
        {
            return Ok(vec![]);
        }
        decide_create(state, &decided, now)
    };
    // The item first, so that no auction exists without its item in the ownership ledger;
    // decided on the auction as it stands before that, so that a refused creation registers
    // nothing and a retried one (its auction already there) registers nothing again.
    let standing = app
        .store
        .load::<domain::State>(auction_id, &request.meter)
        .await?;
    if !decide(&standing.state, app.clock.now())?.is_empty() {
        register_item(&app, &request, &command).await?;
    }
    run_command(
        &app,
        Command("CreateAuction"),
        &request,
        auction_id,
        decide,
        |outcome| Ok(Answer::created(changed(outcome)?).at(format!("/auctions/{auction_id}"))),
    )
    .await
}

/// Registers the item the auction sells in the ownership ledger (the Item aggregate, its id
/// [`ItemId::for_auction`]), owned by the seller: `ItemRegistered`. Without the request's
/// idempotency key, which names the auction's command: the Item decides nothing when the same
/// auction's item is registered again (a retry whose first attempt got this far).
async fn register_item<B: Backend>(
    app: &App<B>,
    request: &CommandRequest,
    command: &CreateAuction,
) -> Result<(), ApiError> {
    let item_id = ItemId::for_auction(command.auction_id);
    let register = RegisterItem {
        item_id,
        auction_id: command.auction_id,
        owner: command.seller_id.clone(),
        title: command.title.clone(),
    };
    let context = CommandContext {
        idempotency_key: None,
        ..request.context(app)
    };
    app.store
        .execute_metered(
            item_id,
            &context,
            |state: &ItemState, now| decide_register(state, &register, now),
            &request.meter,
        )
        .await?;
    Ok(())
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
