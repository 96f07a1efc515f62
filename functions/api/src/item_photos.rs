//! Item photos: the seller asks for an upload grant and the browser posts the file straight to
//! S3 under it (S3 enforces the grant's type and size); the thumbnailer makes the thumbnail or
//! refuses the file; anyone reads an auction's thumbnails. The bucket is `photos`'s; the rule
//! (only the seller adds photos) is the domain's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use event_store::Meter;
use events::AuctionId;
use photos::{Grant, Photo, PhotoError, PhotoId, Refusal, Upload};
use uuid::Uuid;

use crate::bodies::{
    AddPhotoRequest, AuctionPhotos, FormField, PhotoStatus, PhotoUpload, PhotoView,
};
use crate::error::ApiError;
use crate::extract::{AuctionPath, JsonBody};
use crate::identity::Claims;
use crate::problems::Problems;
use crate::{App, Backend};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PhotoError>> + Send + 'a>>;

/// The photos bucket as the API uses it: object-safe, so that the app holds one behind an
/// `Arc<dyn>` whether it is S3 or the in-memory twin.
pub trait PhotoStore: Send + Sync {
    fn grant<'a>(
        &'a self,
        upload: &'a Upload,
        photos: usize,
        now: DateTime<Utc>,
    ) -> Boxed<'a, Grant>;
    /// The auction's photos that have a thumbnail.
    fn thumbnailed(&self, auction: AuctionId) -> Boxed<'_, Vec<Photo>>;
    /// Why the photo was refused, if it was.
    fn refusal<'a>(&'a self, photo: &'a Photo) -> Boxed<'a, Option<Refusal>>;
    /// Whether the original is there (uploaded, not yet thumbnailed or refused).
    fn uploaded<'a>(&'a self, photo: &'a Photo) -> Boxed<'a, bool>;
}

impl<T> PhotoStore for T
where
    T: photos::Grants + photos::Originals + photos::Thumbnails + photos::Refusals,
{
    fn grant<'a>(
        &'a self,
        upload: &'a Upload,
        photos: usize,
        now: DateTime<Utc>,
    ) -> Boxed<'a, Grant> {
        Box::pin(photos::Grants::grant(self, upload, photos, now))
    }

    fn thumbnailed(&self, auction: AuctionId) -> Boxed<'_, Vec<Photo>> {
        Box::pin(photos::Thumbnails::photos(self, auction))
    }

    fn refusal<'a>(&'a self, photo: &'a Photo) -> Boxed<'a, Option<Refusal>> {
        Box::pin(photos::Refusals::find(self, photo))
    }

    fn uploaded<'a>(&'a self, photo: &'a Photo) -> Boxed<'a, bool> {
        Box::pin(async move { Ok(photos::Originals::head(self, photo).await?.is_some()) })
    }
}

/// Where the thumbnails are served, and the bucket behind them.
#[derive(Clone)]
pub struct Media {
    pub store: Arc<dyn PhotoStore>,
    /// `MEDIA_URL`, without a trailing `/`.
    pub url: String,
}

impl Media {
    pub fn new(store: Arc<dyn PhotoStore>, url: &str) -> Self {
        Self {
            store,
            url: url.trim().trim_end_matches('/').to_owned(),
        }
    }

    fn thumbnail_url(&self, photo: &Photo) -> String {
        format!("{}/{}", self.url, photo.thumbnail_key())
    }
}

/// A grant to upload one photo of the auction: the seller's browser posts `fields`, then the
/// file as the field `file`, as multipart/form-data to `url` before `expiresAt`. S3 refuses a
/// file of another type or size than declared. Then `GET /auctions/{id}/photos/{photoId}` says
/// whether it became a thumbnail or was refused (not an image, too large, a decompression
/// bomb), in which case nothing of it is kept.
#[utoipa::path(post, path = "/auctions/{id}/photos", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    request_body = AddPhotoRequest,
    responses(
        (status = 201, description = "Upload within five minutes", body = PhotoUpload),
        Problems<400, 401, 403, 404, 409, 413, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn add_photo<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
    body: JsonBody<AddPhotoRequest>,
) -> Result<(StatusCode, Json<PhotoUpload>), ApiError> {
    let loaded = app
        .store
        .load::<domain::State>(auction_id, &Meter::default())
        .await?;
    domain::may_add_photos(&loaded.state, &claims.sub)?;
    let count = app.media.store.thumbnailed(auction_id).await?.len();
    let upload = Upload {
        photo: Photo {
            auction: auction_id,
            id: PhotoId::new(),
        },
        content_type: body.value.content_type.trim().to_owned(),
        size: body.value.size,
    };
    let grant = app
        .media
        .store
        .grant(&upload, count, app.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PhotoUpload {
            photo_id: upload.photo.id.0,
            url: grant.url,
            fields: grant
                .fields
                .into_iter()
                .map(|(name, value)| FormField { name, value })
                .collect(),
            expires_at: grant.expires_at,
        }),
    ))
}

/// The auction's photos, each as its thumbnail's URL.
#[utoipa::path(get, path = "/auctions/{id}/photos", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, body = AuctionPhotos),
        Problems<401, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn list_photos<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    _claims: Claims,
) -> Result<Json<AuctionPhotos>, ApiError> {
    let mut photos = app.media.store.thumbnailed(auction_id).await?;
    if photos.is_empty() {
        // No photos, or no auction: the answer differs, so ask the log only then.
        crate::watching::require_auction(&app, auction_id).await?;
    }
    photos.sort_by_key(|photo| photo.id.0);
    Ok(Json(AuctionPhotos {
        photos: photos
            .iter()
            .map(|photo| PhotoView {
                photo_id: photo.id.0,
                thumbnail_url: app.media.thumbnail_url(photo),
            })
            .collect(),
    }))
}

/// What became of an uploaded photo: `pending` (uploaded, its thumbnail not made yet), `ready`
/// (with its thumbnail's URL) or `refused` (with why; nothing of the file is kept).
#[utoipa::path(get, path = "/auctions/{id}/photos/{photoId}", tag = "auctions",
    params(
        ("id" = Uuid, Path, description = "The auction id"),
        ("photoId" = Uuid, Path, description = "The photo id its grant named"),
    ),
    responses(
        (status = 200, body = PhotoStatus),
        Problems<401, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn photo_status<B: Backend>(
    State(app): State<App<B>>,
    Path((auction, photo)): Path<(String, String)>,
    _claims: Claims,
) -> Result<Json<PhotoStatus>, ApiError> {
    let parse = |text: &str| Uuid::parse_str(text).map_err(|_| ApiError::PhotoNotFound);
    let photo = Photo {
        auction: AuctionId(parse(&auction)?),
        id: PhotoId(parse(&photo)?),
    };
    let status = |status: &str| PhotoStatus {
        photo_id: photo.id.0,
        status: status.to_owned(),
        thumbnail_url: None,
        refusal: None,
    };
    if app
        .media
        .store
        .thumbnailed(photo.auction)
        .await?
        .contains(&photo)
    {
        return Ok(Json(PhotoStatus {
            thumbnail_url: Some(app.media.thumbnail_url(&photo)),
            ..status("ready")
        }));
    }
    if let Some(refusal) = app.media.store.refusal(&photo).await? {
        return Ok(Json(PhotoStatus {
            refusal: Some(refusal.to_string()),
            ..status("refused")
        }));
    }
    if app.media.store.uploaded(&photo).await? {
        return Ok(Json(status("pending")));
    }
    Err(ApiError::PhotoNotFound)
}
