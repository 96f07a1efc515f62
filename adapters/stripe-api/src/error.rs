//! What can go wrong in a call to Stripe, classified by what the caller does about it.
//!
//! Stripe answers a failed call with an HTTP status and `{"error": {"type", "code",
//! "decline_code", "message", "param"}}` (the `error` schema of its OpenAPI document). The
//! classification, in order:
//!
//! | answer | variant |
//! |---|---|
//! | 401, 403 | [`StripeError::Unauthorized`] |
//! | 409 (a concurrent request with the same idempotency key), 429 (rate limit, `lock_timeout`), 5xx, timeout, connection failure | [`StripeError::Unavailable`] |
//! | `type: idempotency_error` | [`StripeError::IdempotencyConflict`] |
//! | 404, or `code: resource_missing` | [`StripeError::NotFound`] |
//! | 402, `type: card_error`, or a code in [`DECLINE_CODES`] | [`StripeError::Declined`] |
//! | any other 4xx | [`StripeError::Invalid`] |
//!
//! A PaymentIntent confirmed off-session that comes back `200` but not paid is also a decline
//! (see [`crate::StripeClient::charge_off_session`]).

use serde::Deserialize;

/// Codes Stripe answers with a 400 (not a 402) that are nonetheless a refusal to move this money
/// rather than a malformed request: retrying the same request cannot succeed, and the saga must
/// compensate or ask a person, exactly as for a declined card.
///
/// - `balance_insufficient`: the platform's available balance cannot fund the transfer (in test
///   mode charges settle to the pending balance; transfer with `source_transaction`).
/// - `insufficient_capabilities_for_transfer`: the destination account has no active `transfers`
///   capability (the seller has not finished onboarding, or was restricted).
/// - `transfers_not_allowed`: Stripe refuses transfers to that account or country.
/// - `charge_already_refunded`, `charge_disputed`: the payment can no longer be refunded.
///
/// The card-side codes (`card_declined` with its `decline_code` such as `insufficient_funds`,
/// `expired_card`, `incorrect_cvc`, `processing_error`, `authentication_required`) arrive as
/// `402` / `card_error` and need no list.
pub const DECLINE_CODES: &[&str] = &[
    "balance_insufficient",
    "insufficient_capabilities_for_transfer",
    "transfers_not_allowed",
    "charge_already_refunded",
    "charge_disputed",
];

/// How much of an unparseable error body goes into a message.
const BODY_EXCERPT: usize = 500;

/// A failed call to Stripe. Each variant's documentation says how the caller handles it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe refused to move this money: the card was declined (`card_declined` with a
    /// `decline_code` such as `insufficient_funds`), has expired (`expired_card`), needs the
    /// customer to authenticate (`authentication_required`, including an off-session
    /// PaymentIntent left in `requires_action` or `requires_payment_method`), or the money
    /// cannot go where it was sent (see [`DECLINE_CODES`]).
    ///
    /// The caller does not retry the same request: it records the refusal and compensates
    /// (the saga fails the payment and tells the bidder, or holds the seller's payout and asks an
    /// operator). A new attempt with another payment method needs a new idempotency key.
    #[error("declined ({code}{}): {message}", decline_code.as_deref().map(|d| format!(", {d}")).unwrap_or_default())]
    Declined {
        code: String,
        decline_code: Option<String>,
        message: String,
        /// The PaymentIntent the decline leaves behind, when Stripe names one: an intent that
        /// needs the customer to authenticate can still be paid, and its outcome arrives by
        /// webhook (`payment_intent.succeeded` / `payment_intent.payment_failed`).
        payment_intent: Option<String>,
    },

    /// Stripe could not be reached or did not finish: rate limited (429), an error on Stripe's
    /// side (5xx), a concurrent request with the same idempotency key (409), a timeout, a refused
    /// or broken connection. Whether the money moved is unknown.
    ///
    /// The caller retries later with the same idempotency key (Stripe then returns the first
    /// result instead of moving the money twice), e.g. by failing the message so that SQS
    /// redelivers it.
    #[error("Stripe is unavailable: {reason}")]
    Unavailable { reason: String },

    /// The object named in the request does not exist (404 or `resource_missing`): an unknown
    /// customer, payment method, account, payment intent or transfer id.
    ///
    /// The caller treats the id as wrong or gone: a read reports the identity as unknown, a money
    /// call fails the step without retrying (the identity must be fixed first).
    #[error("not found: {message}")]
    NotFound { message: String },

    /// Stripe refused the request as malformed (any other 4xx, usually `invalid_request_error`):
    /// a parameter missing or of the wrong type, an amount out of range, or a state the object
    /// cannot be in. `status` is `None` when this client refused it before sending (e.g. an empty
    /// idempotency key). This is our bug or bad input.
    ///
    /// The caller does not retry; it parks the work and reports it with `param` and `message`.
    #[error("invalid request ({}{}): {message}", status.map(|s| s.to_string()).unwrap_or_else(|| "not sent".to_owned()), code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Invalid {
        status: Option<u16>,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },

    /// The idempotency key was already used with other parameters (`idempotency_error`): the
    /// caller derived the same key for two different requests. Nothing moved this time.
    ///
    /// The caller does not retry; it is a bug in how it derives keys, reported like
    /// [`StripeError::Invalid`].
    #[error("idempotency key reused with other parameters: {message}")]
    IdempotencyConflict { message: String },

    /// The key was refused (401) or lacks the permission (403): a wrong, revoked or restricted
    /// key. The caller stops and reports: nothing succeeds until the configuration is fixed.
    #[error("Stripe refused the key ({status}): {message}")]
    Unauthorized { status: u16, message: String },

    /// Stripe answered with a body this client does not understand (not JSON, or without a field
    /// the vendored OpenAPI document says is always there). The call may have taken effect.
    ///
    /// The caller does not retry blindly: it parks the work for a person, who checks the object
    /// through the reads. Seen only if Stripe's API changed under the pinned version, or a proxy
    /// answered instead of Stripe.
    #[error("unexpected answer from Stripe ({status}): {detail}")]
    UnexpectedResponse { status: u16, detail: String },

    /// The client cannot be built: an unusable API base URL, a missing key or secret, a live key
    /// over plain HTTP, no root certificates. The caller stops at start-up and reports it.
    #[error("Stripe client configuration: {message}")]
    Config { message: String },
}

