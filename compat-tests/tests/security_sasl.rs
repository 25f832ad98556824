//! SASL on the Kafka listener against the one users store: confluent-kafka (PyPI) and
//! Debian's kcat over SASL_SSL with each of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 and over
//! SASL_PLAINTEXT; a wrong password fails with SASL_AUTHENTICATION_FAILED; a user created with
//! the native SDK logs in over SASL; a password change or deletion made natively ends an open
//! Kafka session at its next request; nothing is served before authentication; the legacy
//! unframed exchange after SaslHandshake v0.
#![allow(clippy::unwrap_used)]

mod kafka_raw;
mod native_sdk_common;
mod security_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use iggy::prelude::*;
use kafka_protocol::messages::{MetadataRequest, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use kafka_raw::{Conn, framed};
use security_common::{Pki, confluent, kcat, path, start};
use whippet_compat_tests::WhippetProcess;

const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

fn sasl_config(protocol: &str, pki: &Pki, mechanism: &str, user: &str, password: &str) -> String {
    format!(
        r#"{{"security.protocol": "{protocol}", "ssl.ca.location": "{}",
             "sasl.mechanism": "{mechanism}", "sasl.username": "{user}",
             "sasl.password": "{password}"}}"#,
        path(&pki.ca)
    )
}

fn sasl_ssl_broker(pki: &Pki) -> WhippetProcess {
    start(
        pki,
        &["--kafka-security-protocol", "SASL_SSL", "--auth", "true"],
    )
}

#[test]
fn confluent_kafka_over_sasl_ssl_with_each_mechanism() {
    let pki = Pki::new();
    let broker = sasl_ssl_broker(&pki);
    for mechanism in MECHANISMS {
        let topic = format!("sasl-{}", mechanism.to_lowercase());
        let good = sasl_config("SASL_SSL", &pki, mechanism, "iggy", "iggy");
        let output = confluent(&broker, &topic, &good, "ok");
        assert!(output.contains("OK 20 records"), "{mechanism}: {output}");
        let wrong = sasl_config("SASL_SSL", &pki, mechanism, "iggy", "wrong");
        let output = confluent(&broker, &topic, &wrong, "auth-failed");
        // The broker's SASL_AUTHENTICATION_FAILED message, as the client reports it.
        assert!(
            output.contains("Authentication failed"),
            "{mechanism}: {output}"
        );
    }
    // Without SASL the client never gets served.
    let no_sasl = format!(
        r#"{{"security.protocol": "SSL", "ssl.ca.location": "{}"}}"#,
        path(&pki.ca)
    );
    confluent(&broker, "sasl-none", &no_sasl, "auth-failed");
}

#[test]
fn kcat_over_sasl_ssl_with_each_mechanism() {
    let pki = Pki::new();
    let broker = sasl_ssl_broker(&pki);
    let ca = path(&pki.ca);
    for mechanism in MECHANISMS {
        let topic = format!("kcat-{}", mechanism.to_lowercase());
        let props = |password: &'static str| {
            vec![
                ("security.protocol", "SASL_SSL"),
                ("ssl.ca.location", ca.as_str()),
                ("sasl.mechanisms", mechanism),
                ("sasl.username", "iggy"),
                ("sasl.password", password),
            ]
        };
        let (ok, output) = kcat(&broker, &props("iggy"), &["-P", "-t", &topic], "a\nb\n");
        assert!(ok, "{mechanism} produce: {output}\n{}", broker.stderr());
        let consume = ["-C", "-t", &topic, "-o", "beginning", "-c", "2", "-e"];
        let (ok, output) = kcat(&broker, &props("iggy"), &consume, "");
        assert!(ok, "{mechanism} consume: {output}");
        assert_eq!(output.lines().take(2).collect::<Vec<_>>(), ["a", "b"]);
        let list = ["-L", "-m", "10"];
        let (ok, output) = kcat(&broker, &props("bad"), &list, "");
        assert!(
            !ok,
            "{mechanism}: a wrong password listed metadata: {output}"
        );
        assert!(
            output.contains("Authentication failed"),
            "{mechanism}: {output}"
        );
    }
}

