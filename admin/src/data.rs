//! `whippet produce` and `whippet consume`, like kcat's `-P` and `-C`, over the API's message
//! routes. A message key travels as the user header Kafka clients read as the record key
//! (`__whippet.key`, see the transcoder's record mapping), so keys produced here are Kafka keys.

use std::io::{BufRead, Write};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::output;
use crate::topics::{TopicName, done, require_topic, resolve};
use crate::{CliError, Client, Output};

/// The user header a Kafka record key is stored in.
const KEY_HEADER: &str = "__whippet.key";
/// Messages per send request.
const BATCH_MESSAGES: usize = 500;
/// Payload bytes per send request (well below the API's body cap once base64-encoded).
const BATCH_BYTES: usize = 1024 * 1024;
/// Messages per poll request.
const POLL_COUNT: u32 = 500;
/// Pause between polls that found nothing new (`--follow`, `--count`).
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic (`name` or `stream/topic`).
    topic: String,
    /// Each line is KEY<SEP>VALUE; the key picks the partition and becomes the Kafka key.
    #[arg(long)]
    key_separator: Option<String>,
    /// Sends every message to this partition.
    #[arg(long)]
    partition: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The value as text.
    Value,
    /// Key, a tab, the value.
    Kv,
    /// One JSON object per message (partition, offset, timestamp, key, value, headers).
    Json,
    /// The value in hex.
    Hex,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The topic (`name` or `stream/topic`).
    topic: String,
    /// Starts at the log start instead of the end.
    #[arg(long)]
    from_beginning: bool,
    /// Reads as this named consumer: continues after its stored offset and stores progress.
    #[arg(long)]
    group: Option<String>,
    /// Stops after this many messages (waiting for them).
    #[arg(long)]
    count: Option<u64>,
    /// Only this partition.
    #[arg(long)]
    partition: Option<u32>,
    /// Keeps waiting for new messages instead of stopping at the end.
    #[arg(long)]
    follow: bool,
    /// How each message is printed.
    #[arg(long, value_enum, default_value = "value")]
    format: Format,
}

fn message_json(key: Option<&str>, value: &str) -> Value {
    let mut message = json!({"id": 0, "payload": STANDARD.encode(value)});
    if let Some(key) = key.filter(|key| !key.is_empty()) {
        message["user_headers"] = json!([{
            "key": {"kind": "string", "value": STANDARD.encode(KEY_HEADER)},
            "value": {"kind": "raw", "value": STANDARD.encode(key)},
        }]);
    }
    message
}

fn partitioning(partition: Option<u32>, key: Option<&str>) -> Value {
    match (partition, key.filter(|key| !key.is_empty())) {
        (Some(partition), _) => {
            json!({"kind": "partition_id", "value": STANDARD.encode(partition.to_le_bytes())})
        }
        (None, Some(key)) => json!({"kind": "messages_key", "value": STANDARD.encode(key)}),
        (None, None) => json!({"kind": "balanced", "value": ""}),
    }
}

/// Sends stdin, one message per line.
pub fn produce(client: &Client, output: Output, args: &ProduceArgs) -> Result<(), CliError> {
    let topic = resolve(client, &args.topic)?;
    require_topic(client, &topic, &args.topic)?;
    let path = format!("{}/messages", topic.path());
    let mut batch: Vec<Value> = Vec::new();
    let (mut batch_bytes, mut sent) = (0, 0_u64);
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|error| CliError::new(format!("cannot read stdin: {error}")))?;
        let (key, value) = match &args.key_separator {
            Some(separator) => match line.split_once(separator.as_str()) {
                Some((key, value)) => (Some(key.to_owned()), value.to_owned()),
                None => (None, line),
            },
            None => (None, line),
        };
        if key.as_ref().is_some_and(|key| key.len() > 255) {
            return Err(CliError::new("a key may be at most 255 bytes"));
        }
        if key.is_some() && args.partition.is_none() {
            // The key chooses the partition: one request per keyed message.
            let body = json!({"partitioning": partitioning(None, key.as_deref()),
                "messages": [message_json(key.as_deref(), &value)]});
            client.post(&path, &body)?;
            sent += 1;
            continue;
        }
        batch_bytes += value.len();
        batch.push(message_json(key.as_deref(), &value));
        if batch.len() >= BATCH_MESSAGES || batch_bytes >= BATCH_BYTES {
            sent += send_batch(client, &path, args.partition, &mut batch)?;
            batch_bytes = 0;
        }
    }
    sent += send_batch(client, &path, args.partition, &mut batch)?;
    done(
        output,
        &format!("produced {sent} message(s) to {}", args.topic),
    )
}

