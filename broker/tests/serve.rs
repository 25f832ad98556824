//! In-process lifecycle tests: the same `Broker` path the binary runs, driven through a
//! shutdown future instead of a signal.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use whippet_broker::config::{EnvMap, Settings};
use whippet_broker::connections::Listener;
use whippet_broker::{Broker, BrokerError, limits};

fn settings(data_dir: &std::path::Path, extra: &[&str]) -> Settings {
    let mut args = vec![
        "whippet".to_string(),
        "--data-dir".to_string(),
        data_dir.to_str().unwrap().to_string(),
        "--kafka-addr=127.0.0.1:0".to_string(),
        "--native-addr=127.0.0.1:0".to_string(),
        "--http-addr=127.0.0.1:0".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Settings::load(args, &EnvMap::new()).unwrap()
}

async fn http_get(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(response).unwrap()
}

/// Polls until the HTTP listener's free connection slots reach `expected` (tasks finish
/// asynchronously).
async fn wait_slots(broker_ctx: &whippet_broker::BrokerContext, expected: usize) {
    let free = || broker_ctx.connection_slots_free(Listener::Http);
    for _ in 0..200 {
        if free() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("slots free {} != {expected}", free());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_until_shutdown_and_frees_connection_slots() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(settings(dir.path(), &["--fsync", "always"]))
        .await
        .unwrap();
    let addrs = broker.addrs();
    assert!(addrs.kafka.port() != 0 && addrs.native.port() != 0 && addrs.http.port() != 0);
    assert_eq!(broker.context().addrs, addrs);
    assert_eq!(broker.context().kafka_stream, "kafka");
    let ctx = std::sync::Arc::clone(broker.context());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(broker.serve(async move {
        let _ = stopped.await;
    }));

    let health = http_get(addrs.http, b"GET /health HTTP/1.1\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let oversized = vec![b'a'; limits::HTTP_REQUEST_BYTES_MAX + 10];
    let too_large = http_get(addrs.http, &oversized).await;
    assert!(too_large.starts_with("HTTP/1.1 431 "), "{too_large}");

    // An idle HTTP peer holds one slot of its listener; the Kafka stub closes at once.
    let idle = TcpStream::connect(addrs.http).await.unwrap();
    wait_slots(&ctx, limits::CONNECTIONS_PER_LISTENER_MAX_DEFAULT - 1).await;
    // A Kafka peer sending a negative size prefix is closed at once.
    let mut kafka = TcpStream::connect(addrs.kafka).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut kafka, &(-1i32).to_be_bytes())
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        kafka.read(&mut byte).await.unwrap(),
        0,
        "kafka listener closes a connection with a bad frame"
    );
    drop(idle);
    wait_slots(&ctx, limits::CONNECTIONS_PER_LISTENER_MAX_DEFAULT).await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(dir.path().join("state/meta/meta.log").is_file());
    // After shutdown nothing listens any more.
    assert!(TcpStream::connect(addrs.http).await.is_err());
}

#[tokio::test]
async fn port_in_use_is_a_bind_error_naming_the_listener() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let result = Broker::start(settings(dir.path(), &["--http-addr", &addr])).await;
    let Err(error) = result else {
        panic!("bind on a taken port succeeded")
    };
    assert!(
        matches!(
            error,
            BrokerError::Bind {
                listener: "http",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains(&addr), "{error}");
    // The log opened before the bind failure was shut down again: it can be reopened at once.
    let again = Broker::start(settings(dir.path(), &[])).await.unwrap();
    again.serve(async {}).await.unwrap();
}

#[tokio::test]
async fn unusable_data_dir_is_an_open_log_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let Err(error) = Broker::start(settings(&file, &[])).await else {
        panic!("a file as data dir must not open");
    };
    assert!(matches!(error, BrokerError::OpenLog { .. }), "{error}");
}
