//! `whippet topic list|create|describe|alter-config|delete`. A plain NAME is a Kafka topic (a
//! topic of the broker's Kafka stream, as Kafka clients see it); `stream/topic` names a topic of
//! any native stream. Configs are the native topic options (`message_expiry`,
//! `max_topic_size`, `segment_size`, `compression_algorithm`, …) as `key=value`.

use std::collections::BTreeMap;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::output::{self, segment};
use crate::{CliError, Client, Output};

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Every topic of every stream.
    List,
    /// Creates a topic.
    Create {
        /// `name` (Kafka) or `stream/topic`.
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// A topic option, `key=value` (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Per partition: log start, high watermark, size, segments.
    Describe {
        /// `name` (Kafka) or `stream/topic`.
        name: String,
    },
    /// Changes topic options.
    AlterConfig {
        /// `name` (Kafka) or `stream/topic`.
        name: String,
        /// An option to set, `key=value` (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", required = true)]
        configs: Vec<String>,
    },
    /// Deletes a topic and its data.
    Delete {
        /// `name` (Kafka) or `stream/topic`.
        name: String,
    },
}

/// A topic as the CLI names it, resolved against the broker's Kafka stream.
#[derive(Debug, Clone)]
pub struct TopicName {
    /// The native stream.
    pub stream: String,
    /// The topic within it.
    pub topic: String,
    /// Whether it was named as a Kafka topic (plain name).
    pub kafka: bool,
}

impl TopicName {
    /// Reads `name`: `stream/topic`, or a plain name in `kafka_stream`.
    pub fn parse(name: &str, kafka_stream: &str) -> Result<Self, CliError> {
        match name.split_once('/') {
            Some((stream, topic)) if !stream.is_empty() && !topic.is_empty() => Ok(Self {
                stream: stream.to_owned(),
                topic: topic.to_owned(),
                kafka: false,
            }),
            Some(_) => Err(CliError::new(format!(
                "invalid topic name {name:?}: use NAME or STREAM/TOPIC"
            ))),
            None if name.is_empty() => Err(CliError::new("the topic name is empty")),
            None => Ok(Self {
                stream: kafka_stream.to_owned(),
                topic: name.to_owned(),
                kafka: true,
            }),
        }
    }

    /// The topic's API path, `/streams/S/topics/T`.
    pub fn path(&self) -> String {
        format!(
            "/streams/{}/topics/{}",
            segment(&self.stream),
            segment(&self.topic)
        )
    }

    /// The name Kafka clients know it by (`stream.topic` outside the Kafka stream).
    pub fn kafka_name(&self) -> String {
        if self.kafka {
            self.topic.clone()
        } else {
            format!("{}.{}", self.stream, self.topic)
        }
    }
}

/// The broker's Kafka stream name.
pub fn kafka_stream(client: &Client) -> Result<String, CliError> {
    let info = client.get("/kafka/info")?;
    Ok(info["kafka_stream"].as_str().unwrap_or("kafka").to_owned())
}

/// Resolves a CLI topic name against the broker.
pub fn resolve(client: &Client, name: &str) -> Result<TopicName, CliError> {
    TopicName::parse(name, &kafka_stream(client)?)
}

/// Runs one topic command.
pub fn run(client: &Client, output: Output, command: &TopicCommand) -> Result<(), CliError> {
    match command {
        TopicCommand::List => list(client, output),
        TopicCommand::Create {
            name,
            partitions,
            configs,
        } => create(client, output, name, *partitions, configs),
        TopicCommand::Describe { name } => describe(client, output, name),
        TopicCommand::AlterConfig { name, configs } => {
            let topic = resolve(client, name)?;
            let body = json!({"name": topic.topic, "options": parse_configs(configs)?});
            client.put(&topic.path(), &body)?;
            done(output, &format!("topic {name} updated"))
        }
        TopicCommand::Delete { name } => {
            let topic = resolve(client, name)?;
            require_topic(client, &topic, name)?;
            client.delete(&topic.path())?;
            done(output, &format!("topic {name} deleted"))
        }
    }
}

/// Prints a confirmation (`{"result": ...}` in JSON).
pub fn done(output: Output, message: &str) -> Result<(), CliError> {
    if output == Output::Json {
        return output::json(&json!({ "result": message }));
    }
    println!("{message}");
    Ok(())
}

