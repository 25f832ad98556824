//! Traces and logs exported over OTLP to a real receiver (issue 17). The receiver is the
//! OpenTelemetry collector's gRPC trace and logs services, generated from the OTLP protobuf
//! definitions (`opentelemetry-proto`) and served by tonic; the HTTP/protobuf variant is the
//! same messages posted to `/v1/traces` and `/v1/logs`. The broker is configured only by the
//! standard `OTEL_*` variables.
//!
//! confluent-kafka (venv, librdkafka 2.16) produces records with a W3C `traceparent` header and
//! reads them back; the `iggy` 0.11.0 SDK sends a message with a `traceparent` user header and
//! polls it. The produce, fetch, send and poll spans must arrive with the messaging
//! semantic-convention attributes, and the produce and send spans must carry the client's
//! trace id (as parent and as link), across both protocols.
#![allow(clippy::unwrap_used)]

mod cross_common;
mod native_sdk_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cross_common::{run_reporting, venv_script};
use iggy::prelude::*;
use native_sdk_common::{root, stream_and_topic};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use whippet_compat_tests::{Launch, WhippetProcess};

const KAFKA_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const NATIVE_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SERVICE: &str = "whippet-otlp-test";
const KAFKA_RECORDS: usize = 3;
const WAIT: Duration = Duration::from_secs(30);

/// What the receiver got, in arrival order.
#[derive(Debug, Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.logs.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Serves the collector's gRPC services on a free port.
fn start_grpc_receiver() -> (SocketAddr, Received) {
    let received = Received::default();
    let addr = free_addr();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(received.clone()))
        .add_service(LogsServiceServer::new(received.clone()))
        .serve(addr);
    tokio::spawn(server);
    (addr, received)
}

/// Serves OTLP/HTTP (protobuf bodies on `/v1/traces` and `/v1/logs`) on a free port, one
/// thread per connection, keep-alive honoured.
fn start_http_receiver() -> (SocketAddr, Received) {
    let received = Received::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = shared.clone();
            std::thread::spawn(move || serve_http(stream, &received));
        }
    });
    (addr, received)
}

