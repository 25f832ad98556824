// KafkaJS 2.2.4 transactions against Whippet: one committed and one aborted transaction, then a
// KafkaJS consumer with readUncommitted: false reads from the beginning and must see exactly
// the committed records. Prints OK, or the failure and exits 1.
//
// Usage: NODE_PATH=compat-tests/.work/node/node_modules node kafkajs_transactions.js HOST:PORT TOPIC
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const [broker, topic] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'kafkajs-txn', brokers: [broker], logLevel: logLevel.WARN })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  await admin.disconnect()

  const producer = kafka.producer({ transactionalId: 'kafkajs-tx', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (const [tag, commit] of [['kept', true], ['dropped', false], ['kept2', true]]) {
    const txn = await producer.transaction()
    await txn.send({ topic, messages: [0, 1, 2].map(i => ({ key: `k${i}`, value: `${tag}-${i}` })) })
    if (commit) await txn.commit()
    else await txn.abort()
  }
  await producer.disconnect()

  const want = ['kept-0', 'kept-1', 'kept-2', 'kept2-0', 'kept2-1', 'kept2-2']
  const seen = []
  const consumer = kafka.consumer({ groupId: 'kafkajs-txn-reader', readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let done
  const finished = new Promise(resolve => { done = resolve })
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(message.value.toString())
      if (seen.length >= want.length) done()
    }
  })
  const timer = setTimeout(done, 30000)
  await finished
  clearTimeout(timer)
  // A short grace period: nothing more may arrive.
  await new Promise(resolve => setTimeout(resolve, 1500))
  await consumer.disconnect()
  if (JSON.stringify(seen) !== JSON.stringify(want)) {
    console.log(`FAIL saw ${JSON.stringify(seen)}`)
    process.exit(1)
  }
  console.log('OK')
}

main().catch(error => {
  console.log(`FAIL ${error.stack || error}`)
  process.exit(1)
})
