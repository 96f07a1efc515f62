//! Signing with an asymmetric AWS KMS key (RSA_2048, SIGN_VERIFY): the private key never
//! leaves KMS; a verifier fetches the public half with `GetPublicKey`.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use crate::error::NotaryError;
use crate::ports::Signer;

#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    /// The key as configured: an id, ARN or `alias/...`.
    key: String,
    /// Its ARN, resolved on first use and kept, so that a digest names the key itself and not
    /// an alias that can be repointed. On first use rather than at start-up: a key KMS cannot
    /// find then fails that run (the function's error, which its alarm watches), not the
    /// function's init, and the next run tries again.
    key_arn: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

impl KmsSigner {
    /// The signer for `key`, resolved when it first signs.
    pub fn new(client: Client, key: impl Into<String>) -> Self {
        Self {
            client,
            key: key.into(),
            key_arn: std::sync::Arc::default(),
        }
    }

    /// The signer for `key`, resolved now: fails if KMS does not know it.
    pub async fn resolve(client: Client, key: &str) -> Result<Self, NotaryError> {
        let signer = Self::new(client, key);
        signer.arn().await?;
        Ok(signer)
    }

    async fn arn(&self) -> Result<&str, NotaryError> {
        self.key_arn
            .get_or_try_init(|| async {
                let described = self
                    .client
                    .describe_key()
                    .key_id(&self.key)
                    .send()
                    .await
                    .map_err(|e| NotaryError::unavailable("KMS", DisplayErrorContext(&e)))?;
                described
                    .key_metadata
                    .map(|metadata| metadata.arn.unwrap_or(metadata.key_id))
                    .ok_or_else(|| {
                        NotaryError::unavailable("KMS", format!("no metadata for {}", self.key))
                    })
            })
            .await
            .map(String::as_str)
    }

    /// The public key as DER SubjectPublicKeyInfo, what a verifier checks digests with.
    pub async fn public_key(&self) -> Result<Vec<u8>, NotaryError> {
        let answer = self
            .client
            .get_public_key()
            .key_id(self.arn().await?)
            .send()
            .await
            .map_err(|e| NotaryError::unavailable("KMS", DisplayErrorContext(&e)))?;
        answer
            .public_key
            .map(Blob::into_inner)
            .ok_or_else(|| NotaryError::unavailable("KMS", "no public key in the answer"))
    }
}

impl Signer for KmsSigner {
    async fn key_id(&self) -> Result<String, NotaryError> {
        self.arn().await.map(str::to_owned)
    }

    async fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, NotaryError> {
        let signed = self
            .client
            .sign()
            .key_id(self.arn().await?)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
            .send()
            .await
            .map_err(|e| NotaryError::unavailable("KMS", DisplayErrorContext(&e)))?;
        signed
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| NotaryError::unavailable("KMS", "no signature in the answer"))
    }
}
