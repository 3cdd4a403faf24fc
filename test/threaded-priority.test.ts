// Threaded handlers share their pool's capacity: the broker hands the pool at most capacity + prefetch jobs,
// and the rest wait in the broker's lanes, so priorities hold across every function the pool serves (with
// prefetch 0 exactly; otherwise a job may start after at most `prefetch` jobs handed over before it).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Broker, type Priority } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

async function countsOf(broker: Broker, name: string) {
  const row = (await broker.admin.status()).find((s) => s.name === name)
  assert.ok(row, `no function ${name}`)
  return { running: row.running, queued: row.queued }
}

test('jobs waiting for a one-thread pool without prefetch run high, normal, low, oldest first, across the functions it serves', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 1, prefetch: 0 })
  assert.equal(threads.capacity, 1)
  const w1 = broker.worker({ id: 'w1' })
  const w2 = broker.worker({ id: 'w2' })
  w1.register('block', threads.handler(fixture('blocking')))
  w1.register('first', threads.handler(fixture('order')))
  w2.register('second', threads.handler(fixture('order')))
  const client = broker.client()
  const gate = new Gate()

  // the blocking job holds the pool's only slot
  const blocker = client.submit('block', gate.payload)
  await gate.whenEntered()
  const submissions: [string, Priority][] = [
    ['first', 'low'],
    ['first', 'normal'],
    ['second', 'high'],
    ['first', 'high'],
    ['second', 'low'],
    ['second', 'normal'],
  ]
  const requests = submissions.map(([name, priority]) => ({
    tag: `${name}-${priority}`,
    request: client.submit(name, `${name}-${priority}`, { priority }),
  }))

  // nothing else was handed to the pool: the jobs wait in the broker's lanes
  assert.deepEqual(await countsOf(broker, 'first'), { running: 0, queued: 3 })
  assert.deepEqual(await countsOf(broker, 'second'), { running: 0, queued: 3 })
  assert.deepEqual(await countsOf(broker, 'block'), { running: 1, queued: 0 })
  assert.equal(threads.running, 1)

  gate.open()
  assert.equal((await blocker).toString('utf8'), 'released: attempt 1, entry 1')
  // each result is the thread's run log up to and including that job
  const logs = Object.fromEntries(await Promise.all(requests.map(async ({ tag, request }): Promise<[string, string]> => [tag, (await request).toString('utf8')])))
  const order = ['second-high', 'first-high', 'first-normal', 'second-normal', 'first-low', 'second-low']
  assert.deepEqual(logs, Object.fromEntries(order.map((tag, i) => [tag, order.slice(0, i + 1).join(' ')])))
})

test('a pool runs at most maxThreads jobs at once and holds `prefetch` more, shared by its functions on every worker', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 2, prefetch: 2 })
  assert.equal(threads.capacity, 2)
  broker.worker({ id: 'w1' }).register('a', threads.handler(fixture('blocking')))
  broker.worker({ id: 'w2' }).register('b', threads.handler(fixture('blocking')))
  const client = broker.client()
  const gate = new Gate()

  const requests = ['a', 'b', 'a', 'b', 'a', 'b', 'a'].map((name) => client.submit(name, gate.payload))
  await gate.whenEntered(2)
  const a = await countsOf(broker, 'a')
  const b = await countsOf(broker, 'b')
  // handed to the pool: two on the (blocked) threads, two waiting for them; the rest wait in the broker
  assert.equal(a.running + b.running, 4)
  assert.equal(a.queued + b.queued, 3)
  assert.equal(threads.running, 4)
  assert.equal(gate.entered, 2)

  gate.open()
  const results = (await Promise.all(requests)).map((r) => r.toString('utf8'))
  assert.equal(results.length, 7)
  for (const r of results) assert.match(r, /^released: attempt 1, entry [1-7]$/)
  assert.equal(gate.entered, 7)
})

test('capacity is maxThreads × concurrentTasksPerThread: one thread runs two async jobs at once', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 1, concurrentTasksPerThread: 2, prefetch: 0 })
  assert.equal(threads.capacity, 2)
  broker.worker().register('async', threads.handler(fixture('blocking'), { export: 'awaiting' }))
  const client = broker.client()
  const gate = new Gate()

  const requests = [1, 2, 3].map(() => client.submit('async', gate.payload))
  // both slots' jobs are waiting at the gate at the same time, on the one thread
  await gate.whenEntered(2)
  assert.deepEqual(await countsOf(broker, 'async'), { running: 2, queued: 1 })
  assert.equal(threads.running, 2)

  gate.open()
  const results = (await Promise.all(requests)).map((r) => r.toString('utf8')).sort()
  assert.deepEqual(results, ['released: attempt 1, entry 1', 'released: attempt 1, entry 2', 'released: attempt 1, entry 3'])
})
