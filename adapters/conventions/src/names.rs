//! Every table, queue and index name the platform uses, with the environment variable that
//! overrides it and the default the local stack, the CDK app and the functions agree on.
//!
//! Plain constants and the standard library only: the local stack's resource definitions, the
//! functions, the tests and the infra drift check (tools/local-stack/tests/infra.rs, which reads
//! this file) all take their names from here, so that a name is spelled once. Refer to the
//! constants as `names::X`: the drift check finds which crate reads which variable by that path.

/// A resource name: the variable that overrides it, and the default when that is unset or blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvName {
    pub env: &'static str,
    pub default: &'static str,
}

impl EnvName {
    /// The name the environment sets, or the default.
    pub fn from_env(self) -> String {
        crate::name_from_env(self.env, self.default)
    }

    /// The default behind `prefix-`, as the tests name their private copies.
    pub fn prefixed(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.default)
    }
}

// ---- tables

pub const EVENTS_TABLE: EnvName = EnvName {
    env: "EVENTS_TABLE",
    default: "Events",
};
pub const SNAPSHOTS_TABLE: EnvName = EnvName {
    env: "SNAPSHOTS_TABLE",
    default: "Snapshots",
};
pub const IDEMPOTENCY_TABLE: EnvName = EnvName {
    env: "IDEMPOTENCY_TABLE",
    default: "Idempotency",
};
pub const AUCTION_VIEWS_TABLE: EnvName = EnvName {
    env: "AUCTION_VIEWS_TABLE",
    default: "AuctionListView",
};
pub const USER_BIDS_TABLE: EnvName = EnvName {
    env: "USER_BIDS_TABLE",
    default: "UserBids",
};
pub const TRIGGER_CHECKPOINTS_TABLE: EnvName = EnvName {
    env: "TRIGGER_CHECKPOINTS_TABLE",
    default: "TriggerCheckpoints",
};
pub const NOTIFICATIONS_TABLE: EnvName = EnvName {
    env: "NOTIFICATIONS_TABLE",
    default: "Notifications",
};
pub const PAYMENT_SAGAS_TABLE: EnvName = EnvName {
    env: "PAYMENT_SAGAS_TABLE",
    default: "PaymentSagas",
};
pub const READ_MODEL_ALIASES_TABLE: EnvName = EnvName {
    env: "READ_MODEL_ALIASES_TABLE",
    default: "ReadModelAliases",
};
pub const LIVE_CONNECTIONS_TABLE: EnvName = EnvName {
    env: "LIVE_CONNECTIONS_TABLE",
    default: "LiveConnections",
};
pub const PARKED_TABLE: EnvName = EnvName {
    env: "PARKED_TABLE",
    default: "Parked",
};
pub const PAYMENT_IDENTITIES_TABLE: EnvName = EnvName {
    env: "PAYMENT_IDENTITIES_TABLE",
    default: "PaymentIdentities",
};
pub const STRIPE_WEBHOOK_DELIVERIES_TABLE: EnvName = EnvName {
    env: "STRIPE_WEBHOOK_DELIVERIES_TABLE",
    default: "StripeWebhookDeliveries",
};
/// The auctions each user watches (`adapters/watchlist`).
pub const WATCHLIST_TABLE: EnvName = EnvName {
    env: "WATCHLIST_TABLE",
    default: "Watchlist",
};

/// Every stream's head (`adapters/notary`): what the log's digests are made of.
pub const STREAM_HEADS_TABLE: EnvName = EnvName {
    env: "STREAM_HEADS_TABLE",
    default: "StreamHeads",
};

/// The subjects' key store (`adapters/personal-data`): per subject, the data key wrapped by KMS
/// and the user id sealed under it, found by a hash of the id.
pub const SUBJECT_KEYS_TABLE: EnvName = EnvName {
    env: "SUBJECT_KEYS_TABLE",
    default: "SubjectKeys",
};
/// A KMS key id, ARN or alias of the symmetric ENCRYPT_DECRYPT key that wraps the subjects'
/// data keys.
pub const SUBJECT_KEY_ID: EnvName = EnvName {
    env: "SUBJECT_KEY_ID",
    default: "alias/auction-subject-keys",
};

// ---- email notices (`adapters/email`)

/// Each user's email preferences and address, and the notices already emailed to them.
pub const EMAIL_NOTICES_TABLE: EnvName = EnvName {
    env: "EMAIL_NOTICES_TABLE",
    default: "EmailNotices",
};
/// A KMS key id, ARN or alias of the HMAC_256 key (GENERATE_VERIFY_MAC) that signs
/// unsubscribe links.
pub const UNSUBSCRIBE_KEY_ID: EnvName = EnvName {
    env: "UNSUBSCRIBE_KEY_ID",
    default: "alias/auction-unsubscribe-links",
};

/// The address notices come from (an SES identity verifies it or its domain).
pub const EMAIL_FROM: EnvName = EnvName {
    env: "EMAIL_FROM",
    default: "notices@auctions.example.com",
};
/// The web page's public URL, which links in emails point to.
pub const WEB_URL: EnvName = EnvName {
    env: "WEB_URL",
    default: "http://127.0.0.1:8080/",
};
/// The HTTP API's public URL (for one-click unsubscribes); the web page's when unset.
pub const API_URL: EnvName = EnvName {
    env: "API_URL",
    default: "http://127.0.0.1:8080",
};

