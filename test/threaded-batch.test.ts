// Jobs the pool holds are handed to a thread several at a time, as one batch (one tinypool task). Each job
// of a batch keeps its own semantics: its updates, in order, then its result; its own timeout and cancel; a
// thread that dies loses only the job it was running (retried); those of its batch it had not started go back
// to the pool's queue without losing an attempt, and a batch that runs
// long hands the rest back instead of holding their results. Priority inversion stays within the bound.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { setImmediate as dispatched, setTimeout as sleep } from 'node:timers/promises'
import { InvalidArgumentError, type JobRequest, ThreadPool } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

async function allUpdates(request: JobRequest<unknown, Buffer>): Promise<(string | number)[][]> {
  const out: (string | number)[][] = []
  for await (const u of request.updates()) out.push(u.type === 'status' ? [u.type, u.numerator, u.denominator] : [u.type, u.data.toString('utf8')])
  return out
}

const sorted = (events: { attempts: number; code: string }[]): string[] => events.map((e) => `${e.code} after attempt ${e.attempts}`).sort()

test('jobs handed over together run as one batch: each gets its own updates, in order, then its own result', limits, async (t) => {
  const { threads, broker } = setup(t, { prefetch: 8 })
  const worker = broker.worker()
  worker.register('block', threads.handler(fixture('blocking')))
  worker.register('echo', threads.handler(fixture('echo')))
  const client = broker.client()
  const gate = new Gate()
  const blocker = client.submit('block', gate.payload)
  await gate.whenEntered()
  // they wait in the pool's queue while its one thread is blocked, then go to it together
  const payloads = ['one', 'two', 'three', 'four', 'five']
  const requests = payloads.map((p) => client.submit('echo', p))
  const updates = requests.map(allUpdates)
  await dispatched()
  assert.equal(threads.running, 6)
  gate.open()
  await blocker
  const results = await Promise.all(requests)
  assert.deepEqual(
    results.map((r) => r.toString('utf8')),
    payloads.map((p) => Buffer.from(p).reverse().toString('utf8')),
  )
  for (const u of await Promise.all(updates)) assert.deepEqual(u, [['status', 1, 2], ['data', 'attempt 1'], ['status', 2, 2]])
  assert.equal(threads.running, 0)
})

test('a thread that dies mid-batch: the jobs of the batch that finished are not run again, the one it ran is retried, those it never started run without losing an attempt', limits, async (t) => {
  const { threads, broker, retried } = setup(t, { prefetch: 8 })
  const worker = broker.worker()
  worker.register('counted', threads.handler(fixture('counted')))
  worker.register('crashy', threads.handler(fixture('crashing'), { export: 'uncaught', encoder: 'json' }))
  const client = broker.client()
  const before = new Gate()
  const after = new Gate()
  // both modules loaded on the thread, so that the batch below runs at once, within its time slice
  await Promise.all([client.submit('counted', new Gate().payload), broker.client({ encoder: 'json' }).submit('crashy', { crashes: 0 })])

  // one batch: before, then the job that kills its thread (an uncaught exception), then after
  const first = client.submit('counted', before.payload)
  const crashy = broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1 })
  const last = client.submit('counted', after.payload)
  assert.equal((await first).toString('utf8'), 'attempt 1, entry 1')
  assert.deepEqual(await crashy, { attempt: 2 })
  // `after` never started on the thread that died: it went back to the pool's queue, and ran once, on its first attempt
  assert.equal((await last).toString('utf8'), 'attempt 1, entry 1')
  assert.equal(before.entered, 1)
  assert.equal(after.entered, 1)
  assert.deepEqual(sorted(retried), ['GEARBOX_WORKER_LOST after attempt 1'])
  assert.equal(threads.running, 0)
})

