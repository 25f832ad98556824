"""One consumer-group member for the group scenario of compat-tests/tests/kafka_group_clients.rs.

The test starts three (and later a fourth) of these in one group and judges the group from what
they print, so the program only reports, it never decides pass/fail. One JSON object per line on
stdout, flushed at once:

  {"ev":"assigned","partitions":[...]}   the member's full current assignment, after each change
  {"ev":"record","p":P,"o":O}            one line per record handed to the application
  {"ev":"committed","offsets":{"P":O}}   a synchronous commit that the broker acknowledged
  {"ev":"closed"}                        after a graceful close (final commit + LeaveGroup)

It commits synchronously after every batch it processed (offset of the last record + 1, only for
partitions it still owns). SIGTERM makes it close gracefully and exit 0; SIGKILL is the test's
way of making a member vanish without leaving. Client errors go to stderr.

Runs under the venv (confluent-kafka 2.16, kafka-python 3, aiokafka) and under Debian's
python3 for python3-confluent-kafka 1.7 (librdkafka 2.0.2).

Usage: group_member.py CLIENT BOOTSTRAP TOPIC GROUP MEMBER ASSIGNOR SESSION_TIMEOUT_MS
  CLIENT   confluent | confluent-consumer | kafka-python | aiokafka
           (confluent-consumer: librdkafka with group.protocol=consumer, KIP-848; the broker
           then assigns and SESSION_TIMEOUT_MS is unused: the broker's setting applies)
  ASSIGNOR the client's own name for it (librdkafka: range, roundrobin, cooperative-sticky;
           kafka-python: range, roundrobin, sticky, cooperative-sticky; aiokafka: range,
           roundrobin, sticky); for confluent-consumer the server assignor (uniform, range)
"""

import asyncio
import json
import signal
import sys
import threading

HEARTBEAT_INTERVAL_MS = 500
POLL_TIMEOUT_S = 0.2
MAX_BATCH = 500


def emit(event):
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def warn(message):
    sys.stderr.write(f"group_member: {message}\n")
    sys.stderr.flush()


class Tracker:
    """Current assignment and processed-but-uncommitted progress, shared by every client."""

    def __init__(self):
        self.assignment = None
        self.pending = {}

    def assigned(self, partitions):
        current = sorted(set(partitions))
        if current != self.assignment:
            self.assignment = current
            # Progress on a partition this member no longer owns is not its to commit.
            self.pending = {p: o for p, o in self.pending.items() if p in current}
            emit({"ev": "assigned", "partitions": current})

    def record(self, partition, offset):
        emit({"ev": "record", "p": partition, "o": offset})
        self.pending[partition] = offset + 1

    def take(self):
        """The offsets to commit now (next offset per owned partition), emptying the pending set."""
        owned = set(self.assignment or [])
        offsets = {p: o for p, o in self.pending.items() if p in owned}
        self.pending = {}
        return offsets

    def restore(self, offsets):
        """Puts offsets back after a failed commit, unless newer progress already replaced them."""
        for p, o in offsets.items():
            self.pending.setdefault(p, o)

    @staticmethod
    def committed(offsets):
        emit({"ev": "committed", "offsets": {str(p): o for p, o in sorted(offsets.items())}})


def confluent_config(args):
    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": args.member,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    if args.client == "confluent-consumer":
        # KIP-848: the broker assigns and times sessions; librdkafka refuses the classic
        # settings (assignment strategy, session timeout, heartbeat interval) with it.
        config["group.protocol"] = "consumer"
        config["group.remote.assignor"] = args.assignor
    else:
        config["partition.assignment.strategy"] = args.assignor
        config["session.timeout.ms"] = args.session_ms
        config["heartbeat.interval.ms"] = HEARTBEAT_INTERVAL_MS
    return config


