"""confluent-kafka against a Kafka listener with TLS and/or SASL. Usage:
secure_kafka.py HOST:PORT TOPIC CONFIG_JSON [EXPECT]

CONFIG_JSON holds the client properties to add (security.protocol, ssl.ca.location,
sasl.mechanism, sasl.username, ...). EXPECT is one of:
  ok          produce 20 records to TOPIC and read them back (the default);
  auth-failed the first request fails with an authentication error (SASL 58, or a TLS
              handshake failure), and nothing is produced;
  topic-denied producing to TOPIC fails with TOPIC_AUTHORIZATION_FAILED (29);
  read-denied reading TOPIC fails with TOPIC_AUTHORIZATION_FAILED (29);
  group-denied reading TOPIC in a consumer group fails with GROUP_AUTHORIZATION_FAILED (30);
  read-ok     read the RECORDS records another client produced to TOPIC.
Prints `OK ...` and exits 0 when the expectation holds, else `FAIL: ...` and exits 1."""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

RECORDS = 20
TIMEOUT_S = 30


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def produce(conf, topic):
    """Produces RECORDS records; answers the delivery errors (empty when all were delivered)."""
    errors = []
    producer = Producer({**conf, "message.timeout.ms": 15000, "retries": 0})

    def delivered(error, _msg):
        if error is not None:
            errors.append(error)

    for i in range(RECORDS):
        producer.produce(topic, key=str(i).encode(), value=f"secure-{i}".encode(),
                         on_delivery=delivered)
    left = producer.flush(TIMEOUT_S)
    if left:
        errors.append(f"{left} records not delivered")
    return errors


def consume(conf, topic):
    """Reads until RECORDS records came back; answers (values, first error)."""
    consumer = Consumer({**conf, "group.id": f"secure-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values, deadline = [], time.time() + TIMEOUT_S
    try:
        while len(values) < RECORDS and time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                return values, msg.error()
            values.append(msg.value().decode())
    finally:
        consumer.close()
    return values, None


def auth_failed(conf, topic):
    errors = []
    producer = Producer({**conf, "message.timeout.ms": 8000,
                         "error_cb": lambda error: errors.append(error)})
    producer.produce(topic, value=b"never")
    producer.flush(10)
    codes = {e.code() for e in errors if isinstance(e, KafkaError)}
    wanted = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
              KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}
    if not codes & wanted:
        fail(f"expected an authentication failure, got {errors}")
    print(f"OK authentication refused: {[str(e) for e in errors][:3]}")


def main():
    bootstrap, topic, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    expect = sys.argv[4] if len(sys.argv) > 4 else "ok"
    conf = {"bootstrap.servers": bootstrap, **extra}
    if expect == "auth-failed":
        return auth_failed(conf, topic)
    if expect == "read-denied":
        values, error = consume(conf, topic)
        if error is None or error.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
            fail(f"expected TOPIC_AUTHORIZATION_FAILED reading, got {error} after {values}")
        print(f"OK read denied: {error}")
        return None
    if expect == "group-denied":
        values, error = consume(conf, topic)
        if error is None or error.code() != KafkaError.GROUP_AUTHORIZATION_FAILED:
            fail(f"expected GROUP_AUTHORIZATION_FAILED reading, got {error} after {values}")
        print(f"OK group denied: {error}")
        return None
    if expect == "read-ok":
        values, error = consume(conf, topic)
        if error is not None or len(values) < RECORDS:
            fail(f"consumed {values} with error {error}")
        print(f"OK {len(values)} records consumed")
        return None
    errors = produce(conf, topic)
    if expect == "topic-denied":
        if not any(getattr(e, "code", lambda: None)() == KafkaError.TOPIC_AUTHORIZATION_FAILED
                   for e in errors):
            fail(f"expected TOPIC_AUTHORIZATION_FAILED, got {errors}")
        print(f"OK produce denied: {errors[0]}")
        return None
    if errors:
        fail(f"produce failed: {errors[:3]}")
    values, error = consume(conf, topic)
    want = [f"secure-{i}" for i in range(RECORDS)]
    if error is not None or sorted(values) != sorted(want):
        fail(f"consumed {values} with error {error}")
    print(f"OK {RECORDS} records produced and consumed")
    return None


if __name__ == "__main__":
    try:
        main()
    except KafkaException as error:
        fail(f"client error: {error}")
