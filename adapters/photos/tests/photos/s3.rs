//! The S3 adapter on moto's S3: a grant's form posted as a browser posts it, the step over the
//! bucket, and what moto does not enforce. Needs an emulator, so ignored by default:
//!
//! `PHOTOS_S3_ENDPOINT=http://127.0.0.1:PORT cargo test -p photos --test photos s3 -- --ignored`

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use photos::{
    Grant, Grants, Photo, PhotoError, PhotoId, Refusal, Refusals, S3Photos, Thumbnails, Upload,
    make_thumbnail,
};
use uuid::Uuid;

use crate::support::{jpeg, png};

const NEEDS_MOTO: &str = "needs moto's S3 at PHOTOS_S3_ENDPOINT";

struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
    photos: S3Photos,
}

async fn bucket() -> Bucket {
    let endpoint = std::env::var("PHOTOS_S3_ENDPOINT").expect(NEEDS_MOTO);
    // Dummy credentials: the emulator checks none.
    let credentials =
        SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "tests"));
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let name = format!("photos-{}", Uuid::new_v4());
    client.create_bucket().bucket(&name).send().await.unwrap();
    Bucket {
        photos: S3Photos::new(client.clone(), &name, credentials),
        name,
        client,
    }
}

fn new_photo() -> Photo {
    Photo {
        auction: events::AuctionId(Uuid::new_v4()),
        id: PhotoId::new(),
    }
}

/// Posts the grant's form with `file` as `content_type`, as a browser does; the status.
async fn post(grant: &Grant, content_type: &str, file: Vec<u8>) -> StatusCode {
    let boundary = "photos-test-boundary";
    let mut body = Vec::new();
    for (name, value) in &grant.fields {
        let value = if name == "Content-Type" {
            content_type
        } else {
            value
        };
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = hyper::Request::post(&grant.url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = http.request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

async fn granted(bucket: &Bucket, photo: Photo, content_type: &str, size: usize) -> Grant {
    let upload = Upload {
        photo,
        content_type: content_type.to_owned(),
        size: size as u64,
    };
    bucket.photos.grant(&upload, 0, Utc::now()).await.unwrap()
}

async fn exists(bucket: &Bucket, key: &str) -> bool {
    bucket
        .client
        .head_object()
        .bucket(&bucket.name)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
#[ignore = "needs moto's S3 at PHOTOS_S3_ENDPOINT"]
async fn a_photo_posted_through_its_grant_gets_a_thumbnail_in_s3() {
    // Given a JPEG posted through its grant, as a browser posts the form
    let bucket = bucket().await;
    let photo = new_photo();
    let original = jpeg(1200, 900);
    let grant = granted(&bucket, photo, "image/jpeg", original.len()).await;
    assert_eq!(
        post(&grant, "image/jpeg", original).await,
        StatusCode::NO_CONTENT
    );

    // When the step runs on the object-created key
    let made = make_thumbnail(&bucket.photos, &bucket.photos, &bucket.photos, &grant.key).await;

    // Then the thumbnail is in the bucket, listed for the auction, the original kept
    assert_eq!(made.unwrap().thumbnail_key, photo.thumbnail_key());
    assert!(exists(&bucket, &photo.thumbnail_key()).await);
    assert!(exists(&bucket, &grant.key).await);
    assert_eq!(bucket.photos.photos(photo.auction).await.unwrap(), [photo]);
}

#[tokio::test]
#[ignore = "needs moto's S3 at PHOTOS_S3_ENDPOINT"]
async fn a_text_file_posted_as_a_png_is_deleted_from_s3_and_its_refusal_kept() {
    // Given a text file posted through a grant for a PNG
    let bucket = bucket().await;
    let photo = new_photo();
    let text = b"not a photo".to_vec();
    let grant = granted(&bucket, photo, "image/png", text.len()).await;
    assert_eq!(
        post(&grant, "image/png", text).await,
        StatusCode::NO_CONTENT
    );

    // When the step runs, twice
    let first = make_thumbnail(&bucket.photos, &bucket.photos, &bucket.photos, &grant.key).await;
    let second = make_thumbnail(&bucket.photos, &bucket.photos, &bucket.photos, &grant.key).await;

    // Then both refuse it, the original is gone, and the refusal is what is kept
    assert_eq!(first, Err(PhotoError::Refused(Refusal::NotAnImage)));
    assert_eq!(second, first);
    assert!(!exists(&bucket, &grant.key).await);
    assert!(!exists(&bucket, &photo.thumbnail_key()).await);
    assert_eq!(
        bucket.photos.find(&photo).await.unwrap(),
        Some(Refusal::NotAnImage)
    );
}

/// What S3 refuses and moto stores: if this starts failing, moto enforces POST policies and
/// the grant can be tested against it rather than against `Grant::admits`.
#[tokio::test]
#[ignore = "needs moto's S3 at PHOTOS_S3_ENDPOINT"]
async fn moto_stores_what_the_policy_forbids() {
    // Given a grant for a 100-byte PNG
    let bucket = bucket().await;
    let grant = granted(&bucket, new_photo(), "image/png", 100).await;

    // When a larger file of another type is posted through it
    let status = post(&grant, "image/jpeg", png(300, 300)).await;

    // Then moto stores it (S3 would answer 403 AccessDenied: "Invalid according to Policy")
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(exists(&bucket, &grant.key).await);
}
