use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use conventions::metrics::Command;
use domain::item::{ItemState, RegisterItem, RelistItem, decide_register, decide_relist_item};
use domain::{Auction, RelistAuction, decide_create_relisting, decide_relist, relisting_of};
use event_store::CommandContext;
use events::AuctionId;

use super::{Answer, CommandRequest, changed, existing, run_command};
use crate::bodies::{AuctionChanged, AuctionStatus, RelistRequest};
use crate::error::ApiError;
use crate::extract::{AuctionPath, JsonBody};
use crate::payment_identity::require_payout_account;
use crate::problems::{NotSeller, Problems, RelistRefused};
use crate::{App, Backend};

/// Puts the item an auction did not sell (it ended unsold, every buyer's payment failed, or
/// it was cancelled) up again as a new auction on the same terms, bidding from `startsAt` to
/// `endsAt`: the same item in the ownership ledger, and the old auction names the new one.
/// Only its seller may. The new auction's id is fixed by the old one's, so asking again (a
/// retry, a second tab) makes no second auction: it answers 200 with the same one.
#[utoipa::path(post, path = "/auctions/{id}/relist", tag = "auctions",
    params(("id" = Uuid, Path, description = "The unsold auction's id")),
    request_body = RelistRequest,
    responses(
        (status = 201, description = "Relisted: the new auction", body = AuctionChanged,
            headers(("Location" = String, description = "/auctions/{new id}"))),
        (status = 200, description = "Relisted before: the new auction", body = AuctionChanged,
            headers(("Location" = String, description = "/auctions/{new id}"))),
        NotSeller,
        RelistRefused,
        Problems<400, 401, 404, 413, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn relist_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    request: CommandRequest,
    body: JsonBody<RelistRequest>,
) -> Result<Response, ApiError> {
    let relisted_as = AuctionId::relisting(auction_id);
    let command = RelistAuction {
        seller_id: request.caller().clone(),
        relisted_as,
        starts_at: body.value.starts_at,
        ends_at: body.value.ends_at,
    };
    // Both decisions first, on the two auctions as they stand, so that a refusal (not the
    // seller's, not over, sold, a bad schedule) changes nothing anywhere.
    let now = app.clock.now();
    let unsold = app
        .store
        .load::<domain::State>(auction_id, &request.meter)
        .await?;
    decide_relist(&unsold.state, &command, now)?;
    let previous = existing(&unsold.state)?.clone();
    if previous.relisted_as == Some(relisted_as) {
        // The old auction names its relisting only after every other step took effect: the
        // relisting is done, whatever became of the item since (it may be up again further).
        let relisting = app
            .store
            .load::<domain::State>(relisted_as, &request.meter)
            .await?;
        let body = AuctionChanged {
            auction_id: relisted_as.0,
            version: relisting.state.version,
            status: AuctionStatus::from(&existing(&relisting.state)?.status),
        };
        let location = format!("/auctions/{relisted_as}");
        return Ok((StatusCode::OK, [(header::LOCATION, location)], Json(body)).into_response());
    }
    let create = relisting_of(&previous, &command);
    let standing = app
        .store
        .load::<domain::State>(relisted_as, &request.meter)
        .await?;
    decide_create_relisting(&standing.state, &create, &previous, now)?;
    require_payout_account(&app, request.caller()).await?;

    // Then in the order that leaves no auction without its item, and the old auction naming
    // the new one only once it exists: each step decides nothing when it took effect before,
    // so a relisting stopped half-way is finished by asking again.
    let context = request.context(&app);
    relist_item(&app, &request, &context, &previous, relisted_as).await?;
    let created = app
        .store
        .execute_metered(
            relisted_as,
            &context,
            move |state: &domain::State, now| {
                decide_create_relisting(state, &create, &previous, now)
            },
            &request.meter,
        )
        .await?;
    let answer = changed(&created)?;
    let new = !created.events.is_empty();
    run_command(
        &app,
        Command("RelistAuction"),
        &request,
        auction_id,
        move |state, now| decide_relist(state, &command, now),
        move |_| {
            let answer = if new {
                Answer::created(answer)
            } else {
                Answer::ok(answer)
            };
            Ok(answer.at(format!("/auctions/{relisted_as}")))
        },
    )
    .await
}

/// Moves the item in the ownership ledger to the new auction (registering it first, owned by
/// the seller, if the unsold auction predates the ledger).
async fn relist_item<B: Backend>(
    app: &App<B>,
    request: &CommandRequest,
    context: &CommandContext,
    previous: &Auction,
    relisted_as: AuctionId,
) -> Result<(), ApiError> {
    let item_id = previous.item_id;
    let register = RegisterItem {
        item_id,
        auction_id: previous.id,
        owner: previous.seller_id.clone(),
        title: previous.title.clone(),
    };
    let relist = RelistItem {
        auction_id: relisted_as,
        previous_auction_id: previous.id,
        owner: previous.seller_id.clone(),
    };
    app.store
        .execute_metered(
            item_id,
            context,
            |state: &ItemState, now| match &state.item {
                None => decide_register(state, &register, now),
                Some(_) => Ok(vec![]),
            },
            &request.meter,
        )
        .await?;
    app.store
        .execute_metered(
            item_id,
            context,
            |state: &ItemState, now| decide_relist_item(state, &relist, now),
            &request.meter,
        )
        .await?;
    Ok(())
}
