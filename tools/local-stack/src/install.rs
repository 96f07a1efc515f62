//! Installs the emulators into the tools directory, idempotently.
//!
//! Each install ends by writing a stamp file holding exactly what was installed (the npm package
//! spec, the pinned requirements). An install is current when its stamp matches: a half-done
//! install has no stamp and is redone, and bumping a pin reinstalls without manual cleanup.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tokio::process::Command;

use crate::{Error, Result};

/// The npm package that ships DynamoDB Local's jar and native libraries. 2.9.30 ships
/// DynamoDB Local 1.25.1 (`java -jar DynamoDBLocal.jar -version`).
pub const DYNAMODB_SIMULATOR_VERSION: &str = "2.9.30";
const DYNAMODB_SIMULATOR_PACKAGE: &str = "amplify-dynamodb-simulator";

/// moto's version; every other Python package is pinned in `moto-requirements.txt`.
pub const MOTO_VERSION: &str = "5.2.5";
const MOTO_REQUIREMENTS: &str = include_str!("../moto-requirements.txt");
/// moto's server with its queues kept in a file (see the script's docstring).
const MOTO_DURABLE: &str = include_str!("../moto_durable.py");

/// localstripe's version; its dependencies are pinned in `localstripe-requirements.txt`.
pub const LOCALSTRIPE_VERSION: &str = "1.15.10";
const LOCALSTRIPE_REQUIREMENTS: &str = include_str!("../localstripe-requirements.txt");
/// localstripe on our address with its own state, plus Connect and Stripe's idempotency and
/// parameter checks (see the script's docstring).
const LOCALSTRIPE_LAUNCHER: &str = include_str!("../localstripe_launcher.py");
/// cargo-lambda's version: it builds the Lambda artifacts and emulates the Lambda Runtime API
/// the real binaries run against locally (docs/lambda-local.md). Pinned with its one dependency
/// in `cargo-lambda-requirements.txt`.
pub const CARGO_LAMBDA_VERSION: &str = "1.9.2";
const CARGO_LAMBDA_REQUIREMENTS: &str = include_str!("../cargo-lambda-requirements.txt");
/// The parts of Stripe's OpenAPI document the platform uses, vendored and checked against by the
/// `stripe-api` crate; the launcher checks requests against the same file.
const STRIPE_OPENAPI: &str =
    include_str!("../../../adapters/stripe-api/openapi/stripe-openapi.json");

/// Overrides where the tools live (default: `.local` at the workspace root, which is ignored by
/// git). Set it to share one install between clones.
const HOME_VAR: &str = "LOCAL_STACK_HOME";
const STAMP: &str = "INSTALLED";
/// How much of a failed command's output goes into the error.
const OUTPUT_TAIL_BYTES: usize = 4096;

/// The tools directory: the installed emulators and their logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    home: PathBuf,
}

impl Tools {
    /// `$LOCAL_STACK_HOME`, else `<workspace root>/.local`.
    pub fn from_env() -> Self {
        match std::env::var_os(HOME_VAR).filter(|home| !home.is_empty()) {
            Some(home) => Self::at(home),
            None => Self::at(default_home()),
        }
    }

