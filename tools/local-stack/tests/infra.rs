//! The deployable stack (infra/cdk) against the code, without AWS and without the local stack:
//!
//! - `infra/resources.json` is the canonical form of `local_stack::resources` (tables with their
//!   key schemas, attribute definitions, GSIs, streams and TTL; queues with their redrive). The
//!   CDK app's tests compare the synthesized template with it. After an intended change to
//!   `tools/local-stack/src/resources.rs`, regenerate it with
//!   `UPDATE_INFRA=1 cargo test -p local-stack --test infra`.
//! - `infra/environment.json` lists every environment variable the platform reads. This test
//!   scans the workspace's Rust sources (test code and benches excepted) for the variables they
//!   read and fails on a variable missing from the list, on a listed variable nobody reads, and
//!   on a Lambda binary whose own crate reads a variable not listed for it. Resource names are
//!   spelled once, in `conventions::names` (adapters/conventions/src/names.rs): a file reads such
//!   a variable when it names the constant as `names::X`, and the defaults there must be the
//!   listed ones.

// Everything in this binary is test code, helpers included: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use local_stack::resources::{
    DLQ_RETENTION_SECS, IndexSpec, KeyAttribute, LOCAL_ONLY_TABLES, QUEUES, STANDARD_QUEUES,
    TABLES, TableSpec, dlq_name,
};
use serde_json::{Value, json};

const UPDATE_VAR: &str = "UPDATE_INFRA";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the stack crate lives in tools/ of the workspace")
        .to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// resources.json

fn key_schema(partition: &KeyAttribute, sort: Option<&KeyAttribute>) -> Value {
    let mut keys = vec![json!({"attributeName": partition.name, "keyType": "HASH"})];
    if let Some(sort) = sort {
        keys.push(json!({"attributeName": sort.name, "keyType": "RANGE"}));
    }
    Value::Array(keys)
}

fn index_json(index: &IndexSpec) -> Value {
    json!({
        "indexName": index.name,
        "keySchema": key_schema(&index.partition_key, index.sort_key.as_ref()),
        "projection": index.projection.as_str(),
    })
}

fn table_json(spec: &TableSpec) -> Value {
    let mut attributes: Vec<Value> = spec
        .key_attributes()
        .into_iter()
        .map(|a| json!({"attributeName": a.name, "attributeType": a.kind.as_str()}))
        .collect();
    attributes.sort_by_key(|a| a["attributeName"].as_str().unwrap_or_default().to_owned());
    let mut indexes: Vec<&IndexSpec> = spec.indexes.iter().collect();
    indexes.sort_by_key(|i| i.name);
    json!({
        "nameEnv": spec.name_env,
        "defaultName": spec.default_name,
        "localOnly": LOCAL_ONLY_TABLES.iter().any(|t| t.name_env == spec.name_env),
        "billingMode": "PAY_PER_REQUEST",
        "keySchema": key_schema(&spec.partition_key, spec.sort_key.as_ref()),
        "attributeDefinitions": attributes,
        "globalSecondaryIndexes": indexes.into_iter().map(index_json).collect::<Vec<_>>(),
        "stream": spec.stream.as_ref().map(|s| s.as_str()),
        "ttlAttribute": spec.ttl_attribute,
    })
}

