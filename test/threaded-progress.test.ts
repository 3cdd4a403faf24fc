// Threaded handlers: results, progress updates (order, and before the result), the job's identity inside
// the thread, and unique coalescing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type JobRequest, type JobUpdate } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

/** Every update of a request, to its end. Updates that arrive after the result are dropped by the request. */
async function allUpdates<T>(request: JobRequest<unknown, T>): Promise<JobUpdate<T>[]> {
  const out: JobUpdate<T>[] = []
  for await (const update of request.updates()) out.push(update)
  return out
}

/** Raw updates with their bytes as text, for comparison. */
function asText(updates: readonly JobUpdate<Buffer>[]): JobUpdate<string>[] {
  return updates.map((u) => (u.type === 'status' ? u : { type: u.type, data: u.data.toString('utf8') }))
}

async function take<T>(updates: AsyncIterator<JobUpdate<T>>, count: number): Promise<JobUpdate<T>[]> {
  const out: JobUpdate<T>[] = []
  while (out.length < count) {
    const next = await updates.next()
    if (next.done === true) assert.fail(`the updates ended after ${out.length}`)
    out.push(next.value)
  }
  return out
}

test('a thread’s updates reach the client in order, before the result; the thread sees the job’s identity', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('progress', threads.handler(fixture('progress'), { encoder: 'json' }))
  const client = broker.client({ encoder: 'json' })

  const request = client.submit('progress', { items: ['a', 'b'], n: 2 }, { unique: 'progress-1' })
  const updates = allUpdates(request)
  const seen = await request

  assert.deepEqual(await updates, [
    { type: 'status', numerator: 0, denominator: 3 },
    { type: 'data', data: { step: 1 } },
    { type: 'warning', data: 'halfway' },
    { type: 'status', numerator: 2, denominator: 3 },
    { type: 'data', data: { step: 2 } },
    { type: 'status', numerator: 3, denominator: 3 },
  ])
  assert.equal(typeof request.handle, 'string')
  assert.deepEqual(seen, {
    handle: request.handle,
    name: 'progress',
    unique: 'progress-1',
    attempt: 1,
    payload: { items: ['a', 'b'], n: 2 },
  })
})

test('updates sent before a thread blocks arrive while the job is still running', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('gated', threads.handler(fixture('progress'), { export: 'gated' }))
  const gate = new Gate()

  const request = broker.client().submit('gated', gate.payload)
  const updates = request.updates()
  const before = await take(updates, 3)
  await gate.whenEntered()
  assert.equal(request.state, 'pending')
  assert.deepEqual(asText(before), [
    { type: 'status', numerator: 1, denominator: 2 },
    { type: 'data', data: 'before the gate' },
    { type: 'warning', data: 'waiting at the gate' },
  ])

  gate.open()
  const after = await take(updates, 2)
  assert.deepEqual(asText(after), [
    { type: 'data', data: 'after the gate' },
    { type: 'status', numerator: 2, denominator: 2 },
  ])
  assert.equal((await request).toString('utf8'), 'through')
  assert.deepEqual(await updates.next(), { done: true, value: undefined })
})

test('a burst of updates sent just before the handler returns all arrive, in order, before the result', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('burst', threads.handler(fixture('progress'), { export: 'burst', encoder: 'json' }))
  const client = broker.client({ encoder: 'json' })
  const count = 2_000

  for (let round = 0; round < 3; round++) {
    const request = client.submit('burst', { count })
    const updates = allUpdates(request)
    assert.equal(await request, count)
    const expected = Array.from({ length: count }, (_, i) => ({ type: 'status', numerator: i + 1, denominator: count }))
    assert.deepEqual(await updates, expected)
  }
})

test('submits with one unique coalesce onto one threaded run, and every submitter gets its result', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('once', threads.handler(fixture('blocking')))
  const client = broker.client()
  const gate = new Gate()

  const first = client.submit('once', gate.payload, { unique: 'same' })
  const firstUpdates = first.updates()
  // the run has started and its status (1/2) has reached the broker
  assert.deepEqual(await take(firstUpdates, 1), [{ type: 'status', numerator: 1, denominator: 2 }])
  await gate.whenEntered()

  const joiners = [1, 2, 3].map((i) => client.submit('once', Buffer.from(`ignored ${i}`), { unique: 'same' }))
  assert.deepEqual(
    joiners.map((j) => j.handle),
    joiners.map(() => first.handle),
  )
  const status = await client.getStatusByUnique('same', 'once')
  assert.equal(status.waiting, 4)
  assert.equal(status.running, true)
  // late joiners are told the job's latest status
  for (const joiner of joiners) assert.deepEqual(await take(joiner.updates(), 1), [{ type: 'status', numerator: 1, denominator: 2 }])

  gate.open()
  const results = await Promise.all([first, ...joiners])
  assert.deepEqual(
    results.map((r) => r.toString('utf8')),
    Array(4).fill('released: attempt 1, entry 1'),
  )
  assert.equal(gate.entered, 1)
  assert.equal(threads.running, 0)
})
