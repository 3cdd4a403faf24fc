import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Broker, FakeClock, JobFailedError, WaitTimeoutError } from '../src/index.js'
import { deferred, EventLog, track } from './helpers.js'

const limits = { timeout: 10_000 }

function isWaitTimeout(pending: number) {
  return (err: unknown): true => {
    assert.ok(err instanceof WaitTimeoutError, `expected a WaitTimeoutError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_WAIT_TIMEOUT')
    assert.equal(err.pending, pending)
    return true
  }
}

test('submitMany + waitAll give every outcome, in submission order', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const slow = deferred()
  const finished = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register(
    'work',
    async (job) => {
      if (job.payload === 'slow') await slow.promise
      finished.push(job.payload)
      if (job.payload.startsWith('fail')) throw new JobFailedError()
      return job.payload.toUpperCase()
    },
    { concurrency: 8 },
  )
  const client = broker.client({ encoder: 'utf8' })

  const requests = client.submitMany([
    { name: 'work', payload: 'slow' },
    { name: 'work', payload: 'fail-1' },
    { name: 'work', payload: 'b', options: { priority: 'high' } },
    { name: 'work', payload: 'c', options: { unique: 'same' } },
    { name: 'work', payload: 'ignored', options: { unique: 'same' } },
  ])
  assert.deepEqual(
    requests.map((r) => r.handle),
    ['T:1', 'T:2', 'T:3', 'T:4', 'T:4'],
  )
  const waiting = client.waitAll(requests)
  // every other job finishes before the first one
  await finished.waitFor(3)
  slow.resolve()
  const results = await waiting
  assert.equal(finished.items.at(-1), 'slow')

  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
  )
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code?: unknown }).code)),
    ['SLOW', 'GEARBOX_JOB_FAILED', 'B', 'C', 'C'],
  )
  const failed = results[1]
  assert.ok(failed?.status === 'rejected')
  assert.ok(failed.reason instanceof JobFailedError)
})

test('waitAll of nothing, or of already finished requests, resolves at once', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker({ encoder: 'utf8' }).register('f', (job) => job.payload)
  const client = broker.client({ encoder: 'utf8' })
  assert.deepEqual(await client.waitAll([]), [])
  const done = client.submit('f', 'x')
  assert.equal(await done, 'x')
  assert.deepEqual(await client.waitAll([done], { timeout: 1000 }), [{ status: 'fulfilled', value: 'x' }])
})

test('waitAll with a timeout rejects with WaitTimeoutError while the jobs carry on', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const started = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register(
    'work',
    async (job) => {
      started.push(job.payload)
      if (job.payload !== 'quick') await gate.promise
      return `${job.payload} done`
    },
    { concurrency: 4 },
  )
  const client = broker.client({ encoder: 'utf8' })
  const requests = client.submitMany([
    { name: 'work', payload: 'quick' },
    { name: 'work', payload: 'a' },
    { name: 'work', payload: 'b' },
  ])
  assert.equal(await requests[0], 'quick done')
  await started.waitFor(3)

  const waiting = client.waitAll(requests, { timeout: 500 })
  const state = track(waiting)
  clock.advance(499)
  await nextTurn()
  assert.equal(state.settled, false)
  clock.advance(1)
  await assert.rejects(waiting, isWaitTimeout(2))

  // the jobs were not touched by the wait giving up
  assert.deepEqual(
    requests.map((r) => r.state),
    ['completed', 'pending', 'pending'],
  )
  const row = (await broker.admin.status()).find((f) => f.name === 'work')
  assert.equal(row?.running, 2)
  gate.resolve()
  assert.deepEqual(await Promise.all(requests), ['quick done', 'a done', 'b done'])
})

test('waitAll stops waiting when its signal aborts, with the signal reason', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const request = client.submit('nobody', 'x')
  const controller = new AbortController()
  const waiting = client.waitAll([request], { signal: controller.signal })
  const reason = new Error('enough')
  controller.abort(reason)
  await assert.rejects(waiting, (err) => {
    assert.equal(err, reason)
    return true
  })
  assert.equal(request.state, 'pending')
  assert.equal((await broker.admin.showJobs()).length, 1)
})

test('broker.idle({ timeout }) rejects with WaitTimeoutError while the job carries on', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const started = deferred()
  broker.worker({ encoder: 'utf8' }).register('work', async (job) => {
    started.resolve()
    await gate.promise
    return job.payload
  })
  const request = broker.client({ encoder: 'utf8' }).submit('work', 'long')
  await started.promise

  const idle = broker.idle({ timeout: 1000 })
  const state = track(idle)
  clock.advance(999)
  await nextTurn()
  assert.equal(state.settled, false)
  clock.advance(1)
  await assert.rejects(idle, isWaitTimeout(1))

  assert.equal(request.state, 'pending')
  gate.resolve()
  assert.equal(await request, 'long')
  await broker.idle({ timeout: 1000 })
})

test('broker.idle() resolves once running jobs finish; a queued job with no worker does not hold it', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const stranded = client.submit('nobody', 'x')
  await broker.idle()
  assert.equal(stranded.state, 'pending')

  const gate = deferred()
  const started = deferred()
  broker.worker({ encoder: 'utf8' }).register('work', async (job) => {
    started.resolve()
    await gate.promise
    return job.payload
  })
  const request = client.submit('work', 'y')
  await started.promise
  const idle = broker.idle()
  const state = track(idle)
  await nextTurn()
  assert.equal(state.settled, false)
  gate.resolve()
  await idle
  assert.equal(request.state, 'completed')
})