fn resources_json() -> String {
    let mut tables: Vec<&&TableSpec> = TABLES.iter().collect();
    tables.sort_by_key(|t| t.name_env);
    let fifo: Vec<Value> = QUEUES
        .iter()
        .map(|q| {
            json!({
                "nameEnv": q.name_env,
                "defaultName": q.default_name,
                "urlEnv": q.url_env,
                "dlqName": dlq_name(q.default_name),
                "dlqUrlEnv": q.dlq_url_env,
                "fifo": true,
                "contentBasedDeduplication": false,
                "maxReceiveCount": q.max_receive_count,
                "visibilityTimeoutSecs": q.visibility_timeout_secs,
                "dlqRetentionSecs": DLQ_RETENTION_SECS,
            })
        })
        .collect();
    let standard: Vec<Value> = STANDARD_QUEUES
        .iter()
        .map(|q| {
            json!({
                "nameEnv": q.name_env,
                "defaultName": q.default_name,
                "urlEnv": q.url_env,
                "fifo": false,
                "retentionSecs": q.retention_secs,
            })
        })
        .collect();
    let document = json!({
        "about": "Generated from tools/local-stack/src/resources.rs by tools/local-stack/tests/infra.rs; do not edit. Regenerate with UPDATE_INFRA=1 cargo test -p local-stack --test infra. infra/cdk's tests compare the synthesized template with it.",
        "tables": tables.into_iter().map(|t| table_json(t)).collect::<Vec<_>>(),
        "fifoQueues": fifo,
        "standardQueues": standard,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap();
    text.push('\n');
    text
}

/// The lines only in `expected` (-) and only in `found` (+), in order.
fn line_diff(expected: &str, found: &str) -> String {
    let expected_lines: Vec<&str> = expected.lines().collect();
    let found_lines: Vec<&str> = found.lines().collect();
    let mut out = String::new();
    for (i, line) in expected_lines.iter().enumerate() {
        if found_lines.get(i) != Some(line) {
            out.push_str(&format!("line {}: - {line}\n", i + 1));
            if let Some(other) = found_lines.get(i) {
                out.push_str(&format!("line {}: + {other}\n", i + 1));
            }
        }
    }
    for (i, line) in found_lines.iter().enumerate().skip(expected_lines.len()) {
        out.push_str(&format!("line {}: + {line}\n", i + 1));
    }
    out
}

#[test]
fn resources_json_matches_the_resource_definitions() {
    let path = workspace_root().join("infra/resources.json");
    let generated = resources_json();
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "infra/resources.json is not what tools/local-stack/src/resources.rs defines (checked in: -, \
         generated: +):\n{}\nIf the change to the resources is intended, regenerate it with \
         `{UPDATE_VAR}=1 cargo test -p local-stack --test infra` and update infra/cdk to match \
         (its tests compare the template with the file).",
        line_diff(&checked_in, &generated)
    );
}

#[test]
fn the_generated_resources_describe_every_table_key_and_index() {
    let document: Value = serde_json::from_str(&resources_json()).unwrap();
    let events = document["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["nameEnv"] == "EVENTS_TABLE")
        .unwrap();
    assert_eq!(
        events["keySchema"],
        json!([
            {"attributeName": "aggregateId", "keyType": "HASH"},
            {"attributeName": "version", "keyType": "RANGE"}
        ])
    );
    assert_eq!(events["stream"], "NEW_IMAGE");
    assert_eq!(
        events["globalSecondaryIndexes"][0]["indexName"],
        "byTypeShard"
    );
    assert_eq!(
        events["attributeDefinitions"],
        json!([
            {"attributeName": "aggregateId", "attributeType": "S"},
            {"attributeName": "typeOrder", "attributeType": "S"},
            {"attributeName": "typeShard", "attributeType": "S"},
            {"attributeName": "version", "attributeType": "N"}
        ])
    );
    assert_eq!(document["tables"].as_array().unwrap().len(), TABLES.len());
}

// ---------------------------------------------------------------------------------------------
// environment.json

#[derive(Debug)]
struct Variable {
    name: String,
    scope: String,
    functions: BTreeSet<String>,
    default: Option<String>,
}

struct Listed {
    lambdas: BTreeSet<String>,
    variables: BTreeMap<String, Variable>,
}

fn listed() -> Listed {
    let path = workspace_root().join("infra/environment.json");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let strings = |value: &Value| -> BTreeSet<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let mut variables = BTreeMap::new();
    for entry in document["variables"].as_array().unwrap() {
        let variable = Variable {
            name: entry["name"].as_str().unwrap().to_owned(),
            scope: entry["scope"].as_str().unwrap().to_owned(),
            functions: strings(&entry["functions"]),
            default: entry["default"].as_str().map(str::to_owned),
        };
        assert!(
            ["lambda", "local", "aws", "library"].contains(&variable.scope.as_str()),
            "{}: unknown scope {:?}",
            variable.name,
            variable.scope
        );
        let previous = variables.insert(variable.name.clone(), variable);
        assert!(previous.is_none(), "{:?} is listed twice", previous);
    }
    Listed {
        lambdas: strings(&document["lambdas"]),
        variables,
    }
}

/// One workspace member's Rust sources, split into its library and its binaries.
struct Crate {
    package: String,
    dependencies: BTreeSet<String>,
    lib: Vec<PathBuf>,
    bins: BTreeMap<String, PathBuf>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // Test modules in their own folder are test code.
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

fn workspace_crates() -> Vec<Crate> {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members_list = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap()
        .0;
    let members: Vec<&str> = members_list.split('"').skip(1).step_by(2).collect();
    let mut crates: Vec<(String, PathBuf, String)> = Vec::new();
    for member in members {
        // End-to-end tests and benchmarks are test code.
        if member == "tests" || member == "benches" {
            continue;
        }
        let dir = root.join(member);
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let package = cargo
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_owned();
        crates.push((package, dir, cargo));
    }
    let packages: BTreeSet<String> = crates.iter().map(|(p, _, _)| p.clone()).collect();
    crates
        .into_iter()
        .map(|(package, dir, cargo)| {
            let mut in_dependencies = false;
            let mut dependencies = BTreeSet::new();
            for line in cargo.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_dependencies = line == "[dependencies]";
                } else if in_dependencies {
                    let key: String = line
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    if packages.contains(&key) {
                        dependencies.insert(key);
                    }
                }
            }
            let mut files = Vec::new();
            rust_files(&dir.join("src"), &mut files);
            let mut lib = Vec::new();
            let mut bins = BTreeMap::new();
            for file in files {
                let relative = file.strip_prefix(dir.join("src")).unwrap();
                if relative.starts_with("bin") {
                    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
                    bins.insert(stem, file);
                } else if relative == Path::new("main.rs") {
                    bins.insert(package.clone(), file);
                } else {
                    lib.push(file);
                }
            }
            Crate {
                package,
                dependencies,
                lib,
                bins,
            }
        })
        .collect()
}

/// The source without `#[cfg(test)]` items (a `mod tests { ... }` block or a `mod tests;`).
fn without_tests(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut depth: i64 = 0;
        let mut opened = false;
        for item in lines.by_ref() {
            depth += item.matches('{').count() as i64;
            depth -= item.matches('}').count() as i64;
            opened |= item.contains('{');
            if (opened && depth <= 0) || (!opened && item.trim_end().ends_with(';')) {
                break;
            }
        }
    }
    out
}

