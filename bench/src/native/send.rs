//! Native senders: each task has its own connection and sends batches of
//! `--messages-per-batch` round-robin over the partitions, one batch in flight (as the SDK's
//! `send_messages` does). Latency is the batch's acknowledgement time, counted once per message.

use std::time::Instant;

use bytes::Bytes;

use super::{NativeClient, Partition};
use crate::cli::NativeCommand;
use crate::error::BenchError;
use crate::payload::{self, Schedule};
use crate::progress::Counter;
use crate::report::LatencyKind;
use crate::stats::Latencies;

/// Runs `cmd.producers` sender tasks until the budget or the deadline.
pub async fn run_senders(
    cmd: &NativeCommand,
    partitions: &[Partition],
    counter: &Counter,
    epoch: Instant,
) -> Result<(Latencies, LatencyKind), BenchError> {
    let start = Instant::now();
    let deadline = payload::deadline(start, cmd.run.duration);
    let budget = cmd.run.record_budget();
    let mut tasks = Vec::new();
    for index in 0..cmd.producers {
        let (cmd, partitions, counter) = (cmd.clone(), partitions.to_vec(), counter.clone());
        let records = budget.map(|b| payload::share(b, cmd.producers, index));
        let per_sec = cmd.run.rate.map(|r| r as f64 / cmd.producers as f64);
        let schedule = Schedule::new(start, per_sec);
        let worker = Sender {
            cmd,
            partitions,
            counter,
            epoch,
            index,
        };
        tasks.push(tokio::spawn(async move {
            worker.run(records, deadline, schedule).await
        }));
    }
    let mut latencies = Latencies::new();
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(worker)) => latencies.merge(&worker),
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(error) => first_error = Some(BenchError::Run(format!("sender task: {error}"))),
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let kind = if cmd.run.rate.is_some() {
        LatencyKind::AckFromIntended
    } else {
        LatencyKind::Ack
    };
    Ok((latencies, kind))
}

struct Sender {
    cmd: NativeCommand,
    partitions: Vec<Partition>,
    counter: Counter,
    epoch: Instant,
    index: usize,
}

impl Sender {
    async fn run(
        self,
        records: Option<u64>,
        deadline: Option<Instant>,
        schedule: Option<Schedule>,
    ) -> Result<Latencies, BenchError> {
        let client = NativeClient::connect(&self.cmd).await?;
        let bodies = payload::bodies(self.cmd.run.record_size);
        let batch = u64::from(self.cmd.messages_per_batch);
        let mut latencies = Latencies::new();
        let (mut k, mut batch_index) = (0u64, self.index);
        while records.is_none_or(|n| k < n) && !payload::past(deadline) {
            let n = records.map_or(batch, |total| batch.min(total - k));
            // A batch cannot leave before its last message is due.
            let sent_at = match schedule {
                Some(schedule) => {
                    let due = schedule.due(k + n - 1);
                    tokio::time::sleep_until(due.into()).await;
                    due
                }
                None => Instant::now(),
            };
            let sent_ns = payload::nanos_since(self.epoch, sent_at);
            let mut payloads = Vec::with_capacity(n as usize);
            for i in k..k + n {
                let mut body = bodies[(i as usize + self.index) % bodies.len()].clone();
                payload::stamp(&mut body, sent_ns, i);
                payloads.push(Bytes::from(body));
            }
            let target = &self.partitions[batch_index % self.partitions.len()];
            client.send(target, payloads).await?;
            latencies.record_n(Instant::now().saturating_duration_since(sent_at), n);
            self.counter.add(n, n * self.cmd.run.record_size as u64);
            k += n;
            batch_index += 1;
        }
        Ok(latencies)
    }
}
