import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, type JobRequest, type JobUpdate } from '../src/index.js'
import { deferred, EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

async function collectUpdates<T>(request: JobRequest<unknown, T>): Promise<JobUpdate<T>[]> {
  const out: JobUpdate<T>[] = []
  for await (const update of request.updates()) out.push(update)
  return out
}

test('submits with the same function and unique share one run, one handle and one result', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('resize', async (job) => {
    runs.push(job.payload)
    await gate.promise
    return `resized ${job.payload}`
  })
  const first = broker.client({ encoder: 'utf8' })
  const second = broker.client({ encoder: 'utf8' })

  const requests = [
    first.submit('resize', 'cat.png', { unique: 'img-1' }),
    second.submit('resize', 'other payload', { unique: 'img-1' }),
    first.submit('resize', 'third payload', { unique: 'img-1', priority: 'high' }),
  ]
  await runs.waitFor(1)
  const handle = requests[0]?.handle
  assert.equal(typeof handle, 'string')
  assert.deepEqual(
    requests.map((r) => r.handle),
    [handle, handle, handle],
  )
  assert.equal(broker.size, 1)
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.handle, j.unique, j.state, j.waiting]),
    [[handle, 'img-1', 'running', 3]],
  )

  gate.resolve()
  assert.deepEqual(await Promise.all(requests), ['resized cat.png', 'resized cat.png', 'resized cat.png'])
  await broker.idle()
  // the first submission's payload is what ran, once
  assert.deepEqual(runs.items, ['cat.png'])
})

test('every attached submitter receives the data, warning and status updates that follow', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<number>()
  broker.worker({ encoder: 'utf8' }).register('build', async (job) => {
    runs.push(job.attempt)
    await gate.promise
    job.sendData('step 1')
    job.sendWarning('slow disk')
    job.sendStatus(1, 2)
    job.sendData('step 2')
    job.sendStatus(2, 2)
    return 'built'
  })
  const clientA = broker.client({ encoder: 'utf8' })
  const clientB = broker.client({ encoder: 'utf8' })
  const a = clientA.submit('build', 'src', { unique: 'build-42' })
  const b = clientB.submit('build', 'src', { unique: 'build-42' })
  await runs.waitFor(1)
  const updatesA = collectUpdates(a)
  const updatesB = collectUpdates(b)

  gate.resolve()
  assert.deepEqual(await Promise.all([a, b]), ['built', 'built'])
  const expected: JobUpdate<string>[] = [
    { type: 'data', data: 'step 1' },
    { type: 'warning', data: 'slow disk' },
    { type: 'status', numerator: 1, denominator: 2 },
    { type: 'data', data: 'step 2' },
    { type: 'status', numerator: 2, denominator: 2 },
  ]
  assert.deepEqual(await updatesA, expected)
  assert.deepEqual(await updatesB, expected)
  assert.equal(a.handle, b.handle)
  assert.deepEqual(runs.items, [1])
})

test('a late joiner gets the latest status as its first update, then what follows', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const statusSent = deferred()
  const gate = deferred()
  let runs = 0
  broker.worker({ encoder: 'utf8' }).register('export', async (job) => {
    runs++
    job.sendStatus(1, 4)
    job.sendData('early')
    job.sendStatus(2, 4)
    statusSent.resolve()
    await gate.promise
    job.sendData('late')
    job.sendStatus(4, 4)
    return 'exported'
  })
  const client = broker.client({ encoder: 'utf8' })
  const early = client.submit('export', 'table', { unique: 'export-1' })
  await statusSent.promise

  const late = broker.client({ encoder: 'utf8' }).submit('export', 'table', { unique: 'export-1' })
  assert.equal(late.handle, early.handle)
  gate.resolve()
  assert.deepEqual(await Promise.all([early, late]), ['exported', 'exported'])

  assert.deepEqual(await collectUpdates(early), [
    { type: 'status', numerator: 1, denominator: 4 },
    { type: 'data', data: 'early' },
    { type: 'status', numerator: 2, denominator: 4 },
    { type: 'data', data: 'late' },
    { type: 'status', numerator: 4, denominator: 4 },
  ])
  assert.deepEqual(await collectUpdates(late), [
    { type: 'status', numerator: 2, denominator: 4 },
    { type: 'data', data: 'late' },
    { type: 'status', numerator: 4, denominator: 4 },
  ])
  assert.equal(runs, 1)
})

