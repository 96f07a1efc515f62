//! One emulator child process: spawned in its own process group, logging to a file, stopped
//! together with anything it may have spawned.
//!
//! Why a process group: a Ctrl-C in the terminal goes to the foreground group, and the emulators
//! must not see it before the launcher does (the launcher stops them in order and reports).
//! And stopping signals the whole group, so a helper process an emulator forks cannot outlive it.
//! (Neither DynamoDB Local's JVM nor moto_server forks today; the group makes that a non-issue
//! if a future version does.)
//! A Lambda binary or the Lambda emulator started for `local-triggers` may stay in the caller's
//! group instead ([`Launch::own_group`]), so that a SIGKILL of the caller's group ends them too.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::{Error, Result};

/// How long an emulator gets to exit after SIGTERM before its group gets SIGKILL. The JVM runs
/// its shutdown hooks (DynamoDB Local closes its SQLite file); both exit well within this.
const STOP_GRACE: Duration = Duration::from_secs(5);
const EXIT_POLL: Duration = Duration::from_millis(50);
/// How much of a log's end goes into an error message.
const LOG_TAIL_BYTES: u64 = 4096;
const LOG_TAIL_LINES: usize = 25;

/// What to run for one emulator (or one Lambda binary, see `lambda`).
pub(crate) struct Launch {
    pub service: &'static str,
    pub program: OsString,
    /// Set when `program` is a bare name looked up on PATH: names the prerequisite in the error
    /// if it is missing, with what it is needed for.
    pub prerequisite: Option<(&'static str, &'static str)>,
    pub args: Vec<OsString>,
    pub envs: Vec<(OsString, OsString)>,
    /// Start from an empty environment (a Lambda binary gets only what Lambda would give it)
    /// instead of inheriting ours.
    pub clear_env: bool,
    pub cwd: PathBuf,
    /// Where the output goes, unless `capture`; the log tail in errors reads it either way.
    pub log: PathBuf,
    /// Pipe stdout and stderr to the caller ([`Emulator::take_output`]), who reads them line
    /// by line, instead of appending them to `log`.
    pub capture: bool,
    /// Start the child in a process group of its own (the emulators: a terminal's Ctrl-C must
    /// not reach them before the launcher). `false` keeps it in the caller's group, so that
    /// whoever signals the caller's whole group (a SIGKILL of `local-triggers` and its group)
    /// ends the child too: a process cannot outlive a killed parent that way without `unsafe`
    /// (no `prctl` death signal). Stopping it then signals only its own pid.
    pub own_group: bool,
}

/// A running emulator. Dropping it without [`Emulator::stop`] kills its process group.
#[derive(Debug)]
pub(crate) struct Emulator {
    service: &'static str,
    child: Child,
    pid: u32,
    port: u16,
    log: PathBuf,
    /// The leader has been reaped: its pid, and so its group id, may since have been reused, so
    /// the group must not be signalled any more.
    reaped: bool,
    /// Whether it leads a group of its own (see [`Launch::own_group`]): stopping signals that
    /// group, else only its pid.
    own_group: bool,
}

impl Emulator {
    pub(crate) fn spawn(launch: &Launch, port: u16) -> Result<Self> {
        let (stdout, stderr) = if launch.capture {
            (Stdio::piped(), Stdio::piped())
        } else {
            let log_file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&launch.log)
                .map_err(|e| Error::io(format!("opening log {}", launch.log.display()), e))?;
            let log_err = log_file
                .try_clone()
                .map_err(|e| Error::io(format!("opening log {}", launch.log.display()), e))?;
            (Stdio::from(log_file), Stdio::from(log_err))
        };
        let mut command = Command::new(&launch.program);
        if launch.clear_env {
            command.env_clear();
        }
        command
            .args(&launch.args)
            .envs(launch.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        if launch.own_group {
            command.process_group(0);
        }
        let child = command.spawn().map_err(|e| match launch.prerequisite {
            Some((program, purpose)) if e.kind() == std::io::ErrorKind::NotFound => {
                Error::MissingPrerequisite { program, purpose }
            }
            _ => Error::io(
                format!(
                    "starting {} ({}; is the stack installed? run `local-stack install`)",
                    launch.service,
                    Path::new(&launch.program).display()
                ),
                e,
            ),
        })?;
        let pid = child.id().ok_or_else(|| {
            Error::io(
                format!("starting {}", launch.service),
                std::io::Error::other("the child exited before its pid could be read"),
            )
        })?;
        tracing::debug!(service = launch.service, pid, port, "spawned");
        Ok(Self {
            service: launch.service,
            child,
            pid,
            port,
            log: launch.log.clone(),
            reaped: false,
            own_group: launch.own_group,
        })
    }

