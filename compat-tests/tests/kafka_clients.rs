//! Real, unmodified Kafka clients against the real `whippet` binary: kcat and Debian's
//! python3-confluent-kafka (librdkafka 2.0.2), PyPI confluent-kafka (librdkafka 2.16),
//! kafka-python 3, aiokafka, KafkaJS and Debian's sarama. Each test starts a fresh broker, runs
//! one client program from `compat-tests/clients/` with the Kafka address as its argument and
//! requires exit code 0; the program itself checks every record (see `clients/README.md`).
//!
//! The clients are installed by `scripts/install-test-deps` (which `scripts/test-all` runs); a
//! missing client fails its test with that hint rather than being skipped. The Rust `rdkafka`
//! client has its own file, `kafka_rdkafka.rs`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{
    Streams, clients_dir, require, run_program, tail, venv_python, work_dir,
};

/// How long one client program may run before it is killed and the test fails.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);
/// Tells `confluent_client.py` which librdkafka it must find itself on (a version prefix).
const EXPECT_LIBRDKAFKA: &str = "EXPECT_LIBRDKAFKA";
/// How much of the broker's stderr a failure message shows (its tail).
const BROKER_STDERR_TAIL_BYTES: usize = 8_000;

fn debian_python() -> PathBuf {
    require(Path::new("/usr/bin/python3"))
}

/// Runs `command` with [`PROGRAM_TIMEOUT`]; returns (success, combined stdout+stderr, elapsed).
fn run_with_timeout(command: Command) -> (bool, String, Duration) {
    let output = run_program(command, PROGRAM_TIMEOUT, Streams::Merged);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&output.stderr);
    (output.success, text, output.elapsed)
}

/// Starts a fresh broker, runs the client program (`command` plus the bootstrap address) and
/// asserts that it exits 0, showing its output and the broker's stderr otherwise.
fn run_client(name: &str, mut command: Command) {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    // Cargo puts build-script library directories (rdkafka-sys's librdkafka 2.12.1) on the
    // test's LD_LIBRARY_PATH; a client must load its own librdkafka, not that one.
    command
        .env_remove("LD_LIBRARY_PATH")
        .arg(broker.kafka_addr().to_string());
    let (success, output, elapsed) = run_with_timeout(command);
    assert!(
        success,
        "{name} client failed after {elapsed:?}\n--- client output ---\n{output}\n\
         --- broker stderr (tail) ---\n{}",
        tail(&broker.stderr(), BROKER_STDERR_TAIL_BYTES)
    );
    println!("{name} passed in {elapsed:?}:\n{output}");
}

/// `interpreter clients/<script>`, with `clients/python` (for `common.py`) on the import path.
fn python(interpreter: PathBuf, script: &str) -> Command {
    let mut command = Command::new(interpreter);
    command
        .arg(clients_dir().join(script))
        .env("PYTHONPATH", clients_dir().join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    command
}

#[test]
fn kcat_debian_librdkafka_2_0_2() {
    require(Path::new("/usr/bin/kcat"));
    run_client("kcat", python(debian_python(), "kcat/kcat_client.py"));
}

#[test]
fn confluent_kafka_debian_librdkafka_2_0_2() {
    // Debian's interpreter, so the import resolves to python3-confluent-kafka 1.7 / librdkafka
    // 2.0.2 (the old one with the advertised-minimum traps), not the venv's wheel.
    let mut command = python(debian_python(), "python/confluent_client.py");
    command.env(EXPECT_LIBRDKAFKA, "2.0.2");
    run_client("python3-confluent-kafka (Debian)", command);
}

#[test]
fn confluent_kafka_pypi_librdkafka_2_16() {
    let mut command = python(venv_python(), "python/confluent_client.py");
    command.env(EXPECT_LIBRDKAFKA, "2.16.");
    run_client("confluent-kafka (PyPI)", command);
}

#[test]
fn kafka_python_3() {
    run_client(
        "kafka-python",
        python(venv_python(), "python/kafka_python_client.py"),
    );
}

#[test]
fn aiokafka() {
    run_client(
        "aiokafka",
        python(venv_python(), "python/aiokafka_client.py"),
    );
}

#[test]
fn kafkajs_2_2_4() {
    let modules = require(&work_dir().join("node/node_modules/kafkajs"));
    let mut command = Command::new("node");
    command
        .arg(clients_dir().join("node/kafkajs_client.js"))
        .env("NODE_PATH", modules.parent().unwrap());
    run_client("KafkaJS", command);
}

/// Builds the sarama program with Debian's Go and sarama packages (GOPATH mode: no module
/// proxy is reachable), into `.work/go/`.
fn build_sarama_client() -> PathBuf {
    let go = require(Path::new("/usr/bin/go"));
    require(Path::new("/usr/share/gocode/src/github.com/Shopify/sarama"));
    let out_dir = work_dir().join("go");
    std::fs::create_dir_all(&out_dir).unwrap();
    let binary = out_dir.join("sarama-client");
    let mut command = Command::new(go);
    command
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(clients_dir().join("go/sarama"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "");
    let (success, output, _) = run_with_timeout(command);
    assert!(success, "go build of the sarama client failed:\n{output}");
    binary
}

#[test]
fn sarama_debian() {
    let binary = build_sarama_client();
    run_client("sarama", Command::new(binary));
}
