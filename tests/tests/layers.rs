//! The dependency rule of the workspace, read from `cargo metadata`: every crate lives in the
//! folder of its layer, under its own package name, and depends only downwards.
//!
//! | folder | layer | may depend on (any kind of dependency, dev included) |
//! |---|---|---|
//! | `events/` | the event contract | nothing of the workspace |
//! | `domain/` | the aggregates | the event contract |
//! | `adapters/*` | event store, read models, queues, parking, ... | the domain, the contract, other adapters |
//! | `functions/*` | the Lambdas, one crate each | adapters, the domain, the contract: never another function |
//! | `tools/*` | the admin CLI and the local platform | anything but test code |
//! | `tests/`, `benches/` | test code | anything |
//!
//! The domain and the contract are pure besides: no AWS SDK, no Lambda runtime, no HTTP, no async
//! runtime. And what is deployed wires no test double: no function or adapter turns on a test
//! double's feature (`simulated`, `testing`) in its normal dependencies or its defaults, and no
//! function's source names one. Needs no emulator: it reads only the manifests and the sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Contract,
    Domain,
    Adapter,
    Function,
    Tool,
    TestCode,
}

impl Layer {
    /// The layer of a crate from the folder its manifest is in, relative to the workspace root.
    fn of(folder: &Path) -> Option<Layer> {
        let parts: Vec<&str> = folder.iter().filter_map(|p| p.to_str()).collect();
        match parts.as_slice() {
            ["events"] => Some(Layer::Contract),
            ["domain"] => Some(Layer::Domain),
            ["adapters", _] => Some(Layer::Adapter),
            ["functions", _] => Some(Layer::Function),
            ["tools", _] => Some(Layer::Tool),
            ["tests", ..] | ["benches", ..] => Some(Layer::TestCode),
            _ => None,
        }
    }

    fn may_depend_on(self, other: Layer) -> bool {
        use Layer::*;
        match self {
            Contract => false,
            Domain => other == Contract,
            Adapter => matches!(other, Contract | Domain | Adapter),
            Function => matches!(other, Contract | Domain | Adapter),
            Tool => other != TestCode,
            TestCode => true,
        }
    }
}

/// Outside crates that have no place in the pure layers: I/O, AWS, Lambda, HTTP.
const IMPURE: [&str; 12] = [
    "aws-config",
    "aws-sdk-dynamodb",
    "aws-sdk-dynamodbstreams",
    "aws-sdk-sqs",
    "aws-sdk-apigatewaymanagement",
    "aws_lambda_events",
    "lambda_runtime",
    "lambda_http",
    "serde_dynamo",
    "tokio",
    "axum",
    "hyper",
];

/// Every way the workspace described by `metadata` breaks the rule, one sentence each.
fn violations(metadata: &Value, root: &Path) -> Vec<String> {
    let packages = metadata["packages"].as_array().expect("packages");
    let mut folders: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut found = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap().to_owned();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let folder = manifest
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap_or(manifest)
            .to_path_buf();
        match Layer::of(&folder) {
            None => found.push(format!(
                "{name} lives in {}, which is no layer's folder",
                folder.display()
            )),
            Some(Layer::TestCode) => {}
            Some(_) => {
                if folder.file_name().and_then(|f| f.to_str()) != Some(name.as_str()) {
                    found.push(format!(
                        "package {name} lives in {}: a package's name is its folder's",
                        folder.display()
                    ));
                }
            }
        }
        folders.insert(name, folder);
    }
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let Some(layer) = Layer::of(&folders[name]) else {
            continue;
        };
        for dependency in package["dependencies"].as_array().unwrap() {
            let target = dependency["name"].as_str().unwrap();
            let kind = dependency["kind"].as_str().unwrap_or("normal");
            if target == name {
                continue; // itself with test features
            }
            match folders.get(target).and_then(|folder| Layer::of(folder)) {
                Some(other) if !layer.may_depend_on(other) => found.push(format!(
                    "{name} ({layer:?}) depends on {target} ({other:?}) as a {kind} dependency"
                )),
                Some(_) => {}
                None if matches!(layer, Layer::Contract | Layer::Domain)
                    && kind != "dev"
                    && IMPURE.contains(&target) =>
                {
                    found.push(format!(
                        "{name} ({layer:?}) depends on {target}: it must stay pure"
                    ))
                }
                None => {}
            }
        }
    }
    found
}

/// The features that compile a test double in: what only tests may turn on.
const TEST_DOUBLE_FEATURES: [&str; 2] = ["simulated", "testing"];

