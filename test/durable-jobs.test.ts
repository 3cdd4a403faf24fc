// Background jobs with a job store, through the public API, against every store: what a restarted broker
// replays (order, handles, due times, uniques), when rows leave, and that an acknowledged job is written.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Broker, type BrokerOptions, FakeClock, JobFailedError, type JobStore, WorkerLostError } from '../src/index.js'
import { deferred } from './helpers.js'
import { STORE_KINDS } from './store-setup.js'

const limits = { timeout: 10_000 }
const START = Date.UTC(2030, 0, 1)

/** A broker on `store` (handles `H:t:<n>`), closed at once when the test ends if the test did not close it. */
function open(t: TestContext, store: JobStore, options: BrokerOptions = {}): Broker {
  const broker = new Broker({ handlePrefix: 'H:t', store, ...options })
  t.after(() => broker.close({ graceful: false }))
  return broker
}

/** Records the ids each write added and removed, then passes it on. */
function recording(inner: JobStore): { store: JobStore; writes: { added: number[]; removed: number[] }[] } {
  const writes: { added: number[]; removed: number[] }[] = []
  const store: JobStore = {
    load: () => inner.load(),
    write(added, removed) {
      inner.write(added, removed)
      writes.push({ added: added.map((j) => j.id), removed: [...removed] })
    },
    close: () => {
      inner.close()
    },
  }
  return { store, writes }
}

