//! The deployed Lambda binaries, run locally as Lambda runs them.
//!
//! - [`RuntimeEmulator`]: cargo-lambda's `watch --only-lambda-apis` on a free port of
//!   127.0.0.1: the Lambda Runtime API (one invocation queue per function name) and the Invoke
//!   API (`POST /2015-03-31/functions/{name}/invocations`).
//! - [`LambdaFunction`]: one `*-lambda` binary (the artifact `cargo lambda build` wrote, see
//!   [`artifact`]) started with the environment Lambda would give it ([`FunctionSpec`]), its
//!   stdout and stderr captured line by line, invoked with the JSON Lambda sends, stopped with
//!   SIGTERM.
//!
//! Between each binary and the emulator sits a small front of ours (`runtime_api`): the binary
//! gets `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>` as in AWS (cargo-lambda's own address carries
//! a per-function path), and the front fills in what cargo-lambda leaves out: a real invocation
//! deadline (cargo-lambda sends the constant 600000, which a deadline-aware handler reads as
//! 1970), the function's ARN, the moment of the first `next` call (the cold start, which
//! cargo-lambda does not report) and an `/init/error` report. docs/lambda-local.md says what
//! the emulator provides and where it differs from Lambda.

mod emulator;
mod environment;
mod function;
mod http;
mod runtime_api;

pub use emulator::{Invocation, RuntimeEmulator};
pub use environment::{FunctionSpec, LogFormat, ProcessGroup, deployed_variables};
pub use function::{LambdaFunction, Stopped};

use std::path::{Path, PathBuf};

/// Every Lambda binary of the workspace: what `local-stack build-lambdas` builds and the CDK app
/// deploys (`infra/environment.json` lists the same; `tests/infra.rs` holds the two and the
/// workspace's `*-lambda` binaries together).
pub const LAMBDA_BINARIES: [&str; 12] = [
    "api-lambda",
    "digester-lambda",
    "live-broadcaster-lambda",
    "live-ws-lambda",
    "notifier-lambda",
    "parker-lambda",
    "payment-saga-lambda",
    "projector-lambda",
    "publisher-lambda",
    "reconciler-lambda",
    "scheduler-lambda",
    "thumbnailer-lambda",
];

/// Where `cargo lambda build` puts `binary`: `<target dir>/lambda/<binary>/bootstrap`, the
/// layout the CDK app deploys from.
pub fn artifact(target_dir: &Path, binary: &str) -> PathBuf {
    target_dir.join("lambda").join(binary).join("bootstrap")
}

/// The cargo target directory a binary built by cargo lives in (a test binary in
/// `<target>/[<triple>/]debug/deps`, a tool in `<target>/[<triple>/]debug`): the nearest
/// ancestor holding cargo's `CACHEDIR.TAG`, or its parent when that holds one too (cargo tags
/// a `--target` build's `<triple>` folder as well).
pub fn target_dir_of(executable: &Path) -> Option<PathBuf> {
    let tagged = |dir: &Path| dir.join("CACHEDIR.TAG").is_file();
    let nearest = executable.ancestors().skip(1).find(|dir| tagged(dir))?;
    match nearest.parent() {
        Some(parent) if tagged(parent) => Some(parent.to_path_buf()),
        _ => Some(nearest.to_path_buf()),
    }
}

/// The workspace's manifest, which cargo-lambda's emulator reads its function names from (an
/// invoked name must be a binary of it). Baked in at compile time, as `Tools`' default home is.
pub fn workspace_manifest() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .join("Cargo.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_is_where_cargo_lambda_puts_it() {
        assert_eq!(
            artifact(Path::new("/w/target"), "projector-lambda"),
            Path::new("/w/target/lambda/projector-lambda/bootstrap")
        );
    }

    #[test]
    fn the_target_dir_is_found_above_a_test_binary_with_or_without_a_triple() {
        let root = std::env::temp_dir().join(format!("local-stack-{}", uuid::Uuid::new_v4()));
        let deps = root.join("target/x86_64-unknown-linux-gnu/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/CACHEDIR.TAG"), "").unwrap();
        std::fs::write(
            root.join("target/x86_64-unknown-linux-gnu/CACHEDIR.TAG"),
            "",
        )
        .unwrap();

        assert_eq!(
            target_dir_of(&deps.join("suite-0123")),
            Some(root.join("target"))
        );
        assert_eq!(
            target_dir_of(&root.join("target/debug/local-stack")),
            Some(root.join("target"))
        );
        assert_eq!(target_dir_of(&root.join("elsewhere/bin")), None);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_workspace_manifest_is_the_workspaces() {
        let manifest = std::fs::read_to_string(workspace_manifest()).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