impl StripeError {
    /// A decline: do not retry, compensate.
    pub fn is_declined(&self) -> bool {
        matches!(self, Self::Declined { .. })
    }

    /// Unknown outcome: retry later with the same idempotency key.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Classifies a non-2xx answer from its status and body (Stripe's `error` object), as the
    /// module documentation's table says. Public so that a tool calling Stripe some other way
    /// classifies the same.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let detail = serde_json::from_slice::<ErrorBody>(body)
            .map(|body| body.error)
            .unwrap_or_else(|_| ApiError {
                message: Some(excerpt(body)),
                ..ApiError::default()
            });
        let message = detail
            .message
            .clone()
            .unwrap_or_else(|| format!("HTTP {status}"));
        let code = detail.code.clone();
        let is = |kind: &str| detail.kind.as_deref() == Some(kind);
        match status {
            401 | 403 => Self::Unauthorized { status, message },
            409 | 429 | 500..=599 => Self::Unavailable {
                reason: format!("HTTP {status}: {message}"),
            },
            _ if is("idempotency_error") => Self::IdempotencyConflict { message },
            _ if status == 404 || code.as_deref() == Some("resource_missing") => {
                Self::NotFound { message }
            }
            _ if status == 402
                || is("card_error")
                || code.as_deref().is_some_and(|c| DECLINE_CODES.contains(&c)) =>
            {
                Self::Declined {
                    code: code
                        .or(detail.kind)
                        .unwrap_or_else(|| "declined".to_owned()),
                    decline_code: detail.decline_code,
                    message,
                    payment_intent: detail.payment_intent.map(|intent| intent.id),
                }
            }
            400..=499 => Self::Invalid {
                status: Some(status),
                code,
                param: detail.param,
                message,
            },
            _ => Self::UnexpectedResponse {
                status,
                detail: message,
            },
        }
    }

    /// A refusal by this client before anything was sent.
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self::Invalid {
            status: None,
            code: None,
            param: None,
            message: message.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    /// Set on a PaymentIntent's decline (402): the intent, expanded.
    payment_intent: Option<IntentRef>,
}

#[derive(Debug, Deserialize)]
struct IntentRef {
    id: String,
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn classify(status: u16, error: serde_json::Value) -> StripeError {
        StripeError::from_response(status, json!({ "error": error }).to_string().as_bytes())
    }

