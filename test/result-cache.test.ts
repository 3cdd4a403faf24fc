import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  Broker,
  FakeClock,
  InvalidArgumentError,
  JobExceptionError,
  JobFailedError,
  type ResultCacheOptions,
} from '../src/index.js'

const limits = { timeout: 10_000 }

/** A broker whose worker upper-cases 'ok:*' payloads, fails 'fail:*' ones and throws on 'throw:*'. */
function setup(resultCache: ResultCacheOptions | undefined, clock = new FakeClock()): Broker {
  const broker = resultCache === undefined ? new Broker({ clock }) : new Broker({ resultCache, clock })
  broker.worker({ encoder: 'utf8' }).register('job', (job) => {
    if (job.payload.startsWith('fail:')) throw new JobFailedError()
    if (job.payload.startsWith('throw:')) throw new Error('handler blew up')
    return job.payload.toUpperCase()
  })
  return broker
}

test("a finished background job's result can be fetched by handle", limits, async (t) => {
  const broker = setup({ max: 10, ttl: 60_000 })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const handle = await client.submitBackground('job', 'ok:abc')
  await broker.idle()
  assert.deepEqual(await client.getResult(handle), { state: 'completed', value: 'OK:ABC' })
  assert.deepEqual(await client.getStatus(handle), {
    handle,
    known: false,
    running: false,
    numerator: 0,
    denominator: 0,
    state: 'completed',
  })
  // each client decodes with its own encoder
  const raw = await broker.client().getResult(handle)
  assert.ok(raw?.state === 'completed')
  assert.ok(Buffer.isBuffer(raw.value))
  assert.equal(raw.value.toString('utf8'), 'OK:ABC')
  // still there when asked again
  assert.deepEqual(await client.getResult(handle), { state: 'completed', value: 'OK:ABC' })
})

test('a JSON result comes back decoded', limits, async (t) => {
  const broker = new Broker({ resultCache: { max: 10, ttl: 60_000 }, clock: new FakeClock() })
  t.after(() => broker.close({ graceful: false }))
  broker.worker({ encoder: 'json' }).register('sum', (job) => {
    const numbers = job.payload as number[]
    return { total: numbers.reduce((a, b) => a + b, 0) }
  })
  const client = broker.client({ encoder: 'json' })
  const handle = await client.submitBackground('sum', [1, 2, 3])
  await broker.idle()
  assert.deepEqual(await client.getResult(handle), { state: 'completed', value: { total: 6 } })
})

test('a foreground job is remembered too', limits, async (t) => {
  const broker = setup({ max: 10, ttl: 60_000 })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const request = client.submit('job', 'ok:fg')
  assert.equal(await request, 'OK:FG')
  const handle = request.handle
  assert.ok(handle !== undefined)
  assert.deepEqual(await client.getResult(handle), { state: 'completed', value: 'OK:FG' })
})

test("failures are remembered as state 'failed'", limits, async (t) => {
  const broker = setup({ max: 10, ttl: 60_000 })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const failed = await client.submitBackground('job', 'fail:1')
  const threw = await client.submitBackground('job', 'throw:1')
  await broker.idle()

  const failedResult = await client.getResult(failed)
  assert.ok(failedResult?.state === 'failed')
  assert.ok(failedResult.error instanceof JobFailedError)
  assert.equal(failedResult.error.code, 'GEARBOX_JOB_FAILED')
  assert.equal((await client.getStatus(failed)).state, 'failed')
  assert.equal((await client.getStatus(failed)).known, false)

  const threwResult = await client.getResult(threw)
  assert.ok(threwResult?.state === 'failed')
  assert.ok(threwResult.error instanceof JobExceptionError)
  assert.equal(threwResult.error.code, 'GEARBOX_JOB_EXCEPTION')
  assert.equal((await client.getStatus(threw)).state, 'failed')

  // a cancelled job is a failure too
  const cancelled = await client.submitBackground('nobody', 'x')
  assert.equal(await broker.admin.cancelJob(cancelled), true)
  const cancelledResult = await client.getResult(cancelled)
  assert.ok(cancelledResult?.state === 'failed')
  assert.equal((cancelledResult.error as { code?: unknown }).code, 'GEARBOX_JOB_CANCELLED')
})

