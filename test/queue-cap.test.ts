import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, QueueFullError } from '../src/index.js'
import { deferred, EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

/** Asserts `err` is a QueueFullError for `functionName` at `limit`. */
function isQueueFull(functionName: string, limit: number) {
  return (err: unknown): true => {
    assert.ok(err instanceof QueueFullError, `expected a QueueFullError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_QUEUE_FULL')
    assert.equal(err.functionName, functionName)
    assert.equal(err.limit, limit)
    return true
  }
}

async function counts(broker: Broker, name: string): Promise<{ total: number; queued: number; running: number }> {
  const row = (await broker.admin.status()).find((f) => f.name === name)
  assert.ok(row, `function ${name} is listed`)
  return { total: row.total, queued: row.queued, running: row.running }
}

test('over the broker-wide maxQueue, foreground and background submits reject and nothing is queued', limits, async (t) => {
  const broker = new Broker({ maxQueue: 2, handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  assert.equal(await client.submitBackground('resize', 'a'), 'T:1')
  assert.equal(await client.submitBackground('resize', 'b'), 'T:2')
  const before = await broker.admin.showJobs()

  await assert.rejects(client.submitBackground('resize', 'c'), isQueueFull('resize', 2))
  const fg = client.submit('resize', 'd')
  await assert.rejects(fg, isQueueFull('resize', 2))
  assert.equal(fg.state, 'failed')
  assert.equal(fg.handle, undefined)
  await assert.rejects(client.submit('resize', 'e', { priority: 'high' }), isQueueFull('resize', 2))
  await assert.rejects(client.submitBackground('resize', 'f', { priority: 'low' }), isQueueFull('resize', 2))

  assert.deepEqual(await counts(broker, 'resize'), { total: 2, queued: 2, running: 0 })
  assert.deepEqual(await broker.admin.showJobs(), before)

  // no handle was consumed by the refused submissions
  assert.equal(await broker.admin.maxQueue('resize', 3), true)
  assert.equal(await client.submitBackground('resize', 'g'), 'T:3')
  assert.deepEqual(await counts(broker, 'resize'), { total: 3, queued: 3, running: 0 })

  // the queued jobs are the accepted ones, and they run
  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('resize', (job) => {
    ran.push(job.payload)
    return job.payload
  })
  await ran.waitFor(3)
  await broker.idle()
  assert.deepEqual(ran.items, ['a', 'b', 'g'])
})

test('admin.maxQueue sets one limit for every priority and status reports it', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  await broker.admin.createFunction('mail')

  assert.equal(await broker.admin.maxQueue('mail', 1), true)
  const row = (await broker.admin.status()).find((f) => f.name === 'mail')
  assert.deepEqual(row?.maxQueue, { high: 1, normal: 1, low: 1 })

  assert.equal(await client.submitBackground('mail', 'a', { priority: 'low' }), 'T:1')
  await assert.rejects(client.submitBackground('mail', 'b', { priority: 'high' }), isQueueFull('mail', 1))
  await assert.rejects(client.submit('mail', 'c'), isQueueFull('mail', 1))
  await assert.rejects(client.submitBackground('mail', 'd', { priority: 'low' }), isQueueFull('mail', 1))
  assert.deepEqual(await counts(broker, 'mail'), { total: 1, queued: 1, running: 0 })
})

test('per-priority limits apply to the function total (queued + running) for each priority', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  await broker.admin.createFunction('f')
  assert.equal(await broker.admin.maxQueue('f', { high: 3, normal: 2, low: 1 }), true)
  const row = (await broker.admin.status()).find((f) => f.name === 'f')
  assert.deepEqual(row?.maxQueue, { high: 3, normal: 2, low: 1 })

  assert.equal(await client.submitBackground('f', 'l1', { priority: 'low' }), 'T:1')
  // total is 1: low (limit 1) is full, normal (limit 2) is not
  await assert.rejects(client.submitBackground('f', 'l2', { priority: 'low' }), isQueueFull('f', 1))
  assert.equal(await client.submitBackground('f', 'n1'), 'T:2')
  // total is 2: normal is full, high (limit 3) is not
  await assert.rejects(client.submit('f', 'n2'), isQueueFull('f', 2))
  await assert.rejects(client.submitBackground('f', 'l3', { priority: 'low' }), isQueueFull('f', 1))
  assert.equal(await client.submitBackground('f', 'h1', { priority: 'high' }), 'T:3')
  // total is 3: every priority is full
  await assert.rejects(client.submitBackground('f', 'h2', { priority: 'high' }), isQueueFull('f', 3))
  await assert.rejects(client.submit('f', 'n3', { priority: 'normal' }), isQueueFull('f', 2))

  const status = (await broker.admin.status()).find((f) => f.name === 'f')
  assert.ok(status)
  assert.equal(status.total, 3)
  assert.deepEqual(status.byPriority, { high: 1, normal: 1, low: 1 })
  assert.deepEqual((await broker.admin.showJobs()).map((j) => j.handle).sort(), ['T:1', 'T:2', 'T:3'])
})

test('running jobs count toward the limit; finishing one makes room', limits, async (t) => {
  const broker = new Broker({ maxQueue: 1, handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const started = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('f', async (job) => {
    started.push(job.payload)
    if (job.payload === 'first') await gate.promise
    return job.payload
  })

  const first = client.submit('f', 'first')
  await started.waitFor(1)
  assert.deepEqual(await counts(broker, 'f'), { total: 1, queued: 0, running: 1 })
  await assert.rejects(client.submit('f', 'second'), isQueueFull('f', 1))
  await assert.rejects(client.submitBackground('f', 'third'), isQueueFull('f', 1))

  gate.resolve()
  assert.equal(await first, 'first')
  await broker.idle()
  const next = client.submit('f', 'fourth')
  assert.equal(next.handle, 'T:2')
  assert.equal(await next, 'fourth')
  assert.deepEqual(started.items, ['first', 'fourth'])
})

test('a submit that coalesces onto a live unique is accepted even when the queue is full', limits, async (t) => {
  const broker = new Broker({ maxQueue: 1, handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const a = client.submit('thumb', 'img', { unique: 'img-1' })
  assert.equal(a.handle, 'T:1')
  const b = client.submit('thumb', 'other data', { unique: 'img-1', priority: 'high' })
  assert.equal(b.handle, 'T:1')
  assert.equal(await client.submitBackground('thumb', 'x', { unique: 'img-1' }), 'T:1')
  // a new job is still refused
  await assert.rejects(client.submit('thumb', 'img', { unique: 'img-2' }), isQueueFull('thumb', 1))
  await assert.rejects(client.submitBackground('thumb', 'img'), isQueueFull('thumb', 1))

  assert.deepEqual(await counts(broker, 'thumb'), { total: 1, queued: 1, running: 0 })
  const jobs = await broker.admin.showJobs()
  assert.equal(jobs.length, 1)
  assert.equal(jobs[0]?.waiting, 2)

  const ran = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('thumb', (job) => {
    ran.push(job.payload)
    return `done:${job.payload}`
  })
  assert.deepEqual(await Promise.all([a, b]), ['done:img', 'done:img'])
  await broker.idle()
  assert.deepEqual(ran.items, ['img'])
})

test('a limit of 0 means unlimited, both as the broker default and through admin.maxQueue', limits, async (t) => {
  const broker = new Broker({ maxQueue: 0, handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  for (let i = 0; i < 50; i++) await client.submitBackground('bulk', String(i))
  assert.deepEqual(await counts(broker, 'bulk'), { total: 50, queued: 50, running: 0 })

  assert.equal(await broker.admin.maxQueue('bulk', 50), true)
  await assert.rejects(client.submitBackground('bulk', 'over'), isQueueFull('bulk', 50))
  assert.equal(await broker.admin.maxQueue('bulk', 0), true)
  assert.equal(await client.submitBackground('bulk', 'after'), 'T:51')
  assert.equal(await broker.admin.maxQueue('bulk', { high: 0, normal: 0, low: 0 }), true)
  assert.equal(await client.submitBackground('bulk', 'again'), 'T:52')
  const row = (await broker.admin.status()).find((f) => f.name === 'bulk')
  assert.ok(row)
  assert.deepEqual(row.maxQueue, { high: 0, normal: 0, low: 0 })
  assert.equal(row.total, 52)
})

test('the broker-wide maxQueue is the default for every new function, however it is created', limits, async (t) => {
  const broker = new Broker({ maxQueue: 4 })
  t.after(() => broker.close({ graceful: false }))
  await broker.admin.createFunction('made-by-admin')
  broker.worker().register('made-by-worker', () => 'ok')
  await broker.client().submitBackground('made-by-submit', 'x')
  const rows = (await broker.admin.status()).map((f) => [f.name, f.maxQueue]).sort()
  assert.deepEqual(rows, [
    ['made-by-admin', { high: 4, normal: 4, low: 4 }],
    ['made-by-submit', { high: 4, normal: 4, low: 4 }],
    ['made-by-worker', { high: 4, normal: 4, low: 4 }],
  ])
})

test('admin.maxQueue on an unknown function returns false and creates nothing', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'T' })
  t.after(() => broker.close({ graceful: false }))
  assert.equal(await broker.admin.maxQueue('ghost', 1), false)
  assert.equal(await broker.admin.maxQueue('ghost', { high: 1, normal: 1, low: 1 }), false)
  assert.deepEqual(await broker.admin.status(), [])
  // the limit was not remembered for later either
  const client = broker.client({ encoder: 'utf8' })
  assert.equal(await client.submitBackground('ghost', 'a'), 'T:1')
  assert.equal(await client.submitBackground('ghost', 'b'), 'T:2')
  const row = (await broker.admin.status()).find((f) => f.name === 'ghost')
  assert.deepEqual(row?.maxQueue, { high: 0, normal: 0, low: 0 })
})
