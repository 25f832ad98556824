// Reads a Kafka topic from the beginning with KafkaJS 2.2.4 and reports every record, for the
// cross-protocol tests (compat-tests/tests/cross_clients.rs), which judge. It never judges: one
// JSON object per line on stdout, bytes as hex (same shape as clients/python/cross_consume.py):
//
//   {"p": P, "o": OFFSET, "ts": MS, "k": HEX|null, "v": HEX|null, "h": [[NAME, HEX|null], ...]}
//
// KafkaJS's consumer always joins a group, so it joins a fresh one (GROUP) and reads from the
// beginning; it does not commit. KafkaJS returns headers as an object, a repeated name as an
// array, so header order across names is KafkaJS's, not the wire's. It exits 0 after COUNT
// records, 1 on a crash or if they did not arrive within the timeout.
//
// Usage: NODE_PATH=compat-tests/.work/node/node_modules \
//   node kafkajs_cross_consume.js BOOTSTRAP TOPIC GROUP COUNT
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const TIMEOUT_MS = 40000
const MAX_WAIT_MS = 200

const warn = message => process.stderr.write(`kafkajs_cross_consume: ${message}\n`)
const hex = buffer => (buffer === null || buffer === undefined ? null : Buffer.from(buffer).toString('hex'))

function headerPairs(headers) {
  const pairs = []
  for (const [name, value] of Object.entries(headers || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      pairs.push([name, hex(one)])
    }
  }
  return pairs
}

async function main() {
  if (process.argv.length !== 6) {
    warn('usage: kafkajs_cross_consume.js BOOTSTRAP TOPIC GROUP COUNT')
    process.exit(2)
  }
  const [bootstrap, topic, group, countText] = process.argv.slice(2)
  const count = Number(countText)
  const kafka = new Kafka({
    clientId: 'whippet-cross',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log }) => warn(`${namespace}: ${log.message} ${log.error || ''}`),
  })
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: MAX_WAIT_MS })
  let seen = 0
  let finish
  const done = new Promise(resolve => { finish = resolve })
  const timer = setTimeout(() => finish(`only ${seen} of ${count} records within ${TIMEOUT_MS} ms`), TIMEOUT_MS)
  consumer.on(consumer.events.CRASH, ({ payload }) => finish(`crash: ${payload.error}`))
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (seen >= count) return
      process.stdout.write(JSON.stringify({
        p: partition,
        o: Number(message.offset),
        ts: Number(message.timestamp),
        k: hex(message.key),
        v: hex(message.value),
        h: headerPairs(message.headers),
      }) + '\n')
      seen += 1
      if (seen === count) finish(null)
    },
  })
  const failure = await done
  clearTimeout(timer)
  await consumer.disconnect()
  if (failure) {
    warn(failure)
    process.exit(1)
  }
}

main().catch(error => {
  warn(`error: ${error.stack || error}`)
  process.exit(1)
})
