//! The API as a plain local HTTP server on 127.0.0.1, verifying HS256 tokens itself in place
//! of API Gateway's JWT authorizer, with live updates over a WebSocket (`/live`, in place of
//! API Gateway's WebSocket API) and, with `--dev`, the bidder web page and its demo sign-in,
//! and (against the local stack's Stripe) its own `POST /webhooks/stripe` registered on
//! localstripe; and `mint-token`, which signs tokens for demo users.

use std::sync::Arc;

use anyhow::{Context, bail};
use api::webhooks::WebhookSecret;
use api::{App, Authenticator, LocalJwt, SystemClock};
use api_local::{demo, local, media, stripe_webhook};
use chrono::{TimeDelta, Utc};
use clap::{Parser, Subcommand};
use events::UserId;
use payment_identities::StripeChecker;
use stripe_api::StripeClient;

#[derive(Parser)]
#[command(about = "Serve the bidder API locally (port from API_PORT, default: any free port)")]
struct Cli {
    /// Generate a signing key when LOCAL_JWT_SECRET is unset, and print it; serve the web page
    /// and the demo routes; and, when STRIPE_API_BASE is the local stack's Stripe
    /// (localstripe on this machine), register this server's POST /webhooks/stripe on it,
    /// signed with STRIPE_WEBHOOK_SECRET.
    #[arg(long)]
    dev: bool,
    /// Before serving, register a card and a payout account (made in Stripe, i.e. the local
    /// stack's emulator) for the demo users, then create three demo auctions (one with bids,
    /// one ending soon, one with a buy-now price) through the API's own routes, and print their
    /// ids.
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a token signed with LOCAL_JWT_SECRET for a demo user.
    MintToken {
        #[arg(long)]
        sub: String,
        /// A group claim (repeatable), e.g. admin.
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
    },
}

