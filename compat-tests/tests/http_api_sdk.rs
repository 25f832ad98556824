//! The Iggy-compatible HTTP API against the real `whippet` binary, driven by the official
//! `iggy` 0.11.0 crate with its HTTP transport: login (and a wrong password refused), streams
//! and topics, send and poll, consumer offsets, users and tokens; the data crosses protocols
//! (sent over HTTP, read by the native TCP SDK and by a Kafka client; sent natively, polled over
//! HTTP). Raw requests check what the SDK cannot: `--auth true` refuses every route without a
//! token, oversized and malformed bodies get Iggy's JSON error with a 4xx.
#![allow(clippy::unwrap_used)]

#[path = "native_sdk_common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{KAFKA_STREAM, id, name, payloads, root, text_messages};
use iggy::prelude::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::{Launch, WhippetProcess};

/// An `iggy` client over the HTTP transport at the broker's HTTP address (not logged in).
fn http_client(broker: &WhippetProcess) -> IggyClient {
    IggyClient::builder()
        .with_http()
        .with_api_url(format!("http://{}", broker.http_addr()))
        .with_retries(0)
        .build()
        .unwrap()
}

async fn http_root(broker: &WhippetProcess) -> IggyClient {
    let client = http_client(broker);
    client
        .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
        .await
        .unwrap();
    client
}

