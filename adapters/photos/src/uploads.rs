//! The thumbnailer's handler: a batch of the photo uploads queue (each message an S3
//! object-created notification, or S3's test event) in, the messages to retry out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::error::PhotoError;
use crate::ports::{Originals, Refusals, Thumbnails};
use crate::step::make_thumbnail;

/// Thumbnails every original the batch's notifications name, and reports the messages to retry
/// (`ReportBatchItemFailures`): only those whose step failed for a reason a retry may fix
/// (S3 unavailable or refusing). A refused photo is an answer, not a failure: its original is
/// deleted and its refusal kept for the seller. A message that is not a notification (S3's
/// test event when the notification is configured, or anything unreadable) is logged and
/// dropped: retrying cannot make it one.
pub async fn thumbnail_uploads<S>(store: &S, event: SqsEvent) -> SqsBatchResponse
where
    S: Originals + Thumbnails + Refusals,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let keys = match message.body.as_deref().map(object_keys) {
            Some(Ok(keys)) => keys,
            Some(Err(reason)) => {
                tracing::warn!(
                    message_id = id,
                    reason,
                    "not an object-created notification; dropped"
                );
                continue;
            }
            None => {
                tracing::warn!(message_id = id, "a message without a body; dropped");
                continue;
            }
        };
        for key in keys {
            match make_thumbnail(store, store, store, &key).await {
                Ok(made) => tracing::info!(key, thumbnail = made.thumbnail_key, "thumbnail made"),
                Err(PhotoError::Refused(refusal)) => {
                    tracing::info!(key, %refusal, "photo refused; original deleted");
                }
                Err(error @ (PhotoError::NotAnOriginal(_) | PhotoError::Gone(_))) => {
                    tracing::warn!(key, %error, "nothing to thumbnail");
                }
                Err(error) => {
                    tracing::error!(message_id = id, key, %error, "thumbnail failed; the message is retried");
                    response.add_failure(id.clone());
                    break;
                }
            }
        }
    }
    response
}

/// The object keys of a notification's records, decoded (S3 sends them form-URL-encoded), or
/// none for S3's test event.
pub fn object_keys(body: &str) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if value["Event"] == "s3:TestEvent" {
        return Ok(Vec::new());
    }
    let records = value["Records"]
        .as_array()
        .ok_or_else(|| "no Records".to_owned())?;
    records
        .iter()
        .map(|record| {
            let event = record["eventName"].as_str().unwrap_or_default();
            if !event.starts_with("ObjectCreated:") {
                return Err(format!("{event} is not an object-created event"));
            }
            record["s3"]["object"]["key"]
                .as_str()
                .ok_or_else(|| "a record without s3.object.key".to_owned())
                .and_then(form_decoded)
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding, as S3 encodes keys in notifications.
fn form_decoded(text: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.bytes();
    while let Some(byte) = rest.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [rest.next(), rest.next()];
                let [Some(high), Some(low)] = hex else {
                    return Err(format!("{text}: a % without two hex digits"));
                };
                let digit = |d: u8| (d as char).to_digit(16);
                match (digit(high), digit(low)) {
                    (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                    _ => return Err(format!("{text}: a % without two hex digits")),
                }
            }
            byte => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("{text}: not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_its_decoded_keys_and_the_test_event_names_none() {
        let body = r#"{"Records":[{"eventName":"ObjectCreated:Post","s3":{"object":{"key":"originals%2Fa%2Fb+c%C3%A9"}}}]}"#;
        assert_eq!(object_keys(body).unwrap(), ["originals/a/b cé"]);
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert_eq!(object_keys(test).unwrap(), Vec::<String>::new());
        for bad in [
            "not json",
            "{}",
            r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"object":{"key":"k"}}}]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"bad%2"}}}]}"#,
        ] {
            assert!(object_keys(bad).is_err(), "{bad}");
        }
    }
}