test('an empty unique never coalesces', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('send', async (job) => {
    runs.push(job.payload)
    await gate.promise
    return `sent ${job.payload}`
  }, { concurrency: 3 })
  const client = broker.client({ encoder: 'utf8' })

  const requests = [
    client.submit('send', 'mail', { unique: '' }),
    client.submit('send', 'mail', { unique: '' }),
    client.submit('send', 'mail'),
  ]
  await runs.waitFor(3)
  const handles = requests.map((r) => r.handle)
  assert.equal(new Set(handles).size, 3)
  assert.equal(broker.size, 3)

  gate.resolve()
  assert.deepEqual(await Promise.all(requests), ['sent mail', 'sent mail', 'sent mail'])
  assert.deepEqual(runs.items, ['mail', 'mail', 'mail'])
})

test('the same unique under a different function is a different job', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<string>()
  const worker = broker.worker({ encoder: 'utf8' })
  for (const name of ['thumbnail', 'watermark']) {
    worker.register(name, async (job) => {
      runs.push(`${job.name}:${job.payload}`)
      await gate.promise
      return `${job.name} done`
    })
  }
  const client = broker.client({ encoder: 'utf8' })

  const thumb = client.submit('thumbnail', 'a.png', { unique: 'photo-9' })
  const mark = client.submit('watermark', 'b.png', { unique: 'photo-9' })
  await runs.waitFor(2)
  assert.notEqual(thumb.handle, mark.handle)

  gate.resolve()
  assert.deepEqual(await Promise.all([thumb, mark]), ['thumbnail done', 'watermark done'])
  assert.deepEqual(runs.items, ['thumbnail:a.png', 'watermark:b.png'])
})

test("unique '-' coalesces submits whose payload bytes are identical", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('hash', async (job) => {
    runs.push(job.payload)
    await gate.promise
    return `#${job.payload}`
  })
  const client = broker.client({ encoder: 'utf8' })

  const same1 = client.submit('hash', 'same bytes', { unique: '-' })
  const same2 = client.submit('hash', 'same bytes', { unique: '-' })
  const other = client.submit('hash', 'other bytes', { unique: '-' })
  await runs.waitFor(1)
  assert.equal(same1.handle, same2.handle)
  assert.notEqual(other.handle, same1.handle)
  assert.equal(broker.size, 2)

  gate.resolve()
  assert.deepEqual(await Promise.all([same1, same2, other]), ['#same bytes', '#same bytes', '#other bytes'])
  assert.deepEqual(runs.items, ['same bytes', 'other bytes'])
})

test("unique '-' with an empty payload never coalesces", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  let runs = 0
  broker.worker({ encoder: 'utf8' }).register('ping', () => {
    runs++
    return 'pong'
  })
  const client = broker.client({ encoder: 'utf8' })

  const a = client.submit('ping', '', { unique: '-' })
  const b = client.submit('ping', '', { unique: '-' })
  assert.notEqual(a.handle, b.handle)
  assert.deepEqual(await Promise.all([a, b]), ['pong', 'pong'])
  assert.equal(runs, 2)
})

test('once the job has ended its unique is free: a new submit runs again with a new handle', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const runs: string[] = []
  broker.worker({ encoder: 'utf8' }).register('count', (job) => {
    runs.push(job.payload)
    return `run ${runs.length}`
  })
  const client = broker.client({ encoder: 'utf8' })

  const first = client.submit('count', 'x', { unique: 'daily' })
  assert.equal(await first, 'run 1')
  const second = client.submit('count', 'y', { unique: 'daily' })
  assert.equal(await second, 'run 2')

  assert.notEqual(second.handle, first.handle)
  assert.deepEqual(runs, ['x', 'y'])
})

test('a background submit coalescing onto a live job returns its handle', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const runs = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('index', async (job) => {
    runs.push(job.payload)
    await gate.promise
    return `indexed ${job.payload}`
  })
  const client = broker.client({ encoder: 'utf8' })

  // onto a running foreground job
  const foreground = client.submit('index', 'doc-1', { unique: 'doc-1' })
  await runs.waitFor(1)
  assert.equal(await client.submitBackground('index', 'ignored', { unique: 'doc-1' }), foreground.handle)

  // onto a queued background job, which a later foreground submit also joins
  const background = await client.submitBackground('index', 'doc-2', { unique: 'doc-2' })
  assert.equal(await client.submitBackground('index', 'ignored', { unique: 'doc-2' }), background)
  const joiner = client.submit('index', 'ignored', { unique: 'doc-2' })
  assert.equal(joiner.handle, background)
  assert.notEqual(background, foreground.handle)
  assert.equal(broker.size, 2)

  gate.resolve()
  assert.deepEqual(await Promise.all([foreground, joiner]), ['indexed doc-1', 'indexed doc-2'])
  await broker.idle()
  assert.deepEqual(runs.items, ['doc-1', 'doc-2'])
  assert.equal(broker.size, 0)
})
