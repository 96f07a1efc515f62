//! The OpenAPI 3.1 document, generated from the handlers' annotations and the body types.
//! A checked-in copy (`functions/api/openapi.json`) is kept equal to it by a test.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;
use crate::{
    admin, commands, item_photos, items, payment_identity, preferences, queries, watching, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Auctions bidder API", description = "Bidding on event-sourced auctions. \
        Errors are application/problem+json with a stable `code`."),
    paths(
        queries::health,
        commands::create_auction,
        queries::list_auctions,
        queries::get_auction,
        commands::start_auction,
        commands::cancel_auction,
        commands::relist_auction,
        commands::place_bid,
        queries::list_bids,
        items::provenance,
        commands::buy_now,
        queries::my_bids,
        queries::my_auctions,
        watching::my_watchlist,
        watching::watch,
        watching::unwatch,
        preferences::get_preferences,
        preferences::put_preferences,
        preferences::unsubscribe,
        item_photos::add_photo,
        item_photos::list_photos,
        item_photos::photo_status,
        queries::my_notifications,
        payment_identity::get_payment_identity,
        payment_identity::put_payment_method,
        payment_identity::put_payout_account,
        admin::history,
        admin::state_at,
        admin::verify,
        admin::export,
        admin::item_history,
        admin::item_state_at,
        admin::item_verify,
        admin::item_export,
        admin::events_of_type,
        admin::proofs::proof,
        admin::parked,
        admin::replay_parked,
        admin::forget_subject,
        webhooks::stripe_webhook,
    ),
    // Named only through `value_type` in parameters, or only by the problem responses
    // (`problems`), which utoipa does not collect itself.
    components(schemas(admin::ParkedConsumer, Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON, exactly as checked in.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
