//! Tracing output of the process: the stderr log always, and, when an OTLP endpoint is set
//! ([`crate::config::OtelSettings`]), OpenTelemetry traces and logs exported over OTLP (gRPC or
//! HTTP/protobuf, through `opentelemetry-otlp`). Off without an endpoint: no exporter, no
//! thread, and the messaging spans of [`messaging`] stay disabled callsites.
//!
//! What is exported: the spans of target [`messaging::TARGET`] (one per produce, fetch, send
//! and poll request, with the messaging semantic-convention attributes and links to the
//! `traceparent` of the records) as traces, and the events the log filter lets through as
//! logs. The exporters' own crates are kept out of the log export so an export failure cannot
//! feed itself.

pub mod messaging;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::{OtelSettings, OtlpProtocol};

/// Crates whose events never go to the OTLP log export (the exporters themselves).
const NOT_EXPORTED: [&str; 8] = [
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "tonic",
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
];

/// The OTLP pipelines of a running process, flushed and stopped by [`Telemetry::shutdown`].
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    logger: Option<SdkLoggerProvider>,
}

impl Telemetry {
    /// Whether traces and logs are exported.
    pub fn exporting(&self) -> bool {
        self.tracer.is_some()
    }

    /// Exports what is still buffered and stops the exporters. Blocking: call it outside the
    /// async workers, while the runtime the gRPC exporter was built in still runs.
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer
            && let Err(error) = tracer.shutdown()
        {
            eprintln!("whippet: OTLP trace export did not shut down cleanly: {error}");
        }
        if let Some(logger) = self.logger
            && let Err(error) = logger.shutdown()
        {
            eprintln!("whippet: OTLP log export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the process's tracing subscriber: stderr with `filter`, plus the OTLP export of
/// `otel` when it names an endpoint. With gRPC it must run inside the tokio runtime (tonic's
/// channel is bound to it). An exporter that cannot be built is reported on stderr and the
/// broker runs without it.
pub fn init(filter: &str, otel: &OtelSettings) -> Telemetry {
    let env_filter = || {
        EnvFilter::try_new(filter)
            .unwrap_or_else(|_| EnvFilter::new(crate::config::LOG_LEVEL_DEFAULT))
    };
    // Colours only for a person at a terminal; log files and harnesses get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let telemetry = match otel.endpoint.as_deref().map(|url| build(url, otel)) {
        Some(Ok(telemetry)) => telemetry,
        Some(Err(error)) => {
            eprintln!("whippet: OTLP export disabled: {error}");
            Telemetry::default()
        }
        None => Telemetry::default(),
    };
    if !telemetry.exporting() {
        // Without export, the stderr log alone under one global filter, as before OTLP
        // existed: nothing on the request paths changes when telemetry is off.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_env_filter(env_filter())
            .init();
        return telemetry;
    }
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(env_filter());
    let traces = telemetry.tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("whippet"))
            .with_filter(Targets::new().with_target(messaging::TARGET, tracing::Level::INFO))
    });
    // One filter (the log filter plus the exporters' crates turned off), so its level hint
    // stays the log filter's and disabled callsites stay free.
    let logs = telemetry.logger.as_ref().map(|provider| {
        let directives: String = NOT_EXPORTED.iter().fold(filter.to_string(), |all, target| {
            format!("{all},{target}=off")
        });
        let exported = EnvFilter::try_new(directives).unwrap_or_else(|_| env_filter());
        OpenTelemetryTracingBridge::new(provider).with_filter(exported)
    });
    Registry::default()
        .with(stderr)
        .with(traces)
        .with(logs)
        .init();
    telemetry
}

/// The trace and log pipelines for `endpoint`.
fn build(endpoint: &str, otel: &OtelSettings) -> Result<Telemetry, String> {
    let resource = Resource::builder()
        .with_service_name(otel.service_name.clone())
        .build();
    let base = endpoint.trim_end_matches('/');
    let (spans, logs) = match otel.protocol {
        OtlpProtocol::Grpc => (
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(base)
                .build(),
            LogExporter::builder()
                .with_tonic()
                .with_endpoint(base)
                .build(),
        ),
        OtlpProtocol::HttpProtobuf => (
            SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/traces"))
                .build(),
            LogExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/logs"))
                .build(),
        ),
    };
    let spans = spans.map_err(|error| error.to_string())?;
    let logs = logs.map_err(|error| error.to_string())?;
    let tracer = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let logger = SdkLoggerProvider::builder()
        .with_batch_exporter(logs)
        .with_resource(resource)
        .build();
    Ok(Telemetry {
        tracer: Some(tracer),
        logger: Some(logger),
    })
}
