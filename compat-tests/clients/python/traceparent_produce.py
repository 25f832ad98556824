"""confluent-kafka (venv, librdkafka 2.16) produces records carrying a W3C `traceparent` header
and reads them back, for compat-tests/tests/telemetry_otlp.rs.

Usage: traceparent_produce.py HOST:PORT TOPIC TRACEPARENT COUNT
Prints `produced N` and `consumed N` on stdout.
"""

import sys

from confluent_kafka import Consumer, Producer

TIMEOUT_S = 15


def main():
    bootstrap, topic, traceparent, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for i in range(count):
        producer.produce(topic, value=f"traced-{i}".encode(), headers=[("traceparent", traceparent)])
    left = producer.flush(TIMEOUT_S)
    if left:
        sys.exit(f"{left} records not delivered")
    print(f"produced {count}", flush=True)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "otel-reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got = 0
    while got < count:
        message = consumer.poll(TIMEOUT_S)
        if message is None:
            sys.exit(f"consumed only {got} of {count}")
        if message.error():
            sys.exit(f"consume error: {message.error()}")
        got += 1
    consumer.close()
    print(f"consumed {got}", flush=True)


if __name__ == "__main__":
    main()
