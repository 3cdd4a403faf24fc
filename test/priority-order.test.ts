import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, type JobContext, type Priority } from '../src/index.js'
import { deferred, EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

test('queued jobs run high before normal before low, FIFO within each lane', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const submitted: [string, Priority][] = [
    ['low-1', 'low'],
    ['normal-1', 'normal'],
    ['high-1', 'high'],
    ['low-2', 'low'],
    ['normal-2', 'normal'],
    ['high-2', 'high'],
    ['normal-3', 'normal'],
    ['low-3', 'low'],
    ['high-3', 'high'],
  ]
  // queued before any worker exists, so nothing can run until all of them are in line
  const requests = submitted.map(([payload, priority]) => client.submit('work', payload, { priority }))
  await broker.idle()
  assert.deepEqual(
    (await broker.admin.status()).map((f) => [f.name, f.byPriority]),
    [['work', { high: 3, normal: 3, low: 3 }]],
  )

  const ran: string[] = []
  broker.worker({ encoder: 'utf8' }).register('work', (job) => {
    ran.push(job.payload)
    return job.payload.toUpperCase()
  })
  const results = await Promise.all(requests)

  assert.deepEqual(ran, ['high-1', 'high-2', 'high-3', 'normal-1', 'normal-2', 'normal-3', 'low-1', 'low-2', 'low-3'])
  assert.deepEqual(
    results,
    submitted.map(([payload]) => payload.toUpperCase()),
  )
})

test('jobs submitted while the only worker is busy are taken in priority order when it frees up', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const started = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('work', async (job) => {
    started.push(job.payload)
    if (job.payload === 'blocker') await gate.promise
    return job.payload
  })

  const blocker = client.submit('work', 'blocker', { priority: 'low' })
  await started.waitFor(1)
  const requests = [
    client.submit('work', 'n1', { priority: 'normal' }),
    client.submit('work', 'l1', { priority: 'low' }),
    client.submit('work', 'n2'),
    client.submit('work', 'h1', { priority: 'high' }),
    client.submit('work', 'l2', { priority: 'low' }),
    client.submit('work', 'h2', { priority: 'high' }),
  ]
  assert.deepEqual(
    (await broker.admin.status()).map((f) => [f.name, f.running, f.byPriority]),
    [['work', 1, { high: 2, normal: 2, low: 2 }]],
  )

  gate.resolve()
  assert.equal(await blocker, 'blocker')
  assert.deepEqual(await Promise.all(requests), ['n1', 'l1', 'n2', 'h1', 'l2', 'h2'])
  assert.deepEqual(started.items, ['blocker', 'h1', 'h2', 'n1', 'n2', 'l1', 'l2'])
})

test('a worker with several functions takes the highest priority across them, oldest first', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const started = new EventLog<string>()
  const worker = broker.worker({ concurrency: 1, encoder: 'utf8' })
  const handler = async (job: JobContext<string, string>): Promise<string> => {
    started.push(`${job.name}:${job.payload}`)
    if (job.payload === 'blocker') await gate.promise
    return `${job.name}:${job.payload}`
  }
  worker.register('a', handler)
  worker.register('b', handler)

  const blocker = client.submit('a', 'blocker')
  await started.waitFor(1)
  // submission order is the age order: a:low-1 is the oldest, b:normal-2 the youngest
  const requests = [
    client.submit('a', 'low-1', { priority: 'low' }),
    client.submit('b', 'normal-1', { priority: 'normal' }),
    client.submit('a', 'normal-1', { priority: 'normal' }),
    client.submit('b', 'high-1', { priority: 'high' }),
    client.submit('a', 'high-1', { priority: 'high' }),
    client.submit('b', 'low-1', { priority: 'low' }),
    client.submit('b', 'normal-2', { priority: 'normal' }),
  ]
  assert.deepEqual(
    (await broker.admin.status()).map((f) => [f.name, f.running, f.byPriority]),
    [
      ['a', 1, { high: 1, normal: 1, low: 1 }],
      ['b', 0, { high: 1, normal: 2, low: 1 }],
    ],
  )

  gate.resolve()
  await blocker
  await Promise.all(requests)
  assert.deepEqual(started.items, [
    'a:blocker',
    'b:high-1',
    'a:high-1',
    'b:normal-1',
    'a:normal-1',
    'b:normal-2',
    'a:low-1',
    'b:low-1',
  ])
})
