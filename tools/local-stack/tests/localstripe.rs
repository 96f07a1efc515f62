//! The stack's localstripe: bound to 127.0.0.1 only, described by the variables the platform's
//! Stripe client reads, private to its stack, and kept in the data directory when there is one.
//! (What it answers, Connect and idempotency included, is tested through the client in
//! adapters/stripe-api/tests/localstripe.rs.)

// Linux only: the listening sockets are read from /proc/net.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use local_stack::{LOCALSTRIPE_SECRET_KEY, LocalStack, LocalStripe, Service, StartOptions, Tools};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn scratch_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("local-stack-localstripe-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn started(data_dir: Option<PathBuf>) -> LocalStack {
    let tools = Tools::from_env();
    tools.install().await.unwrap();
    let mut options = StartOptions::new(tools);
    options.data_dir = data_dir;
    LocalStack::start(&options).await.unwrap()
}

/// One call to localstripe: the status code and the JSON body.
async fn call(
    stripe: &LocalStripe,
    method: &str,
    path: &str,
    key: Option<&str>,
    form: &str,
) -> (u16, serde_json::Value) {
    let address = stripe.api_base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let authorization = key
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

async fn create_customer(stripe: &LocalStripe) -> String {
    let (status, customer) = call(
        stripe,
        "POST",
        "/v1/customers",
        Some(&stripe.secret_key),
        "name=Ada",
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    customer["id"].as_str().unwrap().to_owned()
}

async fn customer_status(stripe: &LocalStripe, id: &str) -> u16 {
    call(
        stripe,
        "GET",
        &format!("/v1/customers/{id}"),
        Some(&stripe.secret_key),
        "",
    )
    .await
    .0
}

/// The local addresses listening on `port`, from /proc/net/tcp and tcp6 (hex, as the kernel
/// writes them: 0100007F is 127.0.0.1).
fn listening_addresses(port: u16) -> Vec<String> {
    let port = format!("{port:04X}");
    let mut addresses = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let listening = *state == "0A";
            if let Some((address, local_port)) = local.split_once(':')
                && listening
                && local_port == port
            {
                addresses.push(address.to_owned());
            }
        }
    }
    addresses
}

#[tokio::test]
async fn given_two_stacks_then_each_localstripe_listens_on_loopback_only_with_its_own_state_and_secret()
 {
    // Given two stacks started side by side
    let (first, second) = tokio::join!(started(None), started(None));
    let stripe = first.localstripe().clone();

    // Then localstripe listens on 127.0.0.1 only (localstripe's own start binds ::)
    let port: u16 = stripe.api_base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(stripe.api_base.starts_with("http://127.0.0.1:"));
    assert_eq!(listening_addresses(port), ["0100007F"]);
    // And the environment names it with a test key and a fresh webhook secret per stack
    let env: HashMap<&str, String> = stripe.env().into_iter().collect();
    assert_eq!(env["STRIPE_API_BASE"], stripe.api_base);
    assert_eq!(env["STRIPE_SECRET_KEY"], LOCALSTRIPE_SECRET_KEY);
    assert!(env["STRIPE_SECRET_KEY"].starts_with("sk_test_"));
    assert!(env["STRIPE_WEBHOOK_SECRET"].starts_with("whsec_"));
    assert_ne!(
        stripe.webhook_secret,
        second.localstripe().webhook_secret,
        "two stacks share a webhook secret"
    );
    // And it wants the key, as Stripe does
    let (status, _) = call(&stripe, "GET", "/v1/accounts", None, "").await;
    assert_eq!(status, 401);

    // When a customer is created on the first stack
    let customer = create_customer(&stripe).await;

    // Then the second stack's localstripe does not have it (no shared /tmp pickle)
    assert_eq!(customer_status(&stripe, &customer).await, 200);
    assert_eq!(customer_status(second.localstripe(), &customer).await, 404);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test]
async fn given_a_data_directory_then_a_killed_localstripe_restarts_with_its_objects_and_without_one_empty()
 {
    // Given a stack with a data directory and one without, each with a customer
    let dir = scratch_dir();
    let (mut durable, mut volatile) = tokio::join!(started(Some(dir.clone())), started(None));
    let kept = create_customer(durable.localstripe()).await;
    let lost = create_customer(volatile.localstripe()).await;

    // When both localstripes are killed with SIGKILL and restarted
    for stack in [&mut durable, &mut volatile] {
        stack.kill(Service::Stripe).await.unwrap();
        stack.restart(Service::Stripe).await.unwrap();
    }

    // Then only the one with a data directory still has its customer, kept in that directory
    assert_eq!(customer_status(durable.localstripe(), &kept).await, 200);
    assert_eq!(customer_status(volatile.localstripe(), &lost).await, 404);
    assert!(dir.join("localstripe-state.pickle").is_file());
    durable.stop().await.unwrap();
    volatile.stop().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
