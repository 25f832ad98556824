"""kafka-python or aiokafka over SASL_SSL with SCRAM (or any security settings). Usage:
secure_other.py kafka-python|aiokafka HOST:PORT TOPIC CA_FILE MECHANISM USER PASSWORD EXPECT

EXPECT ok: produce 20 records to TOPIC and read them back; auth-failed: the client cannot
authenticate (nothing produced). Prints `OK ...` and exits 0, else `FAIL: ...` and exits 1."""

import asyncio
import ssl
import sys
import time

RECORDS = 20
TIMEOUT_S = 30


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def context(ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    return ctx


def kafka_python(bootstrap, topic, ca_file, mechanism, user, password, expect):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import KafkaError

    common = dict(bootstrap_servers=bootstrap, security_protocol="SASL_SSL",
                  ssl_context=context(ca_file), sasl_mechanism=mechanism,
                  sasl_plain_username=user, sasl_plain_password=password,
                  request_timeout_ms=15000)
    try:
        producer = KafkaProducer(**common)
    except KafkaError as error:
        if expect == "auth-failed":
            print(f"OK authentication refused: {error!r}")
            return
        fail(f"producer: {error!r}")
    if expect == "auth-failed":
        fail("authenticated with a wrong password")
    for i in range(RECORDS):
        producer.send(topic, f"secure-{i}".encode())
    producer.flush(TIMEOUT_S)
    producer.close()
    consumer = KafkaConsumer(topic, group_id=f"kp-{time.time_ns()}", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=TIMEOUT_S * 1000,
                             **common)
    values = []
    for message in consumer:
        values.append(message.value.decode())
        if len(values) == RECORDS:
            break
    consumer.close()
    if sorted(values) != sorted(f"secure-{i}" for i in range(RECORDS)):
        fail(f"consumed {values}")
    print(f"OK kafka-python {RECORDS} records over SASL_SSL {mechanism}")


async def aiokafka_run(bootstrap, topic, ca_file, mechanism, user, password, expect):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.errors import KafkaError

    common = dict(bootstrap_servers=bootstrap, security_protocol="SASL_SSL",
                  ssl_context=context(ca_file), sasl_mechanism=mechanism,
                  sasl_plain_username=user, sasl_plain_password=password,
                  request_timeout_ms=15000)
    producer = AIOKafkaProducer(**common)
    try:
        await asyncio.wait_for(producer.start(), TIMEOUT_S)
    except (KafkaError, asyncio.TimeoutError) as error:
        await producer.stop()
        if expect == "auth-failed":
            print(f"OK authentication refused: {error!r}")
            return
        fail(f"producer: {error!r}")
    if expect == "auth-failed":
        await producer.stop()
        fail("authenticated with a wrong password")
    for i in range(RECORDS):
        await producer.send_and_wait(topic, f"secure-{i}".encode())
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, group_id=f"aio-{time.time_ns()}",
                                auto_offset_reset="earliest", enable_auto_commit=False, **common)
    await consumer.start()
    values = []
    try:
        deadline = time.time() + TIMEOUT_S
        while len(values) < RECORDS and time.time() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                values.extend(m.value.decode() for m in messages)
    finally:
        await consumer.stop()
    if sorted(values) != sorted(f"secure-{i}" for i in range(RECORDS)):
        fail(f"consumed {values}")
    print(f"OK aiokafka {RECORDS} records over SASL_SSL {mechanism}")


def main():
    client, args = sys.argv[1], sys.argv[2:9]
    if client == "kafka-python":
        kafka_python(*args)
    else:
        asyncio.run(aiokafka_run(*args))


if __name__ == "__main__":
    main()
