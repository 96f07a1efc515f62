//! The environment a Lambda binary starts with: what Lambda's runtime environment defines
//! (`AWS_LAMBDA_*`, the region, credentials, `_HANDLER`, ...) and the deployment's own
//! variables, exactly those `infra/environment.json` lists for the binary, so that a binary
//! reading a variable its deployment does not set fails here as it would in AWS.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{ACCESS_KEY_ID, Error, REGION, Result, SECRET_ACCESS_KEY};

/// Every variable the platform reads, with its scope and the functions it is set for: the list
/// the CDK app deploys from. Read at compile time, as the Stripe OpenAPI document is.
const ENVIRONMENT_LIST: &str = include_str!("../../../../infra/environment.json");
/// Memory size and timeout per binary, as the CDK app deploys them (it reads the same file).
const FUNCTIONS_LIST: &str = include_str!("../../../../infra/functions.json");

/// Lambda gives every function a session token with its role's credentials; the emulators
/// accept any.
const SESSION_TOKEN: &str = "test";
/// The handler setting of the `provided.al2023` functions the CDK app deploys.
const HANDLER: &str = "bootstrap";
/// What Lambda's execution environment puts on PATH.
const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
/// The account the local stack's ARNs name (as local-triggers' records do).
const ACCOUNT: &str = "000000000000";

/// How the function's logs are configured (Lambda's advanced logging controls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// `LogFormat: JSON` with an application log level (`TRACE` .. `FATAL`): Lambda sets
    /// `AWS_LAMBDA_LOG_FORMAT=JSON` and `AWS_LAMBDA_LOG_LEVEL=<level>`.
    Json { level: String },
    /// `LogFormat: Text`: Lambda sets `AWS_LAMBDA_LOG_FORMAT=Text` and no level.
    Text,
}

/// Which process group a started binary (or the emulator) joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessGroup {
    /// A group of its own: a terminal's Ctrl-C does not reach it, and stopping it signals the
    /// group (anything it forked too). The default, as for the emulators.
    #[default]
    Own,
    /// The caller's group: whoever signals the caller's whole group (a SIGKILL of
    /// `local-triggers` and its group) ends it too, so it cannot outlive a killed caller.
    Callers,
}

impl ProcessGroup {
    pub(crate) fn is_own(self) -> bool {
        self == Self::Own
    }
}

/// One Lambda binary as it is deployed: which artifact, its memory and timeout, its logging and
/// its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The binary's name (`projector-lambda`), which is also the function's name for the
    /// emulator: cargo-lambda only invokes names that are binaries of the workspace.
    pub binary: String,
    /// The executable, usually [`super::artifact`].
    pub artifact: PathBuf,
    pub memory_mb: u32,
    /// How long an invocation may run: the deadline each invocation is given, and how long
    /// [`super::LambdaFunction::invoke`] waits.
    pub timeout: Duration,
    pub log_format: LogFormat,
    /// The deployment's variables: resource names, queue URLs, endpoints, settings.
    pub env: Vec<(String, String)>,
    /// Which process group the started binary joins.
    pub process_group: ProcessGroup,
}

impl FunctionSpec {
    /// `binary` as the CDK app deploys it (its memory size and timeout, JSON logs at INFO),
    /// with the variables `infra/environment.json` lists for it taken from `stack`: name and
    /// value pairs such as `local-stack exec` exports (`std::env::vars()` under it), or a test's
    /// endpoints and freshly provisioned names. Variables the list does not name for the binary
    /// are left out, as the CDK app leaves them out.
    pub fn deployed<K, V>(
        binary: &str,
        artifact: PathBuf,
        stack: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let listed = deployed_variables(binary)?;
        let (memory_mb, timeout) = deployment(binary).ok_or_else(|| Error::InvalidDefinition {
            resource: format!("Lambda function {binary}"),
            message: "infra/functions.json gives it no memory size and timeout".to_owned(),
        })?;
        let env = stack
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .filter(|(name, _)| listed.contains(name))
            .collect();
        Ok(Self {
            binary: binary.to_owned(),
            artifact,
            memory_mb,
            timeout,
            log_format: LogFormat::Json {
                level: "INFO".to_owned(),
            },
            env,
            process_group: ProcessGroup::Own,
        })
    }

