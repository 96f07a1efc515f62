//! The photos crate's tests, in one binary: the thumbnail function on real and hostile files,
//! grants and the policy S3 checks, the thumbnailing step over the in-memory twin, and the S3
//! adapter on moto (ignored unless an endpoint is given).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grant;
mod s3;
mod step;
mod support;
mod thumbnail;