    /// Tools under `home`. A relative path is taken from the current directory now, because the
    /// emulators run in other directories.
    pub fn at(home: impl Into<PathBuf>) -> Self {
        let home = home.into();
        let home = std::path::absolute(&home).unwrap_or(home);
        Self { home }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where the emulators' logs go, one file per emulator and launcher process.
    pub fn logs_dir(&self) -> PathBuf {
        self.home.join("logs")
    }

    fn dynamodb_dir(&self) -> PathBuf {
        self.home.join("dynamodb-local")
    }

    /// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`.
    pub(crate) fn dynamodb_emulator_dir(&self) -> PathBuf {
        self.dynamodb_dir().join("emulator")
    }

    fn moto_dir(&self) -> PathBuf {
        self.home.join("moto")
    }

    pub(crate) fn moto_server(&self) -> PathBuf {
        self.moto_dir().join("venv").join("bin").join("moto_server")
    }

    /// The virtualenv's Python, which runs [`MOTO_DURABLE`] when queues must survive a restart.
    pub(crate) fn moto_python(&self) -> PathBuf {
        self.moto_dir().join("venv").join("bin").join("python")
    }

    /// Writes [`MOTO_DURABLE`] into the moto directory (when it differs) and returns its path.
    /// Written at launch rather than at install, so that an installed stack always runs the
    /// script of the binary that starts it.
    pub(crate) fn moto_durable_script(&self) -> Result<PathBuf> {
        write_if_changed(&self.moto_dir().join("moto_durable.py"), MOTO_DURABLE)
    }

    fn localstripe_dir(&self) -> PathBuf {
        self.home.join("localstripe")
    }

    /// The localstripe virtualenv's Python, which runs [`LOCALSTRIPE_LAUNCHER`].
    pub(crate) fn localstripe_python(&self) -> PathBuf {
        self.localstripe_dir()
            .join("venv")
            .join("bin")
            .join("python")
    }

    /// Writes [`LOCALSTRIPE_LAUNCHER`] and [`STRIPE_OPENAPI`] into the localstripe directory (when
    /// they differ, at launch like [`Tools::moto_durable_script`]) and returns their paths.
    pub(crate) fn localstripe_launcher(&self) -> Result<(PathBuf, PathBuf)> {
        let dir = self.localstripe_dir();
        Ok((
            write_if_changed(&dir.join("localstripe_launcher.py"), LOCALSTRIPE_LAUNCHER)?,
            write_if_changed(&dir.join("stripe-openapi.json"), STRIPE_OPENAPI)?,
        ))
    }

    fn cargo_lambda_dir(&self) -> PathBuf {
        self.home.join("cargo-lambda")
    }

    /// The pinned `cargo-lambda` binary. Run as `cargo-lambda lambda <command>`, which is what
    /// `cargo lambda <command>` runs when it is on PATH.
    pub fn cargo_lambda(&self) -> PathBuf {
        self.cargo_lambda_dir()
            .join("venv")
            .join("bin")
            .join("cargo-lambda")
    }

    /// The virtualenv's `bin`: cargo-lambda finds zig there (`python-zig`) when it
    /// cross-compiles.
    pub fn cargo_lambda_bin_dir(&self) -> PathBuf {
        self.cargo_lambda_dir().join("venv").join("bin")
    }

    /// Whether every emulator (and cargo-lambda) is installed at the pinned versions.
    pub fn is_installed(&self) -> bool {
        stamp_matches(&self.dynamodb_dir(), &dynamodb_package_spec())
            && stamp_matches(&self.moto_dir(), MOTO_REQUIREMENTS)
            && stamp_matches(&self.localstripe_dir(), LOCALSTRIPE_REQUIREMENTS)
            && stamp_matches(&self.cargo_lambda_dir(), CARGO_LAMBDA_REQUIREMENTS)
    }

    /// Installs whatever is missing or outdated; quick (no process spawned) when all is current.
    /// The four installs are independent and run at once (each is mostly waiting on a
    /// registry). Fails with [`Error::MissingPrerequisite`] naming java, npm or python3 when one
    /// is needed and absent.
    pub async fn install(&self) -> Result<()> {
        if find_in_path("java").is_none() {
            return Err(Error::MissingPrerequisite {
                program: "java",
                purpose: "to run DynamoDB Local (Java 17)",
            });
        }
        if self.is_installed() {
            return Ok(());
        }
        create_dir(&self.home)?;
        // Two launchers on a fresh machine (say, tests started in parallel) would otherwise
        // delete each other's half-built virtualenv. The lock is released when dropped.
        let _lock = self.lock().await?;
        // All four run to their end even when one fails: a dropped install would leave its
        // npm or pip running behind a directory the next install removes.
        let (moto_dir, localstripe_dir, cargo_lambda_dir) = (
            self.moto_dir(),
            self.localstripe_dir(),
            self.cargo_lambda_dir(),
        );
        let (dynamodb, moto, localstripe, cargo_lambda) = tokio::join!(
            self.install_dynamodb_local(),
            self.install_python_tools("moto", &moto_dir, MOTO_REQUIREMENTS),
            self.install_python_tools("localstripe", &localstripe_dir, LOCALSTRIPE_REQUIREMENTS),
            self.install_python_tools("cargo-lambda", &cargo_lambda_dir, CARGO_LAMBDA_REQUIREMENTS),
        );
        dynamodb.and(moto).and(localstripe).and(cargo_lambda)
    }

    async fn lock(&self) -> Result<Flock<File>> {
        let path = self.home.join("install.lock");
        let locking = |e: std::io::Error| Error::io(format!("locking {}", path.display()), e);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(locking)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(lock),
            Err((file, Errno::EWOULDBLOCK)) => {
                tracing::info!("waiting for another local-stack install to finish");
                tokio::task::spawn_blocking(move || Flock::lock(file, FlockArg::LockExclusive))
                    .await
                    .map_err(|e| locking(std::io::Error::other(e)))?
                    .map_err(|(_, errno)| locking(errno.into()))
            }
            Err((_, errno)) => Err(locking(errno.into())),
        }
    }