for (const kind of STORE_KINDS) {
  test(`${kind.name}: queued background jobs are replayed after a restart in priority then FIFO order, with their handles`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const first = open(t, store)
    const client = first.client({ encoder: 'utf8' })
    const submitted: [string, string][] = []
    for (const [payload, priority] of [['l1', 'low'], ['n1', 'normal'], ['h1', 'high'], ['l2', 'low'], ['n2', 'normal'], ['h2', 'high']] as const) {
      submitted.push([payload, await client.submitBackground('work', payload, { priority })])
    }
    await first.close()

    const second = open(t, reopen())
    assert.deepEqual((await second.admin.showJobs()).map((j) => j.handle).sort(), submitted.map(([, h]) => h).sort())
    const ran: string[] = []
    second.worker({ encoder: 'utf8' }).register('work', (job) => {
      ran.push(`${job.payload}@${job.handle}`)
      return 'ok'
    })
    await second.idle()
    const handleOf = new Map(submitted)
    assert.deepEqual(
      ran,
      ['h1', 'h2', 'n1', 'n2', 'l1', 'l2'].map((p) => `${p}@${handleOf.get(p) ?? '?'}`),
    )
    // a new job's handle comes after every replayed one
    assert.equal(await second.client().submitBackground('other', 'x'), 'H:t:7')
    assert.equal(second.size, 1)
  })

  test(`${kind.name}: a scheduled job keeps its due time across a restart`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const first = open(t, store, { clock: new FakeClock(START) })
    await first.client().submitBackground('report', 'nightly', { at: START + 60_000 })
    await first.close()

    const clock = new FakeClock(START + 30_000)
    const second = open(t, reopen(), { clock })
    const ran: number[] = []
    second.worker().register('report', () => {
      ran.push(clock.now())
      return 'ok'
    })
    await second.idle()
    assert.deepEqual(ran, [])
    assert.equal((await second.admin.showJobs())[0]?.runAt, START + 60_000)
    clock.advance(30_000)
    await second.idle()
    assert.deepEqual(ran, [START + 60_000])
  })

  test(`${kind.name}: uniques survive a restart, and two background jobs with an empty unique stay two jobs`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const first = open(t, store)
    const client = first.client({ encoder: 'utf8' })
    const keyed = await client.submitBackground('mail', 'welcome', { unique: 'user-42' })
    await client.submitBackground('mail', 'a')
    await client.submitBackground('mail', 'b')
    await first.close()

    const second = open(t, reopen())
    const again = second.client({ encoder: 'utf8' })
    // coalesces onto the replayed job: same handle, nothing new queued
    assert.equal(await again.submitBackground('mail', 'welcome (again)', { unique: 'user-42' }), keyed)
    assert.equal(second.size, 3)
    const ran: string[] = []
    second.worker({ encoder: 'utf8' }).register('mail', (job) => {
      ran.push(job.payload)
      return 'sent'
    })
    await second.idle()
    assert.deepEqual(ran, ['welcome', 'a', 'b'])
  })

  test(`${kind.name}: a job leaves the store when it completes, fails, throws or is cancelled; foreground jobs never enter it`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const broker = open(t, store, { clock: new FakeClock(START) })
    const client = broker.client({ encoder: 'utf8' })
    broker.worker({ encoder: 'utf8' }).register('outcome', (job) => {
      if (job.payload === 'fail') throw new JobFailedError('no')
      if (job.payload === 'throw') throw new RangeError('boom')
      return 'done'
    })
    for (const payload of ['ok', 'fail', 'throw']) await client.submitBackground('outcome', payload)
    const later = await client.submitBackground('outcome', 'later', { at: START + 60_000 })
    const foreground = client.submit('nobody-serves-this', 'fg')
    await broker.idle()
    assert.deepEqual(
      store.load().map((j) => j.data.toString()),
      ['later'],
    )
    assert.equal(await broker.admin.cancelJob(later), true)
    await broker.idle()
    assert.deepEqual(store.load(), [])
    await broker.close({ graceful: false })
    await assert.rejects(foreground, { code: 'GEARBOX_BROKER_CLOSED' })
    assert.deepEqual(reopen().load(), [], 'a foreground job cut off by close is not stored either')
  })

  test(`${kind.name}: submitBackground resolves only once its job is written; one turn's submits share one write`, limits, async (t) => {
    const { store: inner } = kind.open(t)
    const { store, writes } = recording(inner)
    const broker = open(t, store)
    const client = broker.client()
    const written = (handle: string): boolean => writes.some((w) => w.added.includes(Number(handle.slice('H:t:'.length))))
    const acked = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.submitBackground('bulk', `job ${i}`).then((handle) => ({ handle, written: written(handle) }))),
    )
    assert.deepEqual(
      acked.filter((a) => !a.written),
      [],
    )
    assert.deepEqual(
      writes.map((w) => w.added.length),
      [50],
    )
    // the 50 removals are gathered too: one turn's completions share one write
    broker.worker().register('bulk', () => 'ok', { concurrency: 50 })
    await broker.idle()
    assert.deepEqual(
      writes.map((w) => [w.added.length, w.removed.length]),
      [
        [50, 0],
        [0, 50],
      ],
    )
  })

  test(`${kind.name}: a background submit made in the same turn as close() is written, acknowledged and replayed`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const broker = open(t, store)
    const submitted = broker.client().submitBackground('late', 'x')
    const closed = broker.close()
    assert.equal(await submitted, 'H:t:1')
    await closed
    const again = open(t, reopen())
    assert.deepEqual(
      (await again.admin.showJobs()).map((j) => [j.handle, j.functionName]),
      [['H:t:1', 'late']],
    )
  })

  test(`${kind.name}: a job cancelled before its write never reaches the store, and idle() still resolves`, limits, async (t) => {
    const { store: inner } = kind.open(t)
    const { store, writes } = recording(inner)
    const broker = open(t, store)
    const submitted = broker.client().submitBackground('f', 'x')
    // the handle is known at once (ids are handed out in submission order); cancel in the same turn
    const cancelled = broker.admin.cancelJob('H:t:1')
    const idle = broker.idle()
    assert.equal(await cancelled, true)
    assert.equal(await submitted, 'H:t:1')
    await idle
    assert.deepEqual([writes, store.load(), broker.size], [[], [], 0])
  })

  test(`${kind.name}: a job stays stored while it runs and while it is retried, until its last attempt ends`, limits, async (t) => {
    const { store } = kind.open(t)
    const broker = open(t, store)
    const rowsSeen: number[] = []
    broker.worker().register('flaky', () => {
      rowsSeen.push(store.load().length)
      if (rowsSeen.length === 1) throw new WorkerLostError('crashed')
      return 'ok'
    })
    await broker.client().submitBackground('flaky', 'x')
    await broker.idle()
    assert.deepEqual([rowsSeen, store.load().length], [[1, 1], 0])
  })

  test(`${kind.name}: a job whose worker is lost during a graceful close keeps its row and runs after the restart`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const broker = open(t, store)
    const started = deferred()
    const crash = deferred<never>()
    broker.worker().register('doomed', () => {
      started.resolve()
      return crash.promise
    })
    const handle = await broker.client().submitBackground('doomed', 'x')
    await started.promise
    const closed = broker.close({ timeout: 60_000 })
    crash.reject(new WorkerLostError('the worker went away while the broker was closing'))
    await closed
    const again = open(t, reopen())
    assert.deepEqual((await again.admin.showJobs()).map((j) => j.handle), [handle])
  })

  test(`${kind.name}: close keeps queued jobs and jobs cut off while running; a job that finishes during a graceful close leaves`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const broker = open(t, store)
    const client = broker.client({ encoder: 'utf8' })
    const gates = new Map([
      ['finishes', deferred<string>()],
      ['cut off', deferred<string>()],
    ])
    const started = deferred()
    let running = 0
    broker.worker({ encoder: 'utf8' }).register(
      'slow',
      (job) => {
        if (++running === 2) started.resolve()
        return gates.get(job.payload)?.promise ?? 'ok'
      },
      { concurrency: 2 },
    )
    await client.submitBackground('slow', 'finishes')
    await client.submitBackground('slow', 'cut off')
    await client.submitBackground('slow', 'queued')
    await started.promise
    const closed = broker.close({ timeout: 60_000 })
    gates.get('finishes')?.resolve('done')
    await new Promise((resolve) => setImmediate(resolve))
    await broker.close({ graceful: false })
    await closed
    const again = open(t, reopen())
    assert.deepEqual(
      (await again.admin.showJobs()).map((j) => j.handle),
      ['H:t:2', 'H:t:3'],
    )
  })
}

for (const kind of STORE_KINDS) {
  test(`${kind.name}: after a restart, a new job never gets the handle of one that finished before it`, limits, async (t) => {
    const { store, reopen } = kind.open(t)
    const first = open(t, store)
    const client = first.client({ encoder: 'utf8' })
    const waiting = await client.submitBackground('other', 'still queued')
    const done = await client.submitBackground('work', 'finished') // the highest id, and not stored any more
    first.worker().register('work', () => 'ok')
    await first.idle()
    await first.close()

    const second = open(t, reopen())
    assert.deepEqual((await second.admin.showJobs()).map((j) => j.handle), [waiting])
    const next = await second.client().submitBackground('work', 'new')
    assert.ok(![done, waiting].includes(next), `${next} is new`)
    assert.equal(next, 'H:t:3')
  })
}
