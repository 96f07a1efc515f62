//! The photos bucket in S3: originals, thumbnails and refusals under the keys of
//! [`crate::keys`], and grants signed with the client's own credentials.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use conventions::Failure;
use events::AuctionId;

use crate::error::{PhotoError, Refusal};
use crate::grant::{Grant, Signing, Upload, grant};
use crate::keys::{Photo, photo_of_thumbnail, thumbnails_prefix};
use crate::limits::THUMBNAIL_CONTENT_TYPE;
use crate::ports::{Grants, Head, Originals, Refusals, Thumbnails};

#[derive(Debug, Clone)]
pub struct S3Photos {
    client: Client,
    bucket: String,
    credentials: SharedCredentialsProvider,
}

impl S3Photos {
    /// On the bucket `bucket`, signing grants with `credentials`: the ones the client was built
    /// with (`SdkConfig::credentials_provider`), since a built client no longer hands out its
    /// own.
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            credentials,
        }
    }

    /// On the bucket `PHOTOS_BUCKET` names, with the standard AWS environment's client (path
    /// style on an emulator) and credentials.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, PhotoError> {
        let credentials = sdk.credentials_provider().ok_or_else(|| {
            PhotoError::Storage("the AWS environment gives no credentials to sign grants".into())
        })?;
        let client = Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(conventions::s3_path_style())
                .build(),
        );
        Ok(Self::new(
            client,
            conventions::names::PHOTOS_BUCKET.from_env(),
            credentials,
        ))
    }

    /// The bucket's URL as the client resolves it (virtual-hosted in AWS, path-style on an
    /// emulator), taken from a presigned request so that it is the SDK's resolution, not a
    /// second one here. Presigning is local: nothing is sent.
    async fn bucket_url(&self) -> Result<String, PhotoError> {
        let expires = PresigningConfig::expires_in(Duration::from_secs(60))
            .map_err(|e| PhotoError::Storage(e.to_string()))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key("k")
            .presigned(expires)
            .await
            .map_err(|e| PhotoError::Storage(conventions::error_chain(&e)))?;
        let uri = presigned.uri();
        let path = uri.split_once('?').map_or(uri, |(path, _)| path);
        Ok(path.strip_suffix('k').unwrap_or(path).to_owned())
    }

    async fn signing(&self) -> Result<Signing, PhotoError> {
        // The provider's own errors do not say whether trying again helps; the usual cause in a
        // Lambda is the credentials endpoint being slow, so it is treated as transient.
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| PhotoError::Unavailable(conventions::error_chain(&e)))?;
        let region = self
            .client
            .config()
            .region()
            .ok_or_else(|| PhotoError::Storage("the S3 client has no region".to_owned()))?;
        Ok(Signing {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            region: region.to_string(),
            bucket: self.bucket.clone(),
            url: self.bucket_url().await?,
        })
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PhotoError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match got {
            Ok(output) => {
                let bytes = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| PhotoError::Unavailable(conventions::error_chain(&e)))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => Ok(None),
            Err(error) => Err(Failure::of(&error).into()),
        }
    }

    async fn write(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PhotoError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| PhotoError::from(Failure::of(&e)))?;
        Ok(())
    }
}

impl Grants for S3Photos {
    async fn grant(
        &self,
        upload: &Upload,
        photos: usize,
        now: DateTime<Utc>,
    ) -> Result<Grant, PhotoError> {
        let signing = self.signing().await?;
        Ok(grant(upload, photos, &signing, now)?)
    }
}

impl Originals for S3Photos {
    async fn head(&self, photo: &Photo) -> Result<Option<Head>, PhotoError> {
        let asked = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(photo.original_key())
            .send()
            .await;
        match asked {
            Ok(output) => Ok(Some(Head {
                // A negative length is no length S3 sends; reading it as 0 refuses the object
                // as empty rather than trusting it.
                size: output
                    .content_length()
                    .and_then(|length| u64::try_from(length).ok())
                    .unwrap_or(0),
                content_type: output.content_type().unwrap_or_default().to_owned(),
            })),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(error) => Err(Failure::of(&error).into()),
        }
    }

    async fn get(&self, photo: &Photo) -> Result<Option<Vec<u8>>, PhotoError> {
        self.read(&photo.original_key()).await
    }

    async fn delete(&self, photo: &Photo) -> Result<(), PhotoError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(photo.original_key())
            .send()
            .await
            .map_err(|e| PhotoError::from(Failure::of(&e)))?;
        Ok(())
    }
}

impl Thumbnails for S3Photos {
    async fn put(&self, photo: &Photo, jpeg: Vec<u8>) -> Result<(), PhotoError> {
        self.write(&photo.thumbnail_key(), jpeg, THUMBNAIL_CONTENT_TYPE)
            .await
    }

    async fn get(&self, photo: &Photo) -> Result<Option<Vec<u8>>, PhotoError> {
        self.read(&photo.thumbnail_key()).await
    }

    async fn photos(&self, auction: AuctionId) -> Result<Vec<Photo>, PhotoError> {
        let mut photos = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(thumbnails_prefix(auction))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| PhotoError::from(Failure::of(&e)))?;
            photos.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().and_then(photo_of_thumbnail)),
            );
        }
        Ok(photos)
    }
}

impl Refusals for S3Photos {
    async fn record(&self, photo: &Photo, refusal: &Refusal) -> Result<(), PhotoError> {
        self.write(
            &photo.refusal_key(),
            refusal.to_stored()?,
            "application/json",
        )
        .await
    }

    async fn find(&self, photo: &Photo) -> Result<Option<Refusal>, PhotoError> {
        self.read(&photo.refusal_key())
            .await?
            .map(|bytes| Refusal::from_stored(&bytes))
            .transpose()
    }
}