/// Every deployed crate (a function, or an adapter a function links) that turns on a test
/// double's feature outside its dev dependencies, one sentence each.
fn test_doubles_wired(metadata: &Value, root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let folder = manifest
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap_or(manifest);
        if !matches!(Layer::of(folder), Some(Layer::Function | Layer::Adapter)) {
            continue;
        }
        for feature in package["features"]["default"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|f| TEST_DOUBLE_FEATURES.iter().any(|t| f.ends_with(t)))
        {
            found.push(format!("{name} turns on {feature} by default"));
        }
        for dependency in package["dependencies"].as_array().unwrap() {
            let target = dependency["name"].as_str().unwrap();
            let kind = dependency["kind"].as_str().unwrap_or("normal");
            if kind == "dev" || target == name {
                continue;
            }
            for feature in dependency["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|f| TEST_DOUBLE_FEATURES.contains(f))
            {
                found.push(format!(
                    "{name} turns on {target}'s test double ({feature}) in a {kind} dependency"
                ));
            }
        }
    }
    found
}

/// The tools that run the deployed Lambda binaries instead of linking them: the trigger runner
/// invokes `projector-lambda` and the rest through cargo-lambda's emulator, so that a local run
/// exercises what is deployed, not a copy wired in-process.
const RUNS_THE_BINARIES: [&str; 1] = ["local-triggers"];

/// Every path of normal dependencies (through the workspace's own packages) from `from` to a
/// package under `functions/`, as `from -> ... -> function`, one per function reached.
fn functions_linked_by(metadata: &Value, root: &Path, from: &str) -> Vec<String> {
    let packages = metadata["packages"].as_array().expect("packages");
    let layer_of = |name: &str| {
        packages.iter().find(|p| p["name"] == name).and_then(|p| {
            let manifest = Path::new(p["manifest_path"].as_str()?);
            Layer::of(manifest.parent()?.strip_prefix(root).ok()?)
        })
    };
    let normal_deps = |name: &str| -> Vec<String> {
        packages
            .iter()
            .filter(|p| p["name"] == name)
            .flat_map(|p| p["dependencies"].as_array().cloned().unwrap_or_default())
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .filter(|d| d != name)
            .collect()
    };
    let mut found = Vec::new();
    let mut seen = std::collections::BTreeSet::from([from.to_owned()]);
    let mut queue = std::collections::VecDeque::from([vec![from.to_owned()]]);
    while let Some(path) = queue.pop_front() {
        let last = path.last().unwrap().clone();
        for dependency in normal_deps(&last) {
            if !seen.insert(dependency.clone()) {
                continue;
            }
            let mut longer = path.clone();
            longer.push(dependency.clone());
            match layer_of(&dependency) {
                Some(Layer::Function) => found.push(longer.join(" -> ")),
                // Only the workspace's packages can reach a function crate.
                Some(_) => queue.push_back(longer),
                None => {}
            }
        }
    }
    found
}