const SECRET_VAR: &str = "LOCAL_JWT_SECRET";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = std::env::var(SECRET_VAR).ok().filter(|s| !s.is_empty());
    if let Some(Command::MintToken {
        sub,
        groups,
        ttl_hours,
    }) = cli.command
    {
        let secret = secret.with_context(|| format!("{SECRET_VAR} must be set to mint tokens"))?;
        let sub = UserId::try_from(sub).context("--sub is not a valid user id")?;
        let token = LocalJwt::new(secret.as_bytes()).mint(
            &sub,
            &groups,
            Utc::now(),
            TimeDelta::hours(ttl_hours),
        )?;
        println!("{token}");
        return Ok(());
    }

    conventions::init_json_logging();
    let secret = match (secret, cli.dev) {
        (Some(secret), _) => secret,
        (None, true) => {
            // Two random UUIDs: 244 random bits, plenty for a development key.
            let secret = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            println!("{SECRET_VAR}={secret}");
            secret
        }
        (None, false) => bail!("{SECRET_VAR} is not set (or pass --dev to generate one)"),
    };
    let port: u16 = match std::env::var("API_PORT") {
        Ok(port) if !port.is_empty() => port.parse().context("API_PORT is not a port number")?,
        _ => 0,
    };
    let jwt = Arc::new(LocalJwt::new(secret.as_bytes()));
    let sdk = api::config::sdk_config().await;
    // One client, with the API's time budget, for the routes and the live connections.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    // Stripe as the local stack exports it (STRIPE_API_BASE, STRIPE_SECRET_KEY: localstripe):
    // the payment identities are checked with it, and the demo makes its objects in it.
    let stripe = StripeClient::from_env(&sdk)
        .await
        .context("the Stripe client (STRIPE_API_BASE, STRIPE_SECRET_KEY)")?;
    // Stripe's webhook: signed with STRIPE_WEBHOOK_SECRET (the local stack sets one per
    // stack), forwarded to the payments queue (PAYMENTS_QUEUE_URL).
    let webhook_secret = WebhookSecret::from_env(&sdk)
        .await
        .context("the webhook's signing secret (STRIPE_WEBHOOK_SECRET)")?;
    // One photos bucket for the API's grants and for serving thumbnails (CloudFront's part).
    let photos = Arc::new(photos::S3Photos::from_env(&sdk)?);
    let adapters = api::config::adapters(
        dynamodb.clone(),
        api::config::Tables::from_env(),
        Arc::new(StripeChecker::new(stripe.clone())),
        webhook_secret,
        aws_sdk_sqs::Client::new(&sdk),
        api::config::Buckets {
            digests: notary::config::archive_from_env(&sdk),
            photos: api::item_photos::Media::new(
                Arc::clone(&photos) as Arc<dyn api::item_photos::PhotoStore>,
                &conventions::names::MEDIA_URL.from_env(),
            ),
        },
        api::config::Keys {
            subjects: personal_data::KmsSubjectKeys::from_env(
                dynamodb.clone(),
                aws_sdk_kms::Client::new(&sdk),
            ),
            links: email::KmsLinkKey::from_env(aws_sdk_kms::Client::new(&sdk)),
        },
    );
    // The same rule for each user's writes as api-lambda's, from the same variables.
    let rate = api::throttle::WriteRate::from_env().map_err(anyhow::Error::msg)?;
    let app = App::new(
        adapters,
        Arc::new(SystemClock),
        Authenticator::LocalJwt(Arc::clone(&jwt)),
    )
    .with_write_rate(rate);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    if cli.demo {
        // Seeded before API_URL is printed, so that whoever waits for that line finds them.
        let demo = demo::seed(app.clone(), &jwt, &stripe)
            .await
            .context("seeding the demo auctions")?;
        println!("DEMO_AUCTION_WITH_BIDS={}", demo.with_bids);
        println!("DEMO_AUCTION_ENDING_SOON={}", demo.ending_soon);
        println!("DEMO_AUCTION_BUY_NOW={}", demo.buy_now);
    }
    let live = local::Live {
        subscriptions: Arc::new(live::DynamoDbSubscriptions::new(
            dynamodb,
            live::config::connections_table(),
        )),
        jwt: Arc::clone(&jwt),
        sockets: Arc::default(),
    };
    let api = api::router(app);
    let mut router = api
        .clone()
        .merge(local::live_router(live))
        .merge(media::media_router(photos));
    if cli.dev {
        if stripe_webhook::is_local(stripe.api_base()) {
            // Before API_URL is printed, so that whoever waits for that line gets the events.
            let url = register_webhook(stripe.api_base(), address).await?;
            println!("STRIPE_WEBHOOK_URL={url}");
        }
        router = router
            .merge(local::dev_router(Arc::clone(&jwt), web_dir()))
            .merge(demo::payments_router(
                api,
                Arc::clone(&jwt),
                Arc::new(stripe),
            ));
        println!("WEB_URL=http://{address}/");
    }
    println!("API_URL=http://{address}");
    tracing::info!(%address, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Registers this server's `POST /webhooks/stripe` on the local stack's Stripe at `api_base`
/// for the outcomes of payment intents (what the route acts on), signed with
/// `STRIPE_WEBHOOK_SECRET`, and returns its URL.
async fn register_webhook(api_base: &str, address: std::net::SocketAddr) -> anyhow::Result<String> {
    let var = stripe_api::webhook::WEBHOOK_SECRET_VAR;
    let secret = std::env::var(var)
        .ok()
        .filter(|secret| !secret.is_empty())
        .with_context(|| format!("{var} is not set: localstripe could not sign webhooks"))?;
    let url = format!("http://{address}{}", stripe_webhook::WEBHOOK_PATH);
    stripe_webhook::register(
        api_base,
        stripe_webhook::WEBHOOK_ID,
        &url,
        &secret,
        &api::webhooks::FORWARDED_TYPES,
    )
    .await
    .context("registering the webhook on the local stack's Stripe")?;
    Ok(url)
}

/// The bidder web page's files: `WEB_DIR`, else `web/` of the workspace this binary was built
/// from (the page is a development aid served from the checkout, not packaged).
fn web_dir() -> std::path::PathBuf {
    match std::env::var_os("WEB_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web"),
    }
}

/// Ctrl-C, or SIGTERM (what `local-stack exec` forwards): stop accepting and drain.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            // Without a SIGTERM handler, Ctrl-C still stops the server.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
