//! The links' key in AWS KMS: an HMAC_256 key (GENERATE_VERIFY_MAC), so the secret never
//! leaves KMS: the notifier may only make MACs, the API may only check them (docs: the CDK
//! app's grants).

use aws_sdk_kms::Client;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use conventions::Failure;

use crate::error::EmailError;
use crate::links::LinkKey;
use crate::ports::Boxed;

#[derive(Debug, Clone)]
pub struct KmsLinkKey {
    client: Client,
    key_id: String,
}

impl KmsLinkKey {
    /// The key `key_id` names (an id, ARN or alias).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    /// The key `UNSUBSCRIBE_KEY_ID` names.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::UNSUBSCRIBE_KEY_ID.from_env())
    }
}

impl LinkKey for KmsLinkKey {
    fn mac<'a>(&'a self, message: &'a [u8]) -> Boxed<'a, Vec<u8>> {
        Box::pin(async move {
            let output = self
                .client
                .generate_mac()
                .key_id(&self.key_id)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(message))
                .send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            output
                .mac
                .map(Blob::into_inner)
                .ok_or_else(|| EmailError::Refused("GenerateMac answered no MAC".to_owned()))
        })
    }

    fn verify<'a>(&'a self, message: &'a [u8], mac: &'a [u8]) -> Boxed<'a, bool> {
        Box::pin(async move {
            let result = self
                .client
                .verify_mac()
                .key_id(&self.key_id)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(message))
                .mac(Blob::new(mac))
                .send()
                .await;
            match result {
                Ok(output) => Ok(output.mac_valid),
                // KMS answers a wrong MAC with an error, not with `MacValid: false`.
                Err(SdkError::ServiceError(e)) if e.err().is_kms_invalid_mac_exception() => {
                    Ok(false)
                }
                Err(error) => Err(Failure::of(&error).into()),
            }
        })
    }
}
