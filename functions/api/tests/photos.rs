//! Item photos over the router and the in-memory bucket: the seller's upload grant, the upload
//! as S3 admits it, the thumbnailer's step, and what everyone then reads; the refusals, each
//! with a message the seller can act on, and nothing of a refused file kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{MEDIA_URL, TestApp, TestResponse as Reply, start_of_test};
use axum::http::StatusCode;
use chrono::TimeDelta;
use photos::testing::{jpeg, png_bomb};
use photos::{Photo, PhotoId, make_thumbnail};
use serde_json::{Value, json};
use uuid::Uuid;

async fn harness() -> TestApp {
    let h = TestApp::new();
    h.with_identities(&["seller-ann", "bidder-bob"]).await;
    h
}

async fn auction(h: &TestApp) -> String {
    let body = json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
    });
    let reply = h.post("seller-ann", "/auctions", body, None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.body["auctionId"].as_str().unwrap().to_owned()
}

async fn ask_grant(
    h: &TestApp,
    who: &str,
    auction: &str,
    content_type: &str,
    size: usize,
) -> Reply {
    h.post(
        who,
        &format!("/auctions/{auction}/photos"),
        json!({"contentType": content_type, "size": size}),
        None,
    )
    .await
}

/// The photo and key of the form a 201 answered.
fn granted(reply: &Reply) -> (Photo, String) {
    let body = &reply.body;
    let key = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|field| field["name"] == "key")
        .and_then(|field| field["value"].as_str())
        .unwrap()
        .to_owned();
    let photo = Photo::from_original_key(&key).unwrap();
    assert_eq!(
        photo.id,
        PhotoId(Uuid::parse_str(body["photoId"].as_str().unwrap()).unwrap())
    );
    (photo, key)
}

/// The seller uploads `file` through a fresh grant, and the thumbnailer runs on it.
async fn upload(h: &TestApp, auction: &str, content_type: &str, file: Vec<u8>) -> Photo {
    let reply = ask_grant(h, "seller-ann", auction, content_type, file.len()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let (photo, key) = granted(&reply);
    assert!(h.photos.post(&key, content_type, file, start_of_test()));
    let _ = make_thumbnail(&*h.photos, &*h.photos, &*h.photos, &key).await;
    photo
}

async fn status(h: &TestApp, photo: &Photo) -> Value {
    let reply = h
        .get(
            "bidder-bob",
            &format!("/auctions/{}/photos/{}", photo.auction, photo.id.0),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.body
}

#[tokio::test]
async fn given_a_sellers_upload_when_it_is_thumbnailed_then_everyone_reads_its_thumbnail() {
    // Given seller Ann's auction
    let h = harness().await;
    let auction = auction(&h).await;

    // When she uploads a JPEG through her grant and the thumbnailer runs
    let photo = upload(&h, &auction, "image/jpeg", jpeg(1200, 900)).await;

    // Then Bob reads it as ready, with its thumbnail where the media are served
    let thumbnail = format!("{MEDIA_URL}/thumbnails/{auction}/{}.jpg", photo.id.0);
    assert_eq!(
        status(&h, &photo).await,
        json!({"photoId": photo.id.0, "status": "ready", "thumbnailUrl": thumbnail})
    );
    let listed = h
        .get("bidder-bob", &format!("/auctions/{auction}/photos"))
        .await;
    assert_eq!(
        listed.body,
        json!({"photos": [{"photoId": photo.id.0, "thumbnailUrl": thumbnail}]})
    );
}

#[tokio::test]
async fn an_uploaded_file_that_is_no_image_or_a_bomb_is_refused_with_why_and_nothing_of_it_kept() {
    let h = harness().await;
    let auction = auction(&h).await;
    for (content_type, file, why) in [
        (
            "image/png",
            b"not a photo at all".to_vec(),
            "not a JPEG, PNG or WebP image",
        ),
        (
            "image/png",
            png_bomb(20_000, 20_000),
            "20000 x 20000 pixels",
        ),
        (
            "image/jpeg",
            photos::testing::png(64, 64),
            "declared as image/jpeg but is image/png",
        ),
    ] {
        // When the seller uploads it and the thumbnailer runs
        let photo = upload(&h, &auction, content_type, file).await;

        // Then it reads as refused, saying why, and the bucket keeps only that
        let read = status(&h, &photo).await;
        assert_eq!(read["status"], "refused", "{read}");
        assert!(read["refusal"].as_str().unwrap().contains(why), "{read}");
        assert!(h.photos.object(&photo.original_key()).is_none());
        assert!(h.photos.object(&photo.thumbnail_key()).is_none());
    }
    let listed = h
        .get("bidder-bob", &format!("/auctions/{auction}/photos"))
        .await;
    assert_eq!(listed.body, json!({"photos": []}));
}

#[tokio::test]
async fn a_declared_upload_of_the_wrong_type_or_size_is_refused_before_anything_is_signed() {
    let h = harness().await;
    let auction = auction(&h).await;
    for (content_type, size, why) in [
        ("image/gif", 1_000, "image/gif is not accepted"),
        ("text/plain", 1_000, "text/plain is not accepted"),
        ("image/jpeg", 10 * 1024 * 1024 + 1, "at most 10485760 bytes"),
        ("image/jpeg", 0, "empty"),
    ] {
        let reply = ask_grant(&h, "seller-ann", &auction, content_type, size).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type} {size}: {}",
            reply.text()
        );
        assert_eq!(reply.body["code"], "PHOTO_REFUSED");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(why),
            "{}",
            reply.text()
        );
    }
    let reply = h
        .post(
            "seller-ann",
            &format!("/auctions/{auction}/photos"),
            json!({"contentType": "image/jpeg"}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(h.photos.keys().is_empty());
}

#[tokio::test]
async fn only_the_seller_adds_photos_and_only_eight() {
    let h = harness().await;
    let auction = auction(&h).await;
    // Bob is not the seller; nobody sells an auction that does not exist
    let bobs = ask_grant(&h, "bidder-bob", &auction, "image/jpeg", 1_000).await;
    assert_eq!(
        (bobs.status, bobs.body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("NOT_SELLER"))
    );
    let nowhere = ask_grant(
        &h,
        "seller-ann",
        &Uuid::new_v4().to_string(),
        "image/jpeg",
        1_000,
    )
    .await;
    assert_eq!(
        (nowhere.status, nowhere.body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("AUCTION_NOT_FOUND"))
    );

    // Ann's eight photos are the most an auction has: a ninth grant is refused
    for _ in 0..photos::MAX_PHOTOS_PER_AUCTION {
        upload(&h, &auction, "image/jpeg", jpeg(40, 30)).await;
    }
    let ninth = ask_grant(&h, "seller-ann", &auction, "image/jpeg", 1_000).await;
    assert_eq!(ninth.status, StatusCode::CONFLICT, "{}", ninth.text());
    assert_eq!(ninth.body["code"], "TOO_MANY_PHOTOS");
    let listed = h
        .get("bidder-bob", &format!("/auctions/{auction}/photos"))
        .await;
    assert_eq!(listed.body["photos"].as_array().unwrap().len(), 8);

    // and a photo id nothing was uploaded under is not found
    let unknown = h
        .get(
            "bidder-bob",
            &format!("/auctions/{auction}/photos/{}", Uuid::new_v4()),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("PHOTO_NOT_FOUND"))
    );
}