/// `404` "unknown topic" before acting on one that does not exist.
pub fn require_topic(client: &Client, topic: &TopicName, name: &str) -> Result<Value, CliError> {
    client
        .get_optional(&topic.path())?
        .ok_or_else(|| CliError::new(format!("unknown topic {name:?}")))
}

fn parse_configs(configs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    configs
        .iter()
        .map(|config| {
            config
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .ok_or_else(|| CliError::new(format!("invalid --config {config:?}: use KEY=VALUE")))
        })
        .collect()
}

fn list(client: &Client, output: Output) -> Result<(), CliError> {
    let kafka_stream = kafka_stream(client)?;
    let streams = client.get("/streams")?;
    let mut all = Vec::new();
    for stream in streams.as_array().into_iter().flatten() {
        let stream_name = output::text(&stream["name"]);
        let topics = client.get(&format!("/streams/{}/topics", stream["id"]))?;
        for topic in topics.as_array().into_iter().flatten() {
            let topic_name = output::text(&topic["name"]);
            let shown = if stream_name == kafka_stream {
                topic_name
            } else {
                format!("{stream_name}/{topic_name}")
            };
            all.push((shown, topic.clone()));
        }
    }
    if output == Output::Json {
        let list: Vec<Value> = all
            .iter()
            .map(|(name, topic)| {
                let mut topic = topic.clone();
                topic["name"] = Value::from(name.as_str());
                topic
            })
            .collect();
        return output::json(&Value::from(list));
    }
    let rows = all
        .iter()
        .map(|(name, topic)| {
            vec![
                name.clone(),
                output::text(&topic["partitions_count"]),
                output::text(&topic["messages_count"]),
                output::bytes(&topic["size"]),
            ]
        })
        .collect();
    output::table(&["NAME", "PARTITIONS", "MESSAGES", "SIZE"], rows);
    Ok(())
}

fn create(
    client: &Client,
    output: Output,
    name: &str,
    partitions: u32,
    configs: &[String],
) -> Result<(), CliError> {
    let topic = resolve(client, name)?;
    let stream_path = format!("/streams/{}", segment(&topic.stream));
    if client.get_optional(&stream_path)?.is_none() {
        // The Kafka stream appears with its first topic; a native stream is made on demand.
        client.post("/streams", &json!({ "name": topic.stream }))?;
    }
    let body = json!({
        "name": topic.topic,
        "partitions_count": partitions,
        "options": parse_configs(configs)?,
    });
    client.post(&format!("{stream_path}/topics"), &body)?;
    done(
        output,
        &format!("topic {name} created with {partitions} partition(s)"),
    )
}

fn describe(client: &Client, output: Output, name: &str) -> Result<(), CliError> {
    let topic = resolve(client, name)?;
    let path = format!("/kafka/topics/{}", segment(&topic.kafka_name()));
    let Some(described) = client.get_optional(&path)? else {
        return Err(CliError::new(format!("unknown topic {name:?}")));
    };
    if output == Output::Json {
        return output::json(&described);
    }
    println!(
        "topic {name} (stream {}, kafka name {})",
        topic.stream,
        topic.kafka_name()
    );
    let rows = described["partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            vec![
                output::text(&p["partition"]),
                output::text(&p["log_start_offset"]),
                output::text(&p["high_watermark"]),
                output::bytes(&p["size_bytes"]),
                output::text(&p["segments"]),
                output::text(&p["messages"]),
            ]
        })
        .collect();
    output::table(
        &[
            "PARTITION",
            "LOG-START",
            "HIGH-WATERMARK",
            "SIZE",
            "SEGMENTS",
            "MESSAGES",
        ],
        rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let kafka = TopicName::parse("orders", "kafka").unwrap();
        assert_eq!(
            (kafka.stream.as_str(), kafka.kafka_name().as_str()),
            ("kafka", "orders")
        );
        let native = TopicName::parse("s/t", "kafka").unwrap();
        assert_eq!(native.path(), "/streams/s/topics/t");
        assert_eq!(native.kafka_name(), "s.t");
        assert!(TopicName::parse("/t", "kafka").is_err());
        assert!(TopicName::parse("", "kafka").is_err());
    }
}