#[test]
fn sasl_plaintext_with_scram() {
    let pki = Pki::new();
    let broker = start(&pki, &["--kafka-security-protocol", "SASL_PLAINTEXT"]);
    let config = sasl_config("SASL_PLAINTEXT", &pki, "SCRAM-SHA-256", "iggy", "iggy");
    let output = confluent(&broker, "sasl-plain-text", &config, "ok");
    assert!(output.contains("OK 20 records"), "{output}");
}

/// The native root user's client (the shared native-SDK helper).
async fn native_root(broker: &WhippetProcess) -> IggyClient {
    native_sdk_common::login(broker, DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD).await
}

fn all_permissions() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_servers: false,
            read_servers: true,
            manage_users: false,
            read_users: false,
            manage_streams: true,
            read_streams: true,
            manage_topics: true,
            read_topics: true,
            poll_messages: true,
            send_messages: true,
        },
        streams: None,
    }
}

/// A raw Kafka connection that authenticated with SASL/PLAIN (handshake v1, authenticate v2).
fn plain_session(broker: &WhippetProcess, user: &str, password: &str) -> Conn {
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(conn.call(1, &handshake).error_code, 0);
    let token = format!("\0{user}\0{password}");
    let auth = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    let answer = conn.call(2, &auth);
    assert_eq!(answer.error_code, 0, "{:?}", answer.error_message);
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_store_for_both_protocols() {
    let pki = Pki::new();
    let broker = start(&pki, &["--kafka-security-protocol", "SASL_PLAINTEXT"]);
    let root = native_root(&broker).await;
    root.create_user(
        "alice",
        "alice-pass",
        UserStatus::Active,
        Some(all_permissions()),
    )
    .await
    .unwrap();
    for mechanism in MECHANISMS {
        let config = sasl_config("SASL_PLAINTEXT", &pki, mechanism, "alice", "alice-pass");
        let output = confluent(&broker, "alice-topic", &config, "ok");
        assert!(output.contains("OK"), "{mechanism}: {output}");
    }

    // An open Kafka session ends at its next request once the password changes natively.
    let mut session = plain_session(&broker, "alice", "alice-pass");
    let metadata = MetadataRequest::default();
    session.call(4, &metadata);
    root.change_password(
        &Identifier::named("alice").unwrap(),
        "alice-pass",
        "alice-new",
    )
    .await
    .unwrap();
    session.send_raw(&kafka_raw::request_frame(4, 99, &metadata));
    session.assert_closed("after the password change");
    let old = sasl_config(
        "SASL_PLAINTEXT",
        &pki,
        "SCRAM-SHA-512",
        "alice",
        "alice-pass",
    );
    confluent(&broker, "alice-topic", &old, "auth-failed");
    let new = sasl_config(
        "SASL_PLAINTEXT",
        &pki,
        "SCRAM-SHA-512",
        "alice",
        "alice-new",
    );
    confluent(&broker, "alice-topic", &new, "ok");

    // Deleting the user ends its open session too.
    let mut session = plain_session(&broker, "alice", "alice-new");
    session.call(4, &metadata);
    root.delete_user(&Identifier::named("alice").unwrap())
        .await
        .unwrap();
    session.send_raw(&kafka_raw::request_frame(4, 7, &metadata));
    session.assert_closed("after the deletion");
    confluent(&broker, "alice-topic", &new, "auth-failed");
}

#[test]
fn nothing_is_served_before_authentication_and_failures_close() {
    let pki = Pki::new();
    let broker = start(&pki, &["--kafka-security-protocol", "SASL_PLAINTEXT"]);
    // Metadata first: closed without an answer.
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    conn.send_raw(&kafka_raw::request_frame(4, 1, &MetadataRequest::default()));
    conn.assert_closed("metadata before SASL");

    // A wrong password: 58 with a message, then the connection closes.
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    let answer = conn.call(1, &handshake);
    assert_eq!(answer.error_code, 0);
    let mechanisms: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(mechanisms, MECHANISMS);
    let auth = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from("\0iggy\0nope"));
    let answer = conn.call(2, &auth);
    assert_eq!(answer.error_code, 58);
    assert!(
        answer
            .error_message
            .unwrap()
            .contains("Authentication failed")
    );
    conn.assert_closed("after a failed authentication");
    // The refusal is counted for Kafka on /metrics.
    let metrics = http_get(broker.http_addr(), "/metrics");
    assert!(
        metrics
            .lines()
            .any(|line| line == "whippet_login_failures_total{protocol=\"kafka\"} 1"),
        "{metrics}"
    );

    // An unknown mechanism: 33 and the list.
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    let gssapi =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("GSSAPI"));
    assert_eq!(conn.call(1, &gssapi).error_code, 33);
}