    async fn install_dynamodb_local(&self) -> Result<()> {
        let dir = self.dynamodb_dir();
        let spec = dynamodb_package_spec();
        if stamp_matches(&dir, &spec) {
            tracing::debug!(path = %dir.display(), "DynamoDB Local is installed");
            return Ok(());
        }
        require(
            "npm",
            "to download DynamoDB Local (npm package amplify-dynamodb-simulator)",
        )?;
        require("tar", "to unpack DynamoDB Local")?;
        tracing::info!(
            package = %spec,
            path = %dir.display(),
            "installing DynamoDB Local from npm"
        );
        // Unpack beside the target and rename into place, so that a failed or concurrent
        // install never leaves a half-written emulator behind the final path.
        let partial = self
            .home
            .join(format!("dynamodb-local.partial-{}", std::process::id()));
        remove_dir_if_present(&partial)?;
        create_dir(&partial)?;
        // `npm pack` fetches only this package's tarball (checked against the registry's
        // integrity hash). `npm install` would also pull its 280 JavaScript dependencies
        // (350 MB, 15 s) for a wrapper we do not use: we run the jar directly.
        run(
            "DynamoDB Local",
            "npm",
            &[
                "pack".as_ref(),
                spec.as_ref(),
                "--pack-destination".as_ref(),
                partial.as_os_str(),
                "--silent".as_ref(),
            ],
            &partial,
        )
        .await?;
        let tarball = partial.join(format!(
            "{DYNAMODB_SIMULATOR_PACKAGE}-{DYNAMODB_SIMULATOR_VERSION}.tgz"
        ));
        run(
            "DynamoDB Local",
            "tar",
            &[
                "-xzf".as_ref(),
                tarball.as_os_str(),
                "-C".as_ref(),
                partial.as_os_str(),
                "package/emulator".as_ref(),
            ],
            &partial,
        )
        .await?;
        rename(
            &partial.join("package").join("emulator"),
            &partial.join("emulator"),
        )?;
        remove_dir_if_present(&partial.join("package"))?;
        std::fs::remove_file(&tarball)
            .map_err(|e| Error::io(format!("removing {}", tarball.display()), e))?;
        write_file(&partial.join(STAMP), &spec)?;
        remove_dir_if_present(&dir)?;
        rename(&partial, &dir)?;
        tracing::info!(path = %self.dynamodb_emulator_dir().display(), "installed DynamoDB Local");
        Ok(())
    }

    /// Installs pinned `requirements` from PyPI into a virtualenv in `dir` (moto's server,
    /// localstripe, cargo-lambda).
    async fn install_python_tools(
        &self,
        what: &'static str,
        dir: &Path,
        requirements: &'static str,
    ) -> Result<()> {
        if stamp_matches(dir, requirements) {
            tracing::debug!(path = %dir.display(), "{what} is installed");
            return Ok(());
        }
        require(
            "python3",
            "to install moto's SQS server, localstripe and cargo-lambda from PyPI",
        )?;
        tracing::info!(
            path = %dir.display(),
            "installing {what} from PyPI into a virtualenv"
        );
        // A virtualenv records absolute paths, so it is built in place rather than renamed;
        // the stamp, written last, is what marks it complete.
        remove_dir_if_present(dir)?;
        create_dir(dir)?;
        let venv = dir.join("venv");
        run(
            what,
            "python3",
            &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
            dir,
        )
        .await?;
        let requirements_file = dir.join("requirements.txt");
        write_file(&requirements_file, requirements)?;
        run(
            what,
            venv.join("bin").join("pip").as_os_str(),
            &[
                "install".as_ref(),
                "--quiet".as_ref(),
                "--disable-pip-version-check".as_ref(),
                "--no-input".as_ref(),
                "--requirement".as_ref(),
                requirements_file.as_os_str(),
            ],
            dir,
        )
        .await?;
        write_file(&dir.join(STAMP), requirements)?;
        tracing::info!(path = %dir.display(), "installed {what}");
        Ok(())
    }
}

fn default_home() -> PathBuf {
    // The workspace root is two folders up (tools/local-stack). Baked in at compile time: the
    // binary is run from the workspace (`cargo run -p local-stack`), and a fresh clone rebuilds
    // it.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .join(".local")
}

fn dynamodb_package_spec() -> String {
    format!("{DYNAMODB_SIMULATOR_PACKAGE}@{DYNAMODB_SIMULATOR_VERSION}")
}

fn stamp_matches(dir: &Path, expected: &str) -> bool {
    std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|stamp| stamp == expected)
}

/// The first executable called `program` on PATH.
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