    pub(crate) fn service(&self) -> &'static str {
        self.service
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// The end of the emulator's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// How the emulator exited, if it has; `None` while it runs.
    pub(crate) fn exit_status(&mut self) -> Result<Option<String>> {
        self.poll_exit().map_err(|e| {
            Error::io(
                format!("checking on {} (pid {})", self.service, self.pid),
                e,
            )
        })
    }

    /// On Linux, waitid with WNOWAIT reports the exit but leaves the child a zombie: its pid stays
    /// reserved, so signalling its group afterwards cannot hit a stranger that reused the id.
    #[cfg(target_os = "linux")]
    fn poll_exit(&mut self) -> std::io::Result<Option<String>> {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        if self.reaped {
            return Ok(Some("already reaped".to_owned()));
        }
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(pid_of(self.pid)), flags) {
            Ok(WaitStatus::Exited(_, code)) => Ok(Some(format!("exit code {code}"))),
            Ok(WaitStatus::Signaled(_, signal, _)) => Ok(Some(format!("killed by {signal}"))),
            Ok(_) => Ok(None),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Elsewhere the only portable check reaps the child; the group is then left alone.
    #[cfg(not(target_os = "linux"))]
    fn poll_exit(&mut self) -> std::io::Result<Option<String>> {
        match self.child.try_wait()? {
            Some(status) => {
                self.reaped = true;
                Ok(Some(status.to_string()))
            }
            None => Ok(None),
        }
    }

    /// Stops the emulator and everything in its process group, then reaps it: SIGTERM to the
    /// group, up to [`STOP_GRACE`] for the leader to exit, SIGKILL to the group (stragglers and
    /// grandchildren), then wait.
    pub(crate) async fn stop(&mut self) -> Result<()> {
        self.stop_with_status().await.map(drop)
    }

    /// As [`Emulator::stop`], returning how the process ended: a caller that must tell a clean
    /// stop (ended by our SIGTERM) from a crash needs it.
    pub(crate) async fn stop_with_status(&mut self) -> Result<std::process::ExitStatus> {
        self.signal_group(Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while self.exit_status()?.is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(EXIT_POLL).await;
        }
        self.signal_group(Signal::SIGKILL);
        let status = self.child.wait().await.map_err(|e| {
            Error::io(
                format!("waiting for {} (pid {})", self.service, self.pid),
                e,
            )
        })?;
        self.reaped = true;
        tracing::debug!(service = self.service, pid = self.pid, %status, "stopped");
        Ok(status)
    }

    /// The piped stdout and stderr of a [`Launch`] with `capture`, once.
    pub(crate) fn take_output(
        &mut self,
    ) -> (
        Option<tokio::process::ChildStdout>,
        Option<tokio::process::ChildStderr>,
    ) {
        (self.child.stdout.take(), self.child.stderr.take())
    }

    /// SIGKILL to the whole group at once, as a crash would end it, then reaps it.
    pub(crate) async fn kill(&mut self) -> Result<()> {
        self.signal_group(Signal::SIGKILL);
        let status = self.child.wait().await.map_err(|e| {
            Error::io(
                format!("waiting for {} (pid {})", self.service, self.pid),
                e,
            )
        })?;
        self.reaped = true;
        tracing::debug!(service = self.service, pid = self.pid, %status, "killed");
        Ok(())
    }

    fn signal_group(&self, signal: Signal) {
        if self.reaped {
            return;
        }
        let sent = if self.own_group {
            killpg(pid_of(self.pid), signal)
        } else {
            kill(pid_of(self.pid), signal)
        };
        match sent {
            // The group is already empty.
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => tracing::warn!(
                service = self.service,
                pgid = self.pid,
                %signal,
                %errno,
                "could not signal the emulator's process group"
            ),
        }
    }
}

impl Drop for Emulator {
    /// The fallback for a launcher that errs or is cancelled before `stop`: kill the group at
    /// once. `kill_on_drop` then has the runtime reap the leader.
    fn drop(&mut self) {
        self.signal_group(Signal::SIGKILL);
    }
}

/// Process ids fit in `pid_t` on every Unix; the conversion only makes that explicit.
fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// The last lines of a log file, or a note saying why there are none.
pub(crate) fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(the log is empty)".to_owned(),
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[start..].join("\n")
        }
        Err(e) => format!("(could not read the log: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(dir: &Path, script: &str) -> Launch {
        Launch {
            service: "test child",
            program: "sh".into(),
            prerequisite: Some(("sh", "to run this test")),
            args: vec!["-c".into(), script.into()],
            envs: vec![],
            clear_env: false,
            cwd: dir.to_path_buf(),
            log: dir.join("child.log"),
            capture: false,
            own_group: true,
        }
    }

    fn scratch_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("local-stack-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn is_running(pid: u32) -> bool {
        // A zombie has an empty cmdline; only a live process counts.
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn stopping_kills_a_grandchild_that_ignores_sigterm() {
        // Given a child that forks a grandchild ignoring SIGTERM, and reports its pid
        let dir = scratch_dir();
        let pid_file = dir.join("grandchild.pid");
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; while true; do sleep 1; done' & wait",
            pid_file.display()
        );
        let mut emulator = Emulator::spawn(&launch(&dir, &script), 0).unwrap();
        let mut grandchild = None;
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(&pid_file)
                && let Ok(pid) = text.trim().parse::<u32>()
            {
                grandchild = Some(pid);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let grandchild = grandchild.expect("the grandchild wrote its pid");
        assert!(is_running(grandchild));

        // When the emulator is stopped
        emulator.stop().await.unwrap();

        // Then neither it nor the grandchild runs
        assert!(!is_running(emulator.pid()));
        let mut gone = false;
        for _ in 0..100 {
            if !is_running(grandchild) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "grandchild {grandchild} survived");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn an_exit_is_reported_with_its_code_and_the_log_keeps_the_output() {
        // Given a child that prints and exits with 3
        let dir = scratch_dir();
        let mut emulator =
            Emulator::spawn(&launch(&dir, "echo bind failed >&2; exit 3"), 0).unwrap();

        // When it has had time to exit
        let mut status = None;
        for _ in 0..200 {
            status = emulator.exit_status().unwrap();
            if status.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Then its status and log say so
        assert!(status.unwrap().contains('3'));
        assert_eq!(emulator.log_tail(), "bind failed");
        emulator.stop().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_missing_program_names_the_prerequisite() {
        let dir = scratch_dir();
        let mut missing = launch(&dir, "");
        missing.program = "no-such-program-for-local-stack".into();
        missing.prerequisite = Some(("no-such-program-for-local-stack", "to test"));

        let error = Emulator::spawn(&missing, 0).unwrap_err();

        assert!(matches!(error, Error::MissingPrerequisite { .. }));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_log_tail_keeps_only_the_last_lines() {
        let dir = scratch_dir();
        let log = dir.join("long.log");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();

        let tail = log_tail(&log);

        assert!(tail.starts_with("line 76\n"));
        assert!(tail.ends_with("line 100"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
