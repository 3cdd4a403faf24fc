import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  Broker,
  FunctionInUseError,
  type FunctionStatus,
  JobCancelledError,
  JobFailedError,
  VERSION,
  WorkerLostError,
} from '../src/index.js'
import { deferred, EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
const byHandle = (a: { handle: string }, b: { handle: string }): number => handleNumber(a.handle) - handleNumber(b.handle)

function handleNumber(handle: string): number {
  return Number(handle.slice(handle.lastIndexOf(':') + 1))
}

function emptyRow(name: string, workers: number, availableWorkers: number): FunctionStatus {
  return {
    name,
    total: 0,
    queued: 0,
    running: 0,
    workers,
    availableWorkers,
    byPriority: { high: 0, normal: 0, low: 0 },
    maxQueue: { high: 0, normal: 0, low: 0 },
  }
}

test('status, workers, showJobs and showUniqueJobs describe the broker as it is', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const started = new EventLog<string>()
  const w1 = broker.worker({ id: 'w1', encoder: 'utf8' })
  w1.register('resize', async (job) => {
    started.push(job.payload)
    await gate.promise
    return job.payload
  })
  w1.register('thumb', (job) => job.payload)
  const w2 = broker.worker({ id: 'w2', encoder: 'utf8' })
  w2.register('thumb', (job) => job.payload)
  w2.register('crop', (job) => job.payload)
  w2.register('alpha', (job) => job.payload)
  await broker.admin.createFunction('idle-fn')

  assert.deepEqual((await broker.admin.status()).sort(byName), [
    emptyRow('alpha', 1, 1),
    emptyRow('crop', 1, 1),
    emptyRow('idle-fn', 0, 0),
    emptyRow('resize', 1, 1),
    emptyRow('thumb', 2, 2),
  ])

  const running = client.submit('resize', 'r1')
  await started.waitFor(1)
  const high = client.submit('resize', 'r2', { priority: 'high', unique: 'img-2' })
  const highToo = broker.client({ encoder: 'utf8' }).submit('resize', 'r2', { unique: 'img-2' })
  const low = await client.submitBackground('resize', 'r3', { priority: 'low', unique: 'img-3' })
  const normal = await client.submitBackground('resize', 'r4')
  assert.equal(running.handle, 'T:1')
  assert.equal(high.handle, 'T:2')
  assert.equal(highToo.handle, 'T:2')
  assert.equal(low, 'T:3')
  assert.equal(normal, 'T:4')

  assert.deepEqual((await broker.admin.status()).sort(byName), [
    emptyRow('alpha', 1, 1),
    emptyRow('crop', 1, 1),
    emptyRow('idle-fn', 0, 0),
    {
      name: 'resize',
      total: 4,
      queued: 3,
      running: 1,
      workers: 1,
      availableWorkers: 0,
      byPriority: { high: 1, normal: 1, low: 1 },
      maxQueue: { high: 0, normal: 0, low: 0 },
    },
    // w1 is busy with resize, so only w2 is available for thumb
    emptyRow('thumb', 2, 1),
  ])

  assert.deepEqual(
    (await broker.admin.workers()).sort((a, b) => (a.id < b.id ? -1 : 1)),
    [
      { id: 'w1', functions: ['resize', 'thumb'], running: 1 },
      { id: 'w2', functions: ['thumb', 'crop', 'alpha'], running: 0 },
    ],
  )

  assert.deepEqual((await broker.admin.showJobs()).sort(byHandle), [
    {
      handle: 'T:1',
      functionName: 'resize',
      unique: '',
      priority: 'normal',
      background: false,
      state: 'running',
      attempts: 1,
      waiting: 1,
      runAt: 0,
    },
    {
      handle: 'T:2',
      functionName: 'resize',
      unique: 'img-2',
      priority: 'high',
      background: false,
      state: 'queued',
      attempts: 0,
      waiting: 2,
      runAt: 0,
    },
    {
      handle: 'T:3',
      functionName: 'resize',
      unique: 'img-3',
      priority: 'low',
      background: true,
      state: 'queued',
      attempts: 0,
      waiting: 0,
      runAt: 0,
    },
    {
      handle: 'T:4',
      functionName: 'resize',
      unique: '',
      priority: 'normal',
      background: true,
      state: 'queued',
      attempts: 0,
      waiting: 0,
      runAt: 0,
    },
  ])

  assert.deepEqual((await broker.admin.showUniqueJobs()).sort(byHandle), [
    { functionName: 'resize', unique: 'img-2', handle: 'T:2' },
    { functionName: 'resize', unique: 'img-3', handle: 'T:3' },
  ])

  gate.resolve()
  assert.deepEqual(await Promise.all([running, high, highToo]), ['r1', 'r2', 'r2'])
  await broker.idle()
  assert.deepEqual((await broker.admin.status()).sort(byName), [
    emptyRow('alpha', 1, 1),
    emptyRow('crop', 1, 1),
    emptyRow('idle-fn', 0, 0),
    emptyRow('resize', 1, 1),
    emptyRow('thumb', 2, 2),
  ])
  assert.deepEqual(await broker.admin.showJobs(), [])
  assert.deepEqual(await broker.admin.showUniqueJobs(), [])
  assert.deepEqual(
    (await broker.admin.workers()).map((w) => w.running),
    [0, 0],
  )
})

