import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker } from '../src/index.js'
import { deferred } from './helpers.js'

const limits = { timeout: 10_000 }

test('background jobs get handles H:<prefix>:<n>, counting only new jobs', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'H:test' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const handles = [
    await client.submitBackground('mail', 'a'),
    await client.submitBackground('mail', 'b', { unique: 'mail-b' }),
    // coalesces onto the previous job: same handle, no number used
    await client.submitBackground('mail', 'b', { unique: 'mail-b' }),
    await client.submitBackground('other', 'c', { priority: 'high' }),
  ]
  assert.deepEqual(handles, ['H:test:1', 'H:test:2', 'H:test:2', 'H:test:3'])
  assert.equal(broker.size, 3)
})

test('getStatus reports a background job queued, running with its progress, then unknown', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'H:test' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const handle = await client.submitBackground('import', 'rows.csv')
  assert.match(handle, /^H:test:\d+$/)
  assert.deepEqual(await client.getStatus(handle), {
    handle,
    known: true,
    running: false,
    numerator: 0,
    denominator: 0,
    state: 'queued',
  })

  const statusSent = deferred()
  const gate = deferred()
  let ran = 0
  broker.worker({ encoder: 'utf8' }).register('import', async (job) => {
    ran++
    job.sendStatus(3, 10)
    statusSent.resolve()
    await gate.promise
    return 'imported'
  })
  await statusSent.promise
  assert.deepEqual(await client.getStatus(handle), {
    handle,
    known: true,
    running: true,
    numerator: 3,
    denominator: 10,
    state: 'running',
  })

  gate.resolve()
  await broker.idle()
  assert.equal(ran, 1)
  assert.deepEqual(await client.getStatus(handle), {
    handle,
    known: false,
    running: false,
    numerator: 0,
    denominator: 0,
    state: 'unknown',
  })
})

test('getStatus of a handle the broker never issued is unknown', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'H:test' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client()
  const statuses = await Promise.all(['H:test:999', 'H:elsewhere:1', 'garbage'].map((h) => client.getStatus(h)))
  assert.deepEqual(
    statuses.map((s) => [s.handle, s.known, s.running, s.numerator, s.denominator]),
    [
      ['H:test:999', false, false, 0, 0],
      ['H:elsewhere:1', false, false, 0, 0],
      ['garbage', false, false, 0, 0],
    ],
  )
})

test('getStatusByUnique also reports how many foreground clients wait on the job', limits, async (t) => {
  const broker = new Broker({ handlePrefix: 'H:test' })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  await client.submitBackground('export', 'q1', { unique: 'export-7' })
  assert.deepEqual(await client.getStatusByUnique('export-7'), {
    unique: 'export-7',
    known: true,
    running: false,
    numerator: 0,
    denominator: 0,
    waiting: 0,
    state: 'queued',
  })

  const waiters = [
    broker.client({ encoder: 'utf8' }).submit('export', 'q1', { unique: 'export-7' }),
    broker.client({ encoder: 'utf8' }).submit('export', 'q1', { unique: 'export-7' }),
  ]
  assert.equal((await client.getStatusByUnique('export-7')).waiting, 2)

  const statusSent = deferred()
  const gate = deferred()
  broker.worker({ encoder: 'utf8' }).register('export', async (job) => {
    job.sendStatus(1, 2)
    statusSent.resolve()
    await gate.promise
    return 'exported'
  })
  await statusSent.promise
  const running = {
    unique: 'export-7',
    known: true,
    running: true,
    numerator: 1,
    denominator: 2,
    waiting: 2,
    state: 'running',
  }
  assert.deepEqual(await client.getStatusByUnique('export-7'), running)
  assert.deepEqual(await client.getStatusByUnique('export-7', 'export'), running)
  assert.equal((await client.getStatusByUnique('export-7', 'some-other-function')).known, false)

  gate.resolve()
  assert.deepEqual(await Promise.all(waiters), ['exported', 'exported'])
  await broker.idle()
  assert.deepEqual(await client.getStatusByUnique('export-7'), {
    unique: 'export-7',
    known: false,
    running: false,
    numerator: 0,
    denominator: 0,
    waiting: 0,
    state: 'unknown',
  })
})
