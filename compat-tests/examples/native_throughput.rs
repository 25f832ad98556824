//! Quick native-protocol throughput and latency measurement with the official `iggy` 0.11 SDK
//! (not a test, not the full bench): 1 KiB messages in batches of 1 000 into one partition.
//! Reports send MB/s (until every batch is acknowledged, one batch in flight as the SDK's
//! `send_messages` does), poll MB/s (from offset 0, 1 000 messages per poll, until all are
//! read) and the latency of single-message polls at the tail (p50/p99 over 2 000 polls).
//!
//! Start a broker (release build for meaningful numbers), then:
//!   cargo run --release -p whippet-compat-tests --example native_throughput -- HOST:PORT [MESSAGES]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use iggy::prelude::*;

const MESSAGE_BYTES: usize = 1024;
const BATCH: usize = 1_000;
const DEFAULT_MESSAGES: usize = 1_000_000;
const LATENCY_POLLS: usize = 2_000;

fn payload(i: usize) -> Bytes {
    let mut value = vec![b'a' + (i % 26) as u8; MESSAGE_BYTES];
    value[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Bytes::from(value)
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

async fn send_all(client: &IggyClient, stream: &Identifier, topic: &Identifier, total: usize) {
    let partitioning = Partitioning::partition_id(0);
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = BATCH.min(total - sent);
        let mut batch: Vec<IggyMessage> = (sent..sent + n)
            .map(|i| IggyMessage::builder().payload(payload(i)).build().unwrap())
            .collect();
        client
            .send_messages(stream, topic, &partitioning, &mut batch)
            .await
            .unwrap();
        sent += n;
    }
    let elapsed = started.elapsed();
    println!(
        "send: {total} x {MESSAGE_BYTES} B in {:.2?}: {:.0} MB/s, {:.0} msg/s",
        elapsed,
        mb_per_s(total * MESSAGE_BYTES, elapsed),
        total as f64 / elapsed.as_secs_f64()
    );
}

async fn poll_all(client: &IggyClient, stream: &Identifier, topic: &Identifier, total: usize) {
    let consumer = Consumer::new(Identifier::numeric(1).unwrap());
    let started = Instant::now();
    let mut next = 0u64;
    let mut bytes = 0usize;
    while (next as usize) < total {
        let polled = client
            .poll_messages(
                stream,
                topic,
                Some(0),
                &consumer,
                &PollingStrategy::offset(next),
                BATCH as u32,
                false,
            )
            .await
            .unwrap();
        for message in &polled.messages {
            assert_eq!(message.header.offset, next, "offsets must be dense");
            bytes += message.payload.len();
            next += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "poll: {total} x {MESSAGE_BYTES} B in {:.2?}: {:.0} MB/s, {:.0} msg/s",
        elapsed,
        mb_per_s(bytes, elapsed),
        total as f64 / elapsed.as_secs_f64()
    );
}

async fn poll_latency(client: &IggyClient, stream: &Identifier, topic: &Identifier, total: usize) {
    let consumer = Consumer::new(Identifier::numeric(2).unwrap());
    let mut samples = Vec::with_capacity(LATENCY_POLLS);
    for i in 0..LATENCY_POLLS {
        let offset = (total - 1 - i % total.min(1_000)) as u64;
        let started = Instant::now();
        let polled = client
            .poll_messages(
                stream,
                topic,
                Some(0),
                &consumer,
                &PollingStrategy::offset(offset),
                1,
                false,
            )
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert_eq!(polled.messages.len(), 1);
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "poll latency (1 message, recent data): p50 {:.0?}, p99 {:.0?}, max {:.0?}",
        at(0.50),
        at(0.99),
        samples[samples.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let address = args
        .next()
        .expect("usage: native_throughput HOST:PORT [MESSAGES]");
    let total: usize = args.next().map_or(DEFAULT_MESSAGES, |n| n.parse().unwrap());
    let client =
        IggyClient::from_connection_string(&format!("iggy://iggy:iggy@{address}")).unwrap();
    client.connect().await.unwrap();
    let name = format!("bench-{}", std::process::id());
    let stream = client.create_stream(&name).await.unwrap();
    let stream = Identifier::numeric(stream.id).unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        ..Default::default()
    };
    let topic = client.create_topic(&stream, "t", &options).await.unwrap();
    let topic = Identifier::numeric(topic.id).unwrap();
    send_all(&client, &stream, &topic, total).await;
    poll_all(&client, &stream, &topic, total).await;
    poll_latency(&client, &stream, &topic, total).await;
    client.delete_stream(&stream).await.unwrap();
}
