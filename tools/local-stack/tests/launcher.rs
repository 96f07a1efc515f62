//! The `local-stack` binary as a person uses it: `up` until Ctrl-C, `exec -- CMD`. Each run
//! must leave no emulator process behind.

// Linux only: the checks for leftover processes read /proc.
#![cfg(target_os = "linux")]
// Everything in this binary is test code, helpers included: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use local_stack::{Clients, Endpoints};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_local-stack");
/// Generous: on a fresh machine the first `up` also installs the emulators.
const READY_BUDGET: Duration = Duration::from_secs(180);
const EXIT_BUDGET: Duration = Duration::from_secs(30);

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("local-stack-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn launcher(args: &[&str], stderr_log: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr_log).unwrap())
        .kill_on_drop(true);
    command
}

/// Reads `KEY=VALUE` lines from the launcher's stdout up to the last one it prints.
async fn read_environment(child: &mut Child, stderr_log: &Path) -> HashMap<String, String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut env = HashMap::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let (key, value) = line.split_once('=').unwrap();
            env.insert(key.to_owned(), value.to_owned());
            if key == "LOCAL_STACK_PIDS" {
                return;
            }
        }
    };
    if tokio::time::timeout(READY_BUDGET, read).await.is_err()
        || !env.contains_key("LOCAL_STACK_PIDS")
    {
        panic!(
            "the launcher printed no complete environment; stderr:\n{}",
            std::fs::read_to_string(stderr_log).unwrap_or_default()
        );
    }
    env
}

fn pids(env: &HashMap<String, String>) -> Vec<u32> {
    let pids: Vec<u32> = env["LOCAL_STACK_PIDS"]
        .split(',')
        .map(|pid| pid.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3, "one pid per emulator");
    pids
}

/// A live (not zombie) process: a zombie's cmdline is empty.
fn is_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// Live processes in process group `pgid`: an emulator's group holds anything it spawned.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces) in parentheses: state, ppid,
        // pgrp.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|pgrp| pgrp.parse::<u32>().ok()) == Some(pgid)
            && fields.first() != Some(&"Z")
        {
            members.push(pid);
        }
    }
    members
}

fn assert_all_gone(pids: &[u32]) {
    for &pid in pids {
        assert!(!is_running(pid), "emulator {pid} survived the launcher");
        assert_eq!(
            group_members(pid),
            Vec::<u32>::new(),
            "process group {pid} survived"
        );
    }
}

async fn assert_endpoints_answer(env: &HashMap<String, String>) {
    let clients = Clients::connect(&Endpoints {
        dynamodb: env["AWS_ENDPOINT_URL_DYNAMODB"].clone(),
        sqs: env["AWS_ENDPOINT_URL_SQS"].clone(),
    })
    .await;
    let tables = clients
        .dynamodb
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names
        .unwrap_or_default();
    assert!(tables.contains(&env["EVENTS_TABLE"]), "tables: {tables:?}");
    let url = clients
        .sqs
        .get_queue_url()
        .queue_name(&env["NOTIFICATIONS_QUEUE"])
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(url, env["NOTIFICATIONS_QUEUE_URL"]);
    let (status, body) = localstripe_get(env, "/v1/accounts?limit=1").await;
    assert!(status.contains(" 200 "), "{status}\n{body}");
}