test('functions stay listed with zeros after their workers and jobs are gone', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const worker = broker.worker({ encoder: 'utf8' })
  worker.register('once', (job) => job.payload)
  assert.equal(await broker.client({ encoder: 'utf8' }).submit('once', 'x'), 'x')
  await worker.close()
  assert.deepEqual(await broker.admin.status(), [emptyRow('once', 0, 0)])
  assert.deepEqual(await broker.admin.workers(), [])
})

test('createFunction creates an empty function once; dropFunction removes it; unknown gives false', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  await broker.admin.createFunction('x')
  await broker.admin.createFunction('x')
  assert.deepEqual(await broker.admin.status(), [emptyRow('x', 0, 0)])
  assert.equal(await broker.admin.dropFunction('x'), true)
  assert.deepEqual(await broker.admin.status(), [])
  assert.equal(await broker.admin.dropFunction('x'), false)
  assert.equal(await broker.admin.dropFunction('never-existed'), false)
})

test('createFunction keeps the limits and jobs of an existing function', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  await broker.client().submitBackground('busy', 'x')
  assert.equal(await broker.admin.maxQueue('busy', 5), true)
  await broker.admin.createFunction('busy')
  const [row] = await broker.admin.status()
  assert.ok(row)
  assert.deepEqual([row.name, row.total, row.maxQueue], ['busy', 1, { high: 5, normal: 5, low: 5 }])
})

test('dropFunction is refused with FunctionInUseError while a worker is registered', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const worker = broker.worker()
  worker.register('used', () => 'ok')
  await assert.rejects(broker.admin.dropFunction('used'), (err) => {
    assert.ok(err instanceof FunctionInUseError, `expected a FunctionInUseError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_FUNCTION_IN_USE')
    assert.equal(err.functionName, 'used')
    return true
  })
  assert.deepEqual(await broker.admin.status(), [emptyRow('used', 1, 1)])
  assert.equal(await broker.client({ encoder: 'utf8' }).submit('used', 'x'), 'ok')

  assert.equal(worker.unregister('used'), true)
  assert.equal(await broker.admin.dropFunction('used'), true)
  assert.deepEqual(await broker.admin.status(), [])
})

test('dropFunction cancels the queued jobs of the function', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const fg = client.submit('orphan', 'a')
  const bg = await client.submitBackground('orphan', 'b', { priority: 'high' })
  const other = client.submit('kept', 'c')

  assert.equal(await broker.admin.dropFunction('orphan'), true)
  await assert.rejects(fg, (err) => {
    assert.ok(err instanceof JobCancelledError, `expected a JobCancelledError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_JOB_CANCELLED')
    return true
  })
  assert.equal((await client.getStatus(bg)).known, false)
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => j.functionName),
    ['kept'],
  )
  assert.deepEqual(
    (await broker.admin.status()).map((f) => f.name),
    ['kept'],
  )

  // a worker for the dropped name later gets none of the old jobs
  const ran = new EventLog<string>()
  const worker = broker.worker({ encoder: 'utf8' })
  worker.register('orphan', (job) => {
    ran.push(job.payload)
    return job.payload
  })
  worker.register('kept', (job) => job.payload)
  assert.equal(await other, 'c')
  await broker.idle()
  assert.deepEqual(ran.items, [])
})