fn serve_http(stream: std::net::TcpStream, received: &Received) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let status = if request_line.starts_with("POST /v1/traces ") {
            let decoded = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
            received.traces.lock().unwrap().push(decoded);
            "200 OK"
        } else if request_line.starts_with("POST /v1/logs ") {
            let decoded = ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
            received.logs.lock().unwrap().push(decoded);
            "200 OK"
        } else {
            "404 Not Found"
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn start_broker(endpoint: &str, protocol: &str) -> WhippetProcess {
    Launch::new()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_SERVICE_NAME", SERVICE)
        // The SDK's own variables: export every 100 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .start()
        .unwrap()
}

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-00f067aa0ba902b7-01")
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(number) => Some(number.to_string()),
        Value::BoolValue(flag) => Some(flag.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Every span received, with its resource's `service.name`.
fn spans(received: &Received) -> Vec<(Option<String>, Span)> {
    let traces = received.traces.lock().unwrap();
    traces
        .iter()
        .flat_map(|request| &request.resource_spans)
        .flat_map(|resource| {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"));
            resource
                .scope_spans
                .iter()
                .flat_map(|scope| &scope.spans)
                .map(move |span| (service.clone(), span.clone()))
        })
        .collect()
}

/// The first span whose attributes include all of `wanted`.
fn find_span(received: &Received, wanted: &[(&str, &str)]) -> Option<(Option<String>, Span)> {
    spans(received).into_iter().find(|(_, span)| {
        wanted
            .iter()
            .all(|(key, value)| attribute(&span.attributes, key).as_deref() == Some(*value))
    })
}

fn wait_for_span(received: &Received, wanted: &[(&str, &str)], broker: &WhippetProcess) -> Span {
    let started = Instant::now();
    while started.elapsed() < WAIT {
        if let Some((service, span)) = find_span(received, wanted) {
            assert_eq!(service.as_deref(), Some(SERVICE), "{span:?}");
            return span;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let names: BTreeMap<String, Vec<String>> = spans(received)
        .into_iter()
        .map(|(_, span)| {
            let attributes = span
                .attributes
                .iter()
                .map(|kv| format!("{}={:?}", kv.key, attribute(&span.attributes, &kv.key)))
                .collect();
            (span.name, attributes)
        })
        .collect();
    panic!(
        "no span with {wanted:?}; received {names:#?}\nbroker stderr:\n{}",
        broker.stderr()
    );
}

/// The span carries the client's trace: as its parent's trace and as a link.
fn assert_joined(span: &Span, trace: &str) {
    assert_eq!(hex(&span.trace_id), trace, "{span:?}");
    assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7", "{span:?}");
    assert!(
        span.links.iter().any(|link| hex(&link.trace_id) == trace),
        "{span:?}"
    );
}

async fn native_send_and_poll(broker: &WhippetProcess) {
    let client = root(broker).await;
    let (stream, topic) = stream_and_topic(&client, "otel", "t", 1).await;
    let headers = BTreeMap::from([(
        HeaderKey::try_from("traceparent").unwrap(),
        HeaderValue::try_from(traceparent(NATIVE_TRACE).as_str()).unwrap(),
    )]);
    let message = IggyMessage::builder()
        .payload(Bytes::from_static(b"traced"))
        .user_headers(headers)
        .build()
        .unwrap();
    client
        .send_messages(
            &stream,
            &topic,
            &Partitioning::partition_id(0),
            &mut [message],
        )
        .await
        .unwrap();
    let consumer = Consumer::new(Identifier::named("otel-poller").unwrap());
    let polled = client
        .poll_messages(
            &stream,
            &topic,
            Some(0),
            &consumer,
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(polled.messages.len(), 1);
}

async fn spans_and_logs_reach_the_receiver(endpoint: &str, protocol: &str, received: &Received) {
    let mut broker = start_broker(endpoint, protocol);
    let kafka_addr = broker.kafka_addr().to_string();
    let mut script = venv_script("traceparent_produce.py");
    script.args([
        kafka_addr.as_str(),
        "otel_kafka",
        &traceparent(KAFKA_TRACE),
        &KAFKA_RECORDS.to_string(),
    ]);
    let report = run_reporting("traceparent_produce.py", script, || broker.stderr());
    assert!(
        report.contains(&format!("consumed {KAFKA_RECORDS}")),
        "{report}"
    );
    native_send_and_poll(&broker).await;
    assert_kafka_spans(received, &broker);
    assert_native_spans(received, &broker);
    broker.terminate().unwrap();
    assert_logs_exported(received);
}

/// The Produce span joins the confluent-kafka trace; a Fetch span names the topic.
fn assert_kafka_spans(received: &Received, broker: &WhippetProcess) {
    let produce = wait_for_span(
        received,
        &[
            ("messaging.system", "kafka"),
            ("messaging.operation.name", "produce"),
            ("messaging.operation.type", "send"),
            ("messaging.destination.name", "otel_kafka"),
            ("messaging.destination.partition.id", "0"),
        ],
        broker,
    );
    assert_eq!(produce.name, "produce otel_kafka");
    let count: usize = attribute(&produce.attributes, "messaging.batch.message_count")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=KAFKA_RECORDS).contains(&count), "{count}");
    assert_joined(&produce, KAFKA_TRACE);
    let fetch = wait_for_span(
        received,
        &[
            ("messaging.system", "kafka"),
            ("messaging.operation.name", "fetch"),
            ("messaging.operation.type", "receive"),
            ("messaging.destination.name", "otel_kafka"),
        ],
        broker,
    );
    assert!(attribute(&fetch.attributes, "messaging.batch.message_count").is_some());
}

/// The send span joins the SDK message's trace; the poll span counts the message.
fn assert_native_spans(received: &Received, broker: &WhippetProcess) {
    let send = wait_for_span(
        received,
        &[
            ("messaging.system", "iggy"),
            ("messaging.operation.name", "send"),
            ("messaging.destination.name", "otel/t"),
            ("messaging.destination.partition.id", "0"),
            ("messaging.batch.message_count", "1"),
        ],
        broker,
    );
    assert_eq!(send.name, "send otel/t");
    assert_joined(&send, NATIVE_TRACE);
    wait_for_span(
        received,
        &[
            ("messaging.system", "iggy"),
            ("messaging.operation.name", "poll"),
            ("messaging.operation.type", "receive"),
            ("messaging.destination.name", "otel/t"),
            ("messaging.batch.message_count", "1"),
        ],
        broker,
    );
}

/// The broker's own log lines arrive as OTLP logs, under the same service.
fn assert_logs_exported(received: &Received) {
    let logs = received.logs.lock().unwrap();
    let bodies: Vec<String> = logs
        .iter()
        .flat_map(|request| &request.resource_logs)
        .filter(|resource| {
            resource
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .as_deref()
                == Some(SERVICE)
        })
        .flat_map(|resource| &resource.scope_logs)
        .flat_map(|scope| &scope.log_records)
        .filter_map(|record| match record.body.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        bodies
            .iter()
            .any(|body| body.contains("exporting traces and logs over OTLP")),
        "{bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_carries_messaging_spans_trace_context_and_logs() {
    let (addr, received) = start_grpc_receiver();
    spans_and_logs_reach_the_receiver(&format!("http://{addr}"), "grpc", &received).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_export_carries_messaging_spans_trace_context_and_logs() {
    let (addr, received) = start_http_receiver();
    spans_and_logs_reach_the_receiver(&format!("http://{addr}"), "http/protobuf", &received).await;
}
