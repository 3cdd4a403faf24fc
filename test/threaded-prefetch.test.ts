// A pool holds up to `prefetch` jobs beyond its capacity, waiting for a thread in the order they were handed
// over. What that may cost is bounded: a later job of higher priority starts after at most `prefetch` of
// them; a waiting job that is cancelled or times out is skipped by its thread, never run; a thread that dies
// loses only the job it was running, not the ones waiting.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as dispatched, setTimeout as sleep } from 'node:timers/promises'
import { Broker, GearboxError, InvalidArgumentError, JobCancelledError, ThreadPool } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

test('a job of higher priority starts after at most `prefetch` jobs handed to the pool before it', limits, async (t) => {
  const { threads, broker } = setup(t, { maxThreads: 1, prefetch: 2 })
  const worker = broker.worker()
  worker.register('block', threads.handler(fixture('blocking')))
  worker.register('log', threads.handler(fixture('order')))
  const client = broker.client()
  const gate = new Gate()

  const blocker = client.submit('block', gate.payload)
  await gate.whenEntered()
  // four low jobs: the pool takes two of them (prefetch 2) while its thread is blocked; then a high one
  const lows = ['low-1', 'low-2', 'low-3', 'low-4'].map((tag) => ({ tag, request: client.submit('log', tag, { priority: 'low' }) }))
  // the broker hands jobs out on a microtask after submit
  await dispatched()
  const high = { tag: 'high', request: client.submit('log', 'high', { priority: 'high' }) }
  await dispatched()
  const row = (await broker.admin.status()).find((s) => s.name === 'log')
  assert.deepEqual({ running: row?.running, queued: row?.queued }, { running: 2, queued: 3 })
  assert.equal(threads.running, 3)

  gate.open()
  await blocker
  // each result is the thread's run log up to and including that job: high overtook all the lows but the
  // two the pool already held
  const order = ['low-1', 'low-2', 'high', 'low-3', 'low-4']
  for (const { tag, request } of [...lows, high]) {
    assert.equal((await request).toString('utf8'), order.slice(0, order.indexOf(tag) + 1).join(' '))
  }
})

test('prefetched jobs cancelled before they start never run; their clients get the cancel', limits, async (t) => {
  const { threads, broker, retried } = setup(t, { maxThreads: 1, prefetch: 3 })
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  const first = new Gate()
  // the cancelled jobs would block at `never` if they ran
  const never = new Gate()
  const last = new Gate()
  last.open()

  const blocker = client.submit('block', first.payload)
  await first.whenEntered()
  const byAdmin = client.submit('block', never.payload)
  const controller = new AbortController()
  const byClient = client.submit('block', never.payload, { signal: controller.signal })
  const after = client.submit('block', last.payload)
  await dispatched()
  assert.equal(threads.running, 4)

  const handle = byAdmin.handle
  assert.ok(handle !== undefined)
  assert.equal(await broker.admin.cancelJob(handle), true)
  await assert.rejects(byAdmin, (err: unknown) => err instanceof JobCancelledError && err.code === 'GEARBOX_JOB_CANCELLED')
  const reason = new Error('not needed any more')
  controller.abort(reason)
  await assert.rejects(byClient, (err: unknown) => err === reason)

  first.open()
  assert.equal((await blocker).toString('utf8'), 'released: attempt 1, entry 1')
  // the thread takes the waiting jobs in order: it got past the cancelled ones without running them
  assert.equal((await after).toString('utf8'), 'released: attempt 1, entry 1')
  assert.equal(never.entered, 0)
  assert.deepEqual(retried, [])
  await broker.idle()
  assert.equal(threads.running, 0)
})

test('a cancelled job waiting in the pool frees its slot at once; one waiting in a thread\'s batch keeps it until the thread skips it', limits, async (t) => {
  // no grace period and no terminate timeout: the run's deadlines pass at once while the job still waits
  const { threads, broker } = setup(t, { maxThreads: 1, prefetch: 2, gracePeriod: 0, terminateTimeout: 0 })
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  const first = new Gate()
  const never = new Gate()
  const last = new Gate()
  last.open()

  // submitted together: one batch, whose second job waits behind the blocked first one
  const blocker = client.submit('block', first.payload)
  const inBatch = client.submit('block', never.payload)
  await first.whenEntered()
  // the thread is busy: this one waits in the pool's queue
  const queued = client.submit('block', never.payload)
  await dispatched()
  assert.equal(threads.running, 3)

  for (const request of [queued, inBatch]) {
    const handle = request.handle
    assert.ok(handle !== undefined)
    assert.equal(await broker.admin.cancelJob(handle), true)
    await assert.rejects(request, JobCancelledError)
  }
  await sleep(300)
  // the queued one left at once; the one in the batch is still held (its thread has not reached it), so the
  // broker hands the pool one job more, not two
  assert.equal(threads.running, 2)
  const after = [client.submit('block', last.payload), client.submit('block', last.payload)]
  await dispatched()
  assert.equal(threads.running, 3)
  assert.equal((await broker.admin.status()).find((s) => s.name === 'block')?.queued, 1)

  first.open()
  assert.equal((await blocker).toString('utf8'), 'released: attempt 1, entry 1')
  assert.deepEqual((await Promise.all(after)).map((r) => r.toString('utf8')), ['released: attempt 1, entry 1', 'released: attempt 1, entry 2'])
  assert.equal(never.entered, 0)
  await broker.idle()
  assert.equal(threads.running, 0)
})

