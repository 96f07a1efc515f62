//! `local-stack`: install, start and provision the local emulators; print their environment;
//! run a command against them; build the Lambda artifacts with the pinned cargo-lambda.
//!
//! stdout carries only the environment lines (`KEY=VALUE`), so that it can be captured or
//! sourced; everything else is logged to stderr (filter with `LOCAL_STACK_LOG`, default `info`).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use local_stack::{
    Clients, LocalStack, Provisioned, ResourceNames, StartOptions, Tools, provision,
};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

/// Lists the emulators' process ids, so that a caller can check that none outlives the launcher.
const PIDS_VAR: &str = "LOCAL_STACK_PIDS";
/// How long `exec`'s command gets to exit after a forwarded signal before it is killed.
const COMMAND_STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(
    name = "local-stack",
    about = "Installs, starts and provisions the local emulators (DynamoDB Local, moto's SQS, localstripe)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install DynamoDB Local, moto's server and localstripe into $LOCAL_STACK_HOME (default:
    /// .local).
    Install,
    /// Install if needed, start, provision, print the environment, run until Ctrl-C or SIGTERM.
    Up(UpArgs),
    /// Create the platform's tables and queues wherever the standard AWS environment points
    /// (e.g. LocalStack with AWS_ENDPOINT_URL=http://localhost:4566), print the environment.
    Provision,
    /// Build every Lambda binary's artifact (target/lambda/<binary>/bootstrap) with the pinned
    /// cargo-lambda: `cargo lambda build --compiler cargo --bin <each *-lambda>`, the dev profile
    /// unless ARGS say otherwise.
    BuildLambdas {
        /// More arguments for `cargo lambda build`, after `--` (e.g. `-- --release`; a
        /// `--compiler` of your own replaces `--compiler cargo`).
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// As `up`, then run CMD with the stack's environment, stop, and exit with CMD's status.
    Exec {
        #[command(flatten)]
        up: UpArgs,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Keep the emulators' data in DIR between runs and across crashes: DynamoDB Local's tables,
    /// moto's queues with their messages, localstripe's objects (default: in memory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Also write the environment lines to FILE; it is removed when the stack stops.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Seconds each emulator gets to answer its first API call.
    #[arg(long, value_name = "SECS", default_value_t = local_stack::DEFAULT_READY_TIMEOUT.as_secs())]
    ready_timeout: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            // The chain, without the backtrace anyhow adds when RUST_BACKTRACE is set: these
            // errors are for the person at the terminal, and each says what to do.
            eprintln!("local-stack: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_env_filter(
            EnvFilter::try_from_env("LOCAL_STACK_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let tools = Tools::from_env();
    match cli.command {
        Command::Install => {
            tools
                .install()
                .await
                .context("installing the local stack")?;
            tracing::info!(home = %tools.home().display(), "the local stack is installed");
            Ok(ExitCode::SUCCESS)
        }
        Command::Up(args) => up(&tools, &args).await,
        Command::Provision => provision_elsewhere().await,
        Command::Exec { up, command } => exec(&tools, &up, &command).await,
        Command::BuildLambdas { args } => build_lambdas(&tools, &args).await,
    }
}

/// `cargo lambda build` of every Lambda binary, with the pinned cargo-lambda, in the workspace.
async fn build_lambdas(tools: &Tools, args: &[OsString]) -> anyhow::Result<ExitCode> {
    tools
        .install()
        .await
        .context("installing the local stack (cargo-lambda)")?;
    let manifest = local_stack::lambda::workspace_manifest();
    let workspace = manifest
        .parent()
        .context("the workspace manifest has no folder")?;
    let mut command = tokio::process::Command::new(tools.cargo_lambda());
    command.args(["lambda", "build"]);
    // The host's own compiler and linker, as every other build of the workspace uses: the
    // artifacts then share their dependencies with those builds (`cargo-zigbuild`, the default,
    // links with zig and is only needed to cross-compile).
    let own_compiler = args.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg == "--compiler" || arg.starts_with("--compiler="))
    });
    if !own_compiler {
        command.args(["--compiler", "cargo"]);
    }
    // The triple the rest of the build names (scripts/test sets it), so that the artifacts
    // reuse its compiled dependencies; cargo-lambda would otherwise pick the host's.
    let own_target = args.iter().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg.starts_with("--target") || arg == "--arm64" || arg == "--x86-64")
    });
    if let Some(target) = std::env::var_os("CARGO_BUILD_TARGET").filter(|t| !t.is_empty())
        && !own_target
    {
        command.arg("--target").arg(target);
    }
    for binary in local_stack::lambda::LAMBDA_BINARIES {
        command.args(["--bin", binary]);
    }
    command.args(args).current_dir(workspace);
    // zig (`python-zig`) is found on PATH when cargo-lambda cross-compiles.
    let mut path = vec![tools.cargo_lambda_bin_dir()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    command.env(
        "PATH",
        std::env::join_paths(path).context("building PATH for cargo-lambda")?,
    );
    for name in cargo_run_variables() {
        command.env_remove(name);
    }
    tracing::info!(workspace = %workspace.display(), "building the Lambda artifacts with cargo-lambda");
    let status = command
        .status()
        .await
        .with_context(|| format!("running {}", tools.cargo_lambda().display()))?;
    Ok(exit_code(status))
}

