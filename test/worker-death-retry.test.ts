import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, JobExceptionError, JobFailedError, WorkerLostError } from '../src/index.js'
import { deferred, EventLog, untilAborted } from './helpers.js'

const limits = { timeout: 10_000 }

function isWorkerLost(attempts: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof WorkerLostError)
    assert.equal(err.code, 'GEARBOX_WORKER_LOST')
    assert.equal(err.attempts, attempts)
    return true
  }
}

test('a job whose worker dies goes back to the head of its lane and runs again elsewhere', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const log = new EventLog<string>()
  const abortReasons: unknown[] = []

  const doomed = broker.worker({ id: 'doomed', encoder: 'utf8' })
  doomed.register('work', async (job) => {
    log.push(`doomed:${job.payload}:${job.attempt}`)
    const reason = await untilAborted(job.signal)
    abortReasons.push(reason)
    throw reason
  })
  const requests = [client.submit('work', 'j1'), client.submit('work', 'j2'), client.submit('work', 'j3')]
  await log.waitFor(1)

  await doomed.close({ graceful: false })
  assert.equal(abortReasons.length, 1)
  const [reason] = abortReasons
  assert.ok(reason instanceof WorkerLostError)
  assert.equal(reason.code, 'GEARBOX_WORKER_LOST')

  // j1 is back in line ahead of j2 and j3, with its attempt counted
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.handle, j.state, j.attempts]),
    [
      [requests[0]?.handle, 'queued', 1],
      [requests[1]?.handle, 'queued', 0],
      [requests[2]?.handle, 'queued', 0],
    ],
  )

  broker.worker({ id: 'healthy', encoder: 'utf8' }).register('work', (job) => {
    log.push(`healthy:${job.payload}:${job.attempt}`)
    return `${job.payload} done`
  })
  assert.deepEqual(await Promise.all(requests), ['j1 done', 'j2 done', 'j3 done'])
  assert.deepEqual(log.items, ['doomed:j1:1', 'healthy:j1:2', 'healthy:j2:1', 'healthy:j3:1'])
})

test('a retried job keeps its place ahead of younger jobs of its lane, behind higher lanes', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const log = new EventLog<string>()
  const doomed = broker.worker({ encoder: 'utf8' })
  doomed.register('work', async (job) => {
    log.push(`doomed:${job.payload}`)
    throw await untilAborted(job.signal)
  })
  const lost = client.submit('work', 'lost', { priority: 'low' })
  await log.waitFor(1)
  const others = [
    client.submit('work', 'low-younger', { priority: 'low' }),
    client.submit('work', 'high', { priority: 'high' }),
    client.submit('work', 'normal', { priority: 'normal' }),
  ]
  await doomed.close({ graceful: false })

  broker.worker({ encoder: 'utf8' }).register('work', (job) => {
    log.push(`healthy:${job.payload}:${job.attempt}`)
    return job.payload
  })
  await Promise.all([lost, ...others])
  assert.deepEqual(log.items, ['doomed:lost', 'healthy:high:1', 'healthy:normal:1', 'healthy:lost:2', 'healthy:low-younger:1'])
})

test('after jobRetries lost attempts (default 3) every attached client gets WorkerLostError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const attempts = new EventLog<number>()
  const a = broker.client({ encoder: 'utf8' }).submit('flaky', 'x', { unique: 'flaky-1' })
  const b = broker.client({ encoder: 'utf8' }).submit('flaky', 'x', { unique: 'flaky-1' })
  const settled: string[] = []
  void a.result.catch(() => settled.push('a'))
  void b.result.catch(() => settled.push('b'))

  for (let attempt = 1; attempt <= 3; attempt++) {
    const worker = broker.worker({ encoder: 'utf8' })
    worker.register('flaky', async (job) => {
      attempts.push(job.attempt)
      throw await untilAborted(job.signal)
    })
    await attempts.waitFor(attempt)
    assert.deepEqual(settled, [], `still pending before loss ${attempt}`)
    await worker.close({ graceful: false })
  }

  await assert.rejects(a.result, isWorkerLost(3))
  await assert.rejects(b.result, isWorkerLost(3))
  assert.deepEqual(attempts.items, [1, 2, 3])
  assert.deepEqual(settled, ['a', 'b'])
  assert.equal(broker.size, 0)
})

