//! The tables and queues the platform uses, as plain data.
//!
//! This module is the single source of truth for resource definitions: the launcher provisions
//! from it, the end-to-end tests provision per-test copies from it, and the CDK app's
//! definitions are checked against it (infra/resources.json). The names themselves, with their
//! variables and defaults, are `conventions::names`', which the functions read too. Adding a
//! table or a queue means adding its name there, a spec here, a field to [`ResourceNames`], and
//! a line to `provision`.

use aws_sdk_dynamodb::types::{ScalarAttributeType, StreamViewType};
use conventions::names;

/// One attribute of a key schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: &'static str,
    pub kind: ScalarAttributeType,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub projection: IndexProjection,
}

/// What an index holds of each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProjection {
    /// Every attribute: a read path through the index never needs a second GetItem.
    All,
    /// The table's and the index's keys only: the smallest entries, and a write to the table
    /// that changes neither key writes nothing to the index.
    KeysOnly,
}

impl IndexProjection {
    /// DynamoDB's name for it (`ProjectionType`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::KeysOnly => "KEYS_ONLY",
        }
    }
}

/// A DynamoDB table. Every table is PAY_PER_REQUEST: there is no capacity to tune locally,
/// and in AWS the load is spiky (auction endings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Environment variable that overrides the table name.
    pub name_env: &'static str,
    pub default_name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    /// `Some(view)` enables the table's stream with that view type.
    pub stream: Option<StreamViewType>,
    pub indexes: &'static [IndexSpec],
    /// `Some(attribute)` turns on DynamoDB's time to live on that (epoch seconds) attribute.
    pub ttl_attribute: Option<&'static str>,
}

impl TableSpec {
    /// Every attribute used by the table's key or an index key, each once, in first-use order:
    /// DynamoDB rejects a CreateTable whose AttributeDefinitions repeat or omit one.
    pub fn key_attributes(&self) -> Vec<&KeyAttribute> {
        let mut all = vec![&self.partition_key];
        all.extend(&self.sort_key);
        for index in self.indexes {
            all.push(&index.partition_key);
            all.extend(&index.sort_key);
        }
        let mut unique: Vec<&KeyAttribute> = Vec::with_capacity(all.len());
        for attribute in all {
            if !unique.iter().any(|seen| seen.name == attribute.name) {
                unique.push(attribute);
            }
        }
        unique
    }
}

/// The append-only event log. One item per event; `(aggregateId, version)` is unique, which
/// conditional writes enforce. The stream feeds the projections and the SQS fan-out, and only
/// needs the new image because events are never updated. The audit index `byTypeShard` lists
/// one event type in time order: its partition key `typeShard` spreads each type over sixteen
/// partitions (`BidPlaced#0` to `BidPlaced#f`, by the aggregate id's last hex digit), so that
/// the platform's bids are not capped by one index partition's write rate.
pub const EVENTS_TABLE: TableSpec = TableSpec {
    name_env: names::EVENTS_TABLE.env,
    default_name: names::EVENTS_TABLE.default,
    partition_key: KeyAttribute {
        name: "aggregateId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "version",
        kind: ScalarAttributeType::N,
    }),
    stream: Some(StreamViewType::NewImage),
    indexes: &[IndexSpec {
        name: names::EVENTS_BY_TYPE_INDEX,
        partition_key: KeyAttribute {
            name: "typeShard",
            kind: ScalarAttributeType::S,
        },
        sort_key: Some(KeyAttribute {
            name: "typeOrder",
            kind: ScalarAttributeType::S,
        }),
        projection: IndexProjection::All,
    }],
    // Events are never deleted.
    ttl_attribute: None,
};

