//! More real clients against the SASL_SSL listener: kafka-python 3 and aiokafka (PyPI) and
//! KafkaJS 2.2.4 with SCRAM-SHA-256 and SCRAM-SHA-512, Debian's sarama 1.22 with SASL/PLAIN over
//! TLS. For each: the right password produces and reads back, a wrong one is refused as an
//! authentication failure.
#![allow(clippy::unwrap_used)]

mod security_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use security_common::{Pki, path, run, start};
use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{clients_dir, require, venv_python, work_dir};

fn sasl_ssl(pki: &Pki) -> WhippetProcess {
    start(
        pki,
        &["--kafka-security-protocol", "SASL_SSL", "--auth", "true"],
    )
}

/// Runs `command` with the common arguments and asserts it printed `OK`.
fn expect_ok(broker: &WhippetProcess, name: &str, mut command: Command, args: &[&str]) {
    command.args(args).env_remove("LD_LIBRARY_PATH");
    let (ok, output) = run(command);
    assert!(
        ok && output.contains("OK"),
        "{name} {args:?}:\n{output}\n--- broker ---\n{}",
        broker.stderr()
    );
}

fn python_client(client: &str) -> Command {
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python/secure_other.py"))
        .arg(client)
        .env("PYTHONUNBUFFERED", "1");
    command
}

fn each_scram(broker: &WhippetProcess, pki: &Pki, name: &str, make: impl Fn() -> Command) {
    let addr = broker.kafka_addr().to_string();
    let ca = path(&pki.ca);
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let topic = format!("{name}-{}", mechanism.to_lowercase());
        let good = [addr.as_str(), &topic, &ca, mechanism, "iggy", "iggy", "ok"];
        expect_ok(broker, name, make(), &good);
        let bad = [
            addr.as_str(),
            &topic,
            &ca,
            mechanism,
            "iggy",
            "nope",
            "auth-failed",
        ];
        expect_ok(broker, name, make(), &bad);
    }
}

#[test]
fn kafka_python_scram_over_ssl() {
    let pki = Pki::new();
    let broker = sasl_ssl(&pki);
    each_scram(&broker, &pki, "kafka-python", || {
        python_client("kafka-python")
    });
}

#[test]
fn aiokafka_scram_over_ssl() {
    let pki = Pki::new();
    let broker = sasl_ssl(&pki);
    each_scram(&broker, &pki, "aiokafka", || python_client("aiokafka"));
}

#[test]
fn kafkajs_scram_over_ssl() {
    let modules = require(&work_dir().join("node/node_modules/kafkajs"));
    let pki = Pki::new();
    let broker = sasl_ssl(&pki);
    each_scram(&broker, &pki, "kafkajs", || {
        let mut command = Command::new("node");
        command
            .arg(clients_dir().join("node/kafkajs_secure.js"))
            .env("NODE_PATH", modules.parent().unwrap());
        command
    });
}

/// Builds the sarama program with Debian's Go and sarama packages (GOPATH mode), into `.work/go/`.
fn build_sarama_secure() -> PathBuf {
    let go = require(Path::new("/usr/bin/go"));
    require(Path::new("/usr/share/gocode/src/github.com/Shopify/sarama"));
    let out_dir = work_dir().join("go");
    std::fs::create_dir_all(&out_dir).unwrap();
    let binary = out_dir.join("sarama-secure");
    let mut command = Command::new(go);
    command
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(clients_dir().join("go/sarama_secure"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "");
    let (ok, output) = run(command);
    assert!(ok, "go build of sarama_secure failed:\n{output}");
    binary
}

#[test]
fn sarama_plain_over_tls() {
    let binary = build_sarama_secure();
    let pki = Pki::new();
    let broker = sasl_ssl(&pki);
    let addr = broker.kafka_addr().to_string();
    let ca = path(&pki.ca);
    let good = [addr.as_str(), "sarama-secure", &ca, "iggy", "iggy", "ok"];
    expect_ok(&broker, "sarama", Command::new(&binary), &good);
    let bad = [
        addr.as_str(),
        "sarama-secure",
        &ca,
        "iggy",
        "nope",
        "auth-failed",
    ];
    expect_ok(&broker, "sarama", Command::new(&binary), &bad);
}

/// The rdkafka crate (bundled librdkafka 2.12.1, built with `ssl`) over SASL_SSL SCRAM-SHA-512:
/// delivery of 10 records, read back by assignment; a wrong password fails metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_crate_scram_over_ssl() {
    use rdkafka::ClientConfig;
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{Offset, TopicPartitionList};
    use std::time::Duration;

    let pki = Pki::new();
    let broker = sasl_ssl(&pki);
    let config = |password: &str| {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", broker.kafka_addr().to_string())
            .set("security.protocol", "SASL_SSL")
            .set("ssl.ca.location", path(&pki.ca))
            .set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", "iggy")
            .set("sasl.password", password)
            .set("message.timeout.ms", "15000");
        config
    };
    let producer: FutureProducer = config("iggy").create().unwrap();
    for i in 0..10 {
        let value = format!("rd-{i}");
        let record = FutureRecord::<(), _>::to("rdkafka-secure").payload(&value);
        producer
            .send(record, Duration::from_secs(15))
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
    let consumer: BaseConsumer = config("iggy").set("group.id", "rd").create().unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("rdkafka-secure", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while values.len() < 10 && std::time::Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) {
            values.push(String::from_utf8_lossy(message.payload().unwrap()).into_owned());
        }
    }
    let want: Vec<String> = (0..10).map(|i| format!("rd-{i}")).collect();
    assert_eq!(values, want);

    let wrong: BaseConsumer = config("nope").set("group.id", "rd").create().unwrap();
    let refused = wrong.fetch_metadata(None, Duration::from_secs(10));
    assert!(refused.is_err(), "{refused:?}");
}
