//! The thumbnails of item photos, served from the photos bucket as CloudFront serves them in
//! AWS (`MEDIA_URL` points here locally): `GET /thumbnails/{auctionId}/{photoId}.jpg` and
//! nothing else of the bucket (originals and refusals are never served).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use events::AuctionId;
use photos::{Photo, PhotoId, S3Photos, Thumbnails};
use uuid::Uuid;

use api::error::ApiError;

/// The thumbnails of `bucket`.
pub fn media_router(bucket: Arc<S3Photos>) -> Router {
    Router::new()
        .route("/thumbnails/{auction}/{file}", get(thumbnail))
        .with_state(bucket)
}

async fn thumbnail(
    State(bucket): State<Arc<S3Photos>>,
    Path((auction, file)): Path<(String, String)>,
) -> Response {
    // The photo is parsed from the path, so no other object can be named through it.
    let ids = (
        Uuid::parse_str(&auction),
        file.strip_suffix(".jpg").map(Uuid::parse_str),
    );
    let (Ok(auction), Some(Ok(id))) = ids else {
        return ApiError::NoRoute.into_response();
    };
    let photo = Photo {
        auction: AuctionId(auction),
        id: PhotoId(id),
    };
    match bucket.get(&photo).await {
        Ok(Some(jpeg)) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                // A thumbnail never changes under its key.
                (header::CACHE_CONTROL, "public, max-age=86400, immutable"),
            ],
            jpeg,
        )
            .into_response(),
        Ok(None) => ApiError::NoRoute.into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