#[test]
fn legacy_unframed_exchange_after_handshake_v0() {
    let pki = Pki::new();
    let broker = start(&pki, &["--kafka-security-protocol", "SASL_PLAINTEXT"]);
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(conn.call(0, &handshake).error_code, 0);
    conn.send_raw(&framed(b"\0iggy\0iggy"));
    let reply = conn.read_frame().unwrap();
    assert!(reply.is_empty(), "PLAIN's final reply is empty: {reply:?}");
    let metadata = conn.call(4, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1);

    // A wrong password in the legacy exchange closes the connection without an answer.
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    assert_eq!(conn.call(0, &handshake).error_code, 0);
    conn.send_raw(&framed(b"\0iggy\0wrong"));
    conn.assert_closed("legacy failure");
}

fn read_only_permissions() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            read_streams: true,
            read_topics: true,
            poll_messages: true,
            ..Default::default()
        },
        streams: None,
    }
}

/// Native permissions decide what a Kafka user may do: a user without any permission gets
/// GROUP_AUTHORIZATION_FAILED for its consumer group and TOPIC_AUTHORIZATION_FAILED producing
/// on Kafka, Unauthorized natively, and does not see the topic in Metadata; a read-only user
/// may consume but not produce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_permissions_apply_to_kafka_requests() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--auth",
            "true",
        ],
    );
    let root_config = sasl_config("SASL_PLAINTEXT", &pki, "SCRAM-SHA-256", "iggy", "iggy");
    confluent(&broker, "secret", &root_config, "ok");
    let root = native_root(&broker).await;
    root.create_user("bob", "bob-pass", UserStatus::Active, None)
        .await
        .unwrap();
    root.create_user(
        "carol",
        "carol-pass",
        UserStatus::Active,
        Some(read_only_permissions()),
    )
    .await
    .unwrap();

    let bob = sasl_config("SASL_PLAINTEXT", &pki, "PLAIN", "bob", "bob-pass");
    // No right to poll anything: no consumer group either (GROUP_AUTHORIZATION_FAILED).
    confluent(&broker, "secret", &bob, "group-denied");
    confluent(&broker, "secret", &bob, "topic-denied");
    let props = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "PLAIN"),
        ("sasl.username", "bob"),
        ("sasl.password", "bob-pass"),
    ];
    let (ok, listing) = kcat(&broker, &props, &["-L", "-m", "10"], "");
    assert!(ok && !listing.contains("secret"), "bob sees: {listing}");

    let carol = sasl_config(
        "SASL_PLAINTEXT",
        &pki,
        "SCRAM-SHA-512",
        "carol",
        "carol-pass",
    );
    confluent(&broker, "secret", &carol, "topic-denied");

    // The same rule natively: bob may not poll the Kafka topic.
    let native_bob = IggyClient::builder()
        .with_tcp()
        .with_server_address(broker.native_addr().to_string())
        .build()
        .unwrap();
    native_bob.connect().await.unwrap();
    native_bob.login_user("bob", "bob-pass").await.unwrap();
    let polled = native_bob
        .poll_messages(
            &Identifier::named("kafka").unwrap(),
            &Identifier::named("secret").unwrap(),
            Some(0),
            &Consumer::new(Identifier::numeric(1).unwrap()),
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await;
    assert_eq!(
        polled.err().map(|e| e.as_code()),
        Some(41),
        "Unauthorized natively"
    );
}

