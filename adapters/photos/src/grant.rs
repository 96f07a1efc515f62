//! Upload grants: a browser-style presigned POST to S3 whose policy binds the key, the declared
//! content type and the declared size, so that S3 itself refuses any other upload.
//!
//! Why POST and not a presigned PUT: S3 checks a POST policy's conditions, among them
//! `content-length-range`, S3's one documented way to cap an upload's size. A presigned PUT
//! binds a size only as a signed `Content-Length` header, which holds only as long as every
//! client sends exactly that header, and binds no range. (Neither is checked by moto, the local
//! emulator: its S3 verifies no presigned signature, expiry or policy. What S3 would refuse is
//! therefore checked here, on the policy document, and by the in-memory twin's
//! [`Grant::admits`], which applies the same conditions.)
//!
//! Signing is SigV4 over the base64 policy (`AWS4-HMAC-SHA256`, service `s3`), done here
//! because the SDK presigns requests, not POST policies.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::error::Refusal;
use crate::keys::Photo;
use crate::limits::is_accepted;
use crate::limits::{GRANT_SECONDS, MAX_ORIGINAL_BYTES, MAX_PHOTOS_PER_AUCTION};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a seller asks to upload, as the browser knows it before sending (the file's size and
/// type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub photo: Photo,
    pub content_type: String,
    pub size: u64,
}

/// Credentials and the bucket a grant is signed for.
#[derive(Debug, Clone)]
pub struct Signing {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Set when the credentials are temporary (a Lambda's role): S3 then needs it as a form
    /// field, and the policy must name it.
    pub session_token: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Where the form is posted: the bucket's endpoint.
    pub url: String,
}

/// A presigned POST: the browser posts `fields`, in this order, then the file as the last field
/// (`file`), as multipart/form-data to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub key: String,
    pub expires_at: DateTime<Utc>,
    /// The policy's conditions, as S3 will check them.
    conditions: Conditions,
}

/// What the policy binds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Conditions {
    bucket: String,
    key: String,
    content_type: String,
    size: u64,
}

/// A grant to upload `upload`, the auction having `photos` photos already, signed with
/// `signing` at `now`; or why the upload is refused before it starts.
pub fn grant(
    upload: &Upload,
    photos: usize,
    signing: &Signing,
    now: DateTime<Utc>,
) -> Result<Grant, Refusal> {
    if photos >= MAX_PHOTOS_PER_AUCTION {
        return Err(Refusal::TooManyPhotos {
            limit: MAX_PHOTOS_PER_AUCTION,
        });
    }
    if !is_accepted(&upload.content_type) {
        return Err(Refusal::UnsupportedType {
            declared: upload.content_type.clone(),
        });
    }
    if upload.size == 0 {
        return Err(Refusal::Empty);
    }
    if upload.size > MAX_ORIGINAL_BYTES {
        return Err(Refusal::TooLarge {
            size: upload.size,
            limit: MAX_ORIGINAL_BYTES,
        });
    }
    let key = upload.photo.original_key();
    let expires_at = now + TimeDelta::seconds(GRANT_SECONDS);
    let date = now.format("%Y%m%d").to_string();
    let credential = format!(
        "{}/{date}/{}/s3/aws4_request",
        signing.access_key_id, signing.region
    );
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();

    let mut fields = vec![
        ("key".to_owned(), key.clone()),
        ("Content-Type".to_owned(), upload.content_type.clone()),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
    ];
    if let Some(token) = &signing.session_token {
        fields.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    // Every field the form sends must match a condition, or S3 refuses the form; the size is
    // bound to exactly what was declared, so the 10 MiB cap checked above is the one S3 holds.
    let mut conditions: Vec<Value> = vec![
        json!({ "bucket": signing.bucket }),
        json!(["content-length-range", upload.size, upload.size]),
    ];
    conditions.extend(fields.iter().map(|(name, value)| json!({ name: value })));
    let policy = json!({
        "expiration": expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": conditions,
    });
    let policy = STANDARD.encode(policy.to_string());
    let signature = sign(&policy, &signing.secret_access_key, &signing.region, now);
    fields.push(("policy".to_owned(), policy));
    fields.push(("x-amz-signature".to_owned(), signature));
    Ok(Grant {
        url: signing.url.clone(),
        fields,
        key: key.clone(),
        expires_at,
        conditions: Conditions {
            bucket: signing.bucket.clone(),
            key,
            content_type: upload.content_type.clone(),
            size: upload.size,
        },
    })
}

/// SigV4 of a POST policy: the string to sign is the base64 policy itself.
fn sign(policy: &str, secret: &str, region: &str, now: DateTime<Utc>) -> String {
    let key =
        aws_sigv4::sign::v4::generate_signing_key(secret, SystemTime::from(now), region, "s3");
    aws_sigv4::sign::v4::calculate_signature(key, policy.as_bytes())
}

impl Grant {
    /// The field's value, if the form has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether S3 would store a file of `size` bytes posted with `content_type` to `bucket` at
    /// `at`: the policy's conditions as S3 applies them, for the in-memory twin (the emulator
    /// does not apply them).
    pub fn admits(&self, bucket: &str, content_type: &str, size: u64, at: DateTime<Utc>) -> bool {
        let bound = &self.conditions;
        at < self.expires_at
            && bucket == bound.bucket
            && content_type == bound.content_type
            && size == bound.size
    }

    /// The policy document, decoded: what S3 checks the form against.
    pub fn policy(&self) -> Option<Value> {
        let encoded = self.field("policy")?;
        let bytes = STANDARD.decode(encoded).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