test('jobRetries: 1 never retries; jobRetries: 0 retries without limit', limits, async (t) => {
  const once = new Broker({ jobRetries: 1 })
  t.after(() => once.close({ graceful: false }))
  const request = once.client().submit('job', 'x')
  const w = once.worker()
  const started = deferred()
  w.register('job', async (job) => {
    started.resolve()
    throw await untilAborted(job.signal)
  })
  await started.promise
  await w.close({ graceful: false })
  await assert.rejects(request.result, isWorkerLost(1))

  const forever = new Broker({ jobRetries: 0 })
  t.after(() => forever.close({ graceful: false }))
  const attempts = new EventLog<number>()
  const survivor = forever.client({ encoder: 'utf8' }).submit('job', 'x')
  for (let attempt = 1; attempt <= 5; attempt++) {
    const worker = forever.worker({ encoder: 'utf8' })
    worker.register('job', async (job) => {
      attempts.push(job.attempt)
      throw await untilAborted(job.signal)
    })
    await attempts.waitFor(attempt)
    await worker.close({ graceful: false })
  }
  forever.worker({ encoder: 'utf8' }).register('job', (job) => {
    attempts.push(job.attempt)
    return `finished on attempt ${job.attempt}`
  })
  assert.equal(await survivor, 'finished on attempt 6')
  assert.deepEqual(attempts.items, [1, 2, 3, 4, 5, 6])
})

test('a handler that throws WorkerLostError has its job retried', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const attempts: number[] = []
  broker.worker({ encoder: 'utf8' }).register('fetch', (job) => {
    attempts.push(job.attempt)
    if (job.attempt < 3) throw new WorkerLostError('connection reset')
    return `fetched on attempt ${job.attempt}`
  })
  const result = await broker.client({ encoder: 'utf8' }).submit('fetch', 'url')
  assert.equal(result, 'fetched on attempt 3')
  assert.deepEqual(attempts, [1, 2, 3])

  // and it counts against jobRetries like any other loss
  const exhausted = broker.client({ encoder: 'utf8' }).submit('always-lost', 'x')
  const lostAttempts: number[] = []
  broker.worker({ encoder: 'utf8' }).register('always-lost', (job) => {
    lostAttempts.push(job.attempt)
    throw new WorkerLostError('crashed')
  })
  await assert.rejects(exhausted.result, isWorkerLost(3))
  assert.deepEqual(lostAttempts, [1, 2, 3])
})

test('a handler throwing JobFailedError fails the job at once, without retries', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const attempts: number[] = []
  const failure = new JobFailedError('card declined')
  broker.worker({ encoder: 'utf8' }).register('charge', (job) => {
    attempts.push(job.attempt)
    throw failure
  })
  const a = broker.client({ encoder: 'utf8' }).submit('charge', '42', { unique: 'order-42' })
  const b = broker.client({ encoder: 'utf8' }).submit('charge', '42', { unique: 'order-42' })

  for (const request of [a, b]) {
    await assert.rejects(request.result, (err: unknown) => {
      assert.ok(err instanceof JobFailedError)
      assert.equal(err.code, 'GEARBOX_JOB_FAILED')
      return true
    })
  }
  await broker.idle()
  assert.deepEqual(attempts, [1])
  assert.equal(broker.size, 0)
})

test('a handler throwing any other error gives JobExceptionError with it as cause, for that job only', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const attempts: string[] = []
  const boom = new TypeError('cannot read properties of undefined')
  broker.worker({ encoder: 'utf8' }).register('parse', (job) => {
    attempts.push(`${job.payload}:${job.attempt}`)
    if (job.payload === 'bad') throw boom
    return `parsed ${job.payload}`
  })
  const client = broker.client({ encoder: 'utf8' })

  const outcomes = await Promise.allSettled([client.submit('parse', 'good-1'), client.submit('parse', 'bad'), client.submit('parse', 'good-2')])
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  const [first, second, third] = outcomes
  assert.deepEqual(first, { status: 'fulfilled', value: 'parsed good-1' })
  assert.deepEqual(third, { status: 'fulfilled', value: 'parsed good-2' })
  assert.ok(second.status === 'rejected')
  const err: unknown = second.reason
  assert.ok(err instanceof JobExceptionError)
  assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
  assert.equal(err.cause, boom)

  await broker.idle()
  assert.deepEqual(attempts, ['good-1:1', 'bad:1', 'good-2:1'])
})

test('an async handler rejecting with a non-Error value gives JobExceptionError with that value as cause', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const thrown = { reason: 'quota exceeded', retryAfter: 30 }
  broker.worker().register('upload', () => Promise.reject(thrown as unknown))
  await assert.rejects(broker.client().submit('upload', 'file').result, (err: unknown) => {
    assert.ok(err instanceof JobExceptionError)
    assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
    assert.equal(err.cause, thrown)
    return true
  })
})