/// `GET path` on the stack's localstripe with its key: the status line and the body.
async fn localstripe_get(env: &HashMap<String, String>, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = env["STRIPE_API_BASE"].strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n\r\n",
        env["STRIPE_SECRET_KEY"]
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[tokio::test]
async fn up_serves_every_emulator_until_ctrl_c_and_leaves_no_process_behind_twice_in_a_row() {
    let dir = scratch_dir();
    for run in 1..=2 {
        // Given a launcher that is up
        let stderr_log = dir.join(format!("up-{run}.log"));
        let mut child = launcher(&["up"], &stderr_log).spawn().unwrap();
        let env = read_environment(&mut child, &stderr_log).await;
        let emulators = pids(&env);
        assert!(emulators.iter().all(|&pid| is_running(pid)));

        // When both endpoints are used and then Ctrl-C arrives
        assert_endpoints_answer(&env).await;
        let status = interrupt(&mut child).await;

        // Then the launcher exits cleanly and every emulator, with its group, is gone
        let stderr = std::fs::read_to_string(&stderr_log).unwrap();
        assert!(status.success(), "run {run}: {status}; stderr:\n{stderr}");
        assert_all_gone(&emulators);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn exec_runs_the_command_in_the_stack_s_environment_and_exits_with_its_code() {
    // Given a command that records the environment it sees and exits with 7
    let dir = scratch_dir();
    let seen = dir.join("seen.env");
    let script = format!("env > '{}'; exit 7", seen.display());
    let stderr_log = dir.join("exec.log");

    // When it is run under `exec`
    let mut child = launcher(&["exec", "--", "sh", "-c", &script], &stderr_log)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(READY_BUDGET, child.wait())
        .await
        .expect("exec finishes")
        .unwrap();

    // Then its exit code is the launcher's, it saw the endpoints, and the stack is gone
    let stderr = std::fs::read_to_string(&stderr_log).unwrap();
    assert_eq!(status.code(), Some(7), "stderr:\n{stderr}");
    let env: HashMap<String, String> = std::fs::read_to_string(&seen)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    assert!(env["AWS_ENDPOINT_URL_DYNAMODB"].starts_with("http://127.0.0.1:"));
    assert!(env["AWS_ENDPOINT_URL_SQS"].starts_with("http://127.0.0.1:"));
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert!(env["STRIPE_API_BASE"].starts_with("http://127.0.0.1:"));
    assert!(env["STRIPE_SECRET_KEY"].starts_with("sk_test_"));
    assert!(env["STRIPE_WEBHOOK_SECRET"].starts_with("whsec_"));
    assert_all_gone(&pids(&env));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Ctrl-C to the launcher; its exit status, within [`EXIT_BUDGET`].
async fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    let launcher_pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    kill(launcher_pid, Signal::SIGINT).unwrap();
    tokio::time::timeout(EXIT_BUDGET, child.wait())
        .await
        .expect("the launcher exits after SIGINT")
        .unwrap()
}

/// Runs `up --data-dir dir` until the environment is printed, calls `with` on the stack's
/// clients, stops it with Ctrl-C and returns what `with` did: the caller asserts on it once the
/// stack is down, so that a failed assertion leaves no emulator behind.
async fn up_with_data<F, Fut, T>(dir: &Path, run: &str, with: F) -> T
where
    F: FnOnce(Clients) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let stderr_log = dir.join(format!("{run}.log"));
    let data = dir.join("data");
    let mut child = launcher(&["up", "--data-dir", data.to_str().unwrap()], &stderr_log)
        .spawn()
        .unwrap();
    let env = read_environment(&mut child, &stderr_log).await;
    let endpoints = Endpoints::from_lookup(|var| env.get(var).cloned()).unwrap();
    let done = with(Clients::connect(&endpoints).await).await;
    let status = interrupt(&mut child).await;
    assert_all_gone(&pids(&env));
    assert!(
        status.success(),
        "{run}: {status}; stderr:\n{}",
        std::fs::read_to_string(&stderr_log).unwrap_or_default()
    );
    done
}

#[tokio::test]
async fn up_adds_an_index_a_kept_table_lacks_and_fills_it_from_its_items() {
    use aws_sdk_dynamodb::types::{
        AttributeValue, DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate,
    };
    let dir = scratch_dir();
    let s = |text: &str| AttributeValue::S(text.to_owned());
    // Given a kept AuctionListView as an older launcher made it (no byStart index), holding a
    // scheduled auction
    up_with_data(&dir, "older", |clients| async move {
        clients
            .dynamodb
            .update_table()
            .table_name("AuctionListView")
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        DeleteGlobalSecondaryIndexAction::builder()
                            .index_name("byStart")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        clients
            .dynamodb
            .put_item()
            .table_name("AuctionListView")
            .item("auctionId", s("kept-auction"))
            .item("status", s("scheduled"))
            .item("startsAt", s("2026-01-01T00:00:00.000Z"))
            .item("endsAt", s("2026-01-02T00:00:00.000Z"))
            .send()
            .await
            .unwrap();
    })
    .await;

    // When the launcher starts on it again
    let found = up_with_data(&dir, "again", |clients| async move {
        clients
            .dynamodb
            .query()
            .table_name("AuctionListView")
            .index_name("byStart")
            .key_condition_expression("#status = :status AND startsAt <= :until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s("scheduled"))
            .expression_attribute_values(":until", s("2026-06-01T00:00:00.000Z"))
            .send()
            .await
    })
    .await;

    // Then the table has the byStart index, holding the auction that was there
    let ids: Vec<_> = found
        .unwrap()
        .items()
        .iter()
        .filter_map(|item| item.get("auctionId")?.as_s().ok().cloned())
        .collect();
    assert_eq!(ids, ["kept-auction"]);
    std::fs::remove_dir_all(dir).unwrap();
}
