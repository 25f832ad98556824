//! TLS on the three listeners with certificates made in the test (rcgen): confluent-kafka
//! (PyPI, librdkafka 2.16) and Debian's kcat over SSL, the `iggy` 0.11 Rust SDK and apache-iggy
//! 0.9 (Python) over TLS on the native port, HTTPS with curl, client certificates (mTLS), a
//! plaintext client against each TLS listener failing cleanly, and unusable certificate files
//! stopping the broker at start.
#![allow(clippy::unwrap_used)]

mod security_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use iggy::prelude::*;
use security_common::{Pki, confluent, kcat, path, run, start};
use whippet_compat_tests::Launch;
use whippet_compat_tests::programs::{clients_dir, venv_python};

fn ssl_config(pki: &Pki) -> String {
    format!(
        r#"{{"security.protocol": "SSL", "ssl.ca.location": "{}"}}"#,
        path(&pki.ca)
    )
}

#[test]
fn confluent_kafka_and_kcat_over_ssl() {
    let pki = Pki::new();
    let broker = start(&pki, &["--kafka-security-protocol", "SSL"]);
    let output = confluent(&broker, "tls-confluent", &ssl_config(&pki), "ok");
    assert!(output.contains("OK 20 records"), "{output}");

    let props = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", &path(&pki.ca)),
    ];
    let (ok, output) = kcat(
        &broker,
        &props,
        &["-P", "-t", "tls-kcat"],
        "one\ntwo\nthree\n",
    );
    assert!(ok, "kcat produce: {output}\n{}", broker.stderr());
    let consume = ["-C", "-t", "tls-kcat", "-o", "beginning", "-c", "3", "-e"];
    let (ok, output) = kcat(&broker, &props, &consume, "");
    assert!(ok, "kcat consume: {output}");
    assert_eq!(
        output.lines().take(3).collect::<Vec<_>>(),
        ["one", "two", "three"]
    );

    // The same client without TLS cannot talk to the SSL listener.
    let plaintext = r#"{"security.protocol": "PLAINTEXT"}"#;
    confluent(&broker, "tls-confluent", plaintext, "auth-failed");
}

/// A plaintext peer on a TLS port: the handshake fails and the broker closes the socket
/// promptly, without answering in its protocol; the listener keeps serving.
fn assert_closed_promptly(addr: std::net::SocketAddr, request: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("{addr}: not closed within 5 s ({error}); read {seen:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // At most a TLS alert record (content type 21), never a protocol answer.
    assert!(seen.is_empty() || seen[0] == 21, "{addr} answered {seen:?}");
}

#[test]
fn plaintext_clients_on_tls_listeners_fail_cleanly() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SSL",
            "--native-tls",
            "true",
            "--http-tls",
            "true",
        ],
    );
    // Kafka ApiVersions v0, a 0.11 native header's start, an HTTP request.
    let api_versions = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_closed_promptly(broker.kafka_addr(), &api_versions);
    assert_closed_promptly(broker.native_addr(), &[0u8; 256]);
    assert_closed_promptly(
        broker.http_addr(),
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    );

    // HTTPS with the CA works, and the listeners still serve after the failed peers.
    let url = format!("https://localhost:{}/health", broker.http_addr().port());
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "10", "--cacert", &path(&pki.ca), &url]);
    let (ok, output) = run(curl);
    assert!(ok && output.contains(r#"{"status":"ok"}"#), "{output}");
    let output = confluent(&broker, "after-plain", &ssl_config(&pki), "ok");
    assert!(output.contains("OK"), "{output}");
}

fn iggy_tls_client(addr: std::net::SocketAddr, ca: &std::path::Path, tls: bool) -> IggyClient {
    IggyClient::builder()
        .with_tcp()
        .with_server_address(addr.to_string())
        .with_tls_enabled(tls)
        .with_tls_domain("localhost".to_string())
        .with_tls_ca_file(path(ca))
        .with_reconnection_max_retries(Some(0))
        .build()
        .unwrap()
}

#[tokio::test]
async fn iggy_rust_sdk_over_tls() {
    let pki = Pki::new();
    let broker = start(&pki, &["--native-tls", "true"]);
    let client = iggy_tls_client(broker.native_addr(), &pki.ca, true);
    client.connect().await.unwrap();
    client
        .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
        .await
        .unwrap();
    client.create_stream("tls-rust").await.unwrap();
    let streams = client.get_streams().await.unwrap();
    assert!(streams.iter().any(|s| s.name == "tls-rust"), "{streams:?}");

    // Without TLS the SDK gets nowhere on the TLS port.
    let plain = iggy_tls_client(broker.native_addr(), &pki.ca, false);
    let refused = tokio::time::timeout(Duration::from_secs(20), async {
        plain.connect().await?;
        plain
            .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
            .await
    })
    .await
    .expect("the plaintext SDK client must fail, not hang");
    assert!(refused.is_err(), "{refused:?}");
}

fn iggy_python(broker: &whippet_compat_tests::WhippetProcess, pki: &Pki, expect: &str) -> String {
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python/iggy_tls.py"))
        .arg(broker.native_addr().to_string())
        .args([&path(&pki.ca), "iggy", "iggy", expect])
        .env("PYTHONUNBUFFERED", "1");
    let (ok, output) = run(command);
    assert!(ok, "apache-iggy ({expect}):\n{output}\n{}", broker.stderr());
    output
}

#[test]
fn apache_iggy_python_over_tls() {
    let pki = Pki::new();
    let broker = start(&pki, &["--native-tls", "true"]);
    assert!(iggy_python(&broker, &pki, "ok").contains("OK stream"));
    assert!(iggy_python(&broker, &pki, "tls-failed").contains("OK refused"));
}

#[test]
fn client_certificates_are_required_with_a_client_ca() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SSL",
            "--tls-client-ca",
            &path(&pki.ca),
        ],
    );
    let with_cert = format!(
        r#"{{"security.protocol": "SSL", "ssl.ca.location": "{}",
             "ssl.certificate.location": "{}", "ssl.key.location": "{}"}}"#,
        path(&pki.ca),
        path(&pki.client_cert),
        path(&pki.client_key)
    );
    let output = confluent(&broker, "mtls", &with_cert, "ok");
    assert!(output.contains("OK 20 records"), "{output}");
    confluent(&broker, "mtls", &ssl_config(&pki), "auth-failed");
}

#[test]
fn unusable_certificate_files_stop_the_broker() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("missing.key");
    let finished = Launch::new()
        .args([
            "--tls-cert",
            &path(&pki.cert),
            "--tls-key",
            &path(&missing),
            "--native-tls",
            "true",
        ])
        .run_to_exit()
        .unwrap();
    assert!(!finished.status.success());
    assert!(
        finished.stderr.contains("missing.key"),
        "{}",
        finished.stderr
    );
    // A key that is not the certificate's.
    let finished = Launch::new()
        .args([
            "--tls-cert",
            &path(&pki.cert),
            "--tls-key",
            &path(&pki.client_key),
            "--http-tls",
            "true",
        ])
        .run_to_exit()
        .unwrap();
    assert!(!finished.status.success());
    assert!(finished.stderr.contains("TLS"), "{}", finished.stderr);
}
