//! The notary's ports from the standard AWS environment and the platform's variables
//! (`STREAM_HEADS_TABLE`, `DIGEST_BUCKET`, `DIGEST_KEY_ID`), built once per process.

use aws_config::SdkConfig;
use conventions::names;

use crate::archive::S3Archive;
use crate::heads_table::HeadsTable;
use crate::kms::KmsSigner;

/// An S3 client for `sdk`. Path-style addressing when an endpoint is set (`AWS_ENDPOINT_URL_S3`
/// or `AWS_ENDPOINT_URL`: moto's server or LocalStack, reached by address, where a bucket
/// cannot be a host name); virtual-hosted, as AWS prefers, otherwise.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(conventions::s3_path_style())
            .build(),
    )
}

/// The heads table `STREAM_HEADS_TABLE` names.
pub fn heads_from_env(dynamodb: aws_sdk_dynamodb::Client) -> HeadsTable {
    HeadsTable::new(dynamodb, names::STREAM_HEADS_TABLE.from_env())
}

/// The archive `DIGEST_BUCKET` names.
pub fn archive_from_env(sdk: &SdkConfig) -> S3Archive {
    S3Archive::new(s3_client(sdk), names::DIGEST_BUCKET.from_env())
}

/// What the digester needs: the heads, the signing key `DIGEST_KEY_ID` names (resolved to its
/// ARN by the first run: [`KmsSigner`]), the archive.
pub struct Digester {
    pub heads: HeadsTable,
    pub signer: KmsSigner,
    pub archive: S3Archive,
}

impl Digester {
    pub fn from_env(sdk: &SdkConfig) -> Self {
        Self {
            heads: heads_from_env(aws_sdk_dynamodb::Client::new(sdk)),
            signer: KmsSigner::new(
                aws_sdk_kms::Client::new(sdk),
                names::DIGEST_KEY_ID.from_env(),
            ),
            archive: archive_from_env(sdk),
        }
    }
}
