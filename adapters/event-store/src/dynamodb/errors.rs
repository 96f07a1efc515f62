//! What a failed DynamoDB call means for the store: a taken version (with the event holding it),
//! contention to ride out, an unavailable service, or a refusal. Everything that is not about the
//! condition goes through the platform's one classification, [`conventions::Failure::of`].

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use conventions::{Failure, error_chain};
use uuid::Uuid;

use super::item::event_from_item;
use crate::error::StoreError;
use crate::stored::StoredEvent;

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Throttled(reason) => Self::Contention(reason),
            Failure::Unavailable(reason) => Self::Unavailable(reason),
            Failure::Refused(reason) => Self::Refused(reason),
        }
    }
}

/// Maps errors that are not about the condition: throttling and contention are retried,
/// transport failures and server errors make the store unavailable, everything else is a
/// request DynamoDB will never accept.
pub(crate) fn unavailable_or_refused<E, R>(error: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Failure::of(error).into()
}

/// Classifies a failed single-event PutItem.
pub(crate) fn classify_put_error<R: std::fmt::Debug>(
    aggregate_id: Uuid,
    version: u64,
    error: &SdkError<PutItemError, R>,
) -> StoreError {
    let SdkError::ServiceError(context) = error else {
        return unavailable_or_refused(error);
    };
    match context.err() {
        PutItemError::ConditionalCheckFailedException(failed) => StoreError::VersionTaken {
            aggregate_id,
            version,
            existing: failed
                .item()
                .and_then(|item| event_from_item(aggregate_id, item).ok())
                .map(Box::new),
        },
        PutItemError::ProvisionedThroughputExceededException(_)
        | PutItemError::RequestLimitExceeded(_)
        | PutItemError::TransactionConflictException(_) => {
            StoreError::Contention(error_chain(error))
        }
        PutItemError::InternalServerError(_) => StoreError::Unavailable(error_chain(error)),
        _ => unavailable_or_refused(error),
    }
}

/// Classifies a failed TransactWriteItems by its cancellation reasons, one per event in order.
/// A failed condition is the definitive answer (the version is taken); throttling or a
/// conflicting transaction is retried; any other reason is a request that will never succeed.
pub(crate) fn classify_transaction_error<R: std::fmt::Debug>(
    events: &[StoredEvent],
    error: &SdkError<TransactWriteItemsError, R>,
) -> StoreError {
    let SdkError::ServiceError(context) = error else {
        return unavailable_or_refused(error);
    };
    let TransactWriteItemsError::TransactionCanceledException(canceled) = context.err() else {
        return unavailable_or_refused(error);
    };
    classify_cancellation(events, canceled.cancellation_reasons())
}

pub(crate) fn classify_cancellation(
    events: &[StoredEvent],
    reasons: &[CancellationReason],
) -> StoreError {
    let aggregate_id = events
        .first()
        .map(|e| e.envelope.aggregate_id)
        .unwrap_or(Uuid::nil());
    let coded = || {
        events
            .iter()
            .zip(reasons)
            .filter_map(|(event, reason)| reason.code().map(|code| (event, code, reason)))
    };
    if let Some((event, _, reason)) = coded().find(|(_, code, _)| *code == "ConditionalCheckFailed")
    {
        return StoreError::VersionTaken {
            aggregate_id,
            version: event.version(),
            existing: reason
                .item()
                .and_then(|item| event_from_item(aggregate_id, item).ok())
                .map(Box::new),
        };
    }
    if let Some((_, code, reason)) = coded().find(|(_, code, _)| conventions::is_throttling(code)) {
        return StoreError::Contention(format!("{code}: {}", reason.message().unwrap_or_default()));
    }
    let other: Vec<String> = coded()
        .filter(|(_, code, _)| *code != "None")
        .map(|(event, code, reason)| {
            format!(
                "version {}: {code} {}",
                event.version(),
                reason.message().unwrap_or_default()
            )
        })
        .collect();
    StoreError::Refused(format!("transaction cancelled: {}", other.join("; ")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, InternalServerError,
        ProvisionedThroughputExceededException,
    };
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::dynamodb::item::item_from_event;
    use crate::dynamodb::item::tests::events;

    fn response() -> Response {
        Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty())
    }

    fn reason(code: &str, item: Option<&StoredEvent>) -> CancellationReason {
        CancellationReason::builder()
            .code(code)
            .set_item(item.map(|e| item_from_event(e).unwrap()))
            .build()
    }

    #[test]
    fn a_taken_version_in_a_transaction_is_reported_with_the_item_that_holds_it() {
        let ours = events(4..=5);
        let theirs = events(5..=5);
        let error = classify_cancellation(
            &ours,
            &[
                reason("None", None),
                reason("ConditionalCheckFailed", Some(&theirs[0])),
            ],
        );
        let StoreError::VersionTaken {
            version, existing, ..
        } = error
        else {
            panic!("expected VersionTaken, got {error:?}");
        };
        assert_eq!(version, 5);
        assert_eq!(
            existing.map(|e| e.envelope.event_id),
            Some(Uuid::from_u128(5))
        );
    }

    #[test]
    fn a_failed_condition_wins_over_contention_in_the_same_transaction() {
        let error = classify_cancellation(
            &events(4..=5),
            &[
                reason("TransactionConflict", None),
                reason("ConditionalCheckFailed", None),
            ],
        );
        assert!(matches!(
            error,
            StoreError::VersionTaken {
                version: 5,
                existing: None,
                ..
            }
        ));
    }

    #[test]
    fn transaction_conflicts_and_throttling_are_contention() {
        for code in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
        ] {
            let error =
                classify_cancellation(&events(4..=5), &[reason(code, None), reason("None", None)]);
            assert!(
                matches!(error, StoreError::Contention(_)),
                "{code}: {error:?}"
            );
        }
    }

    #[test]
    fn other_cancellation_reasons_are_refusals() {
        let error = classify_cancellation(
            &events(4..=5),
            &[reason("ValidationError", None), reason("None", None)],
        );
        assert!(
            matches!(&error, StoreError::Refused(m) if m.contains("version 4: ValidationError")),
            "{error:?}"
        );
    }

    #[test]
    fn a_failed_put_condition_is_a_taken_version_with_the_existing_event() {
        let existing = &events(3..=3)[0];
        let error = SdkError::service_error(
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .set_item(Some(item_from_event(existing).unwrap()))
                    .build(),
            ),
            response(),
        );
        let classified = classify_put_error(existing.envelope.aggregate_id, 3, &error);
        let StoreError::VersionTaken {
            version: 3,
            existing: Some(found),
            ..
        } = classified
        else {
            panic!("expected VersionTaken, got {classified:?}");
        };
        assert_eq!(*found, *existing);
    }

    #[test]
    fn a_throttled_put_is_contention_and_a_server_error_unavailability() {
        let id = Uuid::nil();
        let throttled = SdkError::service_error(
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder().build(),
            ),
            response(),
        );
        assert!(matches!(
            classify_put_error(id, 1, &throttled),
            StoreError::Contention(_)
        ));
        let failed = SdkError::service_error(
            PutItemError::InternalServerError(InternalServerError::builder().build()),
            response(),
        );
        assert!(matches!(
            classify_put_error(id, 1, &failed),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn an_unreachable_dynamodb_is_unavailability() {
        let error: SdkError<PutItemError, Response> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let classified = classify_put_error(Uuid::nil(), 1, &error);
        assert!(
            matches!(classified, StoreError::Unavailable(_)),
            "{classified:?}"
        );
        assert!(classified.is_transient());
    }
}