/// Whether `text` has the shape of an environment variable name the platform reads at run time:
/// upper case, digits and underscores, at least two words.
fn looks_like_variable(text: &str) -> bool {
    // `CARGO_*` are cargo's, read at compile time (`env!`).
    !text.starts_with("CARGO_")
        && text.contains('_')
        && text.starts_with(|c: char| c.is_ascii_uppercase())
        && !text.ends_with('_')
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The string literals of one line.
fn literals(line: &str) -> Vec<&str> {
    line.split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect()
}

/// Whether the line or the four before it talk about the environment: `env::var`,
/// `name_from_env`, `try_from_env`, a `name_env`/`url_env` field, a `*_ENV`/`*_VAR` constant.
fn in_environment_context(window: &[&str]) -> bool {
    window.iter().any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.contains("env") || line.contains("_VAR")
    })
}

/// Where the resource names are defined: not a reader of them itself.
fn names_file() -> PathBuf {
    workspace_root().join("adapters/conventions/src/names.rs")
}

/// A constant of `conventions::names`: the variable it names, and its default if it has one.
struct NameConstant {
    variable: String,
    default: Option<String>,
}

/// The constants of `conventions::names`: `X: EnvName = EnvName { env: "VAR", default: "d" }`
/// and `X_ENV: &str = "VAR"`, by identifier.
fn name_constants_in(source: &str) -> BTreeMap<String, NameConstant> {
    let flat: String = without_tests(source).split_whitespace().collect();
    let literal_after = |text: &str, key: &str| -> Option<String> {
        let (_, rest) = text.split_once(key)?;
        Some(rest.split_once('"')?.0.to_owned())
    };
    flat.split("pubconst")
        .skip(1)
        .filter_map(|item| {
            let (ident, rest) = item.split_once(':')?;
            let item = rest.split_once(';')?.0;
            let constant = if let Some(variable) = literal_after(item, "env:\"") {
                NameConstant {
                    variable,
                    default: literal_after(item, "default:\""),
                }
            } else if ident.ends_with("_ENV") {
                NameConstant {
                    variable: literal_after(item, "\"")?,
                    default: None,
                }
            } else {
                return None;
            };
            Some((ident.to_owned(), constant))
        })
        .collect()
}

fn name_constants() -> BTreeMap<String, NameConstant> {
    name_constants_in(&std::fs::read_to_string(names_file()).unwrap())
}

/// The variables `source` reads through `names::X`.
fn variables_named_in(source: &str, constants: &BTreeMap<String, NameConstant>) -> Vec<String> {
    source
        .split("names::")
        .skip(1)
        .filter_map(|rest| {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            constants.get(&ident).map(|c| c.variable.clone())
        })
        .collect()
}