    #[test]
    fn given_a_card_error_with_a_decline_code_then_it_is_declined_with_both_codes() {
        // Stripe's documented body for an insufficient-funds decline.
        let error = classify(
            402,
            json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "charge": "ch_1",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined"
            }),
        );

        assert_eq!(
            error,
            StripeError::Declined {
                code: "card_declined".to_owned(),
                decline_code: Some("insufficient_funds".to_owned()),
                message: "Your card has insufficient funds.".to_owned(),
                payment_intent: None,
            }
        );
        assert!(error.is_declined());
        assert!(!error.is_unavailable());
    }

    #[test]
    fn given_an_off_session_charge_needing_authentication_then_it_is_declined() {
        let error = classify(
            402,
            json!({
                "type": "card_error",
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": "Your card was declined. This transaction requires authentication.",
                "payment_intent": {"id": "pi_1", "status": "requires_payment_method"}
            }),
        );

        assert!(
            matches!(error, StripeError::Declined { ref code, .. } if code == "authentication_required")
        );
    }

    #[test]
    fn given_an_expired_card_then_it_is_declined() {
        let error = classify(
            402,
            json!({"type": "card_error", "code": "expired_card", "message": "Your card has expired."}),
        );

        assert!(matches!(error, StripeError::Declined { ref code, .. } if code == "expired_card"));
    }

    #[test]
    fn given_localstripe_s_decline_typed_as_invalid_request_then_the_402_still_makes_it_a_decline()
    {
        let error = classify(
            402,
            json!({"type": "invalid_request_error", "code": "card_declined", "charge": "ch_1", "message": "Your card was declined."}),
        );

        assert!(matches!(error, StripeError::Declined { ref code, .. } if code == "card_declined"));
    }

    #[test]
    fn given_transfer_refusals_answered_with_400_then_they_are_declines() {
        for code in [
            "balance_insufficient",
            "insufficient_capabilities_for_transfer",
        ] {
            let error = classify(
                400,
                json!({"type": "invalid_request_error", "code": code, "message": "refused"}),
            );

            assert!(error.is_declined(), "{code}: {error:?}");
        }
    }

    #[test]
    fn given_rate_limits_server_errors_and_key_conflicts_then_they_are_unavailable() {
        for status in [409, 429, 500, 502, 503] {
            let error = classify(status, json!({"type": "api_error", "message": "try again"}));

            assert!(error.is_unavailable(), "{status}: {error:?}");
        }
    }

    #[test]
    fn given_an_unknown_id_then_it_is_not_found_by_status_or_by_code() {
        let by_status = classify(
            404,
            json!({"type": "invalid_request_error", "code": "resource_missing", "param": "id", "message": "No such customer: 'cus_x'"}),
        );
        let by_code = classify(
            400,
            json!({"type": "invalid_request_error", "code": "resource_missing", "param": "payment_method", "message": "No such PaymentMethod: 'pm_x'"}),
        );

        assert!(matches!(by_status, StripeError::NotFound { .. }));
        assert!(matches!(by_code, StripeError::NotFound { .. }));
    }

    #[test]
    fn given_a_bad_parameter_then_it_is_invalid_with_its_param() {
        let error = classify(
            400,
            json!({"type": "invalid_request_error", "code": "parameter_unknown", "param": "colour", "message": "Received unknown parameter: colour"}),
        );

        assert_eq!(
            error,
            StripeError::Invalid {
                status: Some(400),
                code: Some("parameter_unknown".to_owned()),
                param: Some("colour".to_owned()),
                message: "Received unknown parameter: colour".to_owned(),
            }
        );
    }

    #[test]
    fn given_a_reused_idempotency_key_then_it_is_an_idempotency_conflict() {
        let error = classify(
            400,
            json!({"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}),
        );

        assert!(matches!(error, StripeError::IdempotencyConflict { .. }));
    }

    #[test]
    fn given_401_and_403_then_the_key_is_refused() {
        let unauthorized = classify(
            401,
            json!({"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****"}),
        );
        let forbidden = classify(
            403,
            json!({"type": "invalid_request_error", "message": "The provided key does not have the required permissions"}),
        );

        assert!(matches!(
            unauthorized,
            StripeError::Unauthorized { status: 401, .. }
        ));
        assert!(matches!(
            forbidden,
            StripeError::Unauthorized { status: 403, .. }
        ));
    }

    #[test]
    fn given_a_body_that_is_not_json_then_the_status_decides_and_the_body_is_quoted() {
        let error = StripeError::from_response(502, b"<html>Bad Gateway</html>");

        assert_eq!(
            error,
            StripeError::Unavailable {
                reason: "HTTP 502: <html>Bad Gateway</html>".to_owned()
            }
        );
    }
}
