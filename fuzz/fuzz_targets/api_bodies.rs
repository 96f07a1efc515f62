//! The API's JSON bodies, through the router itself (in process, over a fresh in-memory store
//! with two seeded auctions): the first byte picks the route, the rest is the body.
//!
//! - `b`: `POST /auctions/{open}/bids` as `bidder-cat`, with an idempotency key;
//! - `x`: `POST /auctions/{fresh}/cancel` as the seller;
//! - anything else: `POST /auctions` as `seller-ann`, with an idempotency key.
//!
//! Properties: no panic, never a 5xx, and a 4xx is a problem document and wrote nothing.
//!
//! The harness is reused while nothing has been written (every refused input), and built afresh
//! after an input that changed the store, so each input meets the same two auctions.
#![no_main]

use std::cell::RefCell;

use auction_fuzz::Api;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static API: RefCell<Option<Api>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    let api = API
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_default();
    let (user, path, key) = match route {
        b'b' => (
            "bidder-cat",
            format!("/auctions/{}/bids", api.open),
            Some("fuzz-key"),
        ),
        b'x' => (
            "seller-ann",
            format!("/auctions/{}/cancel", api.fresh),
            None,
        ),
        _ => ("seller-ann", "/auctions".to_owned(), Some("fuzz-key")),
    };
    let before = api.writes();
    let reply = api.post(user, &path, body.to_vec(), key);
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        !reply.status.is_server_error(),
        "{} on {path}: {text}",
        reply.status
    );
    if reply.status.is_client_error() {
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/problem+json"),
            "a 4xx that is no problem document: {text}"
        );
        assert_eq!(api.writes(), before, "a refused request wrote: {text}");
    }
    if api.as_seeded() {
        API.with(|cell| *cell.borrow_mut() = Some(api));
    }
});
