// Timeouts of threaded jobs: the job's signal fires inside the thread; a handler that honours it ends its
// attempt and keeps its thread; one that does not is terminated after the pool's grace period, and the pool
// replaces the thread. Real clock, small limits; outcomes are asserted, never durations.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Broker, JobCancelledError, JobTimeoutError, type JobRequest, type JobUpdate } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fifo, fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

interface Started {
  readonly attempt: number
  readonly threadId: number
}

/** The data updates of a request (each attempt's "started on thread N"), to the request's end. */
async function starts(request: JobRequest<unknown, unknown>): Promise<Started[]> {
  const out: Started[] = []
  for await (const update of request.updates() as AsyncIterable<JobUpdate<Started>>) if (update.type === 'data') out.push(update.data)
  return out
}

interface Ran {
  readonly attempt: number
  readonly threadId: number
  readonly lastAbort?: unknown
}

/**
 * Runs a job that returns at once, so the pool's thread is started and has loaded its modules before a timed
 * job arrives (a timeout must not fire while the thread is still starting); returns that thread's id.
 */
async function warmUp(broker: Broker, name: string, payload: unknown): Promise<number> {
  const ran = await broker.client({ encoder: 'json' }).submit<Ran>(name, payload)
  return ran.threadId
}

function isTimeout(timeout: number, attempts: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof JobTimeoutError)
    assert.equal(err.code, 'GEARBOX_JOB_TIMEOUT')
    assert.equal(err.timeout, timeout)
    assert.equal(err.attempts, attempts)
    return true
  }
}

// a grace period far beyond the test's run: a thread terminated for not cooperating would show as a new threadId;
// no prefetch: a retry waits in the broker until the aborted attempt has left the thread, so its own 100 ms
// limit starts only then (with prefetch it would count the wait, which a loaded machine can stretch past it;
// threaded-prefetch.test.ts covers timeouts of waiting jobs)
const patient = { gracePeriod: 20_000, prefetch: 0 }

test('a timed-out threaded handler that honours its signal ends the attempt and keeps its thread; the retry succeeds', limits, async (t) => {
  const { threads, broker, retried } = setup(t, patient)
  broker.worker().register('polite', threads.handler(fixture('cooperative'), { encoder: 'json' }), { timeout: 100 })
  const thread = await warmUp(broker, 'polite', { timeouts: 0 })
  // the warm-up has the same 100 ms limit, which a loaded machine can pass while the thread starts: not counted
  retried.length = 0

  const request = broker.client({ encoder: 'json' }).submit('polite', { timeouts: 1 })
  const started = starts(request)
  const result = await request
  assert.deepEqual(await started, [{ attempt: 1, threadId: thread }])
  // attempt 2 ran on the same thread, which remembers how attempt 1 was stopped
  assert.deepEqual(result, { attempt: 2, threadId: thread, lastAbort: { attempt: 1, code: 'GEARBOX_JOB_TIMEOUT' } })
  assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' }])
})