/// The environment variables one file reads: names in string literals in an environment
/// context (see [`in_environment_context`]), and the variables of the `names::X` it uses.
fn variables_in(file: &Path) -> BTreeSet<String> {
    if file == names_file() {
        return BTreeSet::new();
    }
    let source = without_tests(&std::fs::read_to_string(file).unwrap());
    variables_in_source(&source, &name_constants())
}

fn variables_in_source(
    source: &str,
    constants: &BTreeMap<String, NameConstant>,
) -> BTreeSet<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let window = &lines[i.saturating_sub(4)..=i];
        for literal in literals(line) {
            if looks_like_variable(literal) && in_environment_context(window) {
                found.insert(literal.to_owned());
            }
        }
    }
    found.extend(variables_named_in(source, constants));
    found
}

fn variables_in_all(files: &[PathBuf]) -> BTreeSet<String> {
    files.iter().flat_map(|f| variables_in(f)).collect()
}

/// `name_from_env("VAR", "default")` pairs, whitespace-insensitive, across every file.
fn defaults_in(file: &Path) -> Vec<(String, String)> {
    let source = without_tests(&std::fs::read_to_string(file).unwrap());
    let flat: String = source.split_whitespace().collect::<Vec<_>>().join("");
    flat.split("name_from_env(\"")
        .skip(1)
        .filter_map(|rest| {
            let (var, rest) = rest.split_once("\",\"")?;
            let (default, _) = rest.split_once('"')?;
            Some((var.to_owned(), default.to_owned()))
        })
        .collect()
}

#[test]
fn every_variable_the_code_reads_is_listed_and_every_listed_one_is_read() {
    let listed = listed();
    let crates = workspace_crates();
    let mut read: BTreeMap<String, BTreeSet<PathBuf>> = BTreeMap::new();
    for krate in &crates {
        for file in krate.lib.iter().chain(krate.bins.values()) {
            for variable in variables_in(file) {
                read.entry(variable).or_default().insert(file.clone());
            }
        }
    }
    let root = workspace_root();
    let unlisted: Vec<String> = read
        .iter()
        .filter(|(name, _)| !listed.variables.contains_key(*name))
        .map(|(name, files)| {
            let files: Vec<String> = files
                .iter()
                .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
                .collect();
            format!("{name} (read in {})", files.join(", "))
        })
        .collect();
    assert!(
        unlisted.is_empty(),
        "the code reads variables infra/environment.json does not list; add them (with the \
         functions that read them, and set them in infra/cdk when a Lambda needs them): {unlisted:#?}"
    );
    let unread: Vec<&String> = listed
        .variables
        .values()
        // The standard AWS variables and RUST_LOG are read by libraries (aws-config,
        // tracing-subscriber); the platform's own names must be read by its code.
        .filter(|v| matches!(v.scope.as_str(), "lambda" | "local") && !read.contains_key(&v.name))
        .map(|v| &v.name)
        .collect();
    assert!(
        unread.is_empty(),
        "infra/environment.json lists variables no Rust code reads any more; remove them (and \
         from infra/cdk): {unread:?}"
    );
}

