use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while installing, starting, provisioning or stopping the stack.
///
/// None of these is retried inside the library beyond what is documented on the variant: they
/// reach a person (through the binary or a failing test), so each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A program the stack needs is not on `PATH`. The caller reports it and stops: the person
    /// has to install it (the machine image ships all three), nothing can be done in-process.
    #[error(
        "`{program}` was not found on PATH; it is needed {purpose}. Install it and run again \
         (the project expects Java 17, Node 20 with npm, and Python 3.11)"
    )]
    MissingPrerequisite {
        program: &'static str,
        purpose: &'static str,
    },

    /// The emulators are not installed (or not at the pinned versions) under the tools
    /// directory. The caller runs [`crate::Tools::install`] (the binary's `up` and `exec` do),
    /// or tells the person to run `local-stack install`.
    #[error("the local stack is not installed in {}; run `cargo run -p local-stack -- install`", home.display())]
    NotInstalled { home: PathBuf },

    /// An install command ran and failed (no network to the registry, a broken Python, a full
    /// disk). The caller reports it; running `local-stack install` again retries from scratch
    /// because nothing is marked installed until every step succeeded.
    #[error("installing {what} failed: `{command}` {status}\n{output}")]
    InstallFailed {
        what: &'static str,
        command: String,
        status: String,
        output: String,
    },

    /// A file-system or process operation failed. The caller reports it; `action` names what was
    /// being done and on which path.
    #[error("{action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    /// An emulator exited while starting, on every attempt (each attempt uses a fresh port, so
    /// this is not a port clash). The caller reports it; the log tail usually names the cause.
    #[error("{service} exited while starting ({status}); last lines of {}:\n{log_tail}", log.display())]
    EmulatorExited {
        service: &'static str,
        status: String,
        log: PathBuf,
        log_tail: String,
    },

    /// An emulator kept running but did not answer its API in time. The caller reports it and
    /// may retry with a longer ready timeout (a cold JVM on a loaded machine can be slow).
    #[error(
        "{service} did not answer {probe} within {waited:?} (last error: {last_error}); \
         last lines of {}:\n{log_tail}",
        log.display()
    )]
    NotReady {
        service: &'static str,
        probe: &'static str,
        waited: Duration,
        last_error: String,
        log: PathBuf,
        log_tail: String,
    },

    /// An emulator that was ready has since exited. The caller stops the rest of the stack and
    /// reports it: whatever was running against it has lost its state.
    #[error("{service} (pid {pid}) exited unexpectedly ({status}); last lines of {}:\n{log_tail}", log.display())]
    EmulatorDied {
        service: &'static str,
        pid: u32,
        status: String,
        log: PathBuf,
        log_tail: String,
    },

    /// A required endpoint variable is unset. The caller tells the person how to start the stack
    /// (tests: `scripts/test`, or `cargo run -p local-stack -- exec -- cargo test`).
    #[error("neither {service_var} nor AWS_ENDPOINT_URL is set")]
    MissingEndpoint { service_var: &'static str },

    /// A DynamoDB call made while provisioning failed. The caller reports it; the stack is
    /// idempotent to provision, so running again after fixing the cause is safe.
    #[error("DynamoDB {operation} on {resource} failed")]
    Dynamodb {
        operation: &'static str,
        resource: String,
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },

    /// An SQS call made while provisioning failed. Handled as [`Error::Dynamodb`].
    #[error("SQS {operation} on {resource} failed")]
    Sqs {
        operation: &'static str,
        resource: String,
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },

    /// An S3 or KMS call made while provisioning the log's digest bucket or signing key
    /// failed (moto's server serves both). Handled as [`Error::Dynamodb`].
    #[error("provisioning {resource} failed: {message}")]
    Provisioning { resource: String, message: String },

    /// The service answered a call without a field the API always returns: the emulator is
    /// broken or speaks another API version. The caller reports it.
    #[error("{operation} on {resource} answered without {missing}")]
    UnexpectedResponse {
        operation: &'static str,
        resource: String,
        missing: &'static str,
    },

    /// A resource definition in `resources` could not be turned into a request: a programming
    /// error in this crate, fixed by correcting the definition.
    #[error("the definition of {resource} is invalid: {message}")]
    InvalidDefinition { resource: String, message: String },

    /// A table did not reach ACTIVE in time after CreateTable. The caller reports it; on DynamoDB
    /// Local tables are ACTIVE at once, so this means the emulator is overloaded or broken.
    #[error("table {table} was not ACTIVE after {waited:?} (last status: {status})")]
    TableNotActive {
        table: String,
        waited: Duration,
        status: String,
    },

    /// A Lambda binary's artifact is not where `cargo lambda build` puts it. The caller tells the
    /// person to build the artifacts; nothing is started.
    #[error(
        "{binary} is not built: {} does not exist; run `cargo run -p local-stack -- build-lambdas`",
        path.display()
    )]
    LambdaNotBuilt { binary: String, path: PathBuf },

    /// A Lambda binary exited by itself: it crashed, or its configuration failed before it asked
    /// for its first invocation. The caller reports it; the output's tail says why.
    #[error("{function} (pid {pid}) exited ({status}); last lines of its output:\n{output_tail}")]
    LambdaExited {
        function: String,
        pid: u32,
        status: String,
        output_tail: String,
    },

    /// A Lambda binary reported `/runtime/init/error`: Lambda fails the invocation with
    /// `Runtime.InitError` and starts a new execution environment for the next one. The caller
    /// reports it.
    #[error("{function} failed to initialize: {report}")]
    LambdaInitFailed { function: String, report: String },

    /// An invocation got no answer within the function's timeout, where Lambda would have
    /// stopped it (`Task timed out`). The caller stops the binary: it may still be running the
    /// handler.
    #[error("{function} did not answer within its timeout ({timeout:?})")]
    LambdaTimedOut { function: String, timeout: Duration },

    /// The Invoke API call itself failed, or the emulator answered with neither the function's
    /// response nor its error (an unknown function name, the emulator's own failure). The caller
    /// reports it; `message` has the status and body.
    #[error("invoking {function} through the Lambda emulator failed: {message}")]
    LambdaInvoke { function: String, message: String },
}

impl Error {
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn dynamodb<E, R>(
        operation: &'static str,
        resource: &str,
        source: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self
    where
        aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
    {
        Self::Dynamodb {
            operation,
            resource: resource.to_owned(),
            source: Box::new(source.into()),
        }
    }

    pub(crate) fn sqs<E, R>(
        operation: &'static str,
        resource: &str,
        source: aws_sdk_sqs::error::SdkError<E, R>,
    ) -> Self
    where
        aws_sdk_sqs::Error: From<aws_sdk_sqs::error::SdkError<E, R>>,
    {
        Self::Sqs {
            operation,
            resource: resource.to_owned(),
            source: Box::new(source.into()),
        }
    }
}