test('a threaded job that times out on every attempt fails with JobTimeoutError after jobRetries', limits, async (t) => {
  const { threads, broker, retried } = setup(t, patient)
  broker.worker().register('polite', threads.handler(fixture('cooperative'), { encoder: 'json' }))
  const thread = await warmUp(broker, 'polite', { timeouts: 0 })

  const request = broker.client({ encoder: 'json' }).submit('polite', { timeouts: 1_000 }, { timeout: 100 })
  const started = starts(request)
  await assert.rejects(request, isTimeout(100, 3))
  assert.deepEqual(retried, [
    { attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' },
    { attempts: 2, code: 'GEARBOX_JOB_TIMEOUT' },
  ])
  // every attempt ended cooperatively: no thread was terminated
  assert.deepEqual(await started, [
    { attempt: 1, threadId: thread },
    { attempt: 2, threadId: thread },
    { attempt: 3, threadId: thread },
  ])
})

test('cancelling a running threaded job fires its signal in the thread with JobCancelledError’s code', limits, async (t) => {
  const { threads, broker } = setup(t, patient)
  broker.worker().register('polite', threads.handler(fixture('cooperative'), { encoder: 'json' }))
  const client = broker.client({ encoder: 'json' })
  const thread = await warmUp(broker, 'polite', { timeouts: 0 })

  const request = client.submit('polite', { timeouts: 1_000 })
  const updates = request.updates()
  assert.deepEqual(await updates.next(), { done: false, value: { type: 'data', data: { attempt: 1, threadId: thread } } })
  assert.ok(request.handle !== undefined)
  assert.equal(await broker.admin.cancelJob(request.handle), true)
  await assert.rejects(request, (err: unknown) => err instanceof JobCancelledError && err.code === 'GEARBOX_JOB_CANCELLED')

  // the next job runs on the same thread once the cancelled handler has returned, and sees how it was stopped
  const next = await client.submit<Ran>('polite', { timeouts: 0 })
  assert.deepEqual(next, { attempt: 1, threadId: thread, lastAbort: { attempt: 1, code: 'GEARBOX_JOB_CANCELLED' } })
})

test('a job cancelled while its thread is still starting is skipped by the thread (or, if it got there first, gets its signal): the thread is not terminated', limits, async (t) => {
  // the grace period is shorter than the test's limit, so a thread terminated for "not honouring" its signal
  // shows as the next job running on another thread
  const { threads, broker } = setup(t, { gracePeriod: 3_000 })
  const worker = broker.worker()
  worker.register('polite', threads.handler(fixture('cooperative'), { export: 'gated' }))
  worker.register('which', threads.handler(fixture('cooperative'), { encoder: 'json' }))
  const gate = new Gate()

  // the pool was just created: its thread is still starting when the job is handed to it and cancelled
  const request = broker.client().submit('polite', gate.payload)
  assert.ok(request.handle !== undefined)
  await Promise.resolve() // the broker dispatches on a microtask
  assert.equal((await broker.client().getStatus(request.handle)).running, true)
  assert.equal(await broker.admin.cancelJob(request.handle), true)
  await assert.rejects(request, (err: unknown) => err instanceof JobCancelledError)

  const next = await broker.client({ encoder: 'json' }).submit<Ran>('which', { timeouts: 0 })
  // the cancelled handler either never ran, or ran on this same thread, saw its signal and returned
  if (gate.entered > 0) {
    assert.equal(next.threadId, gate.noted)
    assert.deepEqual(next.lastAbort, { attempt: 1, code: 'GEARBOX_JOB_CANCELLED' })
  }
})

test('a stuck job whose limit and grace period pass before its thread has started is stopped too: the pool keeps serving', { timeout: 10_000 }, async (t) => {
  const { threads, broker, retried } = setup(t, { gracePeriod: 0, terminateTimeout: 300 })
  const worker = broker.worker()
  worker.register('stuck', threads.handler(fixture('stuck'), { export: 'spin', encoder: 'json' }))
  worker.register('echo', threads.handler(fixture('echo')))

  // the pool was just created: its thread is still starting when the 1 ms limit and the grace period pass
  await assert.rejects(broker.client({ encoder: 'json' }).submit('stuck', { stuck: 1_000 }, { timeout: 1 }), isTimeout(1, 3))
  assert.deepEqual(retried, [
    { attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' },
    { attempts: 2, code: 'GEARBOX_JOB_TIMEOUT' },
  ])
  // no abandoned attempt may go on to occupy the pool's thread
  assert.equal((await broker.client().submit('echo', 'next')).toString('utf8'), 'txen')
})

for (const stuck of ['spin', 'waitForever'] as const) {
  const how = stuck === 'spin' ? 'a synchronous busy loop' : 'Atomics.wait forever'
  test(`a handler stuck in ${how} is terminated after the grace period; the job is retried on a new thread`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { gracePeriod: 50 })
    const worker = broker.worker()
    // the limit leaves the replacement thread ample time to start before attempt 2 could time out too
    worker.register('stuck', threads.handler(fixture('stuck'), { export: stuck, encoder: 'json' }), { timeout: 250 })
    worker.register('echo', threads.handler(fixture('echo')))
    const thread = await warmUp(broker, 'stuck', { stuck: 0 })

    const request = broker.client({ encoder: 'json' }).submit<Ran>('stuck', { stuck: 1 })
    const started = starts(request)
    const result = await request
    assert.deepEqual(await started, [{ attempt: 1, threadId: thread }])
    assert.equal(result.attempt, 2)
    assert.notEqual(result.threadId, thread)
    assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' }])

    // the pool serves the next job
    assert.equal((await broker.client().submit('echo', 'next')).toString('utf8'), 'txen')
    assert.equal(threads.running, 0)
  })

  test(`a handler stuck in ${how} on every attempt: JobTimeoutError after jobRetries; the pool keeps serving`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { gracePeriod: 50 })
    const worker = broker.worker()
    worker.register('stuck', threads.handler(fixture('stuck'), { export: stuck, encoder: 'json' }))
    worker.register('echo', threads.handler(fixture('echo')))
    await warmUp(broker, 'stuck', { stuck: 0 })

    await assert.rejects(broker.client({ encoder: 'json' }).submit('stuck', { stuck: 1_000 }, { timeout: 100 }), isTimeout(100, 3))
    assert.deepEqual(retried, [
      { attempts: 1, code: 'GEARBOX_JOB_TIMEOUT' },
      { attempts: 2, code: 'GEARBOX_JOB_TIMEOUT' },
    ])

    assert.equal((await broker.client().submit('echo', 'next')).toString('utf8'), 'txen')
  })
}

test('a thread whose termination hangs (blocked in a system call) is given up after terminateTimeout; nothing crashes', limits, async (t) => {
  const path = fifo(t)
  const { threads, broker } = setup(t, { gracePeriod: 50, terminateTimeout: 200 })
  const worker = broker.worker()
  worker.register('stuck', threads.handler(fixture('stuck'), { export: 'inSyscall', encoder: 'json' }), { timeout: 250 })
  worker.register('echo', threads.handler(fixture('echo')))
  const thread = await warmUp(broker, 'stuck', { stuck: 0, fifo: path })

  // attempt 1 blocks in open(2): terminating its thread hangs until the FIFO gets a writer
  const result = await broker.client({ encoder: 'json' }).submit<Ran>('stuck', { stuck: 1, fifo: path })
  assert.equal(result.attempt, 2)
  assert.notEqual(result.threadId, thread)
  // past every deadline of the hung termination: nothing may reject unhandled (that would end the process)
  await sleep(400)
  assert.equal((await broker.client().submit('echo', 'next')).toString('utf8'), 'txen')
})
