// KafkaJS 2.2.4 against Whippet: admin, produce under the codecs KafkaJS has built in (none and
// gzip; snappy/lz4/zstd need third-party codec plugins), consume each partition from offset 0.
//
// KafkaJS's consumer always joins a consumer group (not implemented yet: next issue), so the
// records are read with KafkaJS's own cluster and broker objects (`broker.fetch`, the same code
// its consumer uses to send Fetch and decode/decompress batches), by direct partition choice.
// Admin calls go to the controller named in Metadata, as KafkaJS always does.
//
// Usage: NODE_PATH=compat-tests/.work/node/node_modules node kafkajs_client.js HOST:PORT
'use strict'

const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs')

const RECORDS = 10000
const PARTITIONS = 3
const CLIENT = 'kafkajs'
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }
const IDEMPOTENT_CODECS = new Set(['gzip'])
const CONSUME_TIMEOUT_MS = 40000
const FILLER = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(12)

class Failure extends Error {}
const fail = message => {
  throw new Failure(message)
}
const log = message => console.log(message)

// The i-th record, as in compat-tests/clients/python/common.py.
const record = (i, codec, baseMs) => ({
  partition: i % PARTITIONS,
  key: `key-${codec}-${i}`,
  value: `value-${CLIENT}-${codec}-${String(i).padStart(5, '0')}-` + FILLER.slice(0, (i * 37) % 400),
  headers: { idx: String(i), codec, empty: '' },
  timestamp: String(baseMs + i),
})

const expectedCount = partition => Math.floor((RECORDS - partition + PARTITIONS - 1) / PARTITIONS)

async function waitPartitions(admin, topic, want) {
  const deadline = Date.now() + 15000
  while (Date.now() < deadline) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
      if (topics.length === 1 && topics[0].partitions.length === want) return
    } catch (error) {
      // not there yet
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  fail(`metadata never showed ${topic} with ${want} partitions`)
}

async function createTopic(admin, topic, numPartitions, configEntries = []) {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }],
    waitForLeaders: true,
  })
  if (!created) fail(`createTopics(${topic}) reported that it already existed`)
  await waitPartitions(admin, topic, numPartitions)
}

async function configs(admin, topic) {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    includeSynonyms: false,
  })
  if (resources.length !== 1 || resources[0].errorCode !== 0) {
    fail(`describeConfigs(${topic}): ${JSON.stringify(resources)}`)
  }
  return Object.fromEntries(resources[0].configEntries.map(e => [e.configName, e.configValue]))
}

async function expectConfig(admin, topic, name, want) {
  const got = (await configs(admin, topic))[name]
  if (got !== want) fail(`${topic}: config ${name} = ${got}, expected ${want}`)
}

async function adminScenario(kafka, admin, topic) {
  await createTopic(admin, topic, 3, [{ name: 'retention.ms', value: '3600000' }])
  if (await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })) {
    fail(`creating ${topic} twice succeeded`)
  }
  const described = await configs(admin, topic)
  for (const name of ['retention.bytes', 'segment.bytes', 'max.message.bytes', 'cleanup.policy',
    'message.timestamp.type']) {
    if (!(name in described)) fail(`${topic}: describeConfigs lacks ${name}`)
  }
  await expectConfig(admin, topic, 'retention.ms', '3600000')
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
      configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
  })
  await expectConfig(admin, topic, 'retention.ms', '7200000')

  await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] })
  await waitPartitions(admin, topic, 5)

  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic, acks: -1,
    messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: 0 })) })
  await producer.disconnect()
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] })
  const offsets = (await admin.fetchTopicOffsets(topic)).find(o => o.partition === 0)
  if (offsets.low !== '4' || offsets.high !== '10') {
    fail(`${topic}[0]: offsets after deleteTopicRecords ${JSON.stringify(offsets)} != low 4, high 10`)
  }

  const cluster = await admin.describeCluster()
  if (cluster.brokers.length !== 1 || cluster.controller !== cluster.brokers[0].nodeId) {
    fail(`describeCluster: ${JSON.stringify(cluster)}`)
  }

  await admin.deleteTopics({ topics: [topic] })
  const deadline = Date.now() + 15000
  while ((await admin.listTopics()).includes(topic)) {
    if (Date.now() > deadline) fail(`${topic} still listed after deleteTopics`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

async function produce(kafka, topic, codec, baseMs) {
  const idempotent = IDEMPOTENT_CODECS.has(codec)
  const producer = kafka.producer(idempotent ? { idempotent, maxInFlightRequests: 1 } : {})
  await producer.connect()
  try {
    const chunk = 1000
    for (let start = 0; start < RECORDS; start += chunk) {
      const messages = []
      for (let i = start; i < Math.min(start + chunk, RECORDS); i++) messages.push(record(i, codec, baseMs))
      const results = await producer.send({ topic, acks: -1, compression: CODECS[codec], messages })
      for (const r of results) {
        if (r.errorCode !== 0) fail(`${topic}[${r.partition}]: produce error ${r.errorCode}`)
      }
    }
  } finally {
    await producer.disconnect()
  }
}

function headersOf(message) {
  return Object.entries(message.headers).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v])
}

