import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Broker, BrokerClosedError, FakeClock } from '../src/index.js'
import { deferred, EventLog, track, untilAborted } from './helpers.js'

const limits = { timeout: 10_000 }

function isClosed(err: unknown): true {
  assert.ok(err instanceof BrokerClosedError, `expected a BrokerClosedError, got ${String(err)}`)
  assert.equal(err.code, 'GEARBOX_BROKER_CLOSED')
  return true
}

test('graceful close lets running jobs finish, fails queued ones and refuses new submits', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const events: string[] = []
  broker.on('close', () => events.push('close'))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const started = new EventLog<string>()
  const signals: AbortSignal[] = []
  broker.worker({ encoder: 'utf8' }).register('render', async (job) => {
    started.push(job.payload)
    signals.push(job.signal)
    await gate.promise
    return `rendered ${job.payload}`
  })

  const running = client.submit('render', 'page-1', { unique: 'p1' })
  const coalesced = broker.client({ encoder: 'utf8' }).submit('render', 'page-1', { unique: 'p1' })
  await started.waitFor(1)
  const queued = client.submit('render', 'page-2')
  const queuedHandle = queued.handle
  assert.ok(queuedHandle !== undefined)

  const closing = broker.close()
  const closeState = track(closing)
  assert.equal(broker.closed, true)

  await assert.rejects(queued, isClosed)
  await assert.rejects(client.submit('render', 'page-3'), isClosed)
  await assert.rejects(client.submitBackground('render', 'page-4'), isClosed)
  await assert.rejects(broker.client().submit('render', 'page-5'), isClosed)
  assert.equal((await client.getStatus(queuedHandle)).known, false)

  await nextTurn()
  assert.equal(closeState.settled, false, 'close waits for the running jobs')
  assert.deepEqual(events, [])
  assert.equal(running.state, 'pending')
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.state, j.waiting]),
    [['running', 2]],
  )

  gate.resolve()
  assert.equal(await running, 'rendered page-1')
  assert.equal(await coalesced, 'rendered page-1')
  await closing
  assert.deepEqual(events, ['close'])
  assert.deepEqual(
    signals.map((s) => s.aborted),
    [false],
  )
  assert.deepEqual(started.items, ['page-1'])
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('graceful close with no running jobs resolves and queued background jobs are dropped', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client()
  const handle = await client.submitBackground('nobody', 'x')
  let closes = 0
  broker.on('close', () => closes++)
  await broker.close()
  assert.equal(closes, 1)
  assert.equal((await client.getStatus(handle)).known, false)
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('graceful close with a deadline fails still-running jobs and fires their signals', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const started = new EventLog<AbortSignal>()
  const aborted = new EventLog<unknown>()
  const quick = deferred()
  broker.worker({ encoder: 'utf8' }).register(
    'work',
    async (job) => {
      started.push(job.signal)
      if (job.payload === 'quick') {
        await quick.promise
        return 'quick done'
      }
      aborted.push(await untilAborted(job.signal))
      return 'too late'
    },
    { concurrency: 2 },
  )

  const stuck = client.submit('work', 'stuck')
  const finishes = client.submit('work', 'quick')
  const [stuckSignal, quickSignal] = await started.waitFor(2)
  assert.ok(stuckSignal && quickSignal)

  const closing = broker.close({ timeout: 1000 })
  const closeState = track(closing)
  quick.resolve()
  assert.equal(await finishes, 'quick done')

  clock.advance(999)
  await nextTurn()
  assert.equal(closeState.settled, false)
  assert.equal(stuck.state, 'pending')
  assert.equal(stuckSignal.aborted, false)

  clock.advance(1)
  await closing
  await assert.rejects(stuck, isClosed)
  assert.equal(stuckSignal.aborted, true)
  assert.equal(quickSignal.aborted, false)
  isClosed((await aborted.waitFor(1))[0])
  await broker.idle()
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('close({ graceful: false }) fails running jobs at once and fires their signals', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const events: string[] = []
  broker.on('close', () => events.push('close'))
  const client = broker.client({ encoder: 'utf8' })
  const started = new EventLog<AbortSignal>()
  const aborted = new EventLog<unknown>()
  broker.worker({ encoder: 'utf8' }).register('work', async (job) => {
    started.push(job.signal)
    aborted.push(await untilAborted(job.signal))
    return 'ignored'
  })
  const running = client.submit('work', 'a')
  const queued = client.submit('work', 'b')
  const [signal] = await started.waitFor(1)
  assert.ok(signal)

  await broker.close({ graceful: false })
  assert.deepEqual(events, ['close'])
  await assert.rejects(running, isClosed)
  await assert.rejects(queued, isClosed)
  assert.equal(signal.aborted, true)
  isClosed((await aborted.waitFor(1))[0])
  assert.equal(started.items.length, 1)
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test("close is idempotent: later calls resolve too and 'close' is emitted once", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  let closes = 0
  broker.on('close', () => closes++)
  const gate = deferred()
  const started = deferred()
  broker.worker().register('f', async () => {
    started.resolve()
    await gate.promise
    return 'ok'
  })
  const request = broker.client({ encoder: 'utf8' }).submit('f', 'x')
  await started.promise

  const first = broker.close()
  const second = broker.close()
  gate.resolve()
  await Promise.all([first, second])
  await broker.close()
  await broker.close({ graceful: false })
  assert.equal(closes, 1)
  assert.equal(await request, 'ok')
  assert.equal(broker.closed, true)
})

test('worker.close() lets its running job finish, then takes no more jobs', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const gate = deferred()
  const ran = new EventLog<string>()
  const first = broker.worker({ id: 'first', encoder: 'utf8' })
  first.register('job', async (job) => {
    ran.push(`first:${job.payload}`)
    await gate.promise
    return `first did ${job.payload}`
  })

  const a = client.submit('job', 'a')
  await ran.waitFor(1)
  const b = client.submit('job', 'b')
  const closing = first.close()
  const c = client.submit('job', 'c')

  gate.resolve()
  assert.equal(await a, 'first did a')
  await closing
  await broker.idle()
  assert.deepEqual(ran.items, ['first:a'])
  assert.equal(b.state, 'pending')
  assert.equal(c.state, 'pending')
  const row = (await broker.admin.status()).find((f) => f.name === 'job')
  assert.ok(row)
  assert.deepEqual([row.queued, row.running, row.workers], [2, 0, 0])
  assert.deepEqual(await broker.admin.workers(), [])

  broker.worker({ id: 'second', encoder: 'utf8' }).register('job', (job) => {
    ran.push(`second:${job.payload}`)
    return `second did ${job.payload}`
  })
  assert.deepEqual(await Promise.all([b, c]), ['second did b', 'second did c'])
  assert.deepEqual(ran.items, ['first:a', 'second:b', 'second:c'])
})

test('worker.close() with nothing running resolves and its queued functions wait for another worker', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const worker = broker.worker()
  let ran = 0
  worker.register('f', () => {
    ran++
    return 'x'
  })
  await worker.close()
  const request = broker.client({ encoder: 'utf8' }).submit('f', 'x')
  await broker.idle()
  assert.equal(ran, 0)
  assert.equal(request.state, 'pending')
  broker.worker().register('f', () => 'y')
  assert.equal(await request, 'y')
})

