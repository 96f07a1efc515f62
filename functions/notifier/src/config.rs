//! What the Lambda main builds once at start-up from the standard AWS environment.

use std::sync::OnceLock;

use aws_config::BehaviorVersion;
use email::{DynamoDbEmailNotices, EmailNotices, KmsLinkKey, Links, SesMailer};
use event_store::{DynamoDbStore, TableNames};

use read_models::notifications::{DynamoDbNotifications, LogContexts};

/// The variable bounding how many notifications of one message are written at once, and the
/// bound when it is unset, blank, zero or not a number. A sale notifies every bidder at once;
/// sixteen PutItems in flight keep a large auction's fan-out well inside the table's on-demand
/// throughput and the function's connection pool.
pub const CONCURRENCY_ENV: &str = "NOTIFIER_CONCURRENCY";
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The bound from `NOTIFIER_CONCURRENCY`, read once per process.
pub fn concurrency() -> usize {
    static CONCURRENCY: OnceLock<usize> = OnceLock::new();
    *CONCURRENCY.get_or_init(|| concurrency_from(std::env::var(CONCURRENCY_ENV).ok()))
}

/// The bound from the variable's value.
pub fn concurrency_from(value: Option<String>) -> usize {
    value
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CONCURRENCY)
}

/// Email notices as the Lambda sends them: preferences and sent marks in DynamoDB, mail
/// through SES, links MACed by KMS.
pub type Mail = EmailNotices<DynamoDbEmailNotices, SesMailer, KmsLinkKey>;

/// The handler's three ports: the event store's tables from `EVENTS_TABLE`,
/// `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`, the inbox from `NOTIFICATIONS_TABLE`; email notices
/// from `EMAIL_NOTICES_TABLE`, `EMAIL_FROM`, `UNSUBSCRIBE_KEY_ID`, `WEB_URL` and `API_URL`.
pub async fn from_env() -> (LogContexts<DynamoDbStore>, DynamoDbNotifications, Mail) {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = TableNames::from_env();
    let mail = EmailNotices::new(
        DynamoDbEmailNotices::from_env(client.clone()),
        SesMailer::from_env(aws_sdk_sesv2::Client::new(&sdk)),
        KmsLinkKey::from_env(aws_sdk_kms::Client::new(&sdk)),
        Links::from_env(),
    );
    (
        LogContexts::new(DynamoDbStore::new(client.clone(), tables)),
        DynamoDbNotifications::from_env(client),
        mail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_concurrency_defaults_unless_a_positive_number_is_set() {
        assert_eq!(concurrency_from(None), DEFAULT_CONCURRENCY);
        assert_eq!(concurrency_from(Some("4".to_owned())), 4);
        for nonsense in ["", " ", "0", "-1", "lots"] {
            assert_eq!(
                concurrency_from(Some(nonsense.to_owned())),
                DEFAULT_CONCURRENCY
            );
        }
    }
}