test('version() is the exported VERSION and ping() resolves a round-trip time', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  assert.equal(await broker.admin.version(), VERSION)
  assert.match(VERSION, /^\d+\.\d+\.\d+/)
  const rtt = await broker.admin.ping()
  assert.equal(typeof rtt, 'number')
  assert.ok(Number.isFinite(rtt) && rtt >= 0, `ping() gave ${rtt}`)
})

test("the broker emits 'job:completed', 'job:failed' and 'job:retried' with the job's identity", limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const events: unknown[] = []
  broker.on('job:completed', (e) => events.push({ event: 'job:completed', ...e }))
  broker.on('job:failed', (e) => {
    const { error, ...rest } = e
    events.push({ event: 'job:failed', ...rest, error: (error as { code?: unknown }).code })
  })
  broker.on('job:retried', (e) => {
    const { cause, ...rest } = e
    events.push({ event: 'job:retried', ...rest, cause: cause.code })
  })
  broker.worker({ encoder: 'utf8' }).register('ev', (job) => {
    switch (job.payload) {
      case 'fail':
        throw new JobFailedError()
      case 'boom':
        throw new Error('boom')
      case 'flaky':
        if (job.attempt === 1) throw new WorkerLostError()
        return 'flaky ok'
      default:
        return job.payload
    }
  })
  const client = broker.client({ encoder: 'utf8' })

  assert.equal(await client.submit('ev', 'ok', { unique: 'u1' }), 'ok')
  await assert.rejects(client.submit('ev', 'fail'), JobFailedError)
  await assert.rejects(client.submit('ev', 'boom', { unique: 'u3' }))
  assert.equal(await client.submit('ev', 'flaky', { unique: 'u4' }), 'flaky ok')
  const cancelled = await client.submitBackground('nobody', 'x', { unique: 'u5' })
  assert.equal(await broker.admin.cancelJob(cancelled), true)
  const background = await client.submitBackground('ev', 'bg')
  await broker.idle()

  assert.deepEqual(events, [
    { event: 'job:completed', handle: 'T:1', functionName: 'ev', unique: 'u1' },
    { event: 'job:failed', handle: 'T:2', functionName: 'ev', unique: '', error: 'GEARBOX_JOB_FAILED' },
    { event: 'job:failed', handle: 'T:3', functionName: 'ev', unique: 'u3', error: 'GEARBOX_JOB_EXCEPTION' },
    { event: 'job:retried', handle: 'T:4', functionName: 'ev', unique: 'u4', attempts: 1, cause: 'GEARBOX_WORKER_LOST' },
    { event: 'job:completed', handle: 'T:4', functionName: 'ev', unique: 'u4' },
    { event: 'job:failed', handle: 'T:5', functionName: 'nobody', unique: 'u5', error: 'GEARBOX_JOB_CANCELLED' },
    { event: 'job:completed', handle: background, functionName: 'ev', unique: '' },
  ])
})

test('events stop when the listener is removed', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker().register('f', () => 'x')
  const client = broker.client()
  const seen: string[] = []
  const listener = (e: { handle: string }): void => {
    seen.push(e.handle)
  }
  broker.on('job:completed', listener)
  await client.submit('f', 'a')
  broker.off('job:completed', listener)
  await client.submit('f', 'b')
  assert.equal(seen.length, 1)
})