function checkMessage(topic, codec, baseMs, partition, expectedOffset, m) {
  const where = `${topic}[${partition}]@${m.offset}`
  if (m.offset !== String(expectedOffset)) fail(`${where}: expected offset ${expectedOffset}`)
  const i = expectedOffset * PARTITIONS + partition
  if (i >= RECORDS) fail(`${where}: more records than produced`)
  const want = record(i, codec, baseMs)
  if (m.key.toString() !== want.key) fail(`${where}: key ${m.key} != ${want.key}`)
  if (m.value.toString() !== want.value) fail(`${where}: value differs`)
  const wantHeaders = Object.entries(want.headers)
  if (JSON.stringify(headersOf(m)) !== JSON.stringify(wantHeaders)) {
    fail(`${where}: headers ${JSON.stringify(headersOf(m))} != ${JSON.stringify(wantHeaders)}`)
  }
  if (m.timestamp !== want.timestamp) fail(`${where}: timestamp ${m.timestamp} != ${want.timestamp}`)
}

function clusterFactory(kafka) {
  const symbol = Object.getOwnPropertySymbols(kafka)
    .find(s => s.description === 'private:Kafka:createCluster')
  if (!symbol) fail('cannot find KafkaJS cluster factory')
  return kafka[symbol]
}

async function consume(kafka, topic, codec, baseMs) {
  const cluster = clusterFactory(kafka)({ isolationLevel: 1 })
  await cluster.connect()
  try {
    await cluster.addTargetTopic(topic)
    const next = Array(PARTITIONS).fill(0)
    const deadline = Date.now() + CONSUME_TIMEOUT_MS
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const leaders = cluster.findLeaderForPartitions(topic, [partition])
      const broker = await cluster.findBroker({ nodeId: Object.keys(leaders)[0] })
      while (next[partition] < expectedCount(partition)) {
        if (Date.now() > deadline) fail(`timed out; consumed ${next}`)
        const response = await broker.fetch({
          replicaId: -1, isolationLevel: 1, maxWaitTime: 500, minBytes: 1, maxBytes: 10485760,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(next[partition]), maxBytes: 1048576 }] }],
        })
        for (const { partitions } of response.responses) {
          for (const p of partitions) {
            if (p.errorCode !== 0) fail(`${topic}[${p.partition}]: fetch error ${p.errorCode}`)
            if (p.highWatermark !== String(expectedCount(partition))) {
              fail(`${topic}[${p.partition}]: high watermark ${p.highWatermark}`)
            }
            for (const m of p.messages) {
              if (BigInt(m.offset) < BigInt(next[partition])) continue // earlier part of a batch
              checkMessage(topic, codec, baseMs, partition, next[partition], m)
              next[partition]++
            }
          }
        }
      }
    }
  } finally {
    await cluster.disconnect()
  }
}

async function main(bootstrap) {
  const kafka = new Kafka({ clientId: 'whippet-compat', brokers: [bootstrap], logLevel: logLevel.ERROR,
    retry: { retries: 5 } })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await adminScenario(kafka, admin, 'kafkajs-admin')
    log('admin: ok')
    for (const codec of Object.keys(CODECS)) {
      const topic = `kafkajs-${codec}`
      await createTopic(admin, topic, PARTITIONS)
      const baseMs = (Math.floor(Date.now() / 1000) - 3600) * 1000
      const started = Date.now()
      await produce(kafka, topic, codec, baseMs)
      const produced = Date.now()
      await consume(kafka, topic, codec, baseMs)
      log(`${codec}: ${RECORDS} records ok (produce ${(produced - started) / 1000}s, ` +
        `consume ${(Date.now() - produced) / 1000}s)`)
    }
  } finally {
    await admin.disconnect()
  }
}

if (process.argv.length !== 3) {
  console.error('usage: kafkajs_client.js HOST:PORT')
  process.exit(2)
}
const started = Date.now()
main(process.argv[2]).then(
  () => log(`OK (${(Date.now() - started) / 1000}s)`),
  error => {
    console.log(`FAIL: ${error instanceof Failure ? error.message : error.stack || error}`)
    process.exit(1)
  }
)