fn partition_zero() -> Partitioning {
    Partitioning::partition_id(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_http_logs_in_sends_polls_and_stores_offsets() {
    let broker = Launch::new().start().unwrap();
    let wrong = http_client(&broker)
        .login_user("iggy", "not-the-password")
        .await;
    assert!(
        wrong.is_err(),
        "a wrong password must be refused: {wrong:?}"
    );

    let client = http_root(&broker).await;
    let stream = client.create_stream("http-s").await.unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(2),
        ..Default::default()
    };
    let topic = client
        .create_topic(&id(stream.id), "http-t", &options)
        .await
        .unwrap();
    assert_eq!(topic.partitions_count, 2);
    let (sid, tid) = (name("http-s"), name("http-t"));
    http_send_poll_and_offsets(&client, &sid, &tid).await;

    let details = client.get_topic(&sid, &tid).await.unwrap().unwrap();
    assert_eq!(details.messages_count, 3);
    assert_eq!(details.partitions[0].current_offset, 2);
    assert!(client.get_stream(&name("missing")).await.unwrap().is_none());
    let streams = client.get_streams().await.unwrap();
    assert!(streams.iter().any(|s| s.name == "http-s"));
    let stats = client.get_stats().await.unwrap();
    assert_eq!(stats.streams_count, 1);
    assert_eq!(stats.messages_count, 3);
    read_natively_and_poll_native_sends(&broker, &client).await;
}

/// Sends three messages over HTTP, polls from offset 1, stores and reads an offset.
async fn http_send_poll_and_offsets(client: &IggyClient, sid: &Identifier, tid: &Identifier) {
    let mut messages = text_messages("h", 3);
    let sent = client
        .send_messages(sid, tid, &partition_zero(), &mut messages)
        .await
        .unwrap();
    assert_eq!(sent.confirmations.len(), 1);
    assert_eq!(sent.confirmations[0].base_offset, 0);

    let consumer = Consumer::new(id(7));
    let polled = client
        .poll_messages(
            sid,
            tid,
            Some(0),
            &consumer,
            &PollingStrategy::offset(1),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(payloads(&polled), ["h-1", "h-2"]);
    assert_eq!(polled.messages[0].header.offset, 1);
    assert_eq!(polled.current_offset, 2);

    client
        .store_consumer_offset(&consumer, sid, tid, Some(0), 1)
        .await
        .unwrap();
    let stored = client
        .get_consumer_offset(&consumer, sid, tid, Some(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.stored_offset, stored.current_offset), (1, 2));
    let other = Consumer::new(id(8));
    let none = client.get_consumer_offset(&other, sid, tid, Some(0)).await;
    assert!(matches!(none, Ok(None)), "{none:?}");
}

/// The messages and offset of the test above read over the native TCP protocol; a message sent
/// natively with headers of every kind polled over HTTP.
async fn read_natively_and_poll_native_sends(broker: &WhippetProcess, client: &IggyClient) {
    let (sid, tid) = (name("http-s"), name("http-t"));
    let consumer = Consumer::new(id(7));
    let native = root(broker).await;
    let polled = native
        .poll_messages(
            &sid,
            &tid,
            Some(0),
            &consumer,
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(payloads(&polled), ["h-0", "h-1", "h-2"]);
    let stored = native
        .get_consumer_offset(&consumer, &sid, &tid, Some(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.stored_offset, 1,
        "offset stored over HTTP, read natively"
    );
    // Sent natively with a header, polled over HTTP.
    let mut with_header = vec![
        IggyMessage::builder()
            .payload(Bytes::from("native"))
            .user_headers(common::every_header_kind())
            .build()
            .unwrap(),
    ];
    native
        .send_messages(&sid, &tid, &Partitioning::partition_id(1), &mut with_header)
        .await
        .unwrap();
    let polled = client
        .poll_messages(
            &sid,
            &tid,
            Some(1),
            &consumer,
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(payloads(&polled), ["native"]);
    let clients = client.get_clients().await.unwrap();
    assert!(clients.iter().any(|c| c.transport == "TCP"), "{clients:?}");
    // The partition has one (active) segment: nothing to delete, and the call is served.
    client.delete_segments(&sid, &tid, 0, 1).await.unwrap();
    let topic_options = client.describe_options(OptionsScope::Topic).await.unwrap();
    assert!(
        topic_options.iter().any(|o| o.key == "message_expiry"),
        "{topic_options:?}"
    );
    let metadata = client.get_cluster_metadata().await.unwrap();
    assert_eq!(metadata.nodes[0].endpoints.http, broker.http_addr().port());
    assert_eq!(
        polled.messages[0].user_headers_map().unwrap().unwrap(),
        common::every_header_kind()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_http_manages_users_tokens_and_groups() {
    let broker = Launch::new().start().unwrap();
    let client = http_root(&broker).await;
    let user = client
        .create_user("alice", "alice-secret", UserStatus::Active, None)
        .await
        .unwrap();
    assert_eq!(user.username, "alice");
    let users = client.get_users().await.unwrap();
    assert!(users.iter().any(|u| u.username == "alice"));

    let alice = http_client(&broker);
    alice.login_user("alice", "alice-secret").await.unwrap();
    // No permissions: creating a stream is refused (403 → Unauthorized).
    let refused = alice.create_stream("alice-s").await;
    assert!(
        matches!(refused, Err(IggyError::Unauthorized)),
        "{refused:?}"
    );

    let token = client
        .create_personal_access_token("ops", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap();
    let with_token = http_client(&broker);
    with_token
        .login_with_personal_access_token(&token.token)
        .await
        .unwrap();
    with_token.create_stream("token-s").await.unwrap();
    let tokens = client.get_personal_access_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    client.delete_personal_access_token("ops").await.unwrap();
    // The deleted token's session ends at once.
    assert!(with_token.get_streams().await.is_err());

    let (sid, tid) = (name("token-s"), name("g-topic"));
    client
        .create_topic(&sid, "g-topic", &TopicCreateOptions::default())
        .await
        .unwrap();
    let group = client
        .create_consumer_group(&sid, &tid, "workers")
        .await
        .unwrap();
    assert_eq!(group.name, "workers");
    let groups = client.get_consumer_groups(&sid, &tid).await.unwrap();
    assert_eq!(groups.len(), 1);
    client
        .delete_consumer_group(&sid, &tid, &name("workers"))
        .await
        .unwrap();
    // A password change keeps the session that made it and ends alice's other sessions.
    let other = http_client(&broker);
    other.login_user("alice", "alice-secret").await.unwrap();
    alice
        .change_password(&name("alice"), "alice-secret", "alice-new")
        .await
        .unwrap();
    assert!(
        alice.get_me().await.is_err(),
        "get_me is not an HTTP route (FeatureUnavailable)"
    );
    assert!(alice.get_users().await.is_err(), "alice may not read users");
    let after = alice.get_stream(&name("token-s")).await;
    assert!(
        !matches!(after, Err(IggyError::Unauthenticated)),
        "{after:?}"
    );
    let ended = other.get_stream(&name("token-s")).await;
    assert!(
        matches!(ended, Err(IggyError::Unauthenticated)),
        "{ended:?}"
    );
    client.delete_user(&name("alice")).await.unwrap();
    assert!(client.get_user(&name("alice")).await.unwrap().is_none());
}

/// A poll's answer stops after the message that crosses 8 MiB of payload (the rest comes with
/// the next poll), so a JSON answer stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_polls_are_answered_in_bounded_parts() {
    let broker = Launch::new().start().unwrap();
    let client = http_root(&broker).await;
    let (sid, tid) = common::stream_and_topic(&client, "big-s", "big-t", 1).await;
    let payload = Bytes::from(vec![b'p'; 5 * 512 * 1024]);
    for _ in 0..5 {
        let mut one = vec![
            IggyMessage::builder()
                .payload(payload.clone())
                .build()
                .unwrap(),
        ];
        client
            .send_messages(&sid, &tid, &partition_zero(), &mut one)
            .await
            .unwrap();
    }
    let consumer = Consumer::new(id(1));
    let first = client
        .poll_messages(
            &sid,
            &tid,
            Some(0),
            &consumer,
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        first.messages.len(),
        4,
        "cut after the message crossing 8 MiB"
    );
    assert!(first.messages.iter().all(|m| m.payload == payload));
    let rest = client
        .poll_messages(
            &sid,
            &tid,
            Some(0),
            &consumer,
            &PollingStrategy::offset(4),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(rest.messages.len(), 1);
    assert_eq!(rest.messages[0].header.offset, 4);
}

/// Messages sent over HTTP to a topic in the Kafka stream, read by a Kafka client (rdkafka).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_over_http_read_by_kafka() {
    let broker = Launch::new().start().unwrap();
    let client = http_root(&broker).await;
    let sid = name(KAFKA_STREAM);
    // The Kafka stream appears with the first Kafka topic; a native client may create it.
    client.create_stream(KAFKA_STREAM).await.unwrap();
    client
        .create_topic(&sid, "from-http", &TopicCreateOptions::default())
        .await
        .unwrap();
    let mut messages = text_messages("k", 4);
    client
        .send_messages(&sid, &name("from-http"), &partition_zero(), &mut messages)
        .await
        .unwrap();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka_addr().to_string())
        .set("group.id", "http-compat-unused")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("from-http", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 4 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            let message = message.unwrap();
            seen.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(seen, ["k-0", "k-1", "k-2", "k-3"]);
}

/// One raw HTTP/1.1 request; returns the status code and the body.
fn raw(addr: SocketAddr, request: &str, body: &[u8]) -> (u16, String) {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    raw(addr, &head, body.as_bytes())
}

fn login_token(addr: SocketAddr) -> String {
    let (status, body) = post(
        addr,
        "/users/login",
        None,
        r#"{"username":"iggy","password":"iggy"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    value["access_token"]["token"].as_str().unwrap().to_string()
}

#[test]
fn auth_true_refuses_requests_without_a_token_and_bad_bodies_get_iggy_errors() {
    let broker = Launch::new()
        .args([
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--auth",
            "true",
        ])
        .start()
        .unwrap();
    let addr = broker.http_addr();
    for path in ["/streams", "/users", "/kafka/groups/g/reset-offsets"] {
        let (status, body) = post(addr, path, None, r#"{"name":"x"}"#);
        assert_eq!(status, 401, "{path}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["code"], "unauthenticated", "{body}");
    }
    for path in ["/streams", "/stats", "/kafka/groups", "/kafka/topics"] {
        let get = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        assert_eq!(
            raw(addr, &get, b"").0,
            401,
            "reads need a token too: {path}"
        );
    }
    let (status, _) = post(addr, "/streams", Some("not.a.token"), r#"{"name":"x"}"#);
    assert_eq!(status, 401);
    let (status, _) = post(
        addr,
        "/users/login",
        None,
        r#"{"username":"iggy","password":"wrong"}"#,
    );
    assert_eq!(status, 401);

    let token = login_token(addr);
    let (status, body) = post(addr, "/streams", Some(&token), r#"{"name":"raw-s"}"#);
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(addr, "/streams", Some(&token), r#"{"name":"raw-s"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("stream_name_already_exists"), "{body}");
    let (status, body) = post(addr, "/streams", Some(&token), "{not json");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"reason\""), "{body}");
    // A declared body over the cap is refused before it is read.
    let head = format!(
        "POST /streams HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 99999999\r\nConnection: close\r\n\r\n"
    );
    let (status, body) = raw(addr, &head, b"{}");
    assert_eq!(status, 413, "{body}");
    let (status, body) = post(addr, "/openapi.json", None, "");
    assert_eq!(status, 405, "{body}");
    bodies_are_capped_and_timed(addr, &token);
    every_described_route_is_served(addr, &token);
}

/// A chunked body over the cap gets `413` (no length declared up front); a body that stops
/// arriving gets `408` once the body deadline (5 s) passes.
fn bodies_are_capped_and_timed(addr: SocketAddr, token: &str) {
    let head = format!(
        "POST /streams HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunk = vec![b'x'; 64 * 1024];
    let mut body = Vec::new();
    for _ in 0..80 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let (status, answer) = raw(addr, &head, &body);
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("exceeds"), "{answer}");

    let head = format!(
        "POST /streams HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n"
    );
    let started = Instant::now();
    let (status, answer) = raw(addr, &head, b"{\"name\":");
    assert_eq!(status, 408, "{answer}");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// Every path and method of `GET /openapi.json` reaches a handler: never the fallback `404`
/// nor a `405` (placeholders filled with names that do not exist; bodies empty).
fn every_described_route_is_served(addr: SocketAddr, token: &str) {
    let get = format!("GET /openapi.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (status, body) = raw(addr, &get, b"");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "{}", paths.len());
    for (path, methods) in paths {
        if path == "/users/logout" {
            continue; // would end the session the loop uses
        }
        let concrete = path
            .replace("{fsync}", "fsync=false")
            .replace("{partition}", "0")
            .replace('{', "no-")
            .replace('}', "");
        for method in methods.as_object().unwrap().keys() {
            let head = format!(
                "{} {concrete} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                method.to_uppercase()
            );
            let (status, body) = raw(addr, &head, b"");
            assert!(
                status != 405 && body != r#"{"error":"not found"}"#,
                "{method} {concrete}: {status} {body}"
            );
            assert!(
                status != 0 && status < 500,
                "{method} {concrete}: {status} {body}"
            );
        }
    }
}
