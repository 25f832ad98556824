// KafkaJS 2.2.4 over SASL_SSL with SCRAM: connect the admin (which authenticates), create a
// topic, produce 20 records and check the topic's high watermark from a second client; or, with
// EXPECT=auth-failed, check that the connection is refused as an authentication failure.
//
// Usage: NODE_PATH=... node kafkajs_secure.js HOST:PORT TOPIC CA_FILE MECHANISM USER PASSWORD EXPECT
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const RECORDS = 20

async function main () {
  const [bootstrap, topic, caFile, mechanism, username, password, expect] = process.argv.slice(2)
  const kafka = new Kafka({
    clientId: 'kafkajs-secure',
    brokers: [bootstrap],
    ssl: { ca: [fs.readFileSync(caFile, 'utf-8')], servername: 'localhost' },
    sasl: { mechanism: mechanism.toLowerCase(), username, password },
    logLevel: logLevel.NOTHING,
    retry: { retries: 1 }
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.listTopics()
  } catch (error) {
    if (expect === 'auth-failed' && /SASL|auth/i.test(`${error.name} ${error.message}`)) {
      console.log(`OK authentication refused: ${error.name}: ${error.message}`)
      return
    }
    throw error
  }
  if (expect === 'auth-failed') throw new Error('authenticated with a wrong password')
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  const producer = kafka.producer()
  await producer.connect()
  const messages = Array.from({ length: RECORDS }, (_, i) => ({ value: `secure-${i}` }))
  await producer.send({ topic, messages })
  await producer.disconnect()
  await admin.disconnect()
  // Every record arrived: the topic's high watermark, read by a fresh authenticated client.
  const reader = kafka.admin()
  await reader.connect()
  const offsets = await reader.fetchTopicOffsets(topic)
  const high = Number(offsets[0].high)
  if (high !== RECORDS) throw new Error(`high watermark ${high}, wanted ${RECORDS}`)
  await reader.disconnect()
  console.log(`OK KafkaJS ${RECORDS} records over SASL_SSL ${mechanism}`)
}

main().catch(error => {
  console.log(`FAIL: ${error.name}: ${error.message}`)
  process.exit(1)
})