fn require(program: &'static str, purpose: &'static str) -> Result<()> {
    match find_in_path(program) {
        Some(_) => Ok(()),
        None => Err(Error::MissingPrerequisite { program, purpose }),
    }
}

/// Runs an install step with its output captured: stdout belongs to the launcher's own output
/// (the environment lines), and the output only matters when the step fails.
async fn run(
    what: &'static str,
    program: impl AsRef<OsStr>,
    args: &[&OsStr],
    cwd: &Path,
) -> Result<()> {
    let program = program.as_ref();
    let command_line = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::debug!(command = %command_line, "running");
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::io(format!("running `{command_line}`"), e))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let start = text.len().saturating_sub(OUTPUT_TAIL_BYTES);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    Err(Error::InstallFailed {
        what,
        command: command_line,
        status: output.status.to_string(),
        output: text[start..].to_owned(),
    })
}

/// Writes `contents` to `path` unless it already holds them, and returns the path. Through a
/// rename: another launcher may be starting the file right now.
fn write_if_changed(path: &Path, contents: &str) -> Result<PathBuf> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        std::fs::write(&temporary, contents)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(path.to_path_buf())
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

fn remove_dir_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .map_err(|e| Error::io(format!("moving {} to {}", from.display(), to.display()), e))
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Arguments for the JVM that runs DynamoDB Local.
pub(crate) fn dynamodb_local_args(
    emulator_dir: &Path,
    port: u16,
    data_dir: Option<&Path>,
) -> Vec<OsString> {
    let mut library_path = OsString::from("-Djava.library.path=");
    library_path.push(emulator_dir.join("DynamoDBLocal_lib"));
    let mut args = vec![
        library_path,
        "-jar".into(),
        emulator_dir.join("DynamoDBLocal.jar").into_os_string(),
        "-port".into(),
        port.to_string().into(),
        // DynamoDB Local 1.24+ sends usage telemetry unless told not to; this machine has no
        // network for it anyway.
        "-disableTelemetry".into(),
        // One database for every credential and region, so that a binary with other dummy
        // credentials still sees the provisioned tables.
        "-sharedDb".into(),
    ];
    match data_dir {
        Some(dir) => {
            args.push("-dbPath".into());
            args.push(dir.as_os_str().to_owned());
        }
        None => args.push("-inMemory".into()),
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_moto_version_is_the_one_in_the_requirements() {
        assert!(
            MOTO_REQUIREMENTS
                .lines()
                .any(|line| line == format!("moto[sqs,s3,kms]=={MOTO_VERSION}"))
        );
    }

    #[test]
    fn the_pinned_localstripe_version_is_the_one_in_the_requirements() {
        assert!(
            LOCALSTRIPE_REQUIREMENTS
                .lines()
                .any(|line| line == format!("localstripe=={LOCALSTRIPE_VERSION}"))
        );
    }

    #[test]
    fn the_pinned_cargo_lambda_version_is_the_one_in_the_requirements() {
        assert!(
            CARGO_LAMBDA_REQUIREMENTS
                .lines()
                .any(|line| line == format!("cargo-lambda=={CARGO_LAMBDA_VERSION}"))
        );
    }

    #[test]
    fn a_relative_home_is_made_absolute() {
        let tools = Tools::at("some/dir");

        assert!(tools.home().is_absolute());
        assert!(tools.home().ends_with("some/dir"));
    }

    #[test]
    fn a_missing_stamp_or_another_version_means_not_installed() {
        let dir = std::env::temp_dir().join(format!("local-stack-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();

        assert!(!stamp_matches(&dir, "a@1"));
        std::fs::write(dir.join(STAMP), "a@1").unwrap();
        assert!(stamp_matches(&dir, "a@1"));
        assert!(!stamp_matches(&dir, "a@2"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dynamodb_local_keeps_data_on_disk_only_when_given_a_data_dir() {
        let in_memory = dynamodb_local_args(Path::new("/e"), 8000, None);
        let on_disk = dynamodb_local_args(Path::new("/e"), 8000, Some(Path::new("/data")));

        assert!(in_memory.contains(&"-inMemory".into()));
        assert!(!in_memory.contains(&"-dbPath".into()));
        assert!(on_disk.contains(&"-dbPath".into()));
        assert!(!on_disk.contains(&"-inMemory".into()));
        for args in [in_memory, on_disk] {
            assert!(args.contains(&"-sharedDb".into()));
            assert!(args.contains(&"-Djava.library.path=/e/DynamoDBLocal_lib".into()));
        }
    }

    #[test]
    fn programs_are_found_on_path() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("no-such-program-for-local-stack").is_none());
    }
}
