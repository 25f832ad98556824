//! Smoke test of the real `whippet-bench` binary against the real `whippet` binary: one short
//! run in each mode (Kafka produce, consume and e2e; native send, poll and e2e over protocol 0.11
//! and again over the classic framing, and `compare` starting a peer with `bench/peers/`),
//! checking from the JSON report that every record was
//! counted, latency was measured, and the report names the protocol. Seconds, not minutes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use whippet_compat_tests::WhippetProcess;

const RECORDS: u64 = 10_000;

fn run_bench(json: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_whippet-bench"))
        .arg("--quiet")
        .arg("--json")
        .arg(json)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "whippet-bench {args:?} failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.starts_with("phase"), "no table: {table}");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn assert_phase(report: &serde_json::Value, index: usize, name: &str, latency: bool) {
    let phase = &report["phases"][index];
    assert_eq!(phase["name"], name, "{report:#}");
    assert_eq!(
        phase["records"], RECORDS,
        "{name}: wrong count in {report:#}"
    );
    assert!(phase["records_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(
        phase["latency"]["count"].as_u64().is_some(),
        latency,
        "{name}: {phase:#}"
    );
}

#[test]
fn kafka_and_native_runs_count_every_record() {
    let broker = WhippetProcess::start(std::iter::empty::<&str>()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let kafka = broker.kafka_addr().to_string();
    let native = broker.native_addr().to_string();
    let records = RECORDS.to_string();

    let common = [
        "--records",
        records.as_str(),
        "--partitions",
        "2",
        "--record-size",
        "256",
    ];
    let report = run_bench(
        &json,
        &[&["kafka", "produce", "--brokers", &kafka][..], &common].concat(),
    );
    assert_phase(&report, 0, "produce", true);
    assert_eq!(report["config"]["command"]["Kafka"]["mode"], "produce");

    // Synchronous producers: four, each with one record at a time.
    let args = [
        &["kafka", "produce", "--brokers", &kafka][..],
        &["--producers", "4", "--in-flight", "1", "--linger-ms", "0"],
        &common,
    ]
    .concat();
    let report = run_bench(&json, &args);
    assert_phase(&report, 0, "produce", true);
    assert_eq!(report["config"]["command"]["Kafka"]["in_flight"], 1);

    let args = [
        &["kafka", "consume", "--brokers", &kafka, "--consumers", "2"][..],
        &common,
    ]
    .concat();
    let report = run_bench(&json, &args);
    assert_phase(&report, 0, "consume", false);

    let report = run_bench(
        &json,
        &[&["kafka", "e2e", "--brokers", &kafka][..], &common].concat(),
    );
    assert_phase(&report, 0, "e2e", true);
    assert_phase(&report, 1, "produce", true);

    let native_common = [
        &["--server", native.as_str(), "--messages-per-batch", "500"][..],
        &common,
    ]
    .concat();
    let report = run_bench(&json, &[&["native", "send"][..], &native_common].concat());
    assert_phase(&report, 0, "send", true);
    assert_eq!(report["protocol"], "current");

    let report = run_bench(
        &json,
        &[&["native", "poll", "--consumers", "2"][..], &native_common].concat(),
    );
    assert_phase(&report, 0, "poll", true);

    let report = run_bench(&json, &[&["native", "e2e"][..], &native_common].concat());
    assert_phase(&report, 0, "e2e", true);
    assert_phase(&report, 1, "send", true);
}

/// The same native workloads through the iggy 0.10 SDK (classic framing, as Apache Iggy server
/// 0.8 speaks), including a consumer group, against the same broker port.
#[test]
fn native_classic_runs_count_every_record() {
    let broker = WhippetProcess::start(std::iter::empty::<&str>()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let native = broker.native_addr().to_string();
    let records = RECORDS.to_string();
    let common = [
        "--server",
        native.as_str(),
        "--protocol",
        "classic",
        "--records",
        records.as_str(),
        "--partitions",
        "2",
        "--record-size",
        "256",
        "--messages-per-batch",
        "500",
    ];
    let report = run_bench(&json, &[&["native", "send"][..], &common].concat());
    assert_phase(&report, 0, "send", true);
    assert_eq!(report["protocol"], "classic");
    assert_eq!(report["config"]["command"]["Native"]["protocol"], "classic");

    let report = run_bench(
        &json,
        &[&["native", "poll", "--consumers", "2"][..], &common].concat(),
    );
    assert_phase(&report, 0, "poll", true);

    let report = run_bench(
        &json,
        &[&["native", "poll", "--group", "g"][..], &common].concat(),
    );
    assert_phase(&report, 0, "poll", true);

    let report = run_bench(&json, &[&["native", "e2e"][..], &common].concat());
    assert_phase(&report, 0, "e2e", true);
    assert_phase(&report, 1, "send", true);
}

/// A free TCP port on 127.0.0.1 (bound, then released for the broker to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn compare_starts_a_peer_with_its_script_and_reports_every_round() {
    let binary = whippet_compat_tests::whippet_binary().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/start-whippet");
    let (kafka, native) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("compare.json");
    let target = format!(
        "w=127.0.0.1:{kafka},start={} {} 127.0.0.1:{kafka} 127.0.0.1:{native}",
        script.display(),
        binary.display()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_whippet-bench"))
        .env("TMPDIR", dir.path())
        .args(["--quiet", "--json"])
        .arg(&json)
        .args(["compare", "--rounds", "3", "--target", &target])
        .args([
            "kafka",
            "produce",
            "--records",
            "2000",
            "--record-size",
            "256",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "compare failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rounds = report["targets"][0]["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3, "{report:#}");
    for round in rounds {
        assert_eq!(round["records"], 2000, "{round:#}");
        // The started broker's CPU time and memory, and the bench's own CPU time.
        let cpu = &round["cpu"];
        assert!(cpu["server_cpu_s"].as_f64().is_some(), "{round:#}");
        assert!(cpu["client_cpu_s"].as_f64().is_some(), "{round:#}");
        let peak = cpu["server_peak_rss_mb"].as_f64();
        assert!(peak.is_some_and(|mb| mb > 1.0), "{round:#}");
    }
    // The script gave the broker its data directory under TMPDIR and stopped with it.
    assert!(
        dir.path()
            .join(format!("whippet-peer-whippet-{kafka}"))
            .exists()
    );
    // Stopped when its last round ended, and waited for: its port is free when compare returns.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", kafka)).is_err(),
        "the peer is still running"
    );
}
