// While the server keeps reading input, a client's replies may wait a moment for more replies to go out with
// them (Connection.holdReplies). That wait is bounded: a connection whose input keeps the server reading turn
// after turn does not keep another connection's replies back until it is done.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET } from '../src/protocol/packets.js'
import { startServer } from './tcp-peer.js'

test('a reply is not held back until another connection stops sending', { timeout: 30_000 }, async (t) => {
  const fixture = await startServer(t)

  const flood = connect({ host: '127.0.0.1', port: fixture.port })
  t.after(() => flood.destroy())
  await new Promise<void>((resolve) => flood.once('connect', resolve))
  // one write of many small ECHO_REQs: the server reads (and answers) them over many event-loop turns
  const echo = encodePacket('REQ', PACKET.ECHO_REQ, [Buffer.from('x')])
  const count = 400_000
  const total = count * echo.length // each ECHO_RES is as long as its ECHO_REQ
  let echoed = 0
  const allEchoed = new Promise<void>((resolve) => {
    flood.on('data', (chunk: Buffer) => {
      echoed += chunk.length
      if (echoed === total) resolve()
    })
  })
  flood.write(Buffer.concat(Array.from({ length: count }, () => echo)))
  while (echoed === 0) await new Promise((resolve) => setTimeout(resolve, 1))

  const client = await fixture.connect()
  client.send('SUBMIT_JOB_BG', 'nobody', '', 'queued')
  const created = await client.packet()
  const echoedThen = echoed
  assert.equal(created.name, 'JOB_CREATED')
  // were the wait unbounded, JOB_CREATED would come with the flood's last replies
  assert.ok(echoedThen < total / 2, `JOB_CREATED came after ${String(echoedThen)} of ${String(total)} echoed bytes`)
  await allEchoed
})
