//! Writes docs/benchmarks.md and docs/benchmarks.svg from the figures file the benchmarks
//! appended to (BENCH_FIGURES), with the machine, the commit and the command of the run.
//! `scripts/bench report` runs the benchmarks and then this; it is no benchmark itself.
//!
//! Usage: report --figures FILE... --out DIR --seconds N --command TEXT [--lowered KNOB]...
//!        [--baseline-commit REV --baseline-figures FILE... [--baseline-benches A,B]] BENCH...
//! `--figures` once per round (the report shows each figure's median round); with a baseline
//! commit's rounds, a section compares the two commit by commit (benchmarks::rounds).
//! Fails, writing nothing, when a listed bench recorded no figure in some round or a line is
//! not a figure beside its baseline.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use benchmarks::report::{self, Machine, Recorded, Run};
use benchmarks::rounds;

const CHART: &str = "benchmarks.svg";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut figures, mut out, mut seconds, mut command, mut lowered, mut benches) =
        (Vec::new(), None, 0, None, Vec::new(), Vec::new());
    let (mut baseline_commit, mut baseline_figures, mut baseline_benches) =
        (None, Vec::new(), None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--figures" => figures.push(PathBuf::from(value("--figures")?)),
            "--baseline-commit" => baseline_commit = Some(value("--baseline-commit")?),
            "--baseline-figures" => {
                baseline_figures.push(PathBuf::from(value("--baseline-figures")?));
            }
            "--baseline-benches" => {
                let names = value("--baseline-benches")?;
                baseline_benches = Some(names.split(',').map(str::to_owned).collect::<Vec<_>>());
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--seconds" => seconds = value("--seconds")?.parse().context("--seconds")?,
            "--command" => command = Some(value("--command")?),
            "--lowered" => lowered.push(value("--lowered")?),
            flag if flag.starts_with("--") => bail!("unknown option {flag}"),
            bench => benches.push(bench.to_owned()),
        }
    }
    if figures.is_empty() {
        bail!("--figures FILE is required");
    }
    let out = out.context("--out DIR is required")?;
    if benches.is_empty() {
        bail!("name the benches that ran, so that a silent one fails the report");
    }
    let candidate = read_rounds(&figures, &benches)?;
    let against = match (&baseline_commit, baseline_figures.is_empty()) {
        (Some(baseline_commit), false) => {
            // The baseline ran the benches it has (a newer one is compared with nothing).
            let ran = baseline_benches.as_ref().unwrap_or(&benches);
            let baseline = read_rounds(&baseline_figures, ran)?;
            let comparisons = rounds::compare(&baseline, &candidate);
            Some(rounds::markdown(&comparisons, baseline_commit, &commit()))
        }
        (None, true) => None,
        _ => bail!("--baseline-commit and --baseline-figures go together"),
    };
    let recorded = rounds::median_round(&candidate);
    let run = Run {
        date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        commit: commit(),
        command: command.unwrap_or_else(|| "scripts/bench report".to_owned()),
        seconds,
        lowered,
        machine: machine(),
        rounds: candidate.len(),
        against,
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let markdown = out.join("benchmarks.md");
    std::fs::write(&markdown, report::markdown(&recorded, &run, CHART))
        .with_context(|| format!("writing {}", markdown.display()))?;
    let chart = out.join(CHART);
    std::fs::write(&chart, report::svg(&recorded.figures))
        .with_context(|| format!("writing {}", chart.display()))?;
    println!(
        "{} figures from {} benches: {} and {}",
        recorded.figures.len(),
        benches.len(),
        markdown.display(),
        chart.display()
    );
    Ok(())
}

/// Every round's figures, each checked complete on its own: a round in which a bench recorded
/// nothing would otherwise pass unseen behind the other rounds' medians.
fn read_rounds(files: &[PathBuf], benches: &[String]) -> Result<Vec<Recorded>> {
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let recorded =
                report::parse(&text).with_context(|| format!("reading {}", file.display()))?;
            report::check_complete(&recorded, benches)
                .with_context(|| format!("in {}", file.display()))?;
            Ok(recorded)
        })
        .collect()
}

/// A command's first line of output (stdout, else stderr: `java -version` writes to stderr),
/// or "unknown": a missing tool should not cost the report.
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let stdout = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            let text = if stdout.is_empty() {
                String::from_utf8_lossy(&o.stderr).trim().to_owned()
            } else {
                stdout
            };
            text.lines().next().map(str::to_owned)
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn commit() -> String {
    let commit = output("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{commit} (with uncommitted changes)")
    } else {
        commit
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown".to_owned(), |(_, name)| name.trim().to_owned());
    let cores = match cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count()
    {
        0 => std::thread::available_parallelism().map_or(0, |n| n.get()),
        n => n,
    };
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kib: f64 = m
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        cpu,
        cores,
        memory,
        os: output("uname", &["-sr"]),
        rustc: output("rustc", &["-V"]),
        java: output("java", &["-version"]),
        moto: moto_version(),
        load: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// moto's version as installed by the launcher (its virtualenv), else as pinned in the
/// requirements the launcher installed from.
fn moto_version() -> String {
    let home = PathBuf::from(std::env::var("LOCAL_STACK_HOME").unwrap_or_else(|_| ".local".into()));
    let python = home.join("moto/venv/bin/python");
    let installed = output(
        &python.to_string_lossy(),
        &[
            "-c",
            "import importlib.metadata as m; print(m.version('moto'))",
        ],
    );
    if installed != "unknown" {
        return installed;
    }
    std::fs::read_to_string(home.join("moto/requirements.txt"))
        .ok()
        .and_then(|r| {
            r.lines()
                .find(|l| l.starts_with("moto"))
                .and_then(|l| l.split_once("=="))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