test('a forced close while a graceful close waits cuts the wait short', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const started = new EventLog<string>()
  broker.worker({ encoder: 'utf8' }).register('stuck', async (job) => {
    started.push(job.payload)
    await untilAborted(job.signal)
    return 'never'
  })
  const request = broker.client({ encoder: 'utf8' }).submit('stuck', 'a')
  await started.waitFor(1)
  const graceful = broker.close() // would wait 30 s for the stuck handler
  const graceful2 = track(graceful)
  await nextTurn()
  assert.equal(graceful2.settled, false)
  await broker.close({ graceful: false })
  await graceful
  await assert.rejects(request, isClosed)
})

test('a forced worker.close while a graceful one waits loses the running job to the retry rules', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const started = new EventLog<number>()
  const first = broker.worker({ id: 'first', encoder: 'utf8' })
  first.register('job', async (job) => {
    started.push(job.attempt)
    await untilAborted(job.signal)
    return 'lost'
  })
  const request = broker.client({ encoder: 'utf8' }).submit('job', 'x')
  await started.waitFor(1)
  const graceful = first.close()
  await first.close({ graceful: false })
  await graceful
  broker.worker({ id: 'second', encoder: 'utf8' }).register('job', (job) => `attempt ${job.attempt}`)
  assert.equal(await request, 'attempt 2')
})