/// Runs `clients/python/acl_admin.py` (confluent-kafka's AdminClient) with `args`.
fn acl_admin(broker: &WhippetProcess, config: &str, args: &[&str]) -> String {
    use whippet_compat_tests::programs::{clients_dir, venv_python};
    let mut command = std::process::Command::new(venv_python());
    command
        .arg(clients_dir().join("python/acl_admin.py"))
        .arg(broker.kafka_addr().to_string())
        .arg(config)
        .args(args)
        .env_remove("LD_LIBRARY_PATH");
    let (ok, output) = security_common::run(command);
    assert!(ok, "acl_admin {args:?}: {output}\n{}", broker.stderr());
    output
}

/// Kafka's ACL APIs read and write the native permissions: an ACL created over Kafka lets a
/// native user read, shows in DescribeAcls and natively, and goes with DeleteAcls; a user
/// who may poll no topic gets GROUP_AUTHORIZATION_FAILED, one who may poll another topic
/// TOPIC_AUTHORIZATION_FAILED; what has no
/// native counterpart is refused with a message; a user without manage_users gets
/// CLUSTER_AUTHORIZATION_FAILED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_acls_are_native_permissions() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--auth",
            "true",
        ],
    );
    let root_config = sasl_config("SASL_PLAINTEXT", &pki, "SCRAM-SHA-256", "iggy", "iggy");
    confluent(&broker, "secret", &root_config, "ok");
    let root = native_root(&broker).await;
    root.create_user("bob", "bob-pass", UserStatus::Active, None)
        .await
        .unwrap();
    let bob = sasl_config("SASL_PLAINTEXT", &pki, "PLAIN", "bob", "bob-pass");
    confluent(&broker, "secret", &bob, "group-denied");

    let create = ["create", "User:bob", "TOPIC", "secret", "READ", "ALLOW"];
    assert!(acl_admin(&broker, &root_config, &create).contains("OK"));
    confluent(&broker, "secret", &bob, "read-ok");
    confluent(&broker, "secret", &bob, "topic-denied");
    let listed = acl_admin(&broker, &root_config, &["describe"]);
    assert!(
        listed.contains("BINDING User:bob TOPIC secret READ ALLOW"),
        "{listed}"
    );
    let native = root
        .get_user(&Identifier::named("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    let streams = native.permissions.unwrap().streams.unwrap();
    let topic = streams.values().next().unwrap().topics.as_ref().unwrap();
    let grant = topic.values().next().unwrap();
    assert!(grant.poll_messages && grant.read_topic && !grant.send_messages);
    // The authorized operations (KIP-430) are these grants: root may do everything, bob may
    // read and describe the topic, and of the cluster only get a producer id.
    let root_ops = acl_admin(&broker, &root_config, &["operations", "secret"]);
    assert!(
        root_ops.contains(
            "TOPIC_OPS ALTER,ALTER_CONFIGS,CREATE,DELETE,DESCRIBE,DESCRIBE_CONFIGS,READ,WRITE"
        ) && root_ops.contains(
            "CLUSTER_OPS ALTER,ALTER_CONFIGS,CLUSTER_ACTION,CREATE,DESCRIBE,DESCRIBE_CONFIGS,IDEMPOTENT_WRITE"
        ),
        "{root_ops}"
    );
    let bob_ops = acl_admin(&broker, &bob, &["operations", "secret"]);
    assert!(
        bob_ops.contains("TOPIC_OPS DESCRIBE,DESCRIBE_CONFIGS,READ\n")
            && bob_ops.contains("CLUSTER_OPS IDEMPOTENT_WRITE\n"),
        "{bob_ops}"
    );

    for refused in [
        ["create", "User:bob", "TOPIC", "secret", "READ", "DENY"],
        ["create", "User:bob", "GROUP", "g", "READ", "ALLOW"],
    ] {
        let output = acl_admin(&broker, &root_config, &refused);
        assert!(output.contains("cannot be mapped"), "{refused:?}: {output}");
    }
    let output = acl_admin(&broker, &bob, &create);
    assert!(output.contains("CLUSTER_AUTHORIZATION_FAILED"), "{output}");

    let deleted = acl_admin(
        &broker,
        &root_config,
        &["delete", "User:bob", "secret", "READ"],
    );
    assert!(deleted.contains("DELETED 1"), "{deleted}");
    confluent(&broker, "secret", &bob, "group-denied");

    // With READ on another topic bob may use groups, and is refused the topic itself.
    confluent(&broker, "open", &root_config, "ok");
    let open = ["create", "User:bob", "TOPIC", "open", "READ", "ALLOW"];
    assert!(acl_admin(&broker, &root_config, &open).contains("OK"));
    confluent(&broker, "open", &bob, "read-ok");
    confluent(&broker, "secret", &bob, "read-denied");
}

/// One SASL/PLAIN attempt from local address `from` (any 127.0.0.0/8 address works on
/// Linux); answers the SaslAuthenticate error code.
async fn plain_attempt(broker: &WhippetProcess, from: [u8; 4], user: &str, password: &str) -> i16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(broker.kafka_addr()).await.unwrap();
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    let mut conn = Conn::open_stream(stream, Duration::from_secs(10));
    tokio::task::block_in_place(|| {
        let handshake =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
        assert_eq!(conn.call(1, &handshake).error_code, 0);
        let token = format!("\0{user}\0{password}");
        let auth = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
        conn.call(2, &auth).error_code
    })
}