// ---- item photos (`adapters/photos`)

/// The bucket of sellers' photos: `originals/` (uploaded through grants), `thumbnails/`
/// (served), `refusals/` (why a refused original was deleted).
pub const PHOTOS_BUCKET: EnvName = EnvName {
    env: "PHOTOS_BUCKET",
    default: "auction-item-photos",
};
/// Where thumbnails are served: `<MEDIA_URL>/thumbnails/<auctionId>/<photoId>.jpg` (the site's
/// CloudFront in AWS, the local API server locally).
pub const MEDIA_URL: EnvName = EnvName {
    env: "MEDIA_URL",
    default: "http://127.0.0.1:8080",
};

// ---- the log's digests (`adapters/notary`): the bucket under Object Lock and the signing key

pub const DIGEST_BUCKET: EnvName = EnvName {
    env: "DIGEST_BUCKET",
    default: "auction-log-digests",
};
/// A KMS key id, ARN or alias of an RSA_2048 SIGN_VERIFY key.
pub const DIGEST_KEY_ID: EnvName = EnvName {
    env: "DIGEST_KEY_ID",
    default: "alias/auction-log-digests",
};

// ---- indexes (their names are fixed: the CDK app and the stack create them so)

/// Events by `typeShard` (`eventType#shard`), sorted by `typeOrder` (time, aggregate, version).
pub const EVENTS_BY_TYPE_INDEX: &str = "byTypeShard";
/// Auction views by `status`, sorted by `endsAt`.
pub const VIEWS_BY_STATUS_INDEX: &str = "byStatus";
/// Auction views by `status`, sorted by `startsAt`, keys only: the scheduler's starts.
pub const VIEWS_BY_START_INDEX: &str = "byStart";
/// Auction views by `sellerId`, sorted by `endsAt`, keys only: a seller's own auctions.
pub const VIEWS_BY_SELLER_INDEX: &str = "bySeller";
/// Watchlist entries by `auctionId`, sorted by `userId`, keys only: an auction's watchers.
pub const WATCHLIST_BY_AUCTION_INDEX: &str = "byAuction";
/// Live connections by `topic`.
pub const CONNECTIONS_BY_TOPIC_INDEX: &str = "byTopic";

// ---- queues: the name (looked up with GetQueueUrl when the URL is unset), the URL, the DLQ's URL

pub const NOTIFICATIONS_QUEUE: EnvName = EnvName {
    env: "NOTIFICATIONS_QUEUE",
    default: "notifications.fifo",
};
pub const NOTIFICATIONS_QUEUE_URL_ENV: &str = "NOTIFICATIONS_QUEUE_URL";
pub const NOTIFICATIONS_DLQ_URL_ENV: &str = "NOTIFICATIONS_DLQ_URL";

pub const PAYMENTS_QUEUE: EnvName = EnvName {
    env: "PAYMENTS_QUEUE",
    default: "payments.fifo",
};
pub const PAYMENTS_QUEUE_URL_ENV: &str = "PAYMENTS_QUEUE_URL";
pub const PAYMENTS_DLQ_URL_ENV: &str = "PAYMENTS_DLQ_URL";

pub const LIVE_QUEUE: EnvName = EnvName {
    env: "LIVE_QUEUE",
    default: "live.fifo",
};
pub const LIVE_QUEUE_URL_ENV: &str = "LIVE_QUEUE_URL";
pub const LIVE_DLQ_URL_ENV: &str = "LIVE_DLQ_URL";

/// The stream mappings' on-failure destination (a standard queue, as AWS requires).
pub const STREAM_FAILURES_QUEUE: EnvName = EnvName {
    env: "STREAM_FAILURES_QUEUE",
    default: "stream-failures",
};
pub const STREAM_FAILURES_QUEUE_URL_ENV: &str = "STREAM_FAILURES_QUEUE_URL";
/// Where the photos bucket announces each original uploaded (an S3 event notification), for
/// the thumbnailer; its DLQ is `photo-uploads-dlq`.
pub const PHOTO_UPLOADS_QUEUE: EnvName = EnvName {
    env: "PHOTO_UPLOADS_QUEUE",
    default: "photo-uploads",
};
pub const PHOTO_UPLOADS_QUEUE_URL_ENV: &str = "PHOTO_UPLOADS_QUEUE_URL";

/// The FIFO suffix SQS requires of a FIFO queue's name, and so of its DLQ's.
pub const FIFO_SUFFIX: &str = ".fifo";

/// The DLQ's name for a FIFO queue: `notifications.fifo` -> `notifications-dlq.fifo`. A FIFO
/// queue's DLQ must itself be FIFO, hence the suffix stays last.
pub fn dlq_name(queue_name: &str) -> String {
    let base = queue_name.strip_suffix(FIFO_SUFFIX).unwrap_or(queue_name);
    format!("{base}-dlq{FIFO_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_queue_keeps_the_fifo_suffix_last() {
        assert_eq!(dlq_name("notifications.fifo"), "notifications-dlq.fifo");
        assert_eq!(dlq_name("t1-payments.fifo"), "t1-payments-dlq.fifo");
    }

    #[test]
    fn a_prefixed_name_puts_the_prefix_before_the_default() {
        assert_eq!(PAYMENTS_QUEUE.prefixed("t1"), "t1-payments.fifo");
        assert_eq!(PARKED_TABLE.prefixed("t1"), "t1-Parked");
    }
}