test('a prefetched job that times out before it starts is retried; the timed-out attempt never runs', limits, async (t) => {
  const { threads, broker, retried } = setup(t, { maxThreads: 1, prefetch: 1 })
  const worker = broker.worker()
  worker.register('block', threads.handler(fixture('blocking')))
  worker.register('quick', threads.handler(fixture('blocking')), { timeout: 300 })
  const client = broker.client()
  const first = new Gate()
  const open = new Gate()
  open.open()

  const blocker = client.submit('block', first.payload)
  await first.whenEntered()
  const retriedOnce = new Promise<void>((resolve) => {
    broker.once('job:retried', () => {
      resolve()
    })
  })
  const quick = client.submit('quick', open.payload)
  await retriedOnce
  assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' }])

  first.open()
  assert.equal((await blocker).toString('utf8'), 'released: attempt 1, entry 1')
  // entry 1 on attempt 2: attempt 1 was skipped
  assert.equal((await quick).toString('utf8'), 'released: attempt 2, entry 1')
  assert.equal(open.entered, 1)
})

test('a thread that dies loses only the job it was running: the job waiting for it runs on the replacement', limits, async (t) => {
  const { threads, broker, retried } = setup(t, { maxThreads: 1, prefetch: 1 })
  const worker = broker.worker()
  worker.register('crashy', threads.handler(fixture('crashing'), { export: 'exit', encoder: 'json' }))
  worker.register('echo', threads.handler(fixture('echo')))
  const client = broker.client()

  const crashy = broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1 })
  const waiting = client.submit('echo', 'gnitiaw')
  await dispatched()
  assert.equal(threads.running, 2)
  assert.equal((await waiting).toString('utf8'), 'waiting', 'the echo fixture reverses its payload')
  assert.deepEqual(await crashy, { attempt: 2 })
  assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_WORKER_LOST' }])
})

test('a thread that dies is replaced at once while jobs wait in the pool, even above minThreads', limits, async (t) => {
  const threads = new ThreadPool({ maxThreads: 2, minThreads: 1, gracePeriod: 50, terminateTimeout: 2000 })
  // one attempt: no retry, whose hand-over would make tinypool start a thread anyway
  const broker = new Broker({ jobRetries: 1 })
  t.after(async () => {
    await broker.close({ graceful: false })
    await threads.close()
  })
  const worker = broker.worker()
  worker.register('block', threads.handler(fixture('blocking')))
  worker.register('crashy', threads.handler(fixture('crashing'), { export: 'uncaught', encoder: 'json' }))
  worker.register('echo', threads.handler(fixture('echo')))
  const client = broker.client()
  const gate = new Gate()

  const blocker = client.submit('block', gate.payload)
  await gate.whenEntered()
  // the uncaught exception kills the second thread; the echo job waits in the pool's queue meanwhile
  const crashy = broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1 })
  // on its own: a job in the dying thread's batch would be lost with it (test/threaded-batch.test.ts)
  await dispatched()
  const waiting = client.submit('echo', 'gnitiaw')
  await assert.rejects(crashy, (err: unknown) => err instanceof GearboxError && err.code === 'GEARBOX_WORKER_LOST')
  // the first thread is still blocked: the echo job ran on a replacement of the dead one
  assert.equal((await waiting).toString('utf8'), 'waiting')
  assert.equal(gate.entered, 1)
  gate.open()
  assert.equal((await blocker).toString('utf8'), 'released: attempt 1, entry 1')
})

test('prefetch must be an integer from 0 to 4096', () => {
  for (const prefetch of [-1, 1.5, 4097, Number.NaN]) {
    assert.throws(() => new ThreadPool({ prefetch }), InvalidArgumentError)
  }
})