def run_confluent(args, stop):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(confluent_config(args))
    consumer.subscribe([args.topic])
    tracker = Tracker()

    def commit():
        offsets = tracker.take()
        if not offsets:
            return
        tps = [TopicPartition(args.topic, p, o) for p, o in offsets.items()]
        try:
            result = consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as error:
            warn(f"commit {offsets} failed: {error}")
            tracker.restore(offsets)
            return
        failed = [tp for tp in result or [] if tp.error is not None]
        if failed:
            warn(f"commit partially failed: {failed}")
            tracker.restore(offsets)
            return
        tracker.committed(offsets)

    while not stop.is_set():
        messages = consumer.consume(num_messages=MAX_BATCH, timeout=POLL_TIMEOUT_S)
        tracker.assigned(tp.partition for tp in consumer.assignment())
        for message in messages:
            if message.error() is not None:
                warn(f"consume error: {message.error()}")
                continue
            tracker.record(message.partition(), message.offset())
        commit()
    commit()
    consumer.close()


def kafka_python_assignor(name):
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    assignors = [
        RangePartitionAssignor,
        RoundRobinPartitionAssignor,
        StickyPartitionAssignor,
        CooperativeStickyAssignor,
    ]
    for assignor in assignors:
        if assignor.name == name:
            return assignor
    raise SystemExit(f"unknown kafka-python assignor {name!r}")


def run_kafka_python(args, stop):
    from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.member,
        partition_assignment_strategy=(kafka_python_assignor(args.assignor),),
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([args.topic])
    tracker = Tracker()

    def commit():
        offsets = tracker.take()
        if not offsets:
            return
        request = {
            TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()
        }
        try:
            consumer.commit(request)
        except KafkaError as error:
            warn(f"commit {offsets} failed: {error!r}")
            tracker.restore(offsets)
            return
        tracker.committed(offsets)

    while not stop.is_set():
        batches = consumer.poll(timeout_ms=int(POLL_TIMEOUT_S * 1000), max_records=MAX_BATCH)
        tracker.assigned(tp.partition for tp in consumer.assignment())
        for tp, records in sorted(batches.items()):
            for record in records:
                tracker.record(tp.partition, record.offset)
        commit()
    commit()
    consumer.close(autocommit=False)


def aiokafka_assignor(name):
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    for assignor in (RangePartitionAssignor, RoundRobinPartitionAssignor, StickyPartitionAssignor):
        if assignor.name == name:
            return assignor
    raise SystemExit(f"unknown aiokafka assignor {name!r}")


async def run_aiokafka_async(args):
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.member,
        partition_assignment_strategy=(aiokafka_assignor(args.assignor),),
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    tracker = Tracker()

    async def commit():
        offsets = tracker.take()
        if not offsets:
            return
        request = {TopicPartition(args.topic, p): o for p, o in offsets.items()}
        try:
            await consumer.commit(request)
        except KafkaError as error:
            warn(f"commit {offsets} failed: {error!r}")
            tracker.restore(offsets)
            return
        tracker.committed(offsets)

    while not stop.is_set():
        batches = await consumer.getmany(
            timeout_ms=int(POLL_TIMEOUT_S * 1000), max_records=MAX_BATCH
        )
        tracker.assigned(tp.partition for tp in consumer.assignment())
        for tp, records in sorted(batches.items()):
            for record in records:
                tracker.record(tp.partition, record.offset)
        await commit()
    await commit()
    await consumer.stop()


class Args:
    def __init__(self, argv):
        if len(argv) != 8:
            raise SystemExit(__doc__)
        self.client, self.bootstrap, self.topic, self.group, self.member, self.assignor = argv[1:7]
        self.session_ms = int(argv[7])


def main():
    args = Args(sys.argv)
    if args.client == "aiokafka":
        asyncio.run(run_aiokafka_async(args))
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        runners = {
            "confluent": run_confluent,
            "confluent-consumer": run_confluent,
            "kafka-python": run_kafka_python,
        }
        runner = runners.get(args.client)
        if runner is None:
            raise SystemExit(f"unknown client {args.client!r}")
        runner(args, stop)
    emit({"ev": "closed"})


if __name__ == "__main__":
    main()
