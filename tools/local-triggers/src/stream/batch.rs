//! What the mapping does after an invocation: checkpoint, retry, bisect or give up. Pure.

use std::time::Duration;

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use chrono::{DateTime, Utc};

use crate::handler::InvocationFailure;

/// How an invocation of a batch ended, as Lambda reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeeded,
    /// The handler reported item failures; `first_failed` is the batch index of the lowest
    /// reported sequence number.
    PartiallyFailed {
        first_failed: usize,
    },
    /// The invocation failed, or reported an item failure Lambda cannot use.
    Failed {
        reason: String,
        function_error: bool,
    },
}

/// Reads an invocation's result. Without ReportBatchItemFailures Lambda ignores the response;
/// with it, an empty or null identifier, or one that names no record of the batch, fails the
/// whole batch (Lambda's "complete failure" conditions).
pub(crate) fn outcome_of(
    result: &Result<DynamoDbEventResponse, InvocationFailure>,
    sequence_numbers: &[&str],
    report_batch_item_failures: bool,
) -> Outcome {
    let response = match result {
        Err(failure) => {
            return Outcome::Failed {
                reason: failure.to_string(),
                function_error: true,
            };
        }
        Ok(response) => response,
    };
    if !report_batch_item_failures || response.batch_item_failures.is_empty() {
        return Outcome::Succeeded;
    }
    let mut first_failed = usize::MAX;
    for failure in &response.batch_item_failures {
        let identifier = failure.item_identifier.as_deref().unwrap_or_default();
        match sequence_numbers.iter().position(|s| *s == identifier) {
            Some(index) => first_failed = first_failed.min(index),
            None => {
                return Outcome::Failed {
                    reason: format!(
                        "batch item failure {identifier:?} names no record of the batch"
                    ),
                    function_error: false,
                };
            }
        }
    }
    Outcome::PartiallyFailed { first_failed }
}

/// The retry settings of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub bisect_batch_on_function_error: bool,
}

/// What to do with a (sub-)batch after an invocation. Indices are into that (sub-)batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Checkpoint after its last record.
    Done,
    /// Checkpoint before `from`, then invoke again with the records from `from` on.
    Retry { from: usize, retries: u32 },
    /// Invoke its two halves separately, each with the retries used so far.
    Bisect,
    /// Checkpoint before `from`, send the records from `from` on to the on-failure
    /// destination, and checkpoint after its last record.
    GiveUp { from: usize },
}

/// Lambda's retry rule, as this runner applies it: every failed invocation of a batch that is
/// not bisected counts as one retry; bisecting a failed batch counts none (so a poison record is
/// isolated first and then retried `maximum_retry_attempts` times on its own). A partial failure
/// counts as a retry of the records from the lowest reported one on.
pub(crate) fn decide(policy: RetryPolicy, len: usize, retries: u32, outcome: &Outcome) -> Decision {
    let exhausted = retries >= policy.maximum_retry_attempts;
    match outcome {
        Outcome::Succeeded => Decision::Done,
        Outcome::PartiallyFailed { first_failed } if exhausted => Decision::GiveUp {
            from: *first_failed,
        },
        Outcome::PartiallyFailed { first_failed } => Decision::Retry {
            from: *first_failed,
            retries: retries + 1,
        },
        Outcome::Failed { .. } if policy.bisect_batch_on_function_error && len > 1 => {
            Decision::Bisect
        }
        Outcome::Failed { .. } if exhausted => Decision::GiveUp { from: 0 },
        Outcome::Failed { .. } => Decision::Retry {
            from: 0,
            retries: retries + 1,
        },
    }
}

