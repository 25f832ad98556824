//! Process-level glue of the `whippet` binary: read the environment and arguments, build the
//! runtime, set up tracing on stderr (and the OTLP export, [`crate::telemetry`]), turn
//! SIGTERM/SIGINT into a shutdown future, and map the outcome to an exit code (0 clean, 1 runtime failure, 2 bad configuration). Kept apart
//! from [`crate::run`] so the library path never touches process-global state.

use std::io::Write;
use std::process::ExitCode;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{info, warn};

use crate::config::{
    ConfigError, ENV_PREFIX, EnvMap, OTEL_ENV, OtlpProtocol, Settings, with_standard_otel_env,
};
use crate::error::BrokerError;
use crate::telemetry;

/// Exit code for a configuration error (same as clap's usage errors).
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure to start or to shut down cleanly.
pub const EXIT_FAILURE: u8 = 1;

/// Entry point of the binary; `main.rs` only calls this.
pub fn main() -> ExitCode {
    let settings = match Settings::load(std::env::args_os(), &process_env()) {
        Ok(settings) => settings,
        Err(ConfigError::Cli(clap_error)) => {
            // clap prints help/version to stdout and usage errors to stderr itself.
            let _ = clap_error.print();
            return ExitCode::from(u8::try_from(clap_error.exit_code()).unwrap_or(EXIT_CONFIG));
        }
        Err(config_error) => {
            print_error(&config_error);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run_until_signalled(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(broker_error) => {
            print_error(&broker_error);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The `WHIPPET_*` variables plus `RUST_LOG` and the standard OpenTelemetry variables of
/// [`OTEL_ENV`] (under their `WHIPPET_*` names). A variable whose value is not UTF-8 is passed on
/// lossily, so its setting fails to parse with an error naming it rather than vanishing.
fn process_env() -> EnvMap {
    let env = std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            let wanted = name.starts_with(ENV_PREFIX)
                || name == "RUST_LOG"
                || OTEL_ENV.iter().any(|(standard, _)| *standard == name);
            wanted.then(|| (name, value.to_string_lossy().into_owned()))
        })
        .collect();
    with_standard_otel_env(env)
}

/// One line on stderr, the only output a failed start produces besides tracing.
fn print_error(error: &dyn std::error::Error) {
    let _ = writeln!(std::io::stderr().lock(), "whippet: error: {error}");
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as servers that hold many files and
/// sockets do: half of it is the log's budget of open segment files
/// (`whippet_log::FdPool::global`), the rest is for connections. Before the log is opened.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let from = limit.current;
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => info!(from = ?from, to = ?limit.maximum, "raised the open file limit"),
        Err(error) => warn!(%error, "could not raise the open file limit"),
    }
}

fn run_until_signalled(settings: Settings) -> Result<(), BrokerError> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(BrokerError::Runtime)?;
    // The gRPC exporter's channel belongs to the runtime it is built in; the HTTP one brings
    // its own blocking client, which must not be built inside a runtime.
    let telemetry =
        if settings.otel.endpoint.is_some() && settings.otel.protocol == OtlpProtocol::Grpc {
            let _runtime = runtime.enter();
            telemetry::init(&settings.log_level, &settings.otel)
        } else {
            telemetry::init(&settings.log_level, &settings.otel)
        };
    raise_open_file_limit();
    if telemetry.exporting() {
        info!(endpoint = ?settings.otel.endpoint, protocol = ?settings.otel.protocol, "exporting traces and logs over OTLP");
    }
    let result = runtime.block_on(async {
        let signals = ShutdownSignals::install().map_err(BrokerError::Signal)?;
        crate::run(settings, signals.first_then_arm_second()).await
    });
    // Flushes the spans and logs of the last requests while the runtime still runs.
    telemetry.shutdown();
    result
}

/// SIGTERM and SIGINT. Once tokio handles a signal its default action (terminate) is gone for
/// the life of the process, so the second signal's "exit now" is implemented here.
struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Completes on the first signal; from then on a second one exits the process at once.
    async fn first_then_arm_second(mut self) {
        let first = self.next().await;
        info!(
            signal = first.name,
            "shutdown signal received; a second one exits immediately"
        );
        tokio::spawn(async move {
            let second = self.next().await;
            warn!(
                signal = second.name,
                "second signal: exiting without draining"
            );
            std::process::exit(128 + second.number);
        });
    }

    async fn next(&mut self) -> Received {
        tokio::select! {
            Some(()) = self.terminate.recv() => Received { name: "SIGTERM", number: 15 },
            Some(()) = self.interrupt.recv() => Received { name: "SIGINT", number: 2 },
            // Both streams closed: the runtime is going away; treat it as a shutdown request.
            else => Received { name: "none", number: 0 },
        }
    }
}

/// Which signal arrived, for the log line and the conventional `128 + n` exit code.
struct Received {
    name: &'static str,
    number: i32,
}
