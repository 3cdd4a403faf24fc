// The contract of the shared client, worker and admin interfaces (src/api.ts), written once and run against
// every target of contract-targets.ts. Where a target differs, the difference is a named expectation of
// that target (its `quirks`), asserted like everything else.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { type TestContext, test } from 'node:test'
import { JobExceptionError, JobFailedError, QueueFullError, WaitTimeoutError } from '../src/index.js'
import type { JobUpdate } from '../src/api.js'
import type { Target } from './contract-targets.js'
import { deferred } from './helpers.js'
import { waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

function describe(u: JobUpdate<string>): string {
  return u.type === 'status' ? `status:${u.numerator}/${u.denominator}` : `${u.type}:${u.data}`
}

export function contractSuite(target: Target): void {
  const q = target.quirks
  const it = (name: string, fn: (t: TestContext) => Promise<void>): void => {
    test(`${target.name}: ${name}`, limits, fn)
  }

  it('a foreground job runs once and its result, handle, name and unique reach the client', async (t) => {
    const { client, worker } = await target.start(t)
    const seen: string[] = []
    worker().register('reverse', (job) => {
      seen.push(`${job.name}/${job.unique}/${job.payload}/${job.handle.length > 0}`)
      return Buffer.from(job.payload).reverse().toString()
    })
    const request = client().submit('reverse', 'hello', { unique: 'u-1' })
    assert.equal(await request, 'olleh')
    assert.equal(request.state, 'completed')
    assert.equal(typeof request.handle, 'string')
    assert.equal(request.functionName, 'reverse')
    assert.deepEqual(seen, ['reverse/u-1/hello/true'])
  })

  it('data, warning and status updates arrive in order before the result', async (t) => {
    const { client, worker } = await target.start(t)
    worker().register('steps', async (job) => {
      job.sendData('one')
      job.sendStatus(1, 3)
      job.sendWarning('careful')
      job.sendStatus(3, 3)
      return 'done'
    })
    const request = client().submit('steps', 'x')
    const updates: string[] = []
    for await (const u of request.updates()) updates.push(describe(u))
    assert.equal(await request, 'done')
    assert.deepEqual(updates, ['data:one', 'status:1/3', 'warning:careful', 'status:3/3'])
  })

  it('two updates() readers at once both end with the job, and share its updates', async (t) => {
    const { client, worker } = await target.start(t)
    const go = deferred<undefined>()
    worker().register('two-readers', async (job) => {
      await go.promise
      job.sendData('one')
      return 'done'
    })
    const request = client().submit('two-readers', 'x')
    const read = async (): Promise<string[]> => {
      const seen: string[] = []
      for await (const u of request.updates()) seen.push(describe(u))
      return seen
    }
    const readers = Promise.all([read(), read()])
    go.resolve(undefined)
    assert.equal(await request, 'done')
    const both = await Promise.race([readers, sleep(5_000, null, { ref: false })])
    assert.ok(both !== null, 'both readers ended')
    assert.deepEqual(both.flat(), ['data:one'])
  })

  it('a handler that throws JobFailedError fails the job; any other throw is an exception carrying its message', async (t) => {
    const { client, worker } = await target.start(t)
    const w = worker()
    w.register('fail', () => {
      throw new JobFailedError('no')
    })
    w.register('throw', () => {
      throw new Error('kaput')
    })
    const c = client()
    await assert.rejects(c.submit('fail', 'x'), JobFailedError)
    const err: unknown = await c.submit('throw', 'x').then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof JobExceptionError)
    assert.match(Buffer.from(err.data).toString(), /kaput/)
  })

  it('a background job is queued (status known, not running) until a worker comes, then unknown once done', async (t) => {
    const { client, worker } = await target.start(t)
    const c = client()
    const handle = await c.submitBackground('later', 'payload')
    const queued = await c.getStatus(handle)
    assert.deepEqual({ known: queued.known, running: queued.running, state: queued.state }, { known: true, running: false, state: 'queued' })
    const ran = deferred<string>()
    worker().register('later', (job) => {
      ran.resolve(job.payload)
      return ''
    })
    assert.equal(await ran.promise, 'payload')
    await waitUntil(async () => !(await c.getStatus(handle)).known, 'the finished job is forgotten')
    assert.equal((await c.getStatus(handle)).state, 'unknown')
    assert.equal((await c.getStatus('H:nobody:999')).known, false)
  })

  it('queued background jobs run high, normal, low; within a priority in submission order', async (t) => {
    const { client, worker } = await target.start(t)
    const c = client()
    for (const [payload, priority] of [['l1', 'low'], ['n1', 'normal'], ['h1', 'high'], ['l2', 'low'], ['n2', 'normal'], ['h2', 'high']] as const) {
      await c.submitBackground('ordered', payload, { priority })
    }
    const order: string[] = []
    const all = deferred()
    worker().register('ordered', (job) => {
      order.push(job.payload)
      if (order.length === 6) all.resolve()
      return ''
    })
    await all.promise
    assert.deepEqual(order, ['h1', 'h2', 'n1', 'n2', 'l1', 'l2'])
  })

  it('foreground submissions with the same unique coalesce onto one job: one run, one handle, both get the result', async (t) => {
    const { client, worker } = await target.start(t)
    const c = client()
    const a = c.submit('once', 'first', { unique: 'same' })
    const b = client().submit('once', 'second', { unique: 'same' })
    await waitUntil(async () => (await c.getStatusByUnique('same', 'once')).waiting === 2, 'both clients wait on the job')
    const byUnique = await c.getStatusByUnique('same', 'once')
    assert.deepEqual({ known: byUnique.known, running: byUnique.running }, { known: true, running: false })
    const runs: string[] = []
    worker().register('once', (job) => {
      runs.push(job.payload)
      return `ran ${job.payload}`
    })
    assert.deepEqual(await Promise.all([a, b]), ['ran first', 'ran first'])
    assert.equal(a.handle, b.handle)
    assert.deepEqual(runs, ['first'])
  })

  it('submitMany + waitAll: WaitTimeoutError while no worker runs them, every outcome once one does', async (t) => {
    const { client, worker } = await target.start(t)
    const c = client()
    const requests = c.submitMany(['a', 'b', 'c'].map((payload) => ({ name: 'upper', payload })))
    await assert.rejects(c.waitAll(requests, { timeout: 200 }), (err: unknown) => err instanceof WaitTimeoutError && err.pending === 3)
    worker().register('upper', (job) => job.payload.toUpperCase())
    const results = await c.waitAll(requests, { timeout: 10_000 })
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected')),
      ['A', 'B', 'C'],
    )
  })

  it('an aborted signal rejects the request with its reason', async (t) => {
    const { client } = await target.start(t)
    const controller = new AbortController()
    const request = client().submit('nobody-runs-this', 'x', { signal: controller.signal })
    controller.abort(new Error('changed my mind'))
    await assert.rejects(request, /changed my mind/)
  })

  it('a worker runs up to its concurrency at once, and every job completes', async (t) => {
    const { client, worker } = await target.start(t)
    let running = 0
    let peak = 0
    const gates: (() => void)[] = []
    worker().register(
      'slow',
      async (job) => {
        running++
        peak = Math.max(peak, running)
        await new Promise<void>((resolve) => gates.push(resolve))
        running--
        return job.payload
      },
      { concurrency: 3 },
    )
    const c = client()
    const requests = c.submitMany(['1', '2', '3', '4', '5', '6'].map((payload) => ({ name: 'slow', payload })))
    for (let released = 0; released < 6; released++) {
      await waitUntil(() => gates.length > 0, 'a job is running')
      if (released === 0) await waitUntil(() => running === 3, 'three jobs run at once')
      gates.shift()?.()
    }
    assert.deepEqual((await c.waitAll(requests, { timeout: 10_000 })).map((r) => r.status), Array(6).fill('fulfilled'))
    assert.equal(peak, 3)
  })

  it('a job scheduled in the past runs at once; one scheduled far ahead waits while later jobs run', async (t) => {
    const { client, worker, admin } = await target.start(t)
    const c = client()
    await c.submitBackground('timed', 'future', { at: Date.now() + 3_600_000 })
    await c.submitBackground('timed', 'past', { at: new Date(Date.now() - 5_000) })
    const ran: string[] = []
    const now = deferred()
    worker().register('timed', (job) => {
      ran.push(job.payload)
      if (job.payload === 'now') now.resolve()
      return ''
    })
    await c.submitBackground('timed', 'now')
    await now.promise
    assert.deepEqual(ran, ['past', 'now'])
    // once 'now' has finished, the future job is still there, counted as queued
    const timed = async (): Promise<{ total: number | undefined; running: number | undefined }> => {
      const row = (await admin.status()).find((f) => f.name === 'timed')
      return { total: row?.total, running: row?.running }
    }
    await waitUntil(async () => (await timed()).running === 0, "'now' has finished")
    assert.deepEqual(await timed(), { total: 1, running: 0 })
  })

  it('admin: status counts queued jobs and workers; workers lists the worker id with its functions; version answers', async (t) => {
    const { client, worker, admin } = await target.start(t)
    const c = client()
    await c.submitBackground('counted', 'a', { priority: 'high' })
    await c.submitBackground('counted', 'b')
    const w = worker({ id: 'contract-worker' })
    w.register('other', () => '')
    await waitUntil(async () => (await admin.workers()).some((x) => x.id === 'contract-worker'), 'the worker is registered')
    const rows = await admin.status()
    const counted = rows.find((r) => r.name === 'counted')
    assert.deepEqual(
      { total: counted?.total, queued: counted?.queued, running: counted?.running, workers: counted?.workers, byPriority: counted?.byPriority },
      { total: 2, queued: 2, running: 0, workers: 0, byPriority: { high: 1, normal: 1, low: 0 } },
    )
    assert.equal(rows.find((r) => r.name === 'other')?.workers, 1)
    const info = (await admin.workers()).find((x) => x.id === 'contract-worker')
    assert.deepEqual(info?.functions, ['other'])
    assert.equal(info.running, 0)
    assert.match(await admin.version(), /\d+\.\d+/)
    assert.ok((await admin.ping()) >= 0)
  })

  it('admin: show jobs lists a queued job; cancel job removes it (false for an unknown handle)', async (t) => {
    const { client, admin } = await target.start(t)
    const handle = await client().submitBackground('cancellable', 'x', { unique: 'cu' })
    const jobs = await admin.showJobs()
    const job = jobs.find((j) => j.handle === handle)
    assert.ok(job !== undefined)
    assert.equal(job.background, true)
    assert.equal(job.functionName, q.showJobsHasDetails ? 'cancellable' : '')
    assert.equal(job.unique, q.showJobsHasDetails ? 'cu' : '')
    assert.equal(await admin.cancelJob(handle), true)
    assert.equal(await admin.cancelJob('H:none:42'), false)
    assert.equal((await admin.showJobs()).some((j) => j.handle === handle), false)
    const total = (await admin.status()).find((r) => r.name === 'cancellable')?.total
    assert.equal(total, q.cancelledJobStaysCounted ? 1 : 0)
  })

  it('admin: maxQueue is false for an unknown function; at the limit a submission fails with QueueFullError', async (t) => {
    const { client, admin } = await target.start(t)
    assert.equal(await admin.maxQueue('no-such-function', 1), false)
    const c = client()
    await c.submitBackground('capped', 'a')
    assert.equal(await admin.maxQueue('capped', 1), true)
    await assert.rejects(c.submitBackground('capped', 'b'), QueueFullError)
    await assert.rejects(c.submit('capped', 'c'), QueueFullError)
    const row = (await admin.status()).find((r) => r.name === 'capped')
    assert.deepEqual(row?.maxQueue, q.statusReportsMaxQueue ? { high: 1, normal: 1, low: 1 } : { high: 0, normal: 0, low: 0 })
    assert.equal(row.total, 1)
  })

  it('unregister stops new jobs of a function; the worker keeps its others', async (t) => {
    const { client, worker, admin } = await target.start(t)
    const w = worker({ id: 'unreg' })
    w.register('kept', (job) => job.payload)
    w.register('dropped', (job) => job.payload)
    const c = client()
    assert.equal(await c.submit('dropped', 'x'), 'x')
    assert.equal(w.unregister('dropped'), true)
    assert.equal(w.unregister('dropped'), false)
    await waitUntil(async () => (await admin.status()).find((r) => r.name === 'dropped')?.workers === 0, 'the registration is gone')
    assert.equal(await c.submit('kept', 'y'), 'y')
    // nobody runs it now: only the caller's signal ends the wait
    const controller = new AbortController()
    const request = c.submit('dropped', 'z', { signal: controller.signal })
    setTimeout(() => {
      controller.abort(new Error('nobody ran it'))
    }, 300)
    await assert.rejects(request, /nobody ran it/)
  })

  it('a registration timeout (CAN_DO_TIMEOUT) fires the handler\'s signal and the job is tried again', async (t) => {
    const { client, worker } = await target.start(t)
    let calls = 0
    const reasons: string[] = []
    worker().register(
      'deadline',
      async (job) => {
        if (++calls > 1) return `ok on call ${calls}`
        const reason = await new Promise<unknown>((resolve) => job.signal.addEventListener('abort', () => { resolve(job.signal.reason) }, { once: true }))
        reasons.push(reason instanceof Error ? reason.name : String(reason))
        return 'too late'
      },
      // gearmand raises anything below 1 s to 1 s
      { timeout: 1_000 },
    )
    assert.equal(await client().submit('deadline', 'x'), 'ok on call 2')
    assert.deepEqual(reasons, ['JobTimeoutError'])
  })

  it('a registration timeout with concurrency 2 (gearmand: PRE_SLEEP cancels its timer) still gets the job tried again', async (t) => {
    const { client, worker } = await target.start(t)
    let calls = 0
    worker().register(
      'deadline2',
      async (job) => {
        if (++calls > 1) return `ok on call ${calls}`
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }))
        return 'too late'
      },
      { timeout: 1_000, concurrency: 2 },
    )
    assert.equal(await client().submit('deadline2', 'x', { timeout: 10_000 }), 'ok on call 2')
  })
}