test('the cache keeps at most `max` results, evicting the least recently used', limits, async (t) => {
  const broker = setup({ max: 2, ttl: 60_000 })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const h1 = await client.submitBackground('job', 'ok:1')
  await broker.idle()
  const h2 = await client.submitBackground('job', 'ok:2')
  await broker.idle()
  // use h1, so h2 is the least recently used
  assert.deepEqual(await client.getResult(h1), { state: 'completed', value: 'OK:1' })
  const h3 = await client.submitBackground('job', 'ok:3')
  await broker.idle()

  assert.equal(await client.getResult(h2), undefined)
  assert.equal((await client.getStatus(h2)).state, 'unknown')
  assert.deepEqual(await client.getResult(h3), { state: 'completed', value: 'OK:3' })
  assert.deepEqual(await client.getResult(h1), { state: 'completed', value: 'OK:1' })

  const h4 = await client.submitBackground('job', 'ok:4')
  await broker.idle()
  // h1 was read after h3, so h3 goes now
  assert.equal(await client.getResult(h3), undefined)
  assert.deepEqual(await client.getResult(h1), { state: 'completed', value: 'OK:1' })
  assert.deepEqual(await client.getResult(h4), { state: 'completed', value: 'OK:4' })
})

test('a result expires `ttl` ms after the job finished (FakeClock starting at 0)', limits, async (t) => {
  const clock = new FakeClock()
  const broker = setup({ max: 10, ttl: 1000 }, clock)
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const handle = await client.submitBackground('job', 'ok:x')
  await broker.idle()
  clock.advance(999)
  assert.deepEqual(await client.getResult(handle), { state: 'completed', value: 'OK:X' })
  assert.equal((await client.getStatus(handle)).state, 'completed')
  clock.advance(2)
  assert.equal(await client.getResult(handle), undefined)
  assert.equal((await client.getStatus(handle)).state, 'unknown')
})

test('a result expires `ttl` ms after the job finished (FakeClock at a real epoch)', limits, async (t) => {
  const clock = new FakeClock(Date.UTC(2030, 0, 1))
  const broker = setup({ max: 10, ttl: 1000 }, clock)
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })

  const handle = await client.submitBackground('job', 'ok:x')
  await broker.idle()
  clock.advance(500)
  assert.equal((await client.getStatus(handle)).state, 'completed')
  const later = await client.submitBackground('job', 'ok:y')
  await broker.idle()
  clock.advance(501)
  // the first is past its ttl, the second (finished 500 ms later) is not
  assert.equal(await client.getResult(handle), undefined)
  assert.equal((await client.getStatus(handle)).state, 'unknown')
  assert.deepEqual(await client.getResult(later), { state: 'completed', value: 'OK:Y' })
  clock.advance(500)
  assert.equal(await client.getResult(later), undefined)
})

test('without a resultCache nothing is remembered', limits, async (t) => {
  const broker = setup(undefined)
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const handle = await client.submitBackground('job', 'ok:x')
  await broker.idle()
  assert.equal(await client.getResult(handle), undefined)
  assert.equal((await client.getStatus(handle)).state, 'unknown')
  assert.equal(await client.getResult('H:nowhere:1'), undefined)
})

test('getResult of a live or unknown job resolves undefined', limits, async (t) => {
  const broker = new Broker({ resultCache: { max: 10, ttl: 60_000 }, clock: new FakeClock() })
  t.after(() => broker.close({ graceful: false }))
  const client = broker.client({ encoder: 'utf8' })
  const queued = await client.submitBackground('nobody', 'x')
  assert.equal(await client.getResult(queued), undefined)
  assert.equal((await client.getStatus(queued)).state, 'queued')
  assert.equal(await client.getResult('no-such-handle'), undefined)
})

test('an unbounded or invalid resultCache config throws InvalidArgumentError', limits, () => {
  const bad: unknown[] = [
    { max: 0, ttl: 10 },
    { max: 10 },
    { ttl: 10 },
    {},
    { max: -1, ttl: 10 },
    { max: 10, ttl: -5 },
    { max: 10, ttl: 0 },
    { max: 1.5, ttl: 10 },
    { max: 10, ttl: 2.5 },
    { max: Number.NaN, ttl: 10 },
    { max: 10, ttl: Number.NaN },
    { max: Infinity, ttl: 10 },
    { max: 10, ttl: Infinity },
    { max: '10', ttl: 10 },
    null,
    'big',
    10,
  ]
  for (const resultCache of bad) {
    assert.throws(
      () => new Broker({ resultCache: resultCache as ResultCacheOptions }),
      (err) => {
        assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(resultCache)} → ${String(err)}`)
        assert.equal(err.code, 'GEARBOX_INVALID_ARGUMENT')
        return true
      },
      JSON.stringify(resultCache),
    )
  }
})
