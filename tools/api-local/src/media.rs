//! The thumbnails of item photos, served from the photos bucket as CloudFront serves them in
//! AWS (`MEDIA_URL` points here locally): `GET /thumbnails/{auctionId}/{photoId}.jpg` and
//! nothing else of the bucket (originals and refusals are never served).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use uuid::Uuid;

use api::error::ApiError;

#[derive(Clone)]
struct Bucket {
    s3: aws_sdk_s3::Client,
    name: String,
}

/// The thumbnails of the bucket `bucket`.
pub fn media_router(s3: aws_sdk_s3::Client, bucket: String) -> Router {
    Router::new()
        .route("/thumbnails/{auction}/{file}", get(thumbnail))
        .with_state(Bucket { s3, name: bucket })
}

async fn thumbnail(
    State(bucket): State<Bucket>,
    Path((auction, file)): Path<(String, String)>,
) -> Response {
    // The key is rebuilt from parsed ids, so no other object can be named through the path.
    let ids = (
        Uuid::parse_str(&auction),
        file.strip_suffix(".jpg").map(Uuid::parse_str),
    );
    let (Ok(auction), Some(Ok(photo))) = ids else {
        return ApiError::NoRoute.into_response();
    };
    let key = format!("thumbnails/{auction}/{photo}.jpg");
    let got = bucket
        .s3
        .get_object()
        .bucket(&bucket.name)
        .key(&key)
        .send()
        .await;
    match got {
        Ok(object) => match object.body.collect().await {
            Ok(bytes) => (
                [
                    (header::CONTENT_TYPE, "image/jpeg"),
                    // A thumbnail never changes under its key.
                    (header::CACHE_CONTROL, "public, max-age=86400, immutable"),
                ],
                bytes.into_bytes(),
            )
                .into_response(),
            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
        },
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            ApiError::NoRoute.into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