/// How many records at the head of a batch are older than `maximum_age`: Lambda never sends
/// those to the function. Records of a shard arrive in order, so the old ones are a prefix.
pub(crate) fn expired_prefix(
    arrivals: &[DateTime<Utc>],
    now: DateTime<Utc>,
    maximum_age: Duration,
) -> usize {
    arrivals
        .iter()
        .take_while(|arrived| {
            (now - **arrived)
                .to_std()
                .is_ok_and(|age| age > maximum_age)
        })
        .count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lambda_events::event::streams::DynamoDbBatchItemFailure;

    fn response(identifiers: &[Option<&str>]) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = identifiers
            .iter()
            .map(|identifier| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = identifier.map(str::to_owned);
                failure
            })
            .collect();
        response
    }

    const SEQUENCE: [&str; 4] = ["100", "200", "300", "400"];

    #[test]
    fn an_empty_response_is_a_success() {
        assert_eq!(
            outcome_of(&Ok(response(&[])), &SEQUENCE, true),
            Outcome::Succeeded
        );
    }

    #[test]
    fn item_failures_are_ignored_unless_the_mapping_reports_them() {
        assert_eq!(
            outcome_of(&Ok(response(&[Some("200")])), &SEQUENCE, false),
            Outcome::Succeeded
        );
    }

    #[test]
    fn the_lowest_reported_record_is_where_the_retry_starts() {
        let outcome = outcome_of(&Ok(response(&[Some("300"), Some("200")])), &SEQUENCE, true);
        assert_eq!(outcome, Outcome::PartiallyFailed { first_failed: 1 });
    }

    #[test]
    fn an_empty_null_or_unknown_identifier_fails_the_whole_batch() {
        for identifier in [Some(""), None, Some("999")] {
            let outcome = outcome_of(&Ok(response(&[identifier])), &SEQUENCE, true);
            assert!(matches!(outcome, Outcome::Failed { .. }), "{identifier:?}");
        }
    }

    #[test]
    fn a_handler_error_fails_the_whole_batch() {
        let outcome = outcome_of(
            &Err(InvocationFailure::Error("boom".to_owned())),
            &SEQUENCE,
            true,
        );
        assert!(matches!(
            outcome,
            Outcome::Failed {
                function_error: true,
                ..
            }
        ));
    }

    const FAILED: Outcome = Outcome::Failed {
        reason: String::new(),
        function_error: true,
    };

    fn policy(maximum_retry_attempts: u32, bisect: bool) -> RetryPolicy {
        RetryPolicy {
            maximum_retry_attempts,
            bisect_batch_on_function_error: bisect,
        }
    }

    #[test]
    fn a_failed_batch_is_retried_until_the_retries_are_used_up() {
        assert_eq!(
            decide(policy(2, false), 4, 0, &FAILED),
            Decision::Retry {
                from: 0,
                retries: 1
            }
        );
        assert_eq!(
            decide(policy(2, false), 4, 1, &FAILED),
            Decision::Retry {
                from: 0,
                retries: 2
            }
        );
        assert_eq!(
            decide(policy(2, false), 4, 2, &FAILED),
            Decision::GiveUp { from: 0 }
        );
    }

    #[test]
    fn with_bisect_a_failed_batch_is_split_without_using_a_retry_until_one_record_is_left() {
        assert_eq!(decide(policy(0, true), 4, 0, &FAILED), Decision::Bisect);
        assert_eq!(
            decide(policy(0, true), 1, 0, &FAILED),
            Decision::GiveUp { from: 0 }
        );
    }

    #[test]
    fn a_partial_failure_retries_from_the_failed_record_and_gives_up_from_there() {
        let partial = Outcome::PartiallyFailed { first_failed: 2 };
        assert_eq!(
            decide(policy(1, true), 4, 0, &partial),
            Decision::Retry {
                from: 2,
                retries: 1
            }
        );
        assert_eq!(
            decide(policy(1, true), 2, 1, &partial),
            Decision::GiveUp { from: 2 }
        );
    }

    #[test]
    fn only_the_records_older_than_the_maximum_age_at_the_head_are_expired() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let arrivals = [at(100), at(800), at(990)];
        assert_eq!(expired_prefix(&arrivals, now, Duration::from_secs(60)), 2);
        assert_eq!(
            expired_prefix(&arrivals, now, Duration::from_secs(3_600)),
            0
        );
    }
}