fn send_batch(
    client: &Client,
    path: &str,
    partition: Option<u32>,
    batch: &mut Vec<Value>,
) -> Result<u64, CliError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let count = batch.len() as u64;
    let body = json!({"partitioning": partitioning(partition, None), "messages": batch});
    client.post(path, &body)?;
    batch.clear();
    Ok(count)
}

/// One partition being read: where the next poll starts.
struct Cursor {
    partition: u32,
    next: u64,
}

/// The partitions to read and where each starts.
fn cursors(
    client: &Client,
    topic: &TopicName,
    args: &ConsumeArgs,
) -> Result<Vec<Cursor>, CliError> {
    let described = client
        .get_optional(&format!(
            "/kafka/topics/{}",
            output::segment(&topic.kafka_name())
        ))?
        .ok_or_else(|| CliError::new(format!("unknown topic {:?}", args.topic)))?;
    let mut cursors = Vec::new();
    for partition in described["partitions"].as_array().into_iter().flatten() {
        let id = partition["partition"].as_u64().unwrap_or(0);
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        if args.partition.is_some_and(|wanted| wanted != id) {
            continue;
        }
        let start = if args.from_beginning {
            &partition["log_start_offset"]
        } else {
            &partition["high_watermark"]
        };
        cursors.push(Cursor {
            partition: id,
            next: start.as_u64().unwrap_or(0),
        });
    }
    if cursors.is_empty() {
        return Err(CliError::new(format!(
            "topic {:?} has no partition {}",
            args.topic,
            args.partition.map_or("-".to_owned(), |p| p.to_string())
        )));
    }
    Ok(cursors)
}

/// Prints messages of a topic until the end (or `--count`, or forever with `--follow`).
pub fn consume(client: &Client, args: &ConsumeArgs) -> Result<(), CliError> {
    let topic = resolve(client, &args.topic)?;
    let mut cursors = cursors(client, &topic, args)?;
    let path = format!("{}/messages", topic.path());
    let mut printed = 0_u64;
    let mut out = std::io::stdout().lock();
    loop {
        let mut progressed = false;
        for cursor in &mut cursors {
            let query = match &args.group {
                Some(group) => format!(
                    "consumer_id={}&partition_id={}&kind=next&count={POLL_COUNT}&auto_commit=true",
                    output::segment(group),
                    cursor.partition
                ),
                None => format!(
                    "consumer_id=0&partition_id={}&kind=offset&value={}&count={POLL_COUNT}",
                    cursor.partition, cursor.next
                ),
            };
            let polled = client.get(&format!("{path}?{query}"))?;
            for message in polled["messages"].as_array().into_iter().flatten() {
                if args.count.is_some_and(|count| printed >= count) {
                    break;
                }
                print_message(&mut out, args.format, cursor.partition, message)?;
                printed += 1;
                progressed = true;
                cursor.next = message["header"]["offset"].as_u64().unwrap_or(0) + 1;
            }
        }
        let counted = args.count.is_some_and(|count| printed >= count);
        let waiting = args.follow || args.count.is_some();
        if counted || (!progressed && !waiting) {
            return Ok(());
        }
        if !progressed {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

/// The bytes of a base64 JSON string.
fn decoded(value: &Value) -> Vec<u8> {
    value
        .as_str()
        .and_then(|text| STANDARD.decode(text).ok())
        .unwrap_or_default()
}

/// The Kafka key of a polled message, if it has one.
fn key_of(message: &Value) -> Option<Vec<u8>> {
    message["user_headers"]
        .as_array()?
        .iter()
        .find(|header| decoded(&header["key"]["value"]) == KEY_HEADER.as_bytes())
        .map(|header| decoded(&header["value"]["value"]))
}

fn print_message(
    out: &mut impl Write,
    format: Format,
    partition: u32,
    message: &Value,
) -> Result<(), CliError> {
    let value = decoded(&message["payload"]);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let line = match format {
        Format::Value => text(&value),
        Format::Hex => value.iter().map(|b| format!("{b:02x}")).collect(),
        Format::Kv => format!(
            "{}\t{}",
            text(&key_of(message).unwrap_or_default()),
            text(&value)
        ),
        Format::Json => json!({
            "partition": partition,
            "offset": message["header"]["offset"],
            "timestamp_us": message["header"]["origin_timestamp"],
            "key": key_of(message).map(|key| text(&key)),
            "value": text(&value),
            "headers": message["user_headers"],
        })
        .to_string(),
    };
    writeln!(out, "{line}").map_err(|error| CliError::new(format!("cannot write: {error}")))
}