test('a job of a batch that times out and honours its signal leaves the other jobs of its batch alone', limits, async (t) => {
  const { threads, broker, retried } = setup(t)
  const worker = broker.worker()
  worker.register('coop', threads.handler(fixture('cooperative'), { encoder: 'json' }), { timeout: 100 })
  worker.register('counted', threads.handler(fixture('counted')))
  const gate = new Gate()

  const coop = broker.client({ encoder: 'json' }).submit<{ attempt: number; lastAbort: unknown }>('coop', { timeouts: 1 })
  const counted = broker.client().submit('counted', gate.payload)
  const done = await coop
  assert.equal(done.attempt, 2)
  assert.deepEqual(done.lastAbort, { attempt: 1, code: 'GEARBOX_JOB_TIMEOUT' })
  assert.equal((await counted).toString('utf8'), 'attempt 1, entry 1')
  assert.deepEqual(sorted(retried), ['GEARBOX_JOB_TIMEOUT after attempt 1'])
})

test('a job of a batch that ignores its signal: its thread is terminated after the grace period, and the jobs of the batch it held up run elsewhere on their first attempt', limits, async (t) => {
  const { threads, broker, retried } = setup(t, { gracePeriod: 50 })
  const worker = broker.worker()
  worker.register('stuck', threads.handler(fixture('stuck'), { export: 'spin', encoder: 'json' }), { timeout: 250 })
  worker.register('counted', threads.handler(fixture('counted')))
  const gate = new Gate()

  const stuck = broker.client({ encoder: 'json' }).submit<{ attempt: number }>('stuck', { stuck: 1 })
  const counted = broker.client().submit('counted', gate.payload)
  assert.equal((await stuck).attempt, 2)
  assert.equal((await counted).toString('utf8'), 'attempt 1, entry 1')
  assert.deepEqual(sorted(retried), ['GEARBOX_JOB_TIMEOUT after attempt 1'])
  assert.equal(threads.running, 0)
})

test('a result is not held back by the rest of its batch once the batch has run long: the thread hands the rest back', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  const first = new Gate()
  const second = new Gate()

  const requests = [client.submit('block', first.payload), client.submit('block', second.payload)]
  await first.whenEntered()
  // the batch has run far longer than its 1 ms slice by now
  await sleep(20)
  first.open()
  assert.equal((await requests[0])?.toString('utf8'), 'released: attempt 1, entry 1')
  // the second job of the batch, handed back, then posted again, waits at its gate
  await second.whenEntered()
  second.open()
  assert.equal((await requests[1])?.toString('utf8'), 'released: attempt 1, entry 1')
})

test('a result does not wait for the jobs after it in its batch: it is posted before the next one starts', limits, async (t) => {
  const { threads, broker } = setup(t)
  const worker = broker.worker()
  worker.register('counted', threads.handler(fixture('counted')))
  worker.register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  const open = new Gate()
  open.open()
  // both modules loaded on the thread, so that the batch below runs at once, within its time slice
  await Promise.all([client.submit('counted', new Gate().payload), client.submit('block', open.payload)])

  const gate = new Gate()
  const quick = client.submit('counted', new Gate().payload)
  const blocked = client.submit('block', gate.payload)
  // the thread is blocked in the second job of the batch, and the first job's result is already here
  assert.equal((await quick).toString('utf8'), 'attempt 1, entry 1')
  await gate.whenEntered()
  gate.open()
  assert.equal((await blocked).toString('utf8'), 'released: attempt 1, entry 1')
})

test('large payloads and results of jobs handed over together all arrive intact (each large result ends its batch, to be moved)', limits, async (t) => {
  const { threads, broker } = setup(t)
  const worker = broker.worker()
  worker.register('reverse', threads.handler(fixture('big')))
  worker.register('echo', threads.handler(fixture('echo')))
  const client = broker.client()
  const payloads = [randomBytes(200_000), Buffer.from('small'), randomBytes(100_000), randomBytes(300_000)]
  const requests = payloads.map((p) => (p.byteLength > 100 ? client.submit('reverse', p) : client.submit('echo', p)))
  const results = await Promise.all(requests)
  results.forEach((r, i) => {
    assert.ok(r.equals(Buffer.from(payloads[i] ?? []).reverse()), `result ${i}`)
  })
  // the submitters' buffers were neither moved away nor changed
  assert.deepEqual(
    payloads.map((p) => p.byteLength),
    [200_000, 5, 100_000, 300_000],
  )
  assert.equal(threads.running, 0)
})

