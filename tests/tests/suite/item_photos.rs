//! Item photos on moto's S3: a grant's form posted as a browser posts it, the bucket's
//! object-created notification arriving on the photo uploads queue (as the local stack and
//! the CDK app configure it), and the thumbnailer's handler run on what the queue delivers;
//! and what moto does not enforce.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use e2e::TestEnv;
use hyper::StatusCode;
use photos::testing::{jpeg, png, png_bomb, post_form};
use photos::{Grant, Grants, Photo, PhotoId, Refusal, Refusals, Thumbnails, Upload};
use tokio::time::Instant;
use uuid::Uuid;

fn new_photo() -> Photo {
    Photo {
        auction: events::AuctionId(Uuid::new_v4()),
        id: PhotoId::new(),
    }
}

async fn granted(env: &TestEnv, photo: Photo, content_type: &str, size: usize) -> Grant {
    let upload = Upload {
        photo,
        content_type: content_type.to_owned(),
        size: size as u64,
    };
    env.photos()
        .await
        .grant(&upload, 0, chrono::Utc::now())
        .await
        .unwrap()
}

async fn exists(env: &TestEnv, key: &str) -> bool {
    env.clients
        .s3
        .head_object()
        .bucket(&env.names().photos_bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// The notifications the bucket sent to this test's uploads queue for `count` originals (S3's
/// test event, sent when the notification was configured, among them), as Lambda's event
/// source mapping hands them over.
async fn notifications(env: &TestEnv, count: usize) -> SqsEvent {
    let url = &env.resources.photo_uploads.url;
    let (mut records, mut originals) = (Vec::new(), 0);
    let started = Instant::now();
    while originals < count {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{originals} of {count} notifications arrived"
        );
        let received = env
            .sqs()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages.unwrap_or_default() {
            let body = message.body.clone().unwrap_or_default();
            originals += photos::object_keys(&body).unwrap_or_default().len();
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.body = Some(body);
            records.push(record);
        }
    }
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

#[tokio::test]
async fn an_uploaded_photo_is_announced_on_the_queue_and_thumbnailed_and_a_hostile_one_deleted() {
    // Given a JPEG, a text file posing as a PNG, and a decompression bomb, each posted through
    // its grant as a browser posts the form
    let env = TestEnv::new().await;
    let (good, text, bomb) = (new_photo(), new_photo(), new_photo());
    let files = [
        (good, "image/jpeg", jpeg(1200, 900)),
        (text, "image/png", b"not a photo".to_vec()),
        (bomb, "image/png", png_bomb(20_000, 20_000)),
    ];
    for (photo, content_type, file) in files {
        let grant = granted(&env, photo, content_type, file.len()).await;
        assert_eq!(
            post_form(&grant, content_type, file).await,
            StatusCode::NO_CONTENT
        );
    }

    // When the thumbnailer handles what the bucket announced on the uploads queue
    let batch = notifications(&env, 3).await;
    let store = env.photos().await;
    let response = photos::thumbnail_uploads(&store, batch.clone()).await;

    // Then nothing is retried; the JPEG has its thumbnail and keeps its original
    assert!(response.batch_item_failures.is_empty());
    assert!(exists(&env, &good.thumbnail_key()).await);
    assert!(exists(&env, &good.original_key()).await);
    assert_eq!(store.photos(good.auction).await.unwrap(), [good]);
    // and the hostile files are gone, with why kept for the seller
    for (photo, refusal) in [
        (text, Refusal::NotAnImage),
        (
            bomb,
            Refusal::TooManyPixels {
                width: 20_000,
                height: 20_000,
                max_pixels: photos::limits::MAX_PIXELS,
                max_side: photos::limits::MAX_SIDE,
            },
        ),
    ] {
        assert!(!exists(&env, &photo.original_key()).await);
        assert!(!exists(&env, &photo.thumbnail_key()).await);
        assert_eq!(store.find(&photo).await.unwrap(), Some(refusal));
    }

    // And when the same notifications are delivered again, nothing changes
    let again = photos::thumbnail_uploads(&store, batch).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(store.photos(good.auction).await.unwrap(), [good]);
    assert!(!exists(&env, &text.original_key()).await);
}

/// What S3 refuses and moto stores: if this starts failing, moto enforces POST policies and
/// the grant can be tested against it rather than against `Grant::admits`.
#[tokio::test]
async fn moto_stores_what_the_policy_forbids() {
    // Given a grant for a 100-byte PNG
    let env = TestEnv::new().await;
    let photo = new_photo();
    let grant = granted(&env, photo, "image/png", 100).await;

    // When a larger file of another type is posted through it
    let status = post_form(&grant, "image/jpeg", png(300, 300)).await;

    // Then moto stores it (S3 would answer 403 AccessDenied: "Invalid according to Policy")
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(exists(&env, &photo.original_key()).await);
}
