//! The mail service: Amazon SES's v2 API, one `SendEmail` per notice (simple content: a
//! subject, a plain-text and an HTML body, and the one-click unsubscribe headers of RFC 8058,
//! which large mailbox providers ask bulk senders for).

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use conventions::Failure;

use crate::compose::Email;
use crate::error::EmailError;
use crate::ports::SendEmail;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    /// Sending as `from` (an address SES verified, or one of a verified domain).
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    /// Sending as `EMAIL_FROM`.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::EMAIL_FROM.from_env())
    }
}

fn utf8(text: &str) -> Result<Content, EmailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| EmailError::Refused(e.to_string()))
}

fn header(name: &str, value: &str) -> Result<MessageHeader, EmailError> {
    MessageHeader::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| EmailError::Refused(e.to_string()))
}

impl SendEmail for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, EmailError> {
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .headers(header(
                "List-Unsubscribe",
                &format!("<{}>", email.one_click_unsubscribe),
            )?)
            .headers(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click",
            )?)
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| EmailError::from(Failure::of(&e)))?;
        Ok(output.message_id.unwrap_or_default())
    }
}