test('once the jobs are known to be slow, each goes to a thread alone: a job never waits in a busy thread\'s batch while another thread is free', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 2, minThreads: 2 })
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  // one job held at its gate far longer than a quick job takes: the pool now knows its jobs are slow
  const first = new Gate()
  const warm = client.submit('block', first.payload)
  await first.whenEntered()
  await sleep(20)
  first.open()
  await warm

  const [a, b, c] = [new Gate(), new Gate(), new Gate()]
  const requests = [a, b, c].map((g) => client.submit('block', g.payload))
  const enteredBoth = Promise.all([a.whenEntered(), b.whenEntered()]).then(() => true)
  // had the first two gone to one thread as a batch, the second would wait behind the first, blocked
  assert.equal(await Promise.race([enteredBoth, sleep(10_000, false)]), true)
  assert.equal(c.entered, 0)
  a.open()
  // the third goes to the thread the first one freed, while the second still blocks the other
  await c.whenEntered()
  b.open()
  c.open()
  assert.deepEqual(
    (await Promise.all(requests)).map((r) => r.toString('utf8')),
    ['released: attempt 1, entry 1', 'released: attempt 1, entry 1', 'released: attempt 1, entry 1'],
  )
})

test('the default prefetch adapts: room for batches while jobs are quick, one job per thread while they are slow; a later high job overtakes all but those', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 1 })
  assert.deepEqual({ capacity: threads.capacity, batch: threads.batch, prefetch: threads.prefetch }, { capacity: 1, batch: 8, prefetch: 8 })
  const worker = broker.worker()
  worker.register('block', threads.handler(fixture('blocking')))
  worker.register('log', threads.handler(fixture('order')))
  const client = broker.client()

  /** A blocked thread, 12 low jobs, then a high one: how many lows the pool held, and where high ran among them. */
  async function round(name: string): Promise<{ held: number; before: number }> {
    const gate = new Gate()
    const blocker = client.submit('block', gate.payload)
    await gate.whenEntered()
    const lows = Array.from({ length: 12 }, (_, i) => client.submit('log', `${name}-low-${i + 1}`, { priority: 'low' }))
    await dispatched()
    const high = client.submit('log', `${name}-high`, { priority: 'high' })
    await dispatched()
    const held = threads.running - 1
    gate.open()
    await blocker
    const log = (await high).toString('utf8').split(' ')
    await Promise.all(lows)
    return { held, before: log.filter((tag) => tag.startsWith(`${name}-low-`)).length }
  }

  // the pool starts as for slow jobs
  assert.deepEqual(await round('first'), { held: 1, before: 1 })
  // quick jobs: the pool makes room for batches, up to capacity + prefetch
  await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit('log', `quick-${i}`)))
  assert.deepEqual(await round('second'), { held: 8, before: 8 })
  // a slow job: back to one job per thread
  const slow = new Gate()
  const slowJob = client.submit('block', slow.payload)
  await slow.whenEntered()
  await sleep(5)
  slow.open()
  await slowJob
  assert.deepEqual(await round('third'), { held: 1, before: 1 })
})

test('batch must be an integer from 1 to 256; by default it is 8 and prefetch makes room for a batch per thread', async () => {
  for (const batch of [0, 1.5, 257, Number.NaN]) {
    assert.throws(() => new ThreadPool({ batch }), InvalidArgumentError)
  }
  const pool = new ThreadPool({ maxThreads: 2, batch: 4 })
  assert.deepEqual({ batch: pool.batch, prefetch: pool.prefetch }, { batch: 4, prefetch: 2 * 3 + 2 })
  await pool.close()
})
