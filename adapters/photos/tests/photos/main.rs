//! The photos crate's tests, in one binary: the thumbnail function on real and hostile files,
//! grants and the policy S3 checks, the thumbnailing step over the in-memory twin. The S3 adapter on moto's S3 is
//! tested in the end-to-end suite (tests/tests/suite/photos.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grant;
mod step;
mod support;
mod thumbnail;