#[test]
fn each_lambda_binary_is_listed_with_exactly_the_variables_it_can_read() {
    let listed = listed();
    let crates = workspace_crates();
    let by_package: BTreeMap<&str, &Crate> =
        crates.iter().map(|c| (c.package.as_str(), c)).collect();

    let lambda_bins: BTreeSet<String> = crates
        .iter()
        .flat_map(|c| c.bins.keys())
        .filter(|name| name.ends_with("-lambda"))
        .cloned()
        .collect();
    assert_eq!(
        listed.lambdas, lambda_bins,
        "infra/environment.json's `lambdas` must name every `*-lambda` binary of the workspace \
         (infra/cdk deploys exactly these)"
    );

    for variable in listed.variables.values() {
        let unknown: Vec<&String> = variable.functions.difference(&listed.lambdas).collect();
        assert!(
            unknown.is_empty(),
            "{}: functions {unknown:?} are not Lambda binaries",
            variable.name
        );
        match variable.scope.as_str() {
            "lambda" => assert!(
                !variable.functions.is_empty(),
                "{}: scope lambda but no function reads it",
                variable.name
            ),
            "local" | "aws" => assert!(
                variable.functions.is_empty(),
                "{}: scope {} must not be set on a function",
                variable.name,
                variable.scope
            ),
            _ => {}
        }
    }

    for lambda in &listed.lambdas {
        let owner = crates.iter().find(|c| c.bins.contains_key(lambda)).unwrap();
        // What the binary's own crate reads: its main and its library.
        let mut own = variables_in_all(&owner.lib);
        own.extend(variables_in(&owner.bins[lambda]));
        // What it could read at all: that, and the libraries of every workspace crate it
        // depends on, transitively.
        let mut reachable = own.clone();
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = owner.dependencies.iter().map(String::as_str).collect();
        while let Some(package) = queue.pop() {
            if !seen.insert(package) {
                continue;
            }
            let dependency = by_package[package];
            reachable.extend(variables_in_all(&dependency.lib));
            queue.extend(dependency.dependencies.iter().map(String::as_str));
        }
        let listed_for: BTreeSet<String> = listed
            .variables
            .values()
            .filter(|v| v.scope == "lambda" && v.functions.contains(lambda))
            .map(|v| v.name.clone())
            .collect();
        let missing: Vec<&String> = own
            .iter()
            .filter(|name| {
                listed
                    .variables
                    .get(*name)
                    .is_some_and(|v| v.scope == "lambda")
            })
            .filter(|name| !listed_for.contains(*name))
            .collect();
        assert!(
            missing.is_empty(),
            "{lambda}'s crate ({}) reads {missing:?}, which infra/environment.json does not list \
             for it",
            owner.package
        );
        let impossible: Vec<&String> = listed_for.difference(&reachable).collect();
        assert!(
            impossible.is_empty(),
            "infra/environment.json lists {impossible:?} for {lambda}, but neither its crate nor \
             any crate it depends on reads them"
        );
    }
}

#[test]
fn the_listed_defaults_are_the_codes_and_the_launchers() {
    let listed = listed();
    let mut defaults: Vec<(String, String, String)> = Vec::new();
    for krate in workspace_crates() {
        for file in krate.lib.iter().chain(krate.bins.values()) {
            for (var, default) in defaults_in(file) {
                defaults.push((var, default, file.display().to_string()));
            }
        }
    }
    for (ident, constant) in name_constants() {
        if let Some(default) = constant.default {
            defaults.push((
                constant.variable,
                default,
                format!("adapters/conventions/src/names.rs ({ident})"),
            ));
        }
    }
    for table in TABLES {
        defaults.push((
            table.name_env.to_owned(),
            table.default_name.to_owned(),
            "tools/local-stack/src/resources.rs".to_owned(),
        ));
    }
    for queue in QUEUES {
        defaults.push((
            queue.name_env.to_owned(),
            queue.default_name.to_owned(),
            "tools/local-stack/src/resources.rs".to_owned(),
        ));
    }
    for queue in STANDARD_QUEUES {
        defaults.push((
            queue.name_env.to_owned(),
            queue.default_name.to_owned(),
            "tools/local-stack/src/resources.rs".to_owned(),
        ));
    }
    assert!(
        defaults.len() > TABLES.len(),
        "found no name_from_env calls"
    );
    for (var, default, file) in defaults {
        let entry = listed
            .variables
            .get(&var)
            .unwrap_or_else(|| panic!("{var} (default {default:?} in {file}) is not listed"));
        assert_eq!(
            entry.default.as_deref(),
            Some(default.as_str()),
            "{var}: infra/environment.json's default differs from {file}'s"
        );
    }
}

#[test]
fn the_scanner_finds_variables_read_through_constants_fields_and_calls() {
    let dir = std::env::temp_dir().join(format!("infra-scan-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sample.rs");
    std::fs::write(
        &file,
        r#"
fn c() -> &'static str { "BID_TOO_LOW" }
pub const TABLE_ENV: &str = "SOME_TABLE";
fn a() { let x = std::env::var("DIRECT_VAR"); }
fn b() { conventions::name_from_env(
    "MULTI_LINE_TABLE",
    "Default",
); }
const SPEC: Spec = Spec {
    name_env: "FIELD_TABLE",
};
fn d() { conventions::names::PARKED_TABLE.from_env(); names::dlq_name("x"); }
#[cfg(test)]
mod tests {
    fn t() { std::env::var("ONLY_IN_TESTS"); }
}
"#,
    )
    .unwrap();
    let found = variables_in(&file);
    let defaults = defaults_in(&file);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        [
            "DIRECT_VAR",
            "FIELD_TABLE",
            "MULTI_LINE_TABLE",
            "PARKED_TABLE",
            "SOME_TABLE"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        defaults,
        [("MULTI_LINE_TABLE".to_owned(), "Default".to_owned())]
    );
}
