//! Grants: what the policy binds, how it is signed, and what is refused before signing.

use chrono::TimeDelta;
use photos::limits::{MAX_ORIGINAL_BYTES, MAX_PHOTOS_PER_AUCTION};
use photos::{Grant, Refusal, Signing, Upload, grant};
use serde_json::json;

use crate::support::{at, photo};

fn signing(session_token: Option<&str>) -> Signing {
    Signing {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        session_token: session_token.map(str::to_owned),
        region: "eu-west-1".to_owned(),
        bucket: "auction-photos".to_owned(),
        url: "https://auction-photos.s3.eu-west-1.amazonaws.com/".to_owned(),
    }
}

fn upload(content_type: &str, size: u64) -> Upload {
    Upload {
        photo: photo(0xa1, 0xb2),
        content_type: content_type.to_owned(),
        size,
    }
}

fn granted(content_type: &str, size: u64) -> Grant {
    grant(&upload(content_type, size), 3, &signing(None), at()).unwrap()
}

#[test]
fn a_grant_binds_key_type_and_exact_size_for_five_minutes() {
    // Given a seller asking to upload a 2 MB PNG to an auction with three photos
    // When it is granted
    let grant = granted("image/png", 2_000_000);

    // Then the policy S3 checks names the bucket, the original's key, the declared type and
    // exactly the declared size, and expires in five minutes
    let key = "originals/00000000-0000-0000-0000-0000000000a1/00000000-0000-0000-0000-0000000000b2";
    assert_eq!(grant.key, key);
    assert_eq!(grant.expires_at, at() + TimeDelta::minutes(5));
    assert_eq!(
        grant.url,
        "https://auction-photos.s3.eu-west-1.amazonaws.com/"
    );
    let credential = "AKIAIOSFODNN7EXAMPLE/20260101/eu-west-1/s3/aws4_request";
    assert_eq!(
        grant.policy().unwrap(),
        json!({
            "expiration": "2026-01-01T00:05:00.000Z",
            "conditions": [
                { "bucket": "auction-photos" },
                ["content-length-range", 2_000_000, 2_000_000],
                { "key": key },
                { "Content-Type": "image/png" },
                { "x-amz-algorithm": "AWS4-HMAC-SHA256" },
                { "x-amz-credential": credential },
                { "x-amz-date": "20260101T000000Z" },
            ]
        })
    );
    // And the form sends each of those fields, the policy and its signature
    let names: Vec<&str> = grant.fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "Content-Type",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "policy",
            "x-amz-signature"
        ]
    );
}

#[test]
fn a_grant_is_signed_with_sigv4_over_the_policy() {
    // Given fixed credentials and time
    // When a grant is made
    let grant = granted("image/jpeg", 1234);

    // Then its signature is HMAC-SHA256 of the base64 policy under the SigV4 key for the day,
    // region and s3: the value an independent implementation (Python's hmac, the algorithm of
    // AWS's "Calculating a signature" for POST) computed for this policy
    assert_eq!(
        grant.field("x-amz-signature"),
        Some("20cc2455c4d6a32a2644bb62d06c801fc1c96800887901f8d1a796b2ee0253d0")
    );
}

#[test]
fn temporary_credentials_send_and_bind_their_token() {
    // Given a Lambda's temporary credentials
    let signing = signing(Some("session-token"));

    // When a grant is made
    let grant = grant(&upload("image/webp", 10), 0, &signing, at()).unwrap();

    // Then the token is a field and a condition, as S3 requires
    assert_eq!(grant.field("x-amz-security-token"), Some("session-token"));
    let policy = grant.policy().unwrap();
    assert!(
        policy["conditions"]
            .as_array()
            .unwrap()
            .contains(&json!({ "x-amz-security-token": "session-token" }))
    );
}

#[test]
fn what_s3_would_refuse_through_a_grant() {
    // Given a grant for a 1234-byte JPEG
    let grant = granted("image/jpeg", 1234);
    let bucket = "auction-photos";

    // When files are posted through it
    // Then only that size and type, in that bucket, before expiry, are admitted
    assert!(grant.admits(bucket, "image/jpeg", 1234, at()));
    assert!(!grant.admits(bucket, "image/jpeg", 1235, at()));
    assert!(!grant.admits(bucket, "image/jpeg", 1233, at()));
    assert!(!grant.admits(bucket, "image/png", 1234, at()));
    assert!(!grant.admits("another-bucket", "image/jpeg", 1234, at()));
    assert!(!grant.admits(bucket, "image/jpeg", 1234, at() + TimeDelta::minutes(5)));
}

#[test]
fn uploads_outside_the_limits_are_refused_before_signing() {
    // Given uploads over each limit
    let cases = [
        (
            upload("image/png", 10),
            MAX_PHOTOS_PER_AUCTION,
            Refusal::TooManyPhotos { limit: 8 },
        ),
        (
            upload("image/gif", 10),
            0,
            Refusal::UnsupportedType {
                declared: "image/gif".to_owned(),
            },
        ),
        (
            upload("image/png", MAX_ORIGINAL_BYTES + 1),
            0,
            Refusal::TooLarge {
                size: MAX_ORIGINAL_BYTES + 1,
                limit: MAX_ORIGINAL_BYTES,
            },
        ),
        (upload("image/png", 0), 0, Refusal::Empty),
    ];
    for (upload, photos, refusal) in cases {
        // When each is asked for
        let asked = grant(&upload, photos, &signing(None), at());

        // Then it is refused with its reason
        assert_eq!(asked, Err(refusal));
    }
    // And the largest allowed, the eighth photo, is granted
    assert!(
        grant(
            &upload("image/png", MAX_ORIGINAL_BYTES),
            7,
            &signing(None),
            at()
        )
        .is_ok()
    );
    assert_eq!(
        Refusal::TooManyPhotos { limit: 8 }.to_string(),
        "an auction can have at most 8 photos; remove one to add another"
    );
}