/// Provisions against whatever the AWS environment names: the same resources the local stack
/// gets, for LocalStack users (and for trying the definitions against an account you own).
async fn provision_elsewhere() -> anyhow::Result<ExitCode> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = local_stack::Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        // LocalStack serves S3 on its one endpoint, path-style.
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        ),
        kms: aws_sdk_kms::Client::new(&sdk),
        ses: aws_sdk_sesv2::Client::new(&sdk),
    };
    let names = local_stack::ResourceNames::from_env();
    let provisioned = local_stack::provision(&clients, &names)
        .await
        .context("provisioning (is AWS_ENDPOINT_URL set to your LocalStack?)")?;
    for (name, value) in provisioned.env() {
        println!("{name}={value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The stack once it answers and is provisioned, with the environment that describes it.
struct Ready {
    stack: LocalStack,
    env: Vec<(&'static str, String)>,
    env_file: Option<PathBuf>,
}

impl Ready {
    async fn stop(self) -> anyhow::Result<()> {
        if let Some(file) = &self.env_file {
            // The file describes a running stack; left behind it would point at dead ports.
            if let Err(error) = std::fs::remove_file(file) {
                tracing::warn!(file = %file.display(), %error, "could not remove the env file");
            }
        }
        self.stack
            .stop()
            .await
            .context("stopping the local stack")?;
        tracing::info!("the local stack stopped");
        Ok(())
    }
}

async fn up(tools: &Tools, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut signals = Signals::new()?;
    let mut ready = match start_or_interrupt(tools, args, Print::Stdout, &mut signals).await? {
        Started::Ready(ready) => ready,
        Started::Interrupted(_) => return Ok(ExitCode::SUCCESS),
    };
    let outcome = tokio::select! {
        signal = signals.recv() => Ok(signal),
        error = ready.stack.died() => Err(error),
    };
    ready.stop().await?;
    match outcome {
        Ok(signal) => {
            tracing::info!(%signal, "stopped on request");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(error).context("the local stack failed"),
    }
}

async fn exec(tools: &Tools, args: &UpArgs, command: &[OsString]) -> anyhow::Result<ExitCode> {
    let mut signals = Signals::new()?;
    let Some((program, program_args)) = command.split_first() else {
        bail!("exec needs a command after `--`");
    };
    // stdout belongs to the command here.
    let mut ready = match start_or_interrupt(tools, args, Print::Stderr, &mut signals).await? {
        Started::Ready(ready) => ready,
        Started::Interrupted(signal) => return Ok(exit_code_for_signal(signal)),
    };
    // The command stays in our process group, so that it keeps the terminal (and gets Ctrl-C
    // from it directly); a signal sent to the launcher alone is forwarded to it.
    let mut command = tokio::process::Command::new(program);
    command.args(program_args).envs(ready.env.clone());
    for name in cargo_run_variables() {
        command.env_remove(name);
    }
    let spawned = command.spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            ready.stop().await?;
            return Err(error).with_context(|| format!("running {}", Path::new(program).display()));
        }
    };
    let mut kill_at: Option<Instant> = None;
    let mut stack_failed = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            signal = signals.recv() => {
                if let Some(pid) = child.id() {
                    tracing::info!(%signal, pid, "forwarding to the command");
                    let pid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
                    if let Err(errno) = nix::sys::signal::kill(pid, signal) {
                        tracing::warn!(%errno, "could not forward the signal");
                    }
                }
                kill_at.get_or_insert_with(|| Instant::now() + COMMAND_STOP_GRACE);
            }
            () = sleep_until(kill_at) => {
                tracing::warn!("the command did not exit after the signal; killing it");
                if let Err(error) = child.start_kill() {
                    tracing::warn!(%error, "could not kill the command");
                }
                kill_at = None;
            }
            error = ready.stack.died(), if !stack_failed => {
                // The command will fail on its own against a dead endpoint; say why.
                tracing::error!("{error}");
                stack_failed = true;
            }
        }
    };
    ready.stop().await?;
    let status = status.context("waiting for the command")?;
    Ok(exit_code(status))
}