/// Fails logins as `user` from `from` until the throttle refuses one without checking it:
/// failures are checked (one argon2 hash each) while allowance lasts, refusals are quick, so
/// `attempts` well above the burst leaves the allowance spent at the end.
async fn spend(broker: &WhippetProcess, from: [u8; 4], user: &str, attempts: usize) {
    for _ in 0..attempts {
        assert_eq!(plain_attempt(broker, from, user, "guess").await, 58);
    }
}

/// Failed logins are braked per client address (10 at once, then one per refill period) and
/// per user name over all addresses (30, then one per period), on both protocols: once an
/// allowance is spent, even the right password is refused until it refills. The period is
/// set to 8 s (default 1 s) so a slow machine cannot refill an allowance between two steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_address_and_per_user() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--login-failure-refill-ms",
            "8000",
        ],
    );
    let root = native_root(&broker).await;
    root.create_user("mallory", "right-pass", UserStatus::Active, None)
        .await
        .unwrap();
    // Per address: 127.0.0.2 spends its allowance; its right password is then refused.
    let started = std::time::Instant::now();
    spend(&broker, [127, 0, 0, 2], "iggy", 20).await;
    assert_eq!(
        plain_attempt(&broker, [127, 0, 0, 2], "iggy", "iggy").await,
        58
    );
    println!("per address: allowance spent after {:?}", started.elapsed());
    // Another address is not affected.
    assert_eq!(
        plain_attempt(&broker, [127, 0, 0, 3], "iggy", "iggy").await,
        0
    );
    // One more attempt per period: after 8.1 s the address may try (and succeed) once.
    std::thread::sleep(Duration::from_millis(8_100));
    assert_eq!(
        plain_attempt(&broker, [127, 0, 0, 2], "iggy", "iggy").await,
        0
    );

    // Per user: mallory's 30 failures from four addresses (each under its own cap)...
    for from in [
        [127, 0, 0, 4],
        [127, 0, 0, 5],
        [127, 0, 0, 6],
        [127, 0, 0, 7],
    ] {
        spend(&broker, from, "mallory", 10).await;
    }
    // ...and her right password is refused from fresh addresses, natively and over Kafka.
    let native = IggyClient::builder()
        .with_tcp()
        .with_server_address(broker.native_addr().to_string())
        .build()
        .unwrap();
    native.connect().await.unwrap();
    assert!(native.login_user("mallory", "right-pass").await.is_err());
    assert_eq!(
        plain_attempt(&broker, [127, 0, 0, 8], "mallory", "right-pass").await,
        58
    );
    // Other users are not affected.
    assert_eq!(
        plain_attempt(&broker, [127, 0, 0, 8], "iggy", "iggy").await,
        0
    );
}

/// The body of `GET path` from the broker's HTTP listener (headers included).
fn http_get(addr: SocketAddr, path: &str) -> String {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