    /// Sets `name` (replacing a value from the stack): a setting the deployment would give the
    /// function, e.g. `PARKED_CONSUMERS`.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(existing, _)| *existing != name);
        self.env.push((name, value.into()));
        self
    }

    /// The region the function runs in: the stack's, else the local stack's default.
    pub(crate) fn region(&self) -> String {
        self.value("AWS_REGION").unwrap_or(REGION).to_owned()
    }

    /// `arn:aws:lambda:<region>:000000000000:function:<binary>`.
    pub(crate) fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT}:function:{}",
            self.region(),
            self.binary
        )
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// The process environment: the deployment's variables, then what Lambda defines (which
    /// wins, as Lambda's reserved variables cannot be overridden). `log_stream` names this
    /// execution environment's stream.
    pub(crate) fn process_env(
        &self,
        runtime_api: &str,
        log_stream: &str,
    ) -> Vec<(OsString, OsString)> {
        let task_root = self
            .artifact
            .parent()
            .unwrap_or(Path::new("/"))
            .as_os_str()
            .to_owned();
        let region = self.region();
        let key_id = self
            .value("AWS_ACCESS_KEY_ID")
            .unwrap_or(ACCESS_KEY_ID)
            .to_owned();
        let secret = self
            .value("AWS_SECRET_ACCESS_KEY")
            .unwrap_or(SECRET_ACCESS_KEY)
            .to_owned();
        let mut env: Vec<(OsString, OsString)> = self
            .env
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        let lambda: Vec<(&str, OsString)> = vec![
            ("_HANDLER", HANDLER.into()),
            ("AWS_REGION", region.clone().into()),
            ("AWS_DEFAULT_REGION", region.into()),
            ("AWS_ACCESS_KEY_ID", key_id.into()),
            ("AWS_SECRET_ACCESS_KEY", secret.into()),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.binary.clone().into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.memory_mb.to_string().into(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.binary).into(),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.into()),
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.into()),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("LAMBDA_RUNTIME_DIR", task_root),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            ("PATH", LAMBDA_PATH.into()),
        ];
        let logging: Vec<(&str, OsString)> = match &self.log_format {
            LogFormat::Json { level } => vec![
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
                ("AWS_LAMBDA_LOG_LEVEL", level.into()),
            ],
            LogFormat::Text => vec![("AWS_LAMBDA_LOG_FORMAT", "Text".into())],
        };
        for (name, value) in lambda.into_iter().chain(logging) {
            env.retain(|(existing, _)| existing != name);
            env.push((name.into(), value));
        }
        env
    }
}

