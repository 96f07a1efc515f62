//! What the parker Lambda builds once per execution environment.

use aws_config::BehaviorVersion;

use crate::dynamodb::DynamoDbParked;
use crate::parker::Origins;
use crate::stream::DynamoDbStreamRange;

/// The parker's ports.
pub struct Parker {
    pub parked: DynamoDbParked,
    pub stream: DynamoDbStreamRange,
    pub origins: Origins,
}

/// The Parked table from `PARKED_TABLE`, the stream reader for on-failure records, and the
/// origins from `PARKED_CONSUMERS`.
pub async fn parker_from_env() -> Parker {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    Parker {
        parked: DynamoDbParked::from_env(aws_sdk_dynamodb::Client::new(&sdk)),
        stream: DynamoDbStreamRange::new(aws_sdk_dynamodbstreams::Client::new(&sdk)),
        origins: Origins::from_env(),
    }
}
