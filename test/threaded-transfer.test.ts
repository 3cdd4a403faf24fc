// Moving bytes to and from threads: large payloads and results arrive intact (and the submitter's own buffer
// is left alone); a payload on a SharedArrayBuffer is shared with the thread, not copied.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { type JobUpdate } from '../src/index.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

const MiB = 1024 * 1024

test('a 32 MiB payload and a 32 MiB result round-trip through a thread intact', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('reverse', threads.handler(fixture('big')))
  const payload = randomBytes(32 * MiB)
  const digest = sha256(payload)
  const expected = Buffer.from(payload).reverse()

  const request = broker.client().submit('reverse', payload)
  const updates: JobUpdate<Buffer>[] = []
  for await (const update of request.updates()) updates.push(update)
  const result = await request

  // the thread saw exactly the payload's bytes
  assert.deepEqual(
    updates.map((u) => (u.type === 'data' ? u.data.toString('utf8') : u)),
    [digest],
  )
  assert.equal(result.byteLength, 32 * MiB)
  assert.ok(result.equals(expected))
  for (const i of [0, 1, 4095, 16 * MiB, 32 * MiB - 1]) assert.equal(result[i], payload[32 * MiB - 1 - i])
  // the submitter's buffer was neither moved away nor changed
  assert.equal(payload.byteLength, 32 * MiB)
  assert.equal(sha256(payload), digest)
})

test('small and large payloads that are views on a bigger buffer reach the thread as exactly their bytes', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('reverse', threads.handler(fixture('big')))
  const client = broker.client()
  const backing = randomBytes(3 * MiB)

  for (const [start, end] of [
    [10, 20],
    [1, 2 * MiB + 7],
  ] as const) {
    const view = backing.subarray(start, end)
    const request = client.submit('reverse', view)
    const updates: JobUpdate<Buffer>[] = []
    for await (const update of request.updates()) updates.push(update)
    const result = await request
    assert.deepEqual(
      updates.map((u) => (u.type === 'data' ? u.data.toString('utf8') : u)),
      [sha256(view)],
    )
    assert.ok(result.equals(Buffer.from(view).reverse()))
    assert.equal(view.byteLength, end - start)
  }
})

test('a payload on a SharedArrayBuffer is shared with the thread: each side sees the other’s writes', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('shared', threads.handler(fixture('big'), { export: 'shared' }))
  const memory = new SharedArrayBuffer(32)
  const whole = Buffer.from(memory)
  // the payload is bytes 8..23 of the shared memory
  const payload = Buffer.from(memory, 8, 16)
  payload.write('ping', 0, 'latin1')

  const seen = JSON.parse((await broker.client().submit('shared', payload)).toString('utf8')) as unknown
  assert.deepEqual(seen, { shared: true, length: 16, seen: 'ping' })
  // the thread's write landed in this thread's memory, at the payload's offset, and nowhere else
  assert.equal(whole.toString('latin1', 8, 16), 'pingpong')
  assert.ok(whole.subarray(0, 8).equals(Buffer.alloc(8)))
  assert.ok(whole.subarray(16).equals(Buffer.alloc(16)))
})

test('a large buffer a handler keeps and returns on every call is sent back intact each time, not moved away', limits, async (t) => {
  const { threads, broker, retried } = setup(t)
  broker.worker().register('cached', threads.handler(fixture('big'), { export: 'cached' }))
  const client = broker.client()
  for (let i = 0; i < 3; i++) {
    const result = await client.submit('cached', '')
    assert.equal(result.byteLength, 100_000)
    assert.ok(result.every((byte) => byte === 7))
  }
  // on one thread throughout: none of them lost its thread and was retried on a fresh one
  assert.deepEqual(retried, [])
})
