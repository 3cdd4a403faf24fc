// A peer that sends requests but never reads the replies cannot make the server buffer without bound: past
// `maxOutputBytes` of unsent replies its connection is dropped, and other connections carry on.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET } from '../src/protocol/packets.js'
import { startServer } from './tcp-peer.js'

test('a connection that never reads its replies is dropped; another one keeps working', { timeout: 20_000 }, async (t) => {
  const fixture = await startServer(t, { server: { maxOutputBytes: 1024 * 1024 } })
  fixture.broker.worker().register('rev', (job) => Buffer.from(job.data).reverse())

  const slow = connect({ host: '127.0.0.1', port: fixture.port })
  t.after(() => slow.destroy())
  slow.on('error', () => {
    // the server resets the connection: expected
  })
  await new Promise<void>((resolve) => slow.once('connect', resolve))
  slow.pause() // never read: replies pile up in the kernel, then in the server's socket buffer
  const closed = new Promise<void>((resolve) => slow.once('close', () => { resolve() }))
  const echo = encodePacket('REQ', PACKET.ECHO_REQ, [Buffer.alloc(64 * 1024, 7)])
  // 64 MiB of ECHO requests: far more replies than the kernel buffers plus the 1 MiB cap can hold
  for (let i = 0; i < 1024 && !slow.destroyed; i++) {
    if (!slow.write(echo)) await new Promise<void>((resolve) => slow.once('drain', resolve).once('close', resolve))
  }
  await closed
  assert.equal(slow.destroyed, true)

  const good = await fixture.connect()
  good.send('SUBMIT_JOB', 'rev', '', 'abc')
  assert.equal((await good.packet()).name, 'JOB_CREATED')
  const done = await good.packet()
  assert.deepEqual([done.name, done.args[1]], ['WORK_COMPLETE', 'cba'])
})
