import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Broker, FakeClock, JobTimeoutError, type JobContext } from '../src/index.js'
import { deferred, EventLog, untilAborted } from './helpers.js'

const limits = { timeout: 10_000 }

type TimeoutKind = 'per-function' | 'per-job'

interface Attempt {
  readonly attempt: number
  readonly signal: AbortSignal
}

/** A broker on a FakeClock with one worker for `slow` whose handler waits until its signal fires. */
function setup(t: TestContext, kind: TimeoutKind, ms: number, finishOnAttempt = Infinity) {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const started = new EventLog<Attempt>()
  const reasons: unknown[] = []
  broker.worker({ encoder: 'utf8' }).register(
    'slow',
    async (job: JobContext<string, string>) => {
      started.push({ attempt: job.attempt, signal: job.signal })
      if (job.attempt >= finishOnAttempt) return `done on attempt ${job.attempt}`
      const reason = await untilAborted(job.signal)
      reasons.push(reason)
      throw reason
    },
    kind === 'per-function' ? { timeout: ms } : {},
  )
  const request = broker.client({ encoder: 'utf8' }).submit('slow', 'payload', kind === 'per-job' ? { timeout: ms } : {})
  return { clock, broker, started, reasons, request }
}

function isTimeout(timeout: number, attempts: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof JobTimeoutError)
    assert.equal(err.code, 'GEARBOX_JOB_TIMEOUT')
    assert.equal(err.timeout, timeout)
    assert.equal(err.attempts, attempts)
    return true
  }
}

for (const kind of ['per-function', 'per-job'] as const) {
  test(`${kind} timeout: the signal fires with JobTimeoutError and the job is retried`, limits, async (t) => {
    const { clock, broker, started, reasons, request } = setup(t, kind, 1_000, 2)
    const [first] = await started.waitFor(1)
    assert.ok(first)
    assert.equal(first.attempt, 1)

    clock.advance(999)
    assert.equal(first.signal.aborted, false)
    assert.deepEqual(reasons, [])

    clock.advance(1)
    assert.equal(first.signal.aborted, true)
    assert.ok(isTimeout(1_000, 1)(first.signal.reason))

    assert.equal(await request, 'done on attempt 2')
    assert.deepEqual(
      started.items.map((s) => s.attempt),
      [1, 2],
    )
    assert.equal(reasons.length, 1)
    assert.equal(reasons[0], first.signal.reason)
    await broker.idle()
    // the finished attempt's timer is gone
    assert.equal(clock.pendingTimers, 0)
  })

  test(`${kind} timeout: after jobRetries timed-out attempts the client gets JobTimeoutError`, limits, async (t) => {
    const { clock, broker, started, reasons, request } = setup(t, kind, 500)
    const settled: string[] = []
    void request.result.catch(() => settled.push('failed'))

    for (let attempt = 1; attempt <= 3; attempt++) {
      await started.waitFor(attempt)
      assert.deepEqual(settled, [], `still pending before timeout ${attempt}`)
      clock.advance(500)
    }

    await assert.rejects(request.result, isTimeout(500, 3))
    assert.deepEqual(
      started.items.map((s) => s.attempt),
      [1, 2, 3],
    )
    assert.equal(reasons.length, 3)
    reasons.forEach((reason, i) => {
      assert.ok(isTimeout(500, i + 1)(reason))
    })
    await broker.idle()
    assert.equal(broker.size, 0)
    assert.equal(clock.pendingTimers, 0)
  })
}

test('with both a per-function and a per-job timeout, the smaller one wins', limits, async (t) => {
  const cases = [
    { fnTimeout: 1_000, jobTimeout: 300, fires: 300 },
    { fnTimeout: 200, jobTimeout: 5_000, fires: 200 },
  ]
  for (const { fnTimeout, jobTimeout, fires } of cases) {
    const clock = new FakeClock()
    const broker = new Broker({ clock, jobRetries: 1 })
    t.after(() => broker.close({ graceful: false }))
    const started = new EventLog<AbortSignal>()
    broker.worker().register(
      'render',
      async (job) => {
        started.push(job.signal)
        throw await untilAborted(job.signal)
      },
      { timeout: fnTimeout },
    )
    const request = broker.client().submit('render', 'scene', { timeout: jobTimeout })
    const [signal] = await started.waitFor(1)
    assert.ok(signal)

    clock.advance(fires - 1)
    assert.equal(signal.aborted, false, `not yet at ${fires - 1} ms`)
    clock.advance(1)
    assert.equal(signal.aborted, true, `fired at ${fires} ms`)
    await assert.rejects(request.result, isTimeout(fires, 1))
  }
})

test('with no timeout anywhere no timer is set and the job may run as long as it likes', limits, async (t) => {
  const clock = new FakeClock()
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const started = new EventLog<AbortSignal>()
  broker.worker({ encoder: 'utf8' }).register('forever', async (job) => {
    started.push(job.signal)
    await gate.promise
    return `done on attempt ${job.attempt}`
  })
  const request = broker.client({ encoder: 'utf8' }).submit('forever', 'x')
  const [signal] = await started.waitFor(1)
  assert.ok(signal)

  assert.equal(clock.pendingTimers, 0)
  clock.advance(365 * 24 * 3600 * 1000)
  assert.equal(signal.aborted, false)

  gate.resolve()
  assert.equal(await request, 'done on attempt 1')
  assert.equal(started.items.length, 1)
})