enum Started {
    Ready(Box<Ready>),
    /// A signal arrived first; whatever had started was killed as its handles dropped.
    Interrupted(Signal),
}

/// Where the environment lines go.
#[derive(Debug, Clone, Copy)]
enum Print {
    Stdout,
    Stderr,
}

async fn start_or_interrupt(
    tools: &Tools,
    args: &UpArgs,
    print: Print,
    signals: &mut Signals,
) -> anyhow::Result<Started> {
    tokio::select! {
        ready = start(tools, args, print) => ready.map(|ready| Started::Ready(Box::new(ready))),
        signal = signals.recv() => {
            tracing::info!(%signal, "interrupted while starting");
            Ok(Started::Interrupted(signal))
        }
    }
}

async fn start(tools: &Tools, args: &UpArgs, print: Print) -> anyhow::Result<Ready> {
    let started = Instant::now();
    tools
        .install()
        .await
        .context("installing the local stack")?;
    let options = StartOptions {
        tools: tools.clone(),
        data_dir: args.data_dir.clone(),
        ready_timeout: Duration::from_secs(args.ready_timeout),
    };
    let stack = LocalStack::start(&options)
        .await
        .context("starting the local stack")?;
    let clients = Clients::connect(stack.endpoints()).await;
    let names = ResourceNames::from_env();
    let provisioned = match provision(&clients, &names).await {
        Ok(provisioned) => provisioned,
        Err(error) => {
            stack.stop().await.context("stopping the local stack")?;
            return Err(error).context("provisioning the local stack");
        }
    };
    let env = environment(&stack, &provisioned);
    let mut ready = Ready {
        stack,
        env,
        env_file: None,
    };
    let lines: String = ready
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect();
    if let Some(file) = &args.env_file {
        if let Err(error) = std::fs::write(file, &lines) {
            ready.stop().await?;
            return Err(error).with_context(|| format!("writing {}", file.display()));
        }
        ready.env_file = Some(file.clone());
    }
    let written = match print {
        Print::Stdout => std::io::stdout().write_all(lines.as_bytes()),
        Print::Stderr => std::io::stderr().write_all(lines.as_bytes()),
    };
    if let Err(error) = written {
        ready.stop().await?;
        return Err(error).context("printing the environment");
    }
    tracing::info!(
        elapsed = ?started.elapsed(),
        dynamodb = %ready.stack.endpoints().dynamodb,
        sqs = %ready.stack.endpoints().sqs,
        stripe = %ready.stack.localstripe().api_base,
        "the local stack is ready"
    );
    Ok(ready)
}

fn environment(stack: &LocalStack, provisioned: &Provisioned) -> Vec<(&'static str, String)> {
    let mut env = stack.endpoints().env();
    env.extend(stack.localstripe().env());
    env.extend(provisioned.env());
    let pids: Vec<String> = stack.pids().iter().map(u32::to_string).collect();
    env.push((PIDS_VAR, pids.join(",")));
    env
}

/// The variables `cargo run` sets for the program it runs (us), which are not the user's:
/// passed on, they would make a `cargo` the command runs see another environment than a
/// `cargo` run outside, and rebuild every crate whose build script watches one of them (ring
/// watches `CARGO_PKG_NAME`, and with it half the AWS SDK is compiled again).
fn cargo_run_variables() -> Vec<std::ffi::OsString> {
    const SET_BY_CARGO_RUN: [&str; 7] = [
        "CARGO",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let name = name.to_string_lossy();
            SET_BY_CARGO_RUN.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_")
        })
        .collect()
}

/// The shell's convention: a command's own code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        (None, None) => ExitCode::FAILURE,
    }
}

fn exit_code_for_signal(signal: Signal) -> ExitCode {
    ExitCode::from(u8::try_from(128 + signal as i32).unwrap_or(1))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The signals that stop the stack: Ctrl-C, a service manager's stop, a closed terminal.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        let listen = |kind: SignalKind| signal(kind).context("listening for signals");
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::SIGINT,
            _ = self.terminate.recv() => Signal::SIGTERM,
            _ = self.hangup.recv() => Signal::SIGHUP,
        }
    }
}
