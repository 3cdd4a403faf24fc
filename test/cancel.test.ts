import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, JobCancelledError } from '../src/index.js'
import { deferred, EventLog, untilAborted } from './helpers.js'

const limits = { timeout: 10_000 }

function isCancelled(err: unknown): true {
  assert.ok(err instanceof JobCancelledError, `expected a JobCancelledError, got ${String(err)}`)
  assert.equal(err.code, 'GEARBOX_JOB_CANCELLED')
  return true
}

test('admin.cancelJob on a queued job: it never runs and every foreground waiter rejects', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const first = client.submit('resize', 'img', { unique: 'img-1' })
  const second = broker.client({ encoder: 'utf8' }).submit('resize', 'img', { unique: 'img-1' })
  const keep = client.submit('resize', 'keep')
  const handle = first.handle
  assert.ok(handle !== undefined)
  assert.equal(second.handle, handle)

  assert.equal(await broker.admin.cancelJob(handle), true)
  await assert.rejects(first, isCancelled)
  await assert.rejects(second, isCancelled)
  assert.equal(first.state, 'failed')
  assert.equal(second.state, 'failed')

  assert.equal((await client.getStatus(handle)).known, false)
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => j.handle),
    [keep.handle],
  )
  assert.deepEqual(await broker.admin.showUniqueJobs(), [])
  // cancelling it again: the handle is no longer known
  assert.equal(await broker.admin.cancelJob(handle), false)

  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('resize', (job) => {
    ran.push(job.payload)
    return job.payload
  })
  assert.equal(await keep, 'keep')
  await broker.idle()
  assert.deepEqual(ran.items, ['keep'])

  // the unique is free again: a new submission is a new job that runs
  const again = client.submit('resize', 'img', { unique: 'img-1' })
  assert.notEqual(again.handle, handle)
  assert.equal(await again, 'img')
})

test('admin.cancelJob on a queued background job removes it from the queue', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const handle = await client.submitBackground('report', 'q3', { priority: 'low' })
  assert.equal(await broker.admin.cancelJob(handle), true)
  const row = (await broker.admin.status()).find((f) => f.name === 'report')
  assert.ok(row)
  assert.equal(row.total, 0)
  assert.deepEqual(row.byPriority, { high: 0, normal: 0, low: 0 })

  let ran = 0
  broker.worker().register('report', () => {
    ran++
    return ''
  })
  await broker.idle()
  assert.equal(ran, 0)
})

test('admin.cancelJob on an unknown handle returns false and disturbs nothing', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const queued = client.submit('f', 'x')
  broker.worker({ encoder: 'utf8' }).register('g', (job) => job.payload)
  assert.equal(await client.submit('g', 'done'), 'done')

  assert.equal(await broker.admin.cancelJob('T:99'), false)
  assert.equal(await broker.admin.cancelJob('nonsense'), false)
  assert.equal(await broker.admin.cancelJob(''), false)
  // a finished job's handle is no longer known
  assert.equal(await broker.admin.cancelJob('T:2'), false)
  assert.equal(queued.state, 'pending')
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => j.handle),
    ['T:1'],
  )
})

test('admin.cancelJob on a running job fires the handler signal and rejects its waiters', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const started = deferred<AbortSignal>()
  const aborted = deferred<unknown>()
  broker.worker({ encoder: 'utf8' }).register('encode', async (job) => {
    started.resolve(job.signal)
    aborted.resolve(await untilAborted(job.signal))
    return 'late result'
  })

  const a = client.submit('encode', 'video', { unique: 'v1' })
  const b = client.submit('encode', 'video', { unique: 'v1' })
  const signal = await started.promise
  assert.equal(signal.aborted, false)
  const handle = a.handle
  assert.ok(handle !== undefined)
  assert.equal((await client.getStatus(handle)).running, true)

  assert.equal(await broker.admin.cancelJob(handle), true)
  await assert.rejects(a, isCancelled)
  await assert.rejects(b, isCancelled)
  assert.equal(signal.aborted, true)
  isCancelled(await aborted.promise)

  // the handler's late result is absorbed; the function is empty
  await broker.idle()
  assert.equal(a.state, 'failed')
  const row = (await broker.admin.status()).find((f) => f.name === 'encode')
  assert.deepEqual([row?.total, row?.running], [0, 0])
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test("a client's signal aborting a queued foreground job removes it and rejects with the signal's reason", limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const controller = new AbortController()
  const request = client.submit('slow', 'x', { signal: controller.signal })
  const other = client.submit('slow', 'y')
  assert.equal(request.handle, 'T:1')

  const reason = new Error('user navigated away')
  controller.abort(reason)
  await assert.rejects(request, (err) => {
    assert.equal(err, reason)
    return true
  })
  assert.equal(request.state, 'failed')
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => j.handle),
    [other.handle],
  )

  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('slow', (job) => {
    ran.push(job.payload)
    return job.payload
  })
  assert.equal(await other, 'y')
  await broker.idle()
  assert.deepEqual(ran.items, ['y'])
})

