//! The subjects' key store on DynamoDB, its data keys wrapped by AWS KMS.
//!
//! One table (`SUBJECT_KEYS_TABLE`), two items per subject, written together and deleted
//! together:
//! - `subject#<SHA-256 of the user id>` -> `keyId`: finds a subject's key without storing their
//!   id in the clear;
//! - `key#<key id>` -> `wrappedKey` (the data key as KMS encrypted it, bound to the key id by
//!   the encryption context) and `sealedSubject` (the user id sealed under the data key).
//!
//! Turning a pseudonym back into a user id takes a KMS Decrypt of the wrapped key, once per
//! subject per process while it is cached. Forgetting deletes both items: the wrapped key
//! exists nowhere else (point-in-time backups aside: docs/privacy.md).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use lru::LruCache;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::PersonalDataError;
use crate::ports::SubjectKeys;
use crate::token::{DataKey, KeyId, Token, seal};

/// How long this process trusts what it learned about a subject, unless
/// `SUBJECT_KEYS_CACHE_SECONDS` says otherwise: a forget in another process takes effect here
/// within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// The variable that sets [`CACHE_TTL`] for a process (whole seconds).
pub const CACHE_SECONDS_ENV: &str = "SUBJECT_KEYS_CACHE_SECONDS";

const CACHE_CAPACITY: usize = 10_000;

/// The encryption context every data key is bound to: a wrapped key copied under another key
/// id does not decrypt.
const CONTEXT_KEY: &str = "subjectKeyId";

#[derive(Clone)]
pub struct KmsSubjectKeys {
    dynamodb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    /// The KMS key that wraps the data keys: an id, ARN or `alias/...`.
    kms_key: String,
    known: Arc<Mutex<Known>>,
    ttl: Duration,
}

impl std::fmt::Debug for KmsSubjectKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSubjectKeys")
            .field("table", &self.table)
            .field("kms_key", &self.kms_key)
            .finish_non_exhaustive()
    }
}

/// What this process learned, each entry with when it learned it.
struct Known {
    key_ids: LruCache<String, (KeyId, Instant)>,
    /// `None`: the key id names no subject (forgotten).
    subjects: LruCache<KeyId, (Option<String>, Instant)>,
}

impl KmsSubjectKeys {
    /// The key store `SUBJECT_KEYS_TABLE` names, its data keys wrapped by the key
    /// `SUBJECT_KEY_ID` names, trusting what it learned for `SUBJECT_KEYS_CACHE_SECONDS`
    /// (default [`CACHE_TTL`]; a value that is not a whole number of seconds is the default).
    pub fn from_env(dynamodb: aws_sdk_dynamodb::Client, kms: aws_sdk_kms::Client) -> Self {
        let ttl = std::env::var(CACHE_SECONDS_ENV)
            .ok()
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map_or(CACHE_TTL, Duration::from_secs);
        Self::new(
            dynamodb,
            kms,
            conventions::names::SUBJECT_KEYS_TABLE.from_env(),
            conventions::names::SUBJECT_KEY_ID.from_env(),
        )
        .with_cache_ttl(ttl)
    }

