//! Lambda benchmark (`scripts/bench lambdas`): each function binary's cold start (from process
//! start to its first call for the next invocation, which is when Lambda's init phase ends)
//! and its stripped size, beside a bare lambda_runtime binary built with the same profile
//! (`bare-lambda`).
//!
//! The binaries come from BENCH_LAMBDA_DIR (default target/bench-deploy/deploy: `scripts/bench`
//! builds them with the `deploy` profile, the one deployments use). Each binary starts with
//! the environment Lambda gives it and the local stack's names (so its configuration and
//! clients are built as in AWS), against a Runtime API endpoint of this bench's that only
//! notes the first `next` call; the process is then stopped. Environment: BENCH_COLD_STARTS
//! (default 10, starts per binary).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use benchmarks::{Better, Measurement, Percentiles, millis, ms, print_table, record};
use local_stack::lambda::LAMBDA_BINARIES;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::Command;

const BARE: &str = "bare-lambda";
/// Longer than any start-up we would accept, short enough that a binary stuck in its init
/// fails the bench instead of hanging it.
const INIT_LIMIT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<()> {
    let starts = benchmarks::setting("BENCH_COLD_STARTS", 10).max(1);
    let dir = PathBuf::from(
        std::env::var("BENCH_LAMBDA_DIR").unwrap_or_else(|_| "target/bench-deploy/deploy".into()),
    );
    println!("# Lambda benchmark");
    println!();
    println!(
        "Binaries from {}; {starts} cold starts each, against a local Runtime API endpoint.",
        dir.display()
    );
    println!();

    let bare = measure(&dir.join(BARE), starts).await?;
    let mut rows = vec![bare.row(BARE)];
    let mut figures = Vec::new();
    for function in LAMBDA_BINARIES {
        let measured = measure(&dir.join(function), starts).await?;
        rows.push(measured.row(function));
        figures.push(
            Measurement::new(format!("{function}: init p50"), ms(measured.init.p50), "ms").beside(
                Better::Lower,
                "bare lambda_runtime binary, init p50",
                ms(bare.init.p50),
            ),
        );
        figures.push(
            Measurement::new(format!("{function}: init max"), ms(measured.init.max), "ms").beside(
                Better::Lower,
                "bare lambda_runtime binary, init max",
                ms(bare.init.max),
            ),
        );
        figures.push(
            Measurement::new(
                format!("{function}: stripped size"),
                measured.megabytes(),
                "MB",
            )
            .beside(
                Better::Lower,
                "bare lambda_runtime binary, stripped size",
                bare.megabytes(),
            ),
        );
    }
    print_table(&["binary", "init p50", "init max", "stripped size"], &rows);
    for figure in &figures {
        record(figure)?;
    }
    Ok(())
}

struct Measured {
    init: Percentiles,
    stripped_bytes: u64,
}

impl Measured {
    fn megabytes(&self) -> f64 {
        self.stripped_bytes as f64 / 1_000_000.0
    }

    fn row(&self, name: &str) -> Vec<String> {
        vec![
            name.to_owned(),
            millis(self.init.p50),
            millis(self.init.max),
            format!("{:.1} MB", self.megabytes()),
        ]
    }
}

async fn measure(binary: &Path, starts: usize) -> Result<Measured> {
    if !binary.is_file() {
        bail!(
            "{} not found: `scripts/bench lambdas` builds it (cargo build --profile deploy)",
            binary.display()
        );
    }
    let mut samples = Vec::with_capacity(starts);
    for _ in 0..starts {
        samples.push(cold_start(binary).await?);
    }
    Ok(Measured {
        init: Percentiles::of(&mut samples).context("no start measured")?,
        stripped_bytes: stripped_size(binary).await?,
    })
}

/// One start: spawn the binary against a fresh endpoint, time its first request, stop it.
async fn cold_start(binary: &Path) -> Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("_HANDLER", "bootstrap")
        .envs(deployment_only())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let first_next = tokio::select! {
        accepted = tokio::time::timeout(INIT_LIMIT, first_request(&listener)) => accepted,
        exited = child.wait() => {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            bail!("{name} exited before asking for an invocation ({:?}): {stderr}", exited?);
        }
    };
    let elapsed = started.elapsed();
    child.kill().await.ok();
    let request = first_next
        .with_context(|| format!("{name} asked for no invocation within {INIT_LIMIT:?}"))??;
    if !request.starts_with("GET /2018-06-01/runtime/invocation/next") {
        bail!("{name}'s first request was not `next`: {request}");
    }
    Ok(elapsed)
}

/// What the CDK app gives the live functions that the local stack does not define (there is
/// no Cognito locally): values of the right shape, read at start-up and not called during it.
fn deployment_only() -> Vec<(&'static str, String)> {
    [
        ("COGNITO_USER_POOL_ID", "us-east-1_BenchPool"),
        ("COGNITO_CLIENT_ID", "benchclient"),
        ("LIVE_ENDPOINT_URL", "http://127.0.0.1:9"),
    ]
    .into_iter()
    .filter(|(name, _)| std::env::var_os(name).is_none())
    .map(|(name, value)| (name, value.to_owned()))
    .collect()
}

/// The first request line on the endpoint.
async fn first_request(listener: &TcpListener) -> Result<String> {
    let (mut stream, _) = listener.accept().await?;
    let mut buffer = vec![0; 1024];
    let mut read = 0;
    while !buffer[..read].contains(&b'\n') && read < buffer.len() {
        let n = stream.read(&mut buffer[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    Ok(String::from_utf8_lossy(&buffer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// The size after `strip --strip-all`, on a copy: what a deployment zip carries once symbols
/// are gone, whether or not the profile already stripped them.
async fn stripped_size(binary: &Path) -> Result<u64> {
    let copy = std::env::temp_dir().join(format!(
        "bench-stripped-{}-{}",
        std::process::id(),
        binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&copy)
        .arg(binary)
        .status()
        .await
        .context("running strip (binutils)")?;
    if !status.success() {
        bail!("strip failed on {}", binary.display());
    }
    let size = std::fs::metadata(&copy)?.len();
    std::fs::remove_file(&copy).ok();
    Ok(size)
}