test('aborting with the default reason rejects with that AbortError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const controller = new AbortController()
  const request = broker.client().submit('slow', 'x', { signal: controller.signal })
  controller.abort()
  await assert.rejects(request, (err) => {
    assert.equal(err, controller.signal.reason)
    assert.ok(err instanceof DOMException)
    assert.equal(err.name, 'AbortError')
    return true
  })
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('an already-aborted signal rejects at once and queues nothing', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const reason = new Error('too late')
  const request = client.submit('f', 'x', { signal: AbortSignal.abort(reason) })
  await assert.rejects(request, (err) => {
    assert.equal(err, reason)
    return true
  })
  await assert.rejects(client.submitBackground('f', 'x', { signal: AbortSignal.abort(reason) }), (err) => {
    assert.equal(err, reason)
    return true
  })
  assert.deepEqual(await broker.admin.showJobs(), [])
  assert.equal(await client.submitBackground('f', 'ok'), 'T:1')
})

test('aborting one of two coalesced clients keeps the job for the other', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const controller = new AbortController()
  const leaving = broker.client({ encoder: 'utf8' }).submit('thumb', 'img', { unique: 'img-7', signal: controller.signal })
  const staying = broker.client({ encoder: 'utf8' }).submit('thumb', 'img', { unique: 'img-7' })
  assert.equal(leaving.handle, staying.handle)

  const reason = new Error('changed my mind')
  controller.abort(reason)
  await assert.rejects(leaving, (err) => {
    assert.equal(err, reason)
    return true
  })
  const jobs = await broker.admin.showJobs()
  assert.equal(jobs.length, 1)
  assert.equal(jobs[0]?.handle, staying.handle)
  assert.equal(jobs[0]?.waiting, 1)

  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('thumb', (job) => {
    ran.push(job.payload)
    return `thumb of ${job.payload}`
  })
  assert.equal(await staying, 'thumb of img')
  assert.equal(leaving.state, 'failed')
  assert.deepEqual(ran.items, ['img'])
})

test('aborting the only client of a foreground job coalesced onto a background job keeps the job', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const handle = await client.submitBackground('index', 'doc', { unique: 'doc-1' })
  const controller = new AbortController()
  const request = client.submit('index', 'doc', { unique: 'doc-1', signal: controller.signal })
  assert.equal(request.handle, handle)
  controller.abort(new Error('bored'))
  await assert.rejects(request)
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.handle, j.waiting]),
    [[handle, 0]],
  )
  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('index', (job) => {
    ran.push(job.payload)
    return ''
  })
  await ran.waitFor(1)
  await broker.idle()
  assert.deepEqual(ran.items, ['doc'])
})

test("aborting a running job's only client fires the handler signal and frees the worker", limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const started = new EventLog<string>()
  const sawAbort = deferred<unknown>()
  broker.worker({ encoder: 'utf8' }).register('work', async (job) => {
    started.push(job.payload)
    if (job.payload === 'long') sawAbort.resolve(await untilAborted(job.signal))
    return job.payload
  })
  const controller = new AbortController()
  const request = client.submit('work', 'long', { signal: controller.signal })
  await started.waitFor(1)
  const reason = new Error('stop')
  controller.abort(reason)
  await assert.rejects(request, (err) => {
    assert.equal(err, reason)
    return true
  })
  await sawAbort.promise
  assert.equal(await client.submit('work', 'next'), 'next')
  await broker.idle()
  assert.deepEqual(started.items, ['long', 'next'])
  assert.deepEqual(await broker.admin.showJobs(), [])
})
