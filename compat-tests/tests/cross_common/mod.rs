//! Shared helpers for the cross-protocol tests (`cross_clients.rs`, `cross_offsets.rs`): the
//! reserved header names of the record mapping, a parser for raw native user headers (so
//! duplicates and kinds stay visible, which the SDK's `BTreeMap` view would hide), running the
//! client programs under `compat-tests/clients/` and reading their JSON reports.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use whippet_compat_tests::programs::{Streams, venv_python};

pub mod mapping;

/// The reserved header names of the record mapping (design brief §2). The source of truth is
/// `whippet_wire::transcode::reserved` (`wire/src/transcode/reserved.rs`, which also documents
/// the scheme); the compat tests see the broker only from outside and link no Whippet crate, so
/// the names are repeated here and must be kept equal to that module.
pub mod reserved {
    /// Native header carrying the Kafka key (raw); `#1`, `#2`… continue a long key and
    /// `#empty` is an empty key. No entry: the key is null.
    pub const KEY: &str = "__whippet.key";
    /// Kafka header (last) carrying a non-zero native id, 16 bytes little-endian.
    pub const ID: &str = "__whippet.id";
    /// Native header (bool true): the Kafka value was null; the payload is empty.
    pub const NULL_VALUE: &str = "__whippet.null_value";
    /// Kafka header following one transcoded from a typed native header: [key kind, value kind].
    pub const KIND: &str = "__whippet.kind";
    /// Native header (raw, chunked like the key): the Kafka index of each ordinary header, in
    /// key order, as unsigned LEB128, present only when that is not ascending.
    pub const ORDER: &str = "__whippet.order";
    /// Prefix of a spilled Kafka header `i`: `__whippet.h.<i>.k` and `__whippet.h.<i>.v`,
    /// chunked like the key, `#empty` for an empty field and `#null` for a null value.
    pub const SPILLED: &str = "__whippet.h.";
    /// Separates a reserved name from its chunk number or marker.
    pub const SUFFIX_SEPARATOR: char = '#';
    /// Largest native header field: longer keys and values are cut into chunks of this size.
    pub const CHUNK_BYTES: usize = 255;
}

/// Native user-header kind codes (`native-protocol.md` §4.7).
pub const KIND_RAW: u8 = 1;
/// The kind of string keys and string values.
pub const KIND_STRING: u8 = 2;
/// The kind of boolean values (the reserved markers' `true`).
pub const KIND_BOOL: u8 = 3;

/// How long one client program may run.
pub const PROGRAM_TIMEOUT: Duration = Duration::from_secs(45);
/// How much of a long output a failure message shows (its tail).
pub const TAIL_BYTES: usize = 6_000;

/// One native user header as it is on the wire.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NativeHeader {
    /// The key's bytes (normally a string).
    pub key: Vec<u8>,
    /// The key's kind code.
    pub key_kind: u8,
    /// The value's kind code.
    pub value_kind: u8,
    /// The value's bytes in the native encoding.
    pub value: Vec<u8>,
}

/// Parses the raw user-header TLV of one native message, keeping order, duplicates and kinds.
pub fn parse_native_headers(mut raw: &[u8]) -> Vec<NativeHeader> {
    fn field(raw: &mut &[u8]) -> (u8, Vec<u8>) {
        assert!(raw.len() >= 5, "truncated user header entry: {raw:?}");
        let kind = raw[0];
        let len = u32::from_le_bytes(raw[1..5].try_into().unwrap()) as usize;
        assert!(
            raw.len() >= 5 + len,
            "user header length {len} overruns {raw:?}"
        );
        let bytes = raw[5..5 + len].to_vec();
        *raw = &raw[5 + len..];
        (kind, bytes)
    }
    let mut headers = Vec::new();
    while !raw.is_empty() {
        let (key_kind, key) = field(&mut raw);
        let (value_kind, value) = field(&mut raw);
        headers.push(NativeHeader {
            key,
            key_kind,
            value_kind,
            value,
        });
    }
    headers
}

/// One record as a Kafka client program reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedRecord {
    /// Partition (only the KafkaJS program reports it; 0 otherwise).
    pub partition: i64,
    /// The record's offset.
    pub offset: i64,
    /// The record's timestamp in milliseconds.
    pub timestamp_ms: i64,
    /// The key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// The value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// The headers in the order the client gave them.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_or_null(value: &serde_json::Value) -> Option<Vec<u8>> {
    value.as_str().map(unhex)
}

/// Parses the JSON lines of `cross_consume.py` / `kafkajs_cross_consume.js`.
pub fn parse_reports(stdout: &str) -> Vec<ReportedRecord> {
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
            let headers = v["h"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (pair[0].as_str().unwrap().to_string(), hex_or_null(&pair[1])))
                .collect();
            ReportedRecord {
                partition: v["p"].as_i64().unwrap_or(0),
                offset: v["o"].as_i64().unwrap(),
                timestamp_ms: v["ts"].as_i64().unwrap(),
                key: hex_or_null(&v["k"]),
                value: hex_or_null(&v["v"]),
                headers,
            }
        })
        .collect()
}

pub use whippet_compat_tests::programs::{ProgramOutput, clients_dir, require, tail, work_dir};

/// `python clients/python/<script>` under the venv.
pub fn venv_script(script: &str) -> Command {
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python").join(script))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// `node clients/node/<script>` with the pinned KafkaJS on `NODE_PATH`.
pub fn node_script(script: &str) -> Command {
    let modules = require(&work_dir().join("node/node_modules/kafkajs"));
    let mut command = Command::new("node");
    command
        .arg(clients_dir().join("node").join(script))
        .env("NODE_PATH", modules.parent().unwrap());
    command
}

/// Runs `command` with [`PROGRAM_TIMEOUT`], stdout and stderr kept apart. Cargo's
/// `LD_LIBRARY_PATH` (rdkafka-sys's librdkafka) is removed so a client loads its own library.
pub fn run_program(mut command: Command) -> ProgramOutput {
    command.env_remove("LD_LIBRARY_PATH");
    whippet_compat_tests::programs::run_program(command, PROGRAM_TIMEOUT, Streams::Separate)
}

/// Runs a client program and returns its stdout, failing the test (with its stderr and the
/// broker's) if it did not exit 0.
pub fn run_reporting(name: &str, command: Command, broker_stderr: impl Fn() -> String) -> String {
    let output = run_program(command);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.success,
        "{name} failed\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}\n\
         --- broker stderr (tail) ---\n{}",
        tail(&stdout, TAIL_BYTES),
        tail(&output.stderr, TAIL_BYTES),
        tail(&broker_stderr(), TAIL_BYTES)
    );
    stdout
}