    /// The same store trusting what it learned for `ttl` instead.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        kms_key: impl Into<String>,
    ) -> Self {
        let capacity = NonZeroUsize::new(CACHE_CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Self {
            dynamodb,
            kms,
            table: table.into(),
            kms_key: kms_key.into(),
            known: Arc::new(Mutex::new(Known {
                key_ids: LruCache::new(capacity),
                subjects: LruCache::new(capacity),
            })),
            ttl: CACHE_TTL,
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn key_id(&self, subject: &str) -> Result<KeyId, PersonalDataError> {
        if let Some((key_id, at)) = self.known().key_ids.get(subject).copied()
            && at.elapsed() < self.ttl
        {
            return Ok(key_id);
        }
        let key_id = match self.find(subject).await? {
            Some(key_id) => key_id,
            None => self.create(subject).await?,
        };
        let mut known = self.known();
        known
            .key_ids
            .put(subject.to_owned(), (key_id, Instant::now()));
        known
            .subjects
            .put(key_id, (Some(subject.to_owned()), Instant::now()));
        Ok(key_id)
    }

    /// One item of the table, read consistently: a forget is seen at once.
    async fn item(
        &self,
        id: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, PersonalDataError> {
        Ok(self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| PersonalDataError::unavailable("DynamoDB", DisplayErrorContext(&e)))?
            .item)
    }

    async fn find(&self, subject: &str) -> Result<Option<KeyId>, PersonalDataError> {
        let item = self.item(subject_item(subject)).await?;
        item.map(|item| {
            item.get("keyId")
                .and_then(|v| v.as_s().ok())
                .and_then(|id| Uuid::parse_str(id).ok())
                .map(KeyId)
                .ok_or_else(|| {
                    PersonalDataError::unavailable("DynamoDB", "a subject item without a key id")
                })
        })
        .transpose()
    }

    /// A new data key for the subject, and both items; if another process made the subject's
    /// key meanwhile, that one.
    async fn create(&self, subject: &str) -> Result<KeyId, PersonalDataError> {
        let key_id = KeyId(Uuid::new_v4());
        let generated = self
            .kms
            .generate_data_key()
            .key_id(&self.kms_key)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, key_id.to_string())
            .send()
            .await
            .map_err(|e| PersonalDataError::unavailable("KMS", DisplayErrorContext(&e)))?;
        let key = generated
            .plaintext
            .as_ref()
            .and_then(|blob| DataKey::from_bytes(blob.as_ref()))
            .ok_or_else(|| PersonalDataError::unavailable("KMS", "no 32-byte data key"))?;
        let wrapped = generated
            .ciphertext_blob
            .ok_or_else(|| PersonalDataError::unavailable("KMS", "no wrapped data key"))?;
        let sealed_subject = seal(key_id, &key, subject)?;
        let not_there = "attribute_not_exists(id)";
        let put = |item: HashMap<String, AttributeValue>| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(not_there)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| PersonalDataError::unavailable("DynamoDB", e))
        };
        let written = self
            .dynamodb
            .transact_write_items()
            .transact_items(put(HashMap::from([
                ("id".to_owned(), AttributeValue::S(subject_item(subject))),
                ("keyId".to_owned(), AttributeValue::S(key_id.to_string())),
            ]))?)
            .transact_items(put(HashMap::from([
                ("id".to_owned(), AttributeValue::S(key_item(key_id))),
                (
                    "wrappedKey".to_owned(),
                    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                        wrapped.into_inner(),
                    )),
                ),
                (
                    "sealedSubject".to_owned(),
                    AttributeValue::S(sealed_subject),
                ),
            ]))?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(key_id),
            Err(error) => match self.find(subject).await? {
                // Another process made it first: theirs is the subject's key.
                Some(theirs) => Ok(theirs),
                None => Err(PersonalDataError::unavailable(
                    "DynamoDB",
                    DisplayErrorContext(&error),
                )),
            },
        }
    }

    /// The subject a key id names, or `None` if it names none any more.
    async fn subject(&self, key_id: KeyId) -> Result<Option<String>, PersonalDataError> {
        if let Some((subject, at)) = self.known().subjects.get(&key_id).cloned()
            && at.elapsed() < self.ttl
        {
            return Ok(subject);
        }
        let subject = match self.item(key_item(key_id)).await? {
            None => None,
            Some(item) => Some(self.unwrap_subject(key_id, &item).await?),
        };
        self.known()
            .subjects
            .put(key_id, (subject.clone(), Instant::now()));
        Ok(subject)
    }

    async fn unwrap_subject(
        &self,
        key_id: KeyId,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<String, PersonalDataError> {
        let wrapped = item
            .get("wrappedKey")
            .and_then(|v| v.as_b().ok())
            .ok_or(PersonalDataError::Tampered(key_id))?;
        let sealed = item
            .get("sealedSubject")
            .and_then(|v| v.as_s().ok())
            .and_then(|text| Token::parse(text))
            .filter(|token| token.key_id == key_id)
            .ok_or(PersonalDataError::Tampered(key_id))?;
        let decrypted = self
            .kms
            .decrypt()
            .key_id(&self.kms_key)
            .ciphertext_blob(Blob::new(wrapped.as_ref()))
            .encryption_context(CONTEXT_KEY, key_id.to_string())
            .send()
            .await
            .map_err(|e| PersonalDataError::unavailable("KMS", DisplayErrorContext(&e)))?;
        let key = decrypted
            .plaintext
            .as_ref()
            .and_then(|blob| DataKey::from_bytes(blob.as_ref()))
            .ok_or(PersonalDataError::Tampered(key_id))?;
        sealed.open(&key)
    }
}

impl SubjectKeys for KmsSubjectKeys {
    async fn key_ids(
        &self,
        subjects: &[String],
    ) -> Result<HashMap<String, KeyId>, PersonalDataError> {
        let mut found = HashMap::with_capacity(subjects.len());
        for subject in subjects {
            found.insert(subject.clone(), self.key_id(subject).await?);
        }
        Ok(found)
    }

    async fn key_id_of(&self, subject: &str) -> Result<Option<KeyId>, PersonalDataError> {
        self.find(subject).await
    }

    async fn subjects(
        &self,
        key_ids: &[KeyId],
    ) -> Result<HashMap<KeyId, String>, PersonalDataError> {
        let mut found = HashMap::with_capacity(key_ids.len());
        for key_id in key_ids {
            if let Some(subject) = self.subject(*key_id).await? {
                found.insert(*key_id, subject);
            }
        }
        Ok(found)
    }

    async fn forget(&self, subject: &str) -> Result<Option<KeyId>, PersonalDataError> {
        let Some(key_id) = self.find(subject).await? else {
            return Ok(None);
        };
        let delete = |id: String| {
            Delete::builder()
                .table_name(&self.table)
                .key("id", AttributeValue::S(id))
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
                .map_err(|e| PersonalDataError::unavailable("DynamoDB", e))
        };
        self.dynamodb
            .transact_write_items()
            .transact_items(delete(subject_item(subject))?)
            .transact_items(delete(key_item(key_id))?)
            .send()
            .await
            .map_err(|e| PersonalDataError::unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let mut known = self.known();
        known.key_ids.pop(subject);
        known.subjects.put(key_id, (None, Instant::now()));
        Ok(Some(key_id))
    }
}

fn subject_item(subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("subject#{hex}")
}

fn key_item(key_id: KeyId) -> String {
    format!("key#{key_id}")
}
