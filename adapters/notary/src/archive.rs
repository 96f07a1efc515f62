//! The archive in S3: a bucket with Object Lock in compliance mode, written with
//! `If-None-Match: *` so that no key is ever written twice.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::NotaryError;
use crate::ports::{Archive, Written};

#[derive(Debug, Clone)]
pub struct S3Archive {
    client: Client,
    bucket: String,
}

impl S3Archive {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl Archive for S3Archive {
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<Written, NotaryError> {
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Written::New),
            // 412: the key exists. (A 409 is a concurrent conditional write still in flight:
            // unavailable, and the run is tried again.)
            Err(error) if error.raw_response().map(|r| r.status().as_u16()) == Some(412) => {
                Ok(Written::Existing)
            }
            Err(error) => Err(NotaryError::unavailable("S3", DisplayErrorContext(&error))),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, NotaryError> {
        let asked = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match asked {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) => Err(NotaryError::unavailable("S3", DisplayErrorContext(&error))),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, NotaryError> {
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
                    .map_err(|e| NotaryError::unavailable("S3", e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(NotaryError::unavailable("S3", DisplayErrorContext(&error))),
        }
    }
}
