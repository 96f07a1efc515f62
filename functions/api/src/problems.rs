//! The problem responses of the OpenAPI document, written once: a route names the statuses it
//! can answer with a problem document (`Problems<400, 401, 404>`), or one of the few responses
//! whose description names the code a client should expect there ([`NotSeller`], ...). Each
//! is `application/problem+json` with the [`Problem`](crate::Problem) schema; the codes
//! themselves are documented on [`ApiError`](crate::ApiError).

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

const CONTENT_TYPE: &str = "application/problem+json";
const SEE_ITS_CODE: &str = "A problem document; see its `code`";

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Problem documents under these statuses (up to ten; 0 is no status), each described as "see
/// its `code`".
pub struct Problems<
    const A: u16,
    const B: u16 = 0,
    const C: u16 = 0,
    const D: u16 = 0,
    const E: u16 = 0,
    const F: u16 = 0,
    const G: u16 = 0,
    const H: u16 = 0,
    const I: u16 = 0,
    const J: u16 = 0,
>;

impl<
    const A: u16,
    const B: u16,
    const C: u16,
    const D: u16,
    const E: u16,
    const F: u16,
    const G: u16,
    const H: u16,
    const I: u16,
    const J: u16,
> IntoResponses for Problems<A, B, C, D, E, F, G, H, I, J>
{
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [A, B, C, D, E, F, G, H, I, J]
            .into_iter()
            .filter(|status| *status != 0)
            .map(|status| (status.to_string(), problem(SEE_ITS_CODE)))
            .collect()
    }
}

/// Problem responses whose description says which code the status stands for on that route.
macro_rules! described {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([($status.to_string(), problem($description))])
            }
        }
    )*};
}

described! {
    /// Cancelling: 403 is only ever NOT_SELLER.
    NotSeller = "403", "NOT_SELLER";
    /// Bidding: 403 is only ever SELLER_CANNOT_BID.
    SellerCannotBid = "403", "SELLER_CANNOT_BID";
    /// Bidding and buying: 409 names a missing card first.
    PaymentMethodRequired = "409",
        "A problem document; see its `code` (PAYMENT_METHOD_REQUIRED: the caller has no card on \
        file; register one with PUT /me/payment-method. Otherwise the auction's state refuses \
        the command, or CONFLICT_RETRY: retry with the same Idempotency-Key)";
    /// Relisting: 409 names a missing payout account first.
    RelistRefused = "409",
        "A problem document; see its `code` (PAYOUT_ACCOUNT_REQUIRED: the seller has no payout \
        account on file; register one with PUT /me/payout-account. AUCTION_NOT_OVER: bidding \
        is still open. ITEM_SOLD: the item sold here. ALREADY_RELISTED: the item is up again \
        already, as the auction the detail names. Or CONFLICT_RETRY: retry)";
    /// Creating an auction: 409 names a missing payout account first.
    PayoutAccountRequired = "409",
        "A problem document; see its `code` (PAYOUT_ACCOUNT_REQUIRED: the seller has no payout \
        account on file; register one with PUT /me/payout-account. Otherwise the auction \
        exists already, or CONFLICT_RETRY: retry with the same Idempotency-Key)";
    /// Registering a card or a payout account: 422 says which check failed; nothing is stored.
    IdentityRefused = "422",
        "A problem document; see its `code` (INVALID_REQUEST: a field is missing or an id is not \
        of Stripe's shape; CUSTOMER_NOT_FOUND, PAYMENT_METHOD_NOT_FOUND, \
        PAYMENT_METHOD_NOT_A_CARD, PAYMENT_METHOD_NOT_ATTACHED, PAYOUT_ACCOUNT_NOT_FOUND, \
        PAYOUT_ACCOUNT_NOT_READY: Stripe does not confirm the ids). Nothing is stored";
    /// Listing parked items.
    ParkedListBadRequest = "400",
        "A problem document; see its `code` (UNKNOWN_CONSUMER, INVALID_QUERY)";
    /// Replaying a parked item.
    ReplayUnknownConsumer = "400", "A problem document; see its `code` (UNKNOWN_CONSUMER)";
    /// Replaying a parked item.
    ReplayNotParked = "404", "A problem document; see its `code` (NOT_PARKED)";
    /// Replaying a parked item.
    ReplayEventsMissing = "409",
        "A problem document; see its `code` (PARKED_EVENTS_MISSING: the log lacks some of the \
        item's events; it stays parked)";
    /// Forgetting a user.
    SubjectNotFound = "404",
        "A problem document; see its `code` (SUBJECT_NOT_FOUND: the user has no key: never seen, \
        or forgotten already)";
    /// Stripe's webhook: a signed body that is not a Stripe event.
    NotAStripeEvent = "400",
        "A problem document; see its `code` (INVALID_WEBHOOK_EVENT: the body is correctly signed \
        but is not a Stripe event; MALFORMED_JSON: the body could not be read). Nothing is done";
    /// Stripe's webhook: the signature does not verify.
    WebhookUnverified = "401",
        "A problem document; see its `code` (WEBHOOK_SIGNATURE_INVALID: no Stripe-Signature \
        header, a malformed one, or no v1 signature matching the raw body under the endpoint's \
        secret; WEBHOOK_TIMESTAMP_OUTSIDE_TOLERANCE: the signed timestamp is more than five \
        minutes from now, an old or replayed request). Nothing is done";
    /// Stripe's webhook: the same signed request again.
    WebhookReplayed = "409",
        "A problem document; see its `code` (WEBHOOK_REPLAYED: this event was delivered with this \
        very signature timestamp before: a replay of a captured request, not Stripe's \
        redelivery, which Stripe signs afresh). Nothing is done";
    /// Stripe's webhook: a dependency is unavailable.
    WebhookUnavailable = "503",
        "A problem document; see its `code` (SERVICE_UNAVAILABLE: the deliveries table or the \
        payments queue could not be reached; the event is not recorded as handled, so Stripe's \
        next delivery of it handles it)";
    /// Replaying a parked item.
    ReplayFailed = "502",
        "A problem document; see its `code` (REPLAY_FAILED: the consumer failed again; the item \
        stays parked with that error and one more failed replay)";
}
