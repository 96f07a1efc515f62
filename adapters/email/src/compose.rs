//! A notification as an email: subject, plain text and HTML, with the links back to the
//! auction, to the preferences and to unsubscribe. Pure.

use read_models::notifications::{Kind, Notification};

use crate::topic::Topic;

/// One email, ready for the mail service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click unsubscribe URL (RFC 8058) for the `List-Unsubscribe` header.
    pub one_click_unsubscribe: String,
}

/// Where the links in an email point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// The web page (`WEB_URL`), ending in `/`.
    pub web: String,
    /// The public HTTP API (`API_URL`), without a trailing `/`.
    pub api: String,
}

impl Links {
    pub fn new(web: &str, api: &str) -> Self {
        Self {
            web: format!("{}/", web.trim().trim_end_matches('/')),
            api: api.trim().trim_end_matches('/').to_owned(),
        }
    }

    /// From `WEB_URL` and `API_URL` (the local platform serves both at one address).
    pub fn from_env() -> Self {
        let web = conventions::names::WEB_URL.from_env();
        let api = std::env::var(conventions::names::API_URL.env)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| web.clone());
        Self::new(&web, &api)
    }
}

/// The email telling `to` about `notification`; `token` is its signed unsubscribe token.
pub fn compose(notification: &Notification, to: &str, token: &str, links: &Links) -> Email {
    let topic = Topic::of(notification.kind);
    let title = one_line(&notification.auction_title);
    let auction = format!("{}#/auctions/{}", links.web, notification.auction_id);
    let unsubscribe = format!("{}#/unsubscribe/{token}", links.web);
    let preferences = format!("{}#/preferences", links.web);
    let sentence = one_line(&notification.text);
    let why = format!(
        "You get this email because you asked for emails {}.",
        topic.describe()
    );
    let text = format!(
        "{sentence}\n\nSee the auction: {auction}\n\n--\n{why}\n\
         Stop these emails: {unsubscribe}\nChoose which emails you get: {preferences}\n"
    );
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5\">\n\
         <p>{sentence}</p>\n<p><a href=\"{auction}\">See the auction</a></p>\n\
         <hr>\n<p style=\"font-size: smaller; color: #555\">{why}<br>\n\
         <a href=\"{unsubscribe}\">Stop these emails</a> · \
         <a href=\"{preferences}\">Choose which emails you get</a></p>\n</body></html>\n",
        subject = escape(&subject(notification.kind, &title)),
        sentence = escape(&sentence),
        auction = escape(&auction),
        why = escape(&why),
        unsubscribe = escape(&unsubscribe),
        preferences = escape(&preferences),
    );
    Email {
        to: to.to_owned(),
        subject: subject(notification.kind, &title),
        text,
        html,
        one_click_unsubscribe: format!("{}/unsubscribe?token={token}", links.api),
    }
}

fn subject(kind: Kind, title: &str) -> String {
    match kind {
        Kind::Outbid => format!("You were outbid on “{title}”"),
        Kind::Won => format!("You won “{title}”"),
        Kind::Lost => format!("“{title}” has ended"),
        Kind::Sold => format!("Your item “{title}” sold"),
        Kind::Unsold => format!("Your item “{title}” did not sell"),
        Kind::PaymentConfirmed => format!("Your payment for “{title}” went through"),
        Kind::PaymentFailed => format!("Your payment for “{title}” failed"),
        Kind::PaymentReceived => format!("The buyer paid for “{title}”"),
        Kind::BuyerPaymentFailed => format!("The buyer's payment for “{title}” failed"),
        Kind::OfferedToYou => format!("“{title}” is offered to you"),
        Kind::Cancelled => format!("“{title}” was cancelled"),
        Kind::EndingSoon => format!("“{title}” ends soon"),
    }
}

/// Text on one line: a title with a line break must not start a header of its own.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use events::{AuctionId, UserId};
    use uuid::Uuid;

    use super::*;

    fn outbid(title: &str) -> Notification {
        Notification {
            notification_id: "n1".to_owned(),
            recipient: UserId::try_from("subject:1").unwrap(),
            kind: Kind::Outbid,
            auction_id: AuctionId(Uuid::nil()),
            auction_title: title.to_owned(),
            amount: None,
            occurred_at: Utc::now(),
            aggregate_version: 3,
            event_id: Uuid::nil(),
            text: format!("You were outbid on “{title}”: the price is now 15.00 EUR."),
        }
    }

    #[test]
    fn an_outbid_email_links_the_auction_and_its_unsubscribe_link_in_both_parts() {
        // Given an outbid notification and the platform's links
        let links = Links::new("http://127.0.0.1:8080", "http://127.0.0.1:8080/");

        // When it is composed for Ann
        let email = compose(&outbid("Red bike"), "ann@example.com", "v1.a.b", &links);

        // Then both parts say it and link back, and the one-click URL is the API's
        assert_eq!(email.subject, "You were outbid on “Red bike”");
        for part in [&email.text, &email.html] {
            assert!(part.contains("the price is now 15.00 EUR"), "{part}");
            assert!(
                part.contains(
                    "http://127.0.0.1:8080/#/auctions/00000000-0000-0000-0000-000000000000"
                )
            );
            assert!(part.contains("http://127.0.0.1:8080/#/unsubscribe/v1.a.b"));
            assert!(part.contains("when you are outbid"));
        }
        assert_eq!(
            email.one_click_unsubscribe,
            "http://127.0.0.1:8080/unsubscribe?token=v1.a.b"
        );
    }

    #[test]
    fn a_title_can_neither_inject_markup_nor_break_the_subject_line() {
        let email = compose(
            &outbid("<script>x</script>\r\nBcc: eve@example.com"),
            "ann@example.com",
            "t",
            &Links::new("http://w", "http://a"),
        );
        assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("&lt;script&gt;"));
    }
}