#[test]
fn the_trigger_runner_links_no_function_crate() {
    let metadata = workspace_metadata();
    let root = PathBuf::from(metadata["workspace_root"].as_str().unwrap());
    for tool in RUNS_THE_BINARIES {
        assert!(
            metadata["packages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == tool),
            "{tool} is not a package of the workspace"
        );
        let linked = functions_linked_by(&metadata, &root, tool);
        assert!(
            linked.is_empty(),
            "{tool} must invoke the deployed Lambda binaries, not link their crates \
             (docs/local-triggers.md), but it depends on:\n{}",
            linked.join("\n")
        );
    }
}

#[test]
fn given_a_runner_that_reaches_a_function_through_an_adapter_then_the_path_is_named() {
    let metadata = workspace(&[
        (
            "local-triggers",
            "tools/local-triggers",
            &[("conventions", "normal"), ("scheduler", "dev")],
        ),
        (
            "conventions",
            "adapters/conventions",
            &[("projector", "normal")],
        ),
        ("projector", "functions/projector", &[]),
        ("scheduler", "functions/scheduler", &[]),
    ]);
    assert_eq!(
        functions_linked_by(&metadata, Path::new("/w"), "local-triggers"),
        ["local-triggers -> conventions -> projector"]
    );
}

/// The function sources (src/ of every crate under functions/) that name a simulated port.
fn functions_naming_a_simulator(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .any(|line| !line.trim_start().starts_with("//") && line.contains("Simulated"))
            {
                found.push(path.display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    for function in std::fs::read_dir(root.join("functions")).unwrap().flatten() {
        let src = function.path().join("src");
        if src.is_dir() {
            walk(&src, &mut found);
        }
    }
    found.sort();
    found
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn every_crate_sits_in_its_layer_and_depends_only_downwards() {
    let metadata = workspace_metadata();
    let root = PathBuf::from(metadata["workspace_root"].as_str().unwrap());
    let found = violations(&metadata, &root);
    assert!(
        found.is_empty(),
        "the workspace breaks its dependency rule (docs/architecture.md):\n{}",
        found.join("\n")
    );
    // The rule read something: every layer is populated.
    let layers: Vec<Layer> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let manifest = Path::new(p["manifest_path"].as_str().unwrap());
            Layer::of(manifest.parent()?.strip_prefix(&root).ok()?)
        })
        .collect();
    for layer in [
        Layer::Contract,
        Layer::Domain,
        Layer::Adapter,
        Layer::Function,
        Layer::Tool,
    ] {
        assert!(layers.contains(&layer), "no crate in layer {layer:?}");
    }
}

#[test]
fn no_deployed_crate_wires_a_test_double() {
    let metadata = workspace_metadata();
    let root = PathBuf::from(metadata["workspace_root"].as_str().unwrap());
    let found = test_doubles_wired(&metadata, &root);
    assert!(
        found.is_empty(),
        "a deployed crate wires a test double:\n{}",
        found.join("\n")
    );
    let named = functions_naming_a_simulator(&root);
    assert!(
        named.is_empty(),
        "a Lambda's source names a simulated port: {named:?}"
    );
}

#[test]
fn given_a_function_that_turns_on_the_simulated_provider_then_the_rule_names_it() {
    let metadata = json!({
        "packages": [
            {
                "name": "payment-saga",
                "manifest_path": "/w/functions/payment-saga/Cargo.toml",
                "features": {},
                "dependencies": [
                    { "name": "payments", "kind": null, "features": ["simulated"] },
                    { "name": "payments", "kind": "dev", "features": ["testing"] },
                ],
            },
            {
                "name": "payments",
                "manifest_path": "/w/adapters/payments/Cargo.toml",
                "features": { "default": ["testing"], "testing": [] },
                "dependencies": [],
            },
        ],
    });
    assert_eq!(
        test_doubles_wired(&metadata, Path::new("/w")),
        [
            "payment-saga turns on payments's test double (simulated) in a normal dependency",
            "payments turns on testing by default",
        ]
    );
}

/// One package of a made-up workspace: its name, its folder, its dependencies as (name, kind).
type Package<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A workspace of `packages` in `cargo metadata`'s shape.
fn workspace(packages: &[Package]) -> Value {
    json!({
        "packages": packages.iter().map(|(name, folder, deps)| json!({
            "name": name,
            "manifest_path": format!("/w/{folder}/Cargo.toml"),
            "dependencies": deps.iter().map(|(dep, kind)| json!({
                "name": dep,
                "kind": if *kind == "normal" { Value::Null } else { json!(kind) },
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn given_a_function_that_imports_another_function_then_the_rule_names_the_edge() {
    let metadata = workspace(&[
        ("events", "events", &[]),
        (
            "api",
            "functions/api",
            &[("events", "normal"), ("projector", "normal")],
        ),
        ("projector", "functions/projector", &[]),
    ]);
    assert_eq!(
        violations(&metadata, Path::new("/w")),
        ["api (Function) depends on projector (Function) as a normal dependency"]
    );
}

#[test]
fn given_a_function_whose_tests_import_another_function_then_the_rule_names_the_edge() {
    let metadata = workspace(&[
        ("api", "functions/api", &[("live", "dev")]),
        ("live", "functions/live", &[]),
    ]);
    assert_eq!(
        violations(&metadata, Path::new("/w")),
        ["api (Function) depends on live (Function) as a dev dependency"]
    );
}

#[test]
fn given_an_impure_domain_or_an_adapter_below_it_then_the_rule_names_both() {
    let metadata = workspace(&[
        (
            "domain",
            "domain",
            &[("tokio", "normal"), ("event-store", "normal")],
        ),
        (
            "event-store",
            "adapters/event-store",
            &[("domain", "normal")],
        ),
    ]);
    assert_eq!(
        violations(&metadata, Path::new("/w")),
        [
            "domain (Domain) depends on tokio: it must stay pure",
            "domain (Domain) depends on event-store (Adapter) as a normal dependency",
        ]
    );
}

#[test]
fn given_a_package_named_unlike_its_folder_or_outside_the_layers_then_the_rule_says_so() {
    let metadata = workspace(&[
        ("projector", "adapters/read-models", &[]),
        ("stray", "stack", &[]),
    ]);
    assert_eq!(
        violations(&metadata, Path::new("/w")),
        [
            "package projector lives in adapters/read-models: a package's name is its folder's",
            "stray lives in stack, which is no layer's folder",
        ]
    );
}

#[test]
fn given_a_tool_that_uses_a_function_then_that_is_allowed() {
    let metadata = workspace(&[
        (
            "local-triggers",
            "tools/local-triggers",
            &[("projector", "normal")],
        ),
        ("projector", "functions/projector", &[]),
    ]);
    assert!(violations(&metadata, Path::new("/w")).is_empty());
}
