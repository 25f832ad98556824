// One KafkaJS 2.2.4 consumer-group member for the group scenario of
// compat-tests/tests/kafka_group_clients.rs. It reports and never judges: one JSON object per
// line on stdout (same events as clients/python/group_member.py):
//
//   {"ev":"assigned","partitions":[...]}   full current assignment after each (re)join
//   {"ev":"record","p":P,"o":O}            one line per record handed to the application
//   {"ev":"committed","offsets":{"P":O}}   a commit the broker acknowledged
//   {"ev":"closed"}                        after a graceful disconnect (LeaveGroup)
//
// KafkaJS has one assignor (round robin) and only the eager protocol. Records are handled per
// batch and committed synchronously (awaited) after each batch; auto-commit is off. SIGTERM
// disconnects (KafkaJS commits what was resolved and sends LeaveGroup) and exits 0.
//
// Usage: NODE_PATH=compat-tests/.work/node/node_modules \
//   node kafkajs_group_member.js BOOTSTRAP TOPIC GROUP MEMBER SESSION_TIMEOUT_MS
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const HEARTBEAT_INTERVAL_MS = 500
// Short fetch waits, so a rebalance is noticed (KafkaJS heartbeats between fetches) promptly.
const MAX_WAIT_MS = 200

const emit = event => process.stdout.write(JSON.stringify(event) + '\n')
const warn = message => process.stderr.write(`kafkajs_group_member: ${message}\n`)

function parseArgs(argv) {
  if (argv.length !== 7) {
    const usage = 'usage: kafkajs_group_member.js BOOTSTRAP TOPIC GROUP MEMBER SESSION_TIMEOUT_MS'
    process.stderr.write(usage + '\n')
    process.exit(2)
  }
  const [bootstrap, topic, group, member, sessionMs] = argv.slice(2)
  return { bootstrap, topic, group, member, sessionTimeout: Number(sessionMs) }
}

async function main() {
  const args = parseArgs(process.argv)
  const kafka = new Kafka({
    clientId: args.member,
    brokers: [args.bootstrap],
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log }) =>
      warn(`${namespace}: ${log.message} ${log.error || ''}`),
  })
  const consumer = kafka.consumer({
    groupId: args.group,
    sessionTimeout: args.sessionTimeout,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    maxWaitTimeInMs: MAX_WAIT_MS,
  })
  let assignment = null
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = [...(payload.memberAssignment[args.topic] || [])].sort((a, b) => a - b)
    assignment = partitions
    emit({ ev: 'assigned', partitions })
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => warn(`crash: ${payload.error}`))

  let stopping = null
  process.on('SIGTERM', () => {
    if (stopping) return
    stopping = consumer
      .disconnect()
      .then(() => {
        emit({ ev: 'closed' })
        process.exit(0)
      })
      .catch(error => {
        warn(`disconnect failed: ${error}`)
        process.exit(1)
      })
  })

  await consumer.connect()
  await consumer.subscribe({ topics: [args.topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
      let next = null
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break
        emit({ ev: 'record', p: batch.partition, o: Number(message.offset) })
        resolveOffset(message.offset)
        next = Number(message.offset) + 1
      }
      if (next === null || assignment === null || !assignment.includes(batch.partition)) return
      try {
        const offset = String(next)
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset }])
        emit({ ev: 'committed', offsets: { [batch.partition]: next } })
      } catch (error) {
        // A rebalance raced the commit: the next owner re-reads from the last acknowledged one.
        warn(`commit of partition ${batch.partition} at ${next} failed: ${error}`)
      }
    },
  })
}

main().catch(error => {
  warn(`failed: ${error && error.stack}`)
  process.exit(1)
})
