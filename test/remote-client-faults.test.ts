// The remote client against a scripted server that answers out of step or not at all: no request ever gets
// another's reply, and nothing waits forever.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { connect, ServerError, ServerUnavailableError } from '../src/index.js'
import { PACKET } from '../src/protocol/packets.js'
import { FakeGearman, res } from './fake-gearman.js'
import { waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

test('a reply of the wrong type drops the connection: later replies are not matched to the wrong requests', limits, async (t) => {
  let handles = 0
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.OPTION_REQ) return res(PACKET.OPTION_RES, ['exceptions'])
    if (r.type !== PACKET.SUBMIT_JOB_BG) return null
    // the first connection answers its first submission twice: a wrong reply, then the right one
    if (r.conn === 1 && r.args[2] === 'one') return Buffer.concat([res(PACKET.ECHO_RES, ['?']), res(PACKET.JOB_CREATED, ['H:one'])])
    return res(PACKET.JOB_CREATED, [`H:${++handles}`])
  })
  const remote = connect({ servers: [fake.address], maxRetries: 0 })
  t.after(() => remote.close())
  const client = remote.client({ encoder: 'utf8' })
  await assert.rejects(client.submitBackground('f', 'one'), (err: unknown) => err instanceof ServerError && err.serverCode === 'UNEXPECTED_REPLY')
  assert.equal(await client.submitBackground('f', 'two'), 'H:1', 'the second submission gets its own handle')
  assert.deepEqual(
    fake.log.filter((r) => r.type === PACKET.SUBMIT_JOB_BG).map((r) => r.conn),
    [1, 2],
    'the connection out of step was dropped',
  )
})

test('a stray text line before the option reply is not taken as that reply', limits, async (t) => {
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.OPTION_REQ) return Buffer.concat([Buffer.from('stray line\n'), res(PACKET.OPTION_RES, ['exceptions'])])
    return r.type === PACKET.SUBMIT_JOB_BG ? res(PACKET.JOB_CREATED, ['H:1']) : null
  })
  const remote = connect({ servers: [fake.address], maxRetries: 0 })
  t.after(() => remote.close())
  assert.equal(await remote.client({ encoder: 'utf8' }).submitBackground('f', 'x'), 'H:1')
})

test('close() right after submitting: the submissions still go out and get their answers; the connection closes once the last job settles', limits, async (t) => {
  let handles = 0
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.OPTION_REQ) return res(PACKET.OPTION_RES, ['exceptions'])
    return r.type === PACKET.SUBMIT_JOB_BG || r.type === PACKET.SUBMIT_JOB ? res(PACKET.JOB_CREATED, [`H:${++handles}`]) : null
  })
  const remote = connect({ servers: [fake.address], maxRetries: 0 })
  const client = remote.client({ encoder: 'utf8' })
  const stop = new AbortController()
  const background = client.submitBackground('f', 'x')
  const foreground = client.submit('f', 'y', { signal: stop.signal })
  await client.close()
  assert.equal(await background, 'H:1')
  assert.equal(foreground.handle, 'H:2', 'close() waited for the JOB_CREATED')
  assert.equal(fake.open, 1, 'the connection stays while a foreground job waits on it')
  stop.abort(new Error('no longer wanted'))
  await assert.rejects(foreground, /no longer wanted/)
  await waitUntil(() => fake.open === 0, 'the connection closes once nothing waits on it')
  await remote.close()
})

test('with every server down, retries wait for the backoff instead of being spent at once', limits, async (t) => {
  const fake = await FakeGearman.start(t, () => null)
  const address = fake.address
  await fake.close() // nothing listens there now: every connection is refused
  const remote = connect({ servers: [address], maxRetries: 2, backoff: { base: 200, max: 200 } })
  t.after(() => remote.close())
  const started = Date.now()
  await assert.rejects(remote.client().submitBackground('f', 'x'), ServerUnavailableError)
  // two waits of at least base/2 each (the jitter's floor) between the three tries
  assert.ok(Date.now() - started >= 190, `three tries in ${Date.now() - started} ms`)
})

test('getStatus answers as soon as one server knows the job, without waiting for a silent one', limits, async (t) => {
  const knows = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.OPTION_REQ) return res(PACKET.OPTION_RES, ['exceptions'])
    return r.type === PACKET.GET_STATUS ? res(PACKET.STATUS_RES, [r.args[0] ?? '', '1', '1', '3', '4']) : null
  })
  const silent = await FakeGearman.start(t, () => null)
  const remote = connect({ servers: [silent.address, knows.address], replyTimeout: 60_000 })
  t.after(() => remote.close())
  const status = remote.client().getStatus('H:1')
  const first = await Promise.race([status, sleep(5_000, 'still waiting', { ref: false })])
  assert.deepEqual(first, { handle: 'H:1', known: true, running: true, numerator: 3, denominator: 4, state: 'running' })
})
