"""confluent-kafka transactions against the broker. Usage:
transactions.py HOST:PORT ACTION ARGS...

  produce TOPIC TXN_ID COMMIT|ABORT|HANG PREFIX COUNT
      one transaction of COUNT records "PREFIX-i" (keys "k-i"), committed, aborted, or left
      open (HANG: 5 s transaction timeout; prints OPEN once the records are written, then
      sleeps until killed)
  consume TOPIC ISOLATION EXPECTED GROUP
      read_committed or read_uncommitted consumer from the earliest offset until EXPECTED
      records arrived (or 20 s of nothing); prints one `REC offset value` line per record
  ctp IN_TOPIC OUT_TOPIC TXN_ID GROUP COUNT
      consume-transform-produce: reads COUNT records of IN_TOPIC, writes each value upper-cased
      to OUT_TOPIC and commits the input offsets with send_offsets_to_transaction, one
      transaction per 10 records
  fence TOPIC TXN_ID
      two producers with one transactional id: the second's init fences the first, whose next
      operation fails; prints `FENCED <error name>` or `NOT FENCED`
  offsets-hang TOPIC TXN_ID GROUP
      a transaction (5 s timeout) that only sends offset 5 of TOPIC partition 0 for GROUP
      with send_offsets_to_transaction, then prints OPEN and sleeps until killed
  committed GROUP TOPIC
      prints `COMMITTED partition offset` for partition 0 of TOPIC

Errors print `ERR <name>: <message>` (see common.report_kafka_error) and exit 1."""

import sys
import time

from common import report_kafka_error
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT_S = 30


def producer(bootstrap, txn_id, timeout_ms=60000):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "transaction.timeout.ms": timeout_ms,
        "linger.ms": 5,
    })
    p.init_transactions(TIMEOUT_S)
    return p


def produce(bootstrap, topic, txn_id, outcome, prefix, count):
    # A transaction left open is aborted by the broker after its timeout: keep that short.
    p = producer(bootstrap, txn_id, 5000 if outcome == "HANG" else 60000)
    p.begin_transaction()
    for i in range(count):
        p.produce(topic, key=f"k-{i}", value=f"{prefix}-{i}")
    p.flush(TIMEOUT_S)
    if outcome == "COMMIT":
        p.commit_transaction(TIMEOUT_S)
    elif outcome == "ABORT":
        p.abort_transaction(TIMEOUT_S)
    else:
        print("OPEN", flush=True)
        time.sleep(3600)
    print("OK")


def consumer(bootstrap, group, isolation, auto_commit=False):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": auto_commit,
        "isolation.level": isolation,
    })


def consume(bootstrap, topic, isolation, expected, group):
    c = consumer(bootstrap, group, isolation)
    c.subscribe([topic])
    got, idle_since = 0, time.time()
    while got < expected and time.time() - idle_since < 20:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        print(f"REC {msg.offset()} {msg.value().decode()}", flush=True)
        got += 1
        idle_since = time.time()
    # Anything more than expected (should not be there) within a short grace period.
    deadline = time.time() + 2
    while time.time() < deadline:
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            print(f"REC {msg.offset()} {msg.value().decode()}", flush=True)
    c.close()


def ctp(bootstrap, in_topic, out_topic, txn_id, group, count):
    p = producer(bootstrap, txn_id)
    c = consumer(bootstrap, group, "read_committed")
    c.subscribe([in_topic])
    done, idle_since = 0, time.time()
    while done < count and time.time() - idle_since < 30:
        msgs = c.consume(num_messages=min(10, count - done), timeout=1.0)
        if not msgs:
            continue
        idle_since = time.time()
        p.begin_transaction()
        for msg in msgs:
            if msg.error():
                raise KafkaException(msg.error())
            p.produce(out_topic, key=msg.key(), value=msg.value().upper())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(),
                                      TIMEOUT_S)
        p.commit_transaction(TIMEOUT_S)
        done += len(msgs)
    c.close()
    print(f"OK {done}")


def fence(bootstrap, topic, txn_id):
    first = producer(bootstrap, txn_id)
    first.begin_transaction()
    first.produce(topic, value=b"zombie")
    first.flush(TIMEOUT_S)
    second = producer(bootstrap, txn_id)
    second.begin_transaction()
    second.produce(topic, value=b"winner")
    second.commit_transaction(TIMEOUT_S)
    try:
        first.produce(topic, value=b"zombie-2")
        first.commit_transaction(TIMEOUT_S)
        print("NOT FENCED")
    except KafkaException as e:
        print(f"FENCED {e.args[0].name()}")


def offsets_hang(bootstrap, topic, txn_id, group):
    p = producer(bootstrap, txn_id, 5000)
    p.begin_transaction()
    c = consumer(bootstrap, group, "read_committed")
    p.send_offsets_to_transaction([TopicPartition(topic, 0, 5)], c.consumer_group_metadata(),
                                  TIMEOUT_S)
    print("OPEN", flush=True)
    time.sleep(3600)


def committed(bootstrap, group, topic):
    c = consumer(bootstrap, group, "read_committed")
    for tp in c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT_S):
        print(f"COMMITTED {tp.partition} {tp.offset}")
    c.close()


def main():
    bootstrap, action, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        if action == "produce":
            produce(bootstrap, args[0], args[1], args[2], args[3], int(args[4]))
        elif action == "consume":
            consume(bootstrap, args[0], args[1], int(args[2]), args[3])
        elif action == "ctp":
            ctp(bootstrap, args[0], args[1], args[2], args[3], int(args[4]))
        elif action == "fence":
            fence(bootstrap, args[0], args[1])
        elif action == "offsets-hang":
            offsets_hang(bootstrap, args[0], args[1], args[2])
        elif action == "committed":
            committed(bootstrap, args[0], args[1])
        else:
            raise SystemExit(f"unknown action {action}")
    except KafkaException as e:
        report_kafka_error(e)
        sys.exit(1)


if __name__ == "__main__":
    main()