/// The latest snapshot of each aggregate's state, so that a load reads one item and a short
/// tail of events. Written conditionally (only a newer version replaces an older one).
pub const SNAPSHOTS_TABLE: TableSpec = TableSpec {
    name_env: names::SNAPSHOTS_TABLE.env,
    default_name: names::SNAPSHOTS_TABLE.default,
    partition_key: KeyAttribute {
        name: "aggregateId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// What each command with an idempotency key appended, keyed by the actor-scoped key, so that a
/// retry returns the first outcome. Records expire (TTL) 48 hours after they were written.
pub const IDEMPOTENCY_TABLE: TableSpec = TableSpec {
    name_env: names::IDEMPOTENCY_TABLE.env,
    default_name: names::IDEMPOTENCY_TABLE.default,
    partition_key: KeyAttribute {
        name: "commandKey",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: Some("expiresAt"),
};

/// Where the local trigger runner (`tools/local-triggers`) records how far each stream
/// mapping has processed each shard, so that a restarted runner resumes after the last processed
/// record. One item per (mapping, shard). Only the local runner uses it: in AWS, Lambda keeps
/// its event source mappings' checkpoints itself.
pub const TRIGGER_CHECKPOINTS_TABLE: TableSpec = TableSpec {
    name_env: names::TRIGGER_CHECKPOINTS_TABLE.env,
    default_name: names::TRIGGER_CHECKPOINTS_TABLE.default,
    partition_key: KeyAttribute {
        name: "mapping",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "shardId",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// One item per auction: the public auction view the API lists and shows, written by the
/// projector (`functions/projector`) from the Events stream, version-gated. The `byStatus` index
/// answers "auctions of a status, soonest end first" with a Query: `endsAt` is fixed-width UTC
/// text (`2026-01-01T00:00:00.000Z`), so text order is time order. The `byStart` index (keys
/// only) answers the scheduler's "scheduled auctions whose start has come" with a key
/// condition, so a sweep reads the auctions due, not every auction scheduled; a view write that
/// changes neither `status` nor `startsAt` (a bid) writes nothing to it. The `bySeller` index
/// (keys only, for the same reason) lists a seller's auctions, latest end first.
pub const AUCTION_VIEWS_TABLE: TableSpec = TableSpec {
    name_env: names::AUCTION_VIEWS_TABLE.env,
    default_name: names::AUCTION_VIEWS_TABLE.default,
    partition_key: KeyAttribute {
        name: "auctionId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[
        IndexSpec {
            name: names::VIEWS_BY_STATUS_INDEX,
            partition_key: KeyAttribute {
                name: "status",
                kind: ScalarAttributeType::S,
            },
            sort_key: Some(KeyAttribute {
                name: "endsAt",
                kind: ScalarAttributeType::S,
            }),
            projection: IndexProjection::All,
        },
        IndexSpec {
            name: names::VIEWS_BY_START_INDEX,
            partition_key: KeyAttribute {
                name: "status",
                kind: ScalarAttributeType::S,
            },
            sort_key: Some(KeyAttribute {
                name: "startsAt",
                kind: ScalarAttributeType::S,
            }),
            projection: IndexProjection::KeysOnly,
        },
        IndexSpec {
            name: names::VIEWS_BY_SELLER_INDEX,
            partition_key: KeyAttribute {
                name: "sellerId",
                kind: ScalarAttributeType::S,
            },
            sort_key: Some(KeyAttribute {
                name: "endsAt",
                kind: ScalarAttributeType::S,
            }),
            projection: IndexProjection::KeysOnly,
        },
    ],
    ttl_attribute: None,
};

/// One item per (bidder, auction): what a user sees on "my bids", written by the projector.
/// An auction's bidders are listed in its view item (read strongly consistent), not found
/// through an eventually consistent index here, so this table needs none.
pub const USER_BIDS_TABLE: TableSpec = TableSpec {
    name_env: names::USER_BIDS_TABLE.env,
    default_name: names::USER_BIDS_TABLE.default,
    partition_key: KeyAttribute {
        name: "userId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "auctionId",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// One item per notification: a user's inbox (GET /me/notifications), written by the notifier
/// (`functions/notifier`) from the notifications queue. The sort key
/// `{occurredAt}#{aggregateId}#{version:020}#{kind}` orders a user's notifications by time and
/// is derived from the event alone, so the notifier's conditional write stores a redelivered
/// event's notification once. See docs/notifications.md.
pub const NOTIFICATIONS_TABLE: TableSpec = TableSpec {
    name_env: names::NOTIFICATIONS_TABLE.env,
    default_name: names::NOTIFICATIONS_TABLE.default,
    partition_key: KeyAttribute {
        name: "userId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "notificationId",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// The payment saga's state: one item per saga (auction + buyer), the whole state as JSON, and a
/// `revision` that every write is conditional on, so that two consumers never both advance the
/// same step. Written by `functions/payment-saga`; see docs/payment-saga.md. Kept (no TTL):
/// it is the audit trail of every charge, payout and compensation.
pub const PAYMENT_SAGAS_TABLE: TableSpec = TableSpec {
    name_env: names::PAYMENT_SAGAS_TABLE.env,
    default_name: names::PAYMENT_SAGAS_TABLE.default,
    partition_key: KeyAttribute {
        name: "sagaId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// Which tables the read models live in now: one item per read model (`readModel`
/// `auction-views`: the AuctionListView and UserBids pair) naming its tables and a `generation`
/// that every switch is conditional on. The projector and the API resolve the view tables
/// through it (cached for seconds), so that `auction-admin rebuild` can build fresh tables
/// beside the live ones and switch every reader and writer over without downtime. No item:
/// the tables named by `AUCTION_VIEWS_TABLE` and `USER_BIDS_TABLE`. See docs/audit.md.
pub const READ_MODEL_ALIASES_TABLE: TableSpec = TableSpec {
    name_env: names::READ_MODEL_ALIASES_TABLE.env,
    default_name: names::READ_MODEL_ALIASES_TABLE.default,
    partition_key: KeyAttribute {
        name: "readModel",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// Who watches what live (`functions/live`): per WebSocket connection one item with topic
/// `connection` (the user, when it connected) and one per subscribed auction with topic
/// `auction#{auctionId}`. The broadcaster finds an auction's watchers with a Query on the
/// `byTopic` index; a disconnect (or a push answered 410 Gone) deletes the connection's items
/// with a Query on the key. Items expire after API Gateway's 2-hour connection limit, so a
/// connection whose disconnect was never seen does not linger. See docs/live.md.
pub const LIVE_CONNECTIONS_TABLE: TableSpec = TableSpec {
    name_env: names::LIVE_CONNECTIONS_TABLE.env,
    default_name: names::LIVE_CONNECTIONS_TABLE.default,
    partition_key: KeyAttribute {
        name: "connectionId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "topic",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[IndexSpec {
        name: names::CONNECTIONS_BY_TOPIC_INDEX,
        partition_key: KeyAttribute {
            name: "topic",
            kind: ScalarAttributeType::S,
        },
        sort_key: Some(KeyAttribute {
            name: "connectionId",
            kind: ScalarAttributeType::S,
        }),
        projection: IndexProjection::All,
    }],
    ttl_attribute: Some("expiresAt"),
};

/// What the consumers gave up on (`adapters/parking`): one item per consumer and stretch of
/// one aggregate's events (pk `consumer`, sk `parkedId` = `{aggregateId}#{from}-{to}`, versions
/// zero-padded), with the event types, the last error and the attempts. Written within a minute
/// of the give-up by the parker (from a stream mapping's on-failure record or a queue's DLQ),
/// read and emptied by `auction-admin parked replay|discard`. No TTL: an item waits for a human
/// or the reconciler, whatever the stream's retention; the events themselves are in the log.
pub const PARKED_TABLE: TableSpec = TableSpec {
    name_env: names::PARKED_TABLE.env,
    default_name: names::PARKED_TABLE.default,
    partition_key: KeyAttribute {
        name: "consumer",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "parkedId",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// Who pays and who is paid (`adapters/payment-identities`): one item per user (pk `userId`)
/// with the Stripe customer and default card a purchase is charged to (`customerId`,
/// `paymentMethodId`, `cardBrand`, `cardLast4`), the connected account a sale is paid out to
/// (`payoutAccountId`), and `updatedAt`. Written by the API's `PUT /me/payment-method` and
/// `PUT /me/payout-account` after Stripe confirmed the ids; read by the bid, buy-now and create
/// routes (which refuse a user without what they need) and the payment saga. Kept (no TTL).
pub const PAYMENT_IDENTITIES_TABLE: TableSpec = TableSpec {
    name_env: names::PAYMENT_IDENTITIES_TABLE.env,
    default_name: names::PAYMENT_IDENTITIES_TABLE.default,
    partition_key: KeyAttribute {
        name: "userId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// The auctions each user watches (`adapters/watchlist`): one item per user and auction (pk
/// `userId`, sk `auctionId`) with `watchedAt`. Written by the API's `PUT` and `DELETE
/// /me/watchlist/{id}`, read a page at a time by `GET /me/watchlist`. Kept (no TTL): a user's
/// own choice, not derivable from the log.
pub const WATCHLIST_TABLE: TableSpec = TableSpec {
    name_env: names::WATCHLIST_TABLE.env,
    default_name: names::WATCHLIST_TABLE.default,
    partition_key: KeyAttribute {
        name: "userId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "auctionId",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    // An auction's watchers, for the scheduler's "ends soon" notice; keys only, so watching
    // writes one small entry more.
    indexes: &[IndexSpec {
        name: names::WATCHLIST_BY_AUCTION_INDEX,
        partition_key: KeyAttribute {
            name: "auctionId",
            kind: ScalarAttributeType::S,
        },
        sort_key: Some(KeyAttribute {
            name: "userId",
            kind: ScalarAttributeType::S,
        }),
        projection: IndexProjection::KeysOnly,
    }],
    ttl_attribute: None,
};

/// Email notices (`adapters/email`): per user (pk `userId`), the item `preferences` (sk) with
/// their address and one flag per topic, written by the API's `PUT
/// /me/notification-preferences` and by unsubscribe links; and one `sent#<notificationId>` per
/// notice the notifier emailed, so that a redelivery does not email it again, expiring (TTL
/// `expiresAt`) after 60 days. Forgetting a user deletes the partition.
pub const EMAIL_NOTICES_TABLE: TableSpec = TableSpec {
    name_env: names::EMAIL_NOTICES_TABLE.env,
    default_name: names::EMAIL_NOTICES_TABLE.default,
    partition_key: KeyAttribute {
        name: "userId",
        kind: ScalarAttributeType::S,
    },
    sort_key: Some(KeyAttribute {
        name: "sk",
        kind: ScalarAttributeType::S,
    }),
    stream: None,
    indexes: &[],
    ttl_attribute: Some("expiresAt"),
};

/// The deliveries of Stripe's webhook events (`adapters/webhook-deliveries`): one item per event
/// (pk `eventId`) with its `eventType`, the signed timestamp of every delivery (`signedAt`, a
/// number set), `firstReceivedAt`, and once the event was handled `handledAt` and `outcome`.
/// Written by the API's `POST /webhooks/stripe`: a delivery whose (event id, signed timestamp)
/// is already there is a replay and refused; a new timestamp of a handled event is Stripe's
/// redelivery and takes no second effect. Records expire (TTL `expiresAt`) 30 days after the
/// event's first delivery.
pub const STRIPE_WEBHOOK_DELIVERIES_TABLE: TableSpec = TableSpec {
    name_env: names::STRIPE_WEBHOOK_DELIVERIES_TABLE.env,
    default_name: names::STRIPE_WEBHOOK_DELIVERIES_TABLE.default,
    partition_key: KeyAttribute {
        name: "eventId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: Some("expiresAt"),
};

/// Every stream's head (`adapters/notary`): one item per stream (pk `aggregateId`) with its
/// `aggregateType`, `version` and chain `head`, moved forward by the projector (only to a higher
/// version), read whole by the digester; and the item `last-digest` with the `sequence` of the
/// last digest written. Kept (no TTL).
pub const STREAM_HEADS_TABLE: TableSpec = TableSpec {
    name_env: names::STREAM_HEADS_TABLE.env,
    default_name: names::STREAM_HEADS_TABLE.default,
    partition_key: KeyAttribute {
        name: "aggregateId",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// The subjects' key store (`adapters/personal-data`): two items per subject, pk `id`:
/// `subject#<SHA-256 of the user id>` -> `keyId`, and `key#<key id>` -> `wrappedKey` (the data
/// key as KMS wrapped it) and `sealedSubject`; deleted together when the subject is forgotten.
/// Kept (no TTL).
pub const SUBJECT_KEYS_TABLE: TableSpec = TableSpec {
    name_env: names::SUBJECT_KEYS_TABLE.env,
    default_name: names::SUBJECT_KEYS_TABLE.default,
    partition_key: KeyAttribute {
        name: "id",
        kind: ScalarAttributeType::S,
    },
    sort_key: None,
    stream: None,
    indexes: &[],
    ttl_attribute: None,
};

/// Every table, for code that treats them alike (listing, checks).
pub const TABLES: &[&TableSpec] = &[
    &EVENTS_TABLE,
    &SNAPSHOTS_TABLE,
    &IDEMPOTENCY_TABLE,
    &AUCTION_VIEWS_TABLE,
    &USER_BIDS_TABLE,
    &TRIGGER_CHECKPOINTS_TABLE,
    &NOTIFICATIONS_TABLE,
    &PAYMENT_SAGAS_TABLE,
    &READ_MODEL_ALIASES_TABLE,
    &LIVE_CONNECTIONS_TABLE,
    &PARKED_TABLE,
    &PAYMENT_IDENTITIES_TABLE,
    &STRIPE_WEBHOOK_DELIVERIES_TABLE,
    &STREAM_HEADS_TABLE,
    &SUBJECT_KEYS_TABLE,
    &WATCHLIST_TABLE,
    &EMAIL_NOTICES_TABLE,
];

/// The tables only the local stack needs: the CDK app (infra/cdk) deploys every other table of
/// [`TABLES`], and its tests check them against `infra/resources.json`, which
/// `tools/local-stack/tests/infra.rs` generates from this module.
pub const LOCAL_ONLY_TABLES: &[&TableSpec] = &[&TRIGGER_CHECKPOINTS_TABLE];

/// An SQS FIFO queue with its dead-letter queue. ContentBasedDeduplication is off on both:
/// producers set MessageDeduplicationId to `{aggregateId}#{version}`, so two distinct events
/// with equal bodies are never merged, and a re-sent event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// Environment variable that overrides the queue name (which must end in `.fifo`).
    pub name_env: &'static str,
    pub default_name: &'static str,
    /// Environment variables under which the launcher publishes the queue's and its DLQ's URLs.
    pub url_env: &'static str,
    pub dlq_url_env: &'static str,
    /// Receives after which a message moves to the DLQ.
    pub max_receive_count: u32,
    pub visibility_timeout_secs: u32,
}

/// Handlers time out after 10 s. AWS recommends a queue visibility timeout of at least six times
/// the consumer's timeout, so that a batch whose handler is retried inside one invocation is not
/// redelivered to a second consumer meanwhile.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 60;

/// Three attempts ride out a transient failure (throttling, a restart) without letting a poison
/// message block its message group for long.
pub const MAX_RECEIVE_COUNT: u32 = 3;

/// DLQs keep messages for the maximum SQS allows (14 days): they wait for a human.
pub const DLQ_RETENTION_SECS: u32 = 14 * 24 * 60 * 60;

pub const NOTIFICATIONS_QUEUE: QueueSpec = QueueSpec {
    name_env: names::NOTIFICATIONS_QUEUE.env,
    default_name: names::NOTIFICATIONS_QUEUE.default,
    url_env: names::NOTIFICATIONS_QUEUE_URL_ENV,
    dlq_url_env: names::NOTIFICATIONS_DLQ_URL_ENV,
    max_receive_count: MAX_RECEIVE_COUNT,
    visibility_timeout_secs: VISIBILITY_TIMEOUT_SECS,
};

pub const PAYMENTS_QUEUE: QueueSpec = QueueSpec {
    name_env: names::PAYMENTS_QUEUE.env,
    default_name: names::PAYMENTS_QUEUE.default,
    url_env: names::PAYMENTS_QUEUE_URL_ENV,
    dlq_url_env: names::PAYMENTS_DLQ_URL_ENV,
    max_receive_count: MAX_RECEIVE_COUNT,
    visibility_timeout_secs: VISIBILITY_TIMEOUT_SECS,
};

/// Live updates for the broadcaster (`functions/live`): the publisher's messages for the events
/// watchers see. A queue, so that the Events stream keeps two readers (projector, publisher).
pub const LIVE_QUEUE: QueueSpec = QueueSpec {
    name_env: names::LIVE_QUEUE.env,
    default_name: names::LIVE_QUEUE.default,
    url_env: names::LIVE_QUEUE_URL_ENV,
    dlq_url_env: names::LIVE_DLQ_URL_ENV,
    max_receive_count: MAX_RECEIVE_COUNT,
    visibility_timeout_secs: VISIBILITY_TIMEOUT_SECS,
};

/// Every queue, for code that treats them alike.
pub const QUEUES: &[&QueueSpec] = &[&NOTIFICATIONS_QUEUE, &PAYMENTS_QUEUE, &LIVE_QUEUE];

/// A standard (non-FIFO) SQS queue without a DLQ of its own: a destination that only people
/// read, such as an event source mapping's on-failure destination (which AWS requires to be a
/// standard queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardQueueSpec {
    /// Environment variable that overrides the queue name.
    pub name_env: &'static str,
    pub default_name: &'static str,
    /// Environment variable under which the launcher publishes the queue's URL.
    pub url_env: &'static str,
    pub retention_secs: u32,
}

/// Where the stream mappings (Events stream -> projector, publisher) send the description of a
/// batch they gave up on (retries exhausted, record too old): the records themselves stay in the
/// stream and the log, the message says which ones to look at.
pub const STREAM_FAILURES_QUEUE: StandardQueueSpec = StandardQueueSpec {
    name_env: names::STREAM_FAILURES_QUEUE.env,
    default_name: names::STREAM_FAILURES_QUEUE.default,
    url_env: names::STREAM_FAILURES_QUEUE_URL_ENV,
    retention_secs: DLQ_RETENTION_SECS,
};

/// Every standard queue, for code that treats them alike.
pub const STANDARD_QUEUES: &[&StandardQueueSpec] = &[&STREAM_FAILURES_QUEUE];

pub use conventions::names::dlq_name;

/// The concrete names of every resource, as the platform's binaries see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    pub events_table: String,
    pub snapshots_table: String,
    pub idempotency_table: String,
    pub notifications_table: String,
    pub auction_views_table: String,
    pub user_bids_table: String,
    pub notifications_queue: String,
    pub payments_queue: String,
    pub live_queue: String,
    pub trigger_checkpoints_table: String,
    pub stream_failures_queue: String,
    pub payment_sagas_table: String,
    pub read_model_aliases_table: String,
    pub live_connections_table: String,
    pub parked_table: String,
    pub payment_identities_table: String,
    pub stripe_webhook_deliveries_table: String,
    pub stream_heads_table: String,
    /// The bucket of the log's digests (S3 Object Lock, compliance mode).
    pub digest_bucket: String,
    /// The alias of the key that signs them.
    pub digest_key: String,
    pub subject_keys_table: String,
    /// The alias of the key that wraps the subjects' data keys.
    pub subject_key: String,
    pub watchlist_table: String,
    pub email_notices_table: String,
    /// The alias of the HMAC key that signs unsubscribe links.
    pub unsubscribe_key: String,
    /// Sellers' item photos: originals, thumbnails, refusals.
    pub photos_bucket: String,
    /// Where the photos bucket announces each original (its DLQ: `<name>-dlq`).
    pub photo_uploads_queue: String,
}

impl ResourceNames {
    /// Names from the environment (`EVENTS_TABLE`, `NOTIFICATIONS_QUEUE`, `PAYMENTS_QUEUE`),
    /// each defaulting to the spec's name when unset or empty.
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// As [`ResourceNames::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let name = |name_env: &str, default_name: &str| {
            lookup(name_env)
                .filter(|value| !value.trim().is_empty())
                .unwrap_or_else(|| default_name.to_owned())
        };
        Self {
            events_table: name(EVENTS_TABLE.name_env, EVENTS_TABLE.default_name),
            snapshots_table: name(SNAPSHOTS_TABLE.name_env, SNAPSHOTS_TABLE.default_name),
            idempotency_table: name(IDEMPOTENCY_TABLE.name_env, IDEMPOTENCY_TABLE.default_name),
            notifications_table: name(
                NOTIFICATIONS_TABLE.name_env,
                NOTIFICATIONS_TABLE.default_name,
            ),
            auction_views_table: name(
                AUCTION_VIEWS_TABLE.name_env,
                AUCTION_VIEWS_TABLE.default_name,
            ),
            user_bids_table: name(USER_BIDS_TABLE.name_env, USER_BIDS_TABLE.default_name),
            notifications_queue: name(
                NOTIFICATIONS_QUEUE.name_env,
                NOTIFICATIONS_QUEUE.default_name,
            ),
            payments_queue: name(PAYMENTS_QUEUE.name_env, PAYMENTS_QUEUE.default_name),
            live_queue: name(LIVE_QUEUE.name_env, LIVE_QUEUE.default_name),
            trigger_checkpoints_table: name(
                TRIGGER_CHECKPOINTS_TABLE.name_env,
                TRIGGER_CHECKPOINTS_TABLE.default_name,
            ),
            stream_failures_queue: name(
                STREAM_FAILURES_QUEUE.name_env,
                STREAM_FAILURES_QUEUE.default_name,
            ),
            payment_sagas_table: name(
                PAYMENT_SAGAS_TABLE.name_env,
                PAYMENT_SAGAS_TABLE.default_name,
            ),
            read_model_aliases_table: name(
                READ_MODEL_ALIASES_TABLE.name_env,
                READ_MODEL_ALIASES_TABLE.default_name,
            ),
            live_connections_table: name(
                LIVE_CONNECTIONS_TABLE.name_env,
                LIVE_CONNECTIONS_TABLE.default_name,
            ),
            parked_table: name(PARKED_TABLE.name_env, PARKED_TABLE.default_name),
            payment_identities_table: name(
                PAYMENT_IDENTITIES_TABLE.name_env,
                PAYMENT_IDENTITIES_TABLE.default_name,
            ),
            stripe_webhook_deliveries_table: name(
                STRIPE_WEBHOOK_DELIVERIES_TABLE.name_env,
                STRIPE_WEBHOOK_DELIVERIES_TABLE.default_name,
            ),
            stream_heads_table: name(STREAM_HEADS_TABLE.name_env, STREAM_HEADS_TABLE.default_name),
            digest_bucket: name(names::DIGEST_BUCKET.env, names::DIGEST_BUCKET.default),
            digest_key: name(names::DIGEST_KEY_ID.env, names::DIGEST_KEY_ID.default),
            subject_keys_table: name(SUBJECT_KEYS_TABLE.name_env, SUBJECT_KEYS_TABLE.default_name),
            subject_key: name(names::SUBJECT_KEY_ID.env, names::SUBJECT_KEY_ID.default),
            watchlist_table: name(WATCHLIST_TABLE.name_env, WATCHLIST_TABLE.default_name),
            email_notices_table: name(
                EMAIL_NOTICES_TABLE.name_env,
                EMAIL_NOTICES_TABLE.default_name,
            ),
            unsubscribe_key: name(
                names::UNSUBSCRIBE_KEY_ID.env,
                names::UNSUBSCRIBE_KEY_ID.default,
            ),
            photos_bucket: name(names::PHOTOS_BUCKET.env, names::PHOTOS_BUCKET.default),
            photo_uploads_queue: name(
                names::PHOTO_UPLOADS_QUEUE.env,
                names::PHOTO_UPLOADS_QUEUE.default,
            ),
        }
    }

    /// Default names behind `prefix-`, so that tests sharing one emulator never see each other's
    /// data. Keep the prefix short: queue names are limited to 80 characters.
    pub fn with_prefix(prefix: &str) -> Self {
        Self::from_lookup(|var| {
            let spec_default = TABLES
                .iter()
                .find(|table| table.name_env == var)
                .map(|table| table.default_name)
                .or_else(|| {
                    QUEUES
                        .iter()
                        .find(|queue| queue.name_env == var)
                        .map(|queue| queue.default_name)
                })
                .or_else(|| {
                    STANDARD_QUEUES
                        .iter()
                        .find(|queue| queue.name_env == var)
                        .map(|queue| queue.default_name)
                });
            for plain in [
                names::DIGEST_BUCKET,
                names::PHOTOS_BUCKET,
                names::PHOTO_UPLOADS_QUEUE,
            ] {
                if var == plain.env {
                    return Some(format!("{prefix}-{}", plain.default));
                }
            }
            for key in [
                names::DIGEST_KEY_ID,
                names::SUBJECT_KEY_ID,
                names::UNSUBSCRIBE_KEY_ID,
            ] {
                if var == key.env {
                    // alias/<prefix>-auction-log-digests
                    let base = key.default.trim_start_matches("alias/");
                    return Some(format!("alias/{prefix}-{base}"));
                }
            }
            spec_default.map(|default_name| format!("{prefix}-{default_name}"))
        })
    }

    /// Each table spec with its name here.
    pub fn tables(&self) -> Vec<(&'static TableSpec, &str)> {
        vec![
            (&EVENTS_TABLE, self.events_table.as_str()),
            (&SNAPSHOTS_TABLE, self.snapshots_table.as_str()),
            (&IDEMPOTENCY_TABLE, self.idempotency_table.as_str()),
            (&AUCTION_VIEWS_TABLE, self.auction_views_table.as_str()),
            (&USER_BIDS_TABLE, self.user_bids_table.as_str()),
            (
                &TRIGGER_CHECKPOINTS_TABLE,
                self.trigger_checkpoints_table.as_str(),
            ),
            (&NOTIFICATIONS_TABLE, self.notifications_table.as_str()),
            (&PAYMENT_SAGAS_TABLE, self.payment_sagas_table.as_str()),
            (
                &READ_MODEL_ALIASES_TABLE,
                self.read_model_aliases_table.as_str(),
            ),
            (
                &LIVE_CONNECTIONS_TABLE,
                self.live_connections_table.as_str(),
            ),
            (&PARKED_TABLE, self.parked_table.as_str()),
            (
                &PAYMENT_IDENTITIES_TABLE,
                self.payment_identities_table.as_str(),
            ),
            (
                &STRIPE_WEBHOOK_DELIVERIES_TABLE,
                self.stripe_webhook_deliveries_table.as_str(),
            ),
            (&STREAM_HEADS_TABLE, self.stream_heads_table.as_str()),
            (&SUBJECT_KEYS_TABLE, self.subject_keys_table.as_str()),
            (&WATCHLIST_TABLE, self.watchlist_table.as_str()),
            (&EMAIL_NOTICES_TABLE, self.email_notices_table.as_str()),
        ]
    }

    /// Each standard queue spec with its name here.
    pub fn standard_queues(&self) -> Vec<(&'static StandardQueueSpec, &str)> {
        vec![(&STREAM_FAILURES_QUEUE, self.stream_failures_queue.as_str())]
    }

    /// Each queue spec with its name here.
    pub fn queues(&self) -> Vec<(&'static QueueSpec, &str)> {
        vec![
            (&NOTIFICATIONS_QUEUE, self.notifications_queue.as_str()),
            (&PAYMENTS_QUEUE, self.payments_queue.as_str()),
            (&LIVE_QUEUE, self.live_queue.as_str()),
        ]
    }

    /// The variables that tell a binary these names.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let tables = self
            .tables()
            .into_iter()
            .map(|(spec, name)| (spec.name_env, name.to_owned()));
        let queues = self
            .queues()
            .into_iter()
            .map(|(spec, name)| (spec.name_env, name.to_owned()));
        let standard_queues = self
            .standard_queues()
            .into_iter()
            .map(|(spec, name)| (spec.name_env, name.to_owned()));
        let digests = [
            (names::DIGEST_BUCKET.env, self.digest_bucket.clone()),
            (names::DIGEST_KEY_ID.env, self.digest_key.clone()),
            (names::SUBJECT_KEY_ID.env, self.subject_key.clone()),
            (names::UNSUBSCRIBE_KEY_ID.env, self.unsubscribe_key.clone()),
            (names::PHOTOS_BUCKET.env, self.photos_bucket.clone()),
            (
                names::PHOTO_UPLOADS_QUEUE.env,
                self.photo_uploads_queue.clone(),
            ),
        ];
        tables
            .chain(queues)
            .chain(standard_queues)
            .chain(digests)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn names_default_to_the_specs_when_the_environment_sets_none() {
        let names = ResourceNames::from_lookup(|_| None);

        assert_eq!(names.events_table, "Events");
        assert_eq!(names.snapshots_table, "Snapshots");
        assert_eq!(names.idempotency_table, "Idempotency");
        assert_eq!(names.auction_views_table, "AuctionListView");
        assert_eq!(names.user_bids_table, "UserBids");
        assert_eq!(names.notifications_queue, "notifications.fifo");
        assert_eq!(names.payments_queue, "payments.fifo");
    }

    #[test]
    fn names_come_from_the_environment_and_blank_values_count_as_unset() {
        let env = HashMap::from([
            ("EVENTS_TABLE", "prod-Events"),
            ("NOTIFICATIONS_QUEUE", "  "),
            ("PAYMENTS_QUEUE", "pay.fifo"),
        ]);

        let names = ResourceNames::from_lookup(|var| env.get(var).map(|v| (*v).to_owned()));

        assert_eq!(names.events_table, "prod-Events");
        assert_eq!(names.notifications_queue, "notifications.fifo");
        assert_eq!(names.payments_queue, "pay.fifo");
    }

    #[test]
    fn a_prefix_goes_in_front_of_every_name_and_queues_stay_fifo() {
        let names = ResourceNames::with_prefix("t1");

        assert_eq!(names.events_table, "t1-Events");
        assert_eq!(names.idempotency_table, "t1-Idempotency");
        assert_eq!(names.auction_views_table, "t1-AuctionListView");
        assert_eq!(names.user_bids_table, "t1-UserBids");
        assert_eq!(names.notifications_queue, "t1-notifications.fifo");
        assert_eq!(names.payments_queue, "t1-payments.fifo");
    }

    #[test]
    fn every_spec_is_named_exactly_once() {
        let names = ResourceNames::from_lookup(|_| None);

        let tables: Vec<&TableSpec> = names.tables().into_iter().map(|(s, _)| s).collect();
        let queues: Vec<&QueueSpec> = names.queues().into_iter().map(|(s, _)| s).collect();

        assert_eq!(tables, TABLES);
        assert_eq!(queues, QUEUES);
    }

    #[test]
    fn key_attributes_list_each_attribute_once() {
        let names: Vec<_> = EVENTS_TABLE
            .key_attributes()
            .into_iter()
            .map(|a| a.name)
            .collect();

        assert_eq!(names, ["aggregateId", "version", "typeShard", "typeOrder"]);
    }

    #[test]
    fn the_auction_views_define_their_key_and_their_indexes_keys_once() {
        let names: Vec<_> = AUCTION_VIEWS_TABLE
            .key_attributes()
            .into_iter()
            .map(|a| a.name)
            .collect();

        assert_eq!(
            names,
            ["auctionId", "status", "endsAt", "startsAt", "sellerId"]
        );
    }

    #[test]
    fn the_visibility_timeout_is_at_least_six_handler_timeouts() {
        let handler_timeout_secs = 10;
        for queue in QUEUES {
            assert!(queue.visibility_timeout_secs >= 6 * handler_timeout_secs);
        }
    }

    #[test]
    fn the_publishers_queues_are_the_queues_defined_here() {
        use fan_out::Queue::{self, Live, Notifications, Payments};

        for (queue, spec) in [
            (Notifications, &NOTIFICATIONS_QUEUE),
            (Payments, &PAYMENTS_QUEUE),
            (Live, &LIVE_QUEUE),
        ] {
            assert_eq!(queue.url_env(), spec.url_env);
            assert_eq!(queue.name_env(), spec.name_env);
            assert_eq!(queue.default_name(), spec.default_name);
        }
        assert_eq!(
            Queue::ALL.len(),
            QUEUES.len(),
            "a queue is not published to"
        );
    }
}
