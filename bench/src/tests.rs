//! Unit tests of argument parsing and report maths: known inputs, exact expected figures.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use clap::Parser;

use crate::chart;
use crate::cli::{
    self, Acks, Cli, ClientLabel, Command, Compression, KafkaMode, NativeMode, Polling, Protocol,
    Workload,
};
use crate::compare;
use crate::error::BenchError;
use crate::payload;
use crate::progress::{ProgressSpec, progress_line};
use crate::report::{self, LatencyKind, Phase, PhaseData, RunReport};
use crate::stats::{self, Latencies};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("whippet-bench").chain(args.iter().copied()))
}

#[test]
fn kafka_defaults_and_knobs() {
    let cli = parse(&["kafka", "produce"]).unwrap();
    let Command::Kafka(cmd) = cli.command else {
        panic!("not kafka")
    };
    assert_eq!(cmd.mode, KafkaMode::Produce);
    assert_eq!(cmd.brokers, "127.0.0.1:9092");
    assert_eq!((cmd.producers, cmd.topics, cmd.partitions), (1, 1, 1));
    assert_eq!(cmd.acks, Acks::One);
    assert_eq!(cmd.compression, Compression::None);
    assert_eq!(cmd.run.record_size, 1024);
    assert_eq!(cmd.run.record_budget(), Some(100_000));

    let cli = parse(&[
        "--json",
        "out.json",
        "kafka",
        "e2e",
        "--brokers",
        "h:1",
        "--producers",
        "4",
        "--partitions",
        "8",
        "--compression",
        "lz4",
        "--acks",
        "all",
        "--duration",
        "500ms",
        "--rate",
        "1000",
        "--group",
        "g",
    ])
    .unwrap();
    assert_eq!(cli.json.as_deref(), Some(std::path::Path::new("out.json")));
    let Command::Kafka(cmd) = cli.command else {
        panic!("not kafka")
    };
    assert_eq!(
        (cmd.mode, cmd.producers, cmd.partitions),
        (KafkaMode::E2e, 4, 8)
    );
    assert_eq!(
        (cmd.compression.as_config(), cmd.acks.as_config()),
        ("lz4", "all")
    );
    assert_eq!(cmd.run.duration, Some(Duration::from_millis(500)));
    assert_eq!(
        cmd.run.record_budget(),
        None,
        "a duration alone has no record budget"
    );
    assert_eq!(cmd.run.rate, Some(1000));
    assert_eq!(cmd.group.as_deref(), Some("g"));
    let cli = parse(&["kafka", "produce", "--acks", "-1"]).unwrap();
    let Command::Kafka(cmd) = cli.command else {
        panic!("not kafka")
    };
    assert_eq!(cmd.acks, Acks::All);
}

#[test]
fn native_knobs() {
    let cli = parse(&[
        "native",
        "poll",
        "--server",
        "h:2",
        "--streams",
        "2",
        "--topics",
        "3",
        "--messages-per-batch",
        "10",
        "--polling",
        "next",
        "--records",
        "5",
        "--nodelay",
        "false",
    ])
    .unwrap();
    let Command::Native(cmd) = cli.command else {
        panic!("not native")
    };
    assert_eq!(
        (cmd.mode, cmd.streams, cmd.topics),
        (NativeMode::Poll, 2, 3)
    );
    assert_eq!((cmd.messages_per_batch, cmd.polling), (10, Polling::Next));
    assert_eq!(cmd.run.record_budget(), Some(5));
    assert!(!cmd.nodelay);
}