/// The variables `infra/environment.json` has the CDK app (or Lambda) set for `binary`: those
/// of scope `lambda` or `library` listed for it, and every one of scope `aws` (the region,
/// credentials and endpoints, which point the binary at the emulators locally).
pub fn deployed_variables(binary: &str) -> Result<BTreeSet<String>> {
    let invalid = |message: String| Error::InvalidDefinition {
        resource: "infra/environment.json".to_owned(),
        message,
    };
    let list: Value = serde_json::from_str(ENVIRONMENT_LIST).map_err(|e| invalid(e.to_string()))?;
    let lambdas = list["lambdas"]
        .as_array()
        .ok_or_else(|| invalid("no `lambdas` list".to_owned()))?;
    if !lambdas.iter().any(|name| name.as_str() == Some(binary)) {
        return Err(invalid(format!("{binary} is not one of its `lambdas`")));
    }
    let variables = list["variables"]
        .as_array()
        .ok_or_else(|| invalid("no `variables` list".to_owned()))?;
    let mut names = BTreeSet::new();
    for variable in variables {
        let name = variable["name"]
            .as_str()
            .ok_or_else(|| invalid(format!("a variable without a name: {variable}")))?;
        let for_binary = variable["functions"]
            .as_array()
            .is_some_and(|functions| functions.iter().any(|f| f.as_str() == Some(binary)));
        let set = match variable["scope"].as_str() {
            Some("aws") => true,
            Some("lambda" | "library") => for_binary,
            _ => false,
        };
        if set {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

/// Memory size (MB) and timeout of `binary` as `infra/functions.json` says the CDK app deploys
/// it; `None` for a name it does not list (or an entry it cannot read, which its tests catch).
fn deployment(binary: &str) -> Option<(u32, Duration)> {
    let list: Value = serde_json::from_str(FUNCTIONS_LIST).ok()?;
    let entry = &list["functions"][binary];
    let memory_mb = u32::try_from(entry["memoryMb"].as_u64()?).ok()?;
    let timeout = Duration::from_secs(entry["timeoutSeconds"].as_u64()?);
    Some((memory_mb, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::LAMBDA_BINARIES;

    fn env_of(spec: &FunctionSpec) -> std::collections::BTreeMap<String, String> {
        spec.process_env("127.0.0.1:9001", "2026/01/01/[$LATEST]00ff")
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn every_lambda_binary_has_a_deployment_and_listed_variables() {
        for binary in LAMBDA_BINARIES {
            assert!(deployment(binary).is_some(), "{binary}");
            let listed = deployed_variables(binary).unwrap();
            assert!(
                listed.contains("AWS_ENDPOINT_URL_DYNAMODB"),
                "{binary}: {listed:?}"
            );
        }
    }

    #[test]
    fn a_binary_gets_only_the_stack_variables_listed_for_it() {
        let stack = [
            ("EVENTS_TABLE", "tEvents"),
            ("PAYMENT_SAGAS_TABLE", "tPaymentSagas"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            ("LOCAL_STACK_PIDS", "1,2,3"),
        ];

        let spec =
            FunctionSpec::deployed("projector-lambda", "/t/bootstrap".into(), stack).unwrap();

        let env = env_of(&spec);
        assert_eq!(env["EVENTS_TABLE"], "tEvents");
        assert_eq!(env["AWS_ENDPOINT_URL_DYNAMODB"], "http://127.0.0.1:8000");
        // The saga's table is not the projector's, and the launcher's pids are nobody's.
        assert!(!env.contains_key("PAYMENT_SAGAS_TABLE"));
        assert!(!env.contains_key("LOCAL_STACK_PIDS"));
    }

    #[test]
    fn lambdas_own_variables_are_set_and_win_over_the_stacks() {
        let stack = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "other"),
        ];

        let spec = FunctionSpec::deployed("api-lambda", "/t/api-lambda/bootstrap".into(), stack)
            .unwrap()
            .with_env("AWS_LAMBDA_RUNTIME_API", "elsewhere:1");

        let env = env_of(&spec);
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "api-lambda");
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        assert_eq!(env["AWS_LAMBDA_LOG_LEVEL"], "INFO");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/api-lambda");
        assert_eq!(env["AWS_REGION"], "eu-west-1");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/t/api-lambda");
        assert_eq!(env["_HANDLER"], "bootstrap");
        assert_eq!(
            spec.function_arn(),
            "arn:aws:lambda:eu-west-1:000000000000:function:api-lambda"
        );
    }

    #[test]
    fn text_logs_carry_no_level() {
        let mut spec =
            FunctionSpec::deployed("notifier-lambda", "/t/bootstrap".into(), [("A_B", "c")])
                .unwrap();
        spec.log_format = LogFormat::Text;

        let env = env_of(&spec);
        assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "Text");
        assert!(!env.contains_key("AWS_LAMBDA_LOG_LEVEL"));
    }

    #[test]
    fn an_unknown_binary_is_refused() {
        let error =
            FunctionSpec::deployed("api-local", "/t/bootstrap".into(), [("A_B", "c")]).unwrap_err();
        assert!(matches!(error, Error::InvalidDefinition { .. }), "{error}");
    }
}