#[test]
fn out_of_bounds_arguments_are_rejected() {
    for args in [
        &["kafka", "produce", "--record-size", "15"][..],
        &["kafka", "produce", "--record-size", "999999999"],
        &["kafka", "produce", "--producers", "0"],
        &["kafka", "produce", "--producers", "257"],
        &["kafka", "produce", "--partitions", "0"],
        &["kafka", "produce", "--rate", "0"],
        &["kafka", "produce", "--duration", "-1s"],
        &["kafka", "produce", "--duration", "soon"],
        &["kafka", "produce", "--acks", "2"],
        &["kafka", "teleport"],
        &["native", "send", "--messages-per-batch", "0"],
        &[
            "compare", "--target", "a=h:1", "--rounds", "2", "kafka", "produce",
        ],
        &["compare", "kafka", "produce"],
    ] {
        assert!(parse(args).is_err(), "accepted {args:?}");
    }
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(cli::parse_duration("30").unwrap(), Duration::from_secs(30));
    assert_eq!(
        cli::parse_duration("1.5s").unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(
        cli::parse_duration("250ms").unwrap(),
        Duration::from_millis(250)
    );
    assert_eq!(cli::parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(
        cli::parse_duration("1h").unwrap(),
        Duration::from_secs(3600)
    );
    assert!(cli::parse_duration("0").is_err());
    assert!(cli::parse_duration("25h").is_err());
    assert!(cli::parse_duration("NaN").is_err());
}

#[test]
fn targets_parse_with_commands_containing_commas() {
    let t = cli::parse_target("whippet=127.0.0.1:9092").unwrap();
    assert_eq!(
        (t.name.as_str(), t.address.as_str()),
        ("whippet", "127.0.0.1:9092")
    );
    assert_eq!((t.start, t.stop), (None, None));
    let t = cli::parse_target("k=h:9,stop=pkill -P 1,start=exec kafka a,b").unwrap();
    assert_eq!(t.address, "h:9");
    assert_eq!(t.start.as_deref(), Some("exec kafka a,b"));
    assert_eq!(t.stop.as_deref(), Some("pkill -P 1"));
    assert!(cli::parse_target("noaddress").is_err());
    assert!(cli::parse_target("=h:1").is_err());
    assert!(cli::parse_target("a=nocolon").is_err());
    assert!(cli::parse_target("a=h:1,start=").is_err());

    let cli = parse(&[
        "compare",
        "--target",
        "a=h:1",
        "--target",
        "b=h:2,start=run b",
        "--rounds",
        "4",
        "native",
        "send",
        "--records",
        "10",
    ])
    .unwrap();
    let Command::Compare(args) = cli.command else {
        panic!("not compare")
    };
    assert_eq!(args.targets.len(), 2);
    assert_eq!(args.rounds, 4);
    let Workload::Native(cmd) = compare::for_target(&args.workload, &args.targets[1]).unwrap()
    else {
        panic!("not native")
    };
    assert_eq!(cmd.server, "h:2");
    assert_eq!(
        cmd.protocol,
        Protocol::Current,
        "no override keeps the workload's"
    );
}

#[test]
fn native_protocol_flag_and_per_target_override() {
    let cli = parse(&["native", "send"]).unwrap();
    let Command::Native(cmd) = cli.command else {
        panic!("not native")
    };
    assert_eq!(cmd.protocol, Protocol::Current, "0.11 stays the default");
    let cli = parse(&["native", "e2e", "--protocol", "classic"]).unwrap();
    let json = serde_json::to_value(&cli).unwrap();
    assert_eq!(json["command"]["Native"]["protocol"], "classic");
    let Command::Native(cmd) = cli.command else {
        panic!("not native")
    };
    assert_eq!(cmd.protocol, Protocol::Classic);
    assert!(parse(&["native", "send", "--protocol", "vsr"]).is_err());
    assert_eq!(
        ClientLabel::native(Protocol::Classic),
        ClientLabel {
            protocol: "classic",
            client: "iggy 0.10.0 SDK, classic framing"
        }
    );

    let t = cli::parse_target("iggy08=h:3,start=exec iggy-server,protocol=classic").unwrap();
    assert_eq!(t.start.as_deref(), Some("exec iggy-server"));
    assert_eq!(t.protocol, Some(Protocol::Classic));
    let t = cli::parse_target("w=h:4,protocol=current,stop=kill 1").unwrap();
    assert_eq!(
        (t.protocol, t.stop.as_deref()),
        (Some(Protocol::Current), Some("kill 1"))
    );
    assert!(cli::parse_target("w=h:4,protocol=").is_err());
    assert!(cli::parse_target("w=h:4,protocol=0.8").is_err());
}

#[test]
fn compare_shows_each_targets_protocol() {
    let cli = parse(&[
        "compare",
        "--target",
        "w=h:1",
        "--target",
        "i=h:2,protocol=classic",
        "native",
        "send",
    ])
    .unwrap();
    let Command::Compare(args) = cli.command else {
        panic!("not compare")
    };
    let mut seen = Vec::new();
    let results = compare::run(&args, true, |workload| {
        let Workload::Native(cmd) = workload else {
            panic!("not native")
        };
        seen.push((cmd.server.clone(), cmd.protocol));
        Ok(vec![phase("send", 100, 1000, Some(1))])
    })
    .unwrap();
    assert_eq!(
        seen[..2],
        [
            ("h:1".to_string(), Protocol::Current),
            ("h:2".to_string(), Protocol::Classic)
        ]
    );
    assert_eq!(results[1].label.protocol, "classic");
    let table = compare::render_table(&results);
    let row = table.lines().find(|l| l.starts_with("i ")).unwrap();
    assert!(row.contains("classic"), "{table}");
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(json[0]["protocol"], "current");
    assert_eq!(json[1]["protocol"], "classic");
    assert_eq!(json[1]["client"], "iggy 0.10.0 SDK, classic framing");
    assert_eq!(json[1]["target"]["protocol"], "classic");

    let cli = parse(&[
        "compare",
        "--target",
        "k=h:1,protocol=classic",
        "kafka",
        "produce",
    ])
    .unwrap();
    let Command::Compare(args) = cli.command else {
        panic!("not compare")
    };
    let refused = compare::run(&args, true, |_| panic!("must not run"));
    assert!(matches!(refused, Err(BenchError::Config(_))));
}

#[test]
fn percentiles_come_from_the_histogram() {
    let mut latencies = Latencies::new();
    for micros in 1..=1000u64 {
        latencies.record(Duration::from_micros(micros));
    }
    let s = latencies.summary().unwrap();
    assert_eq!(s.count, 1000);
    // Three significant digits: each value is within 0.1 % of the exact rank.
    for (got, want) in [
        (s.p50_us, 500.0),
        (s.p90_us, 900.0),
        (s.p99_us, 990.0),
        (s.p999_us, 999.0),
        (s.max_us, 1000.0),
        (s.min_us, 1.0),
    ] {
        assert!(
            (got - want).abs() <= want * 0.001 + 0.001,
            "{got} vs {want}"
        );
    }
    assert!((s.mean_us - 500.5).abs() < 0.5);
    assert!(Latencies::new().summary().is_none());
}

#[test]
fn batches_merges_and_clamping() {
    let mut a = Latencies::new();
    a.record_n(Duration::from_millis(1), 99);
    let mut b = Latencies::new();
    b.record(Duration::from_secs(10_000)); // beyond one hour: clamped, not dropped
    b.record(Duration::ZERO); // below 1 ns: clamped to 1 ns
    a.merge(&b);
    assert_eq!(a.len(), 101);
    let s = a.summary().unwrap();
    assert!((s.p50_us - 1000.0).abs() < 1.0);
    assert!((s.max_us - 3_600_000_000.0).abs() < 3_600_000_000.0 * 0.001);
    let distribution = a.distribution();
    assert_eq!(distribution.len(), stats::DISTRIBUTION_QUANTILES.len() + 1);
    assert_eq!(distribution.last().unwrap().percentile, 100.0);
    assert!(
        distribution
            .windows(2)
            .all(|w| w[0].latency_us <= w[1].latency_us)
    );
}

#[test]
fn rates_medians_ratios_and_eta() {
    assert_eq!(stats::rate(1000, Duration::from_millis(500)), 2000.0);
    assert_eq!(stats::rate(5, Duration::ZERO), 0.0);
    assert_eq!(
        stats::megabytes_per_sec(3_000_000, Duration::from_secs(2)),
        1.5
    );
    assert_eq!(stats::median(&[]), None);
    assert_eq!(stats::median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(stats::median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(stats::ratio(Some(3.0), Some(2.0)), Some(1.5));
    assert_eq!(stats::ratio(Some(3.0), Some(0.0)), None);
    assert_eq!(stats::ratio(None, Some(2.0)), None);
    let eta = stats::eta(250, Some(1000), Duration::from_secs(1), None).unwrap();
    assert_eq!(eta, Duration::from_secs(3));
    let eta = stats::eta(
        250,
        Some(1000),
        Duration::from_secs(1),
        Some(Duration::from_secs(2)),
    );
    assert_eq!(eta, Some(Duration::from_secs(1)), "the earlier bound wins");
    assert_eq!(stats::eta(0, Some(10), Duration::from_secs(1), None), None);
    let spec = ProgressSpec {
        label: "produce".into(),
        budget: Some(1000),
        duration: None,
        quiet: true,
    };
    let line = progress_line(&spec, 250, 250.0, Duration::from_secs(1));
    assert_eq!(
        line,
        "produce: 250/1000 records, 250 rec/s, elapsed 1s, ETA 3s"
    );
}

#[test]
fn payload_stamps_shares_and_schedule() {
    let mut record = payload::bodies(32)[0].clone();
    assert_eq!(record.len(), 32);
    payload::stamp(&mut record, 123_456_789, 7);
    assert_eq!(payload::read_stamp(&record), Some(123_456_789));
    assert_eq!(u64::from_le_bytes(record[8..16].try_into().unwrap()), 7);
    assert_eq!(payload::read_stamp(&[1, 2, 3]), None);
    let shares: Vec<u64> = (0..3).map(|i| payload::share(10, 3, i)).collect();
    assert_eq!(shares, [4, 3, 3]);
    assert_eq!(shares.iter().sum::<u64>(), 10);
    let start = Instant::now();
    let schedule = payload::Schedule::new(start, Some(1000.0)).unwrap();
    assert_eq!(schedule.due(500) - start, Duration::from_millis(500));
    assert!(payload::Schedule::new(start, Some(0.0)).is_none());
    assert!(payload::Schedule::new(start, None).is_none());
}

fn phase(name: &str, records: u64, millis: u64, latency_ms: Option<u64>) -> Phase {
    let mut latencies = Latencies::new();
    if let Some(ms) = latency_ms {
        latencies.record_n(Duration::from_millis(ms), records);
    }
    Phase::new(
        name,
        PhaseData {
            records,
            bytes: records * 1000,
            elapsed: Duration::from_millis(millis),
            latencies,
            latency_kind: Some(LatencyKind::Ack),
            timeline: vec![stats::TimelinePoint {
                t_secs: 1.0,
                records_per_sec: 10.0,
                mb_per_sec: 0.01,
            }],
            errors: 0,
        },
    )
}

#[test]
fn phase_figures_table_and_json_shape() {
    let phases = [
        phase("produce", 2000, 1000, Some(2)),
        phase("consume", 1000, 500, None),
    ];
    assert_eq!(phases[0].records_per_sec, 2000.0);
    assert_eq!(phases[0].mb_per_sec, 2.0);
    assert_eq!(phases[1].latency_kind, None, "no samples, no latency kind");
    let table = report::render_table(&phases);
    assert!(table.lines().nth(1).unwrap().starts_with("produce"));
    assert!(table.contains(" 2.00"), "p50 of 2 ms appears: {table}");
    let config = parse(&["kafka", "produce"]).unwrap();
    let json = serde_json::to_value(RunReport {
        tool: "whippet-bench",
        version: "0",
        label: ClientLabel::KAFKA,
        config: &config,
        phases: &phases,
    })
    .unwrap();
    assert_eq!(json["protocol"], "kafka");
    assert_eq!(json["config"]["command"]["Kafka"]["mode"], "produce");
    assert_eq!(json["config"]["command"]["Kafka"]["acks"], "1");
    assert_eq!(json["phases"][0]["records"], 2000);
    assert_eq!(json["phases"][0]["latency_kind"], "ack");
    assert!(json["phases"][0]["latency"]["p999_us"].as_f64().unwrap() > 1900.0);
    assert!(json["phases"][1]["latency"].is_null());
    assert_eq!(json["phases"][0]["timeline"][0]["records_per_sec"], 10.0);
}

#[test]
fn compare_takes_medians_and_ratios_to_the_first_target() {
    let targets = [
        cli::parse_target("a=h:1").unwrap(),
        cli::parse_target("b=h:2").unwrap(),
    ];
    let rounds = vec![
        vec![
            phase("p", 1000, 1000, Some(1)),
            phase("p", 3000, 1000, Some(1)),
            phase("p", 2000, 1000, Some(4)),
        ],
        vec![
            phase("p", 4000, 1000, Some(2)),
            phase("p", 4000, 1000, Some(2)),
            phase("p", 9000, 1000, Some(2)),
        ],
    ];
    let labels = [ClientLabel::KAFKA, ClientLabel::native(Protocol::Classic)];
    let results = compare::summarise(&targets, &labels, rounds);
    assert_eq!(results[0].medians[0].value, Some(2000.0));
    assert_eq!(results[1].medians[0].value, Some(4000.0));
    assert_eq!(results[0].ratios_to_first[0].value, Some(1.0));
    assert_eq!(results[1].ratios_to_first[0].value, Some(2.0));
    let p50 = results[1].ratios_to_first[2].value.unwrap();
    assert!((p50 - 2.0).abs() < 0.01, "p50 ratio {p50}");
    let table = compare::render_table(&results);
    assert!(table.contains("2.00x"), "{table}");
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(json[1]["medians"][0]["metric"], "records/s");
    assert_eq!(json[1]["rounds"].as_array().unwrap().len(), 3);
}

#[test]
fn compare_interleaves_rounds_over_targets() {
    let cli = parse(&[
        "compare", "--target", "a=h:1", "--target", "b=h:2", "kafka", "produce",
    ])
    .unwrap();
    let Command::Compare(args) = cli.command else {
        panic!("not compare")
    };
    let mut order = Vec::new();
    let results = compare::run(&args, true, |workload| {
        let Workload::Kafka(cmd) = workload else {
            panic!("not kafka")
        };
        order.push(cmd.brokers.clone());
        Ok(vec![phase("produce", 100, 1000, None)])
    })
    .unwrap();
    assert_eq!(order, ["h:1", "h:2", "h:1", "h:2", "h:1", "h:2"]);
    assert_eq!(results[1].medians[2].value, None, "no latency, no median");
}

#[test]
fn chart_is_svg_with_both_panels() {
    assert_eq!(chart::nines(90.0), 1.0);
    assert!((chart::nines(99.9) - 3.0).abs() < 1e-9);
    assert_eq!(chart::nines(100.0), 5.5);
    assert_eq!(chart::nice_ceiling(730.0), 1000.0);
    assert_eq!(chart::nice_ceiling(120.0), 200.0);
    assert_eq!(chart::nice_ceiling(0.0), 1.0);
    let svg = chart::render("t <&>", &[phase("produce", 1000, 1000, Some(3))]);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Throughput over time") && svg.contains("Latency by percentile"));
    assert!(svg.contains("t &lt;&amp;&gt;"));
    assert_eq!(svg.matches("<polyline").count(), 2);
}
