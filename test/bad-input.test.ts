import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import {
  Broker,
  BrokerClosedError,
  type BrokerOptions,
  InvalidArgumentError,
  JobExceptionError,
  MAX_FUNCTION_NAME_BYTES,
  MAX_UNIQUE_BYTES,
} from '../src/index.js'
import { EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

/** Lets a test pass a value of the wrong type where the API is typed. */
function bad(value: unknown): never {
  return value as never
}

function label(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}… (${value.length})` : value)
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (value === undefined) return 'undefined'
  try {
    return JSON.stringify(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

function isInvalid(err: unknown): true {
  assert.ok(err instanceof InvalidArgumentError, `expected an InvalidArgumentError, got ${String(err)}`)
  assert.equal(err.code, 'GEARBOX_INVALID_ARGUMENT')
  assert.equal(typeof err.argument, 'string')
  return true
}

function isClosed(err: unknown): true {
  assert.ok(err instanceof BrokerClosedError, `expected a BrokerClosedError, got ${String(err)}`)
  assert.equal(err.code, 'GEARBOX_BROKER_CLOSED')
  return true
}

interface Setup {
  readonly broker: Broker
  readonly client: ReturnType<typeof utf8Client>
  readonly worker: ReturnType<typeof utf8Worker>
  /** The functions that should exist: `echo` plus any a test created on purpose. */
  readonly functions: Set<string>
  /** Counts jobs a test submitted on purpose (each takes a handle). */
  accepted(n?: number): void
  /**
   * Nothing is queued or running, the functions are exactly `functions`, the worker `w` still has `echo`
   * once, no handle was consumed, and a normal job still completes.
   */
  undisturbed(after?: string): Promise<void>
  /** `call` throws InvalidArgumentError synchronously; then nothing is disturbed. */
  throws(what: string, call: () => unknown): Promise<void>
  /** `call` throws or rejects with InvalidArgumentError; then nothing is disturbed. */
  fails(what: string, call: () => unknown): Promise<void>
}

function utf8Client(broker: Broker) {
  return broker.client({ encoder: 'utf8' })
}

function utf8Worker(broker: Broker) {
  return broker.worker({ id: 'w', encoder: 'utf8' })
}

function setup(t: TestContext, options: BrokerOptions = {}): Setup {
  const broker = new Broker({ handlePrefix: 'T', ...options })
  t.after(() => broker.close({ graceful: false }))
  const worker = utf8Worker(broker)
  worker.register('echo', (job) => job.payload)
  const client = utf8Client(broker)
  const functions = new Set(['echo'])
  let nextHandle = 1
  const s: Setup = {
    broker,
    client,
    worker,
    functions,
    accepted(n = 1) {
      nextHandle += n
    },
    async undisturbed(after = '') {
      const context = after === '' ? '' : ` (after ${after})`
      await broker.idle()
      const status = await broker.admin.status()
      assert.deepEqual(status.map((f) => f.name).sort(), [...functions].sort(), `functions${context}`)
      for (const f of status) assert.deepEqual([f.name, f.total, f.queued, f.running], [f.name, 0, 0, 0], `status${context}`)
      assert.deepEqual(await broker.admin.showJobs(), [], `showJobs${context}`)
      const registered = (await broker.admin.workers()).find((w) => w.id === 'w')
      assert.deepEqual(
        registered?.functions.filter((name) => name === 'echo'),
        ['echo'],
        `registrations${context}`,
      )
      const request = client.submit('echo', 'still works')
      assert.equal(request.handle, `T:${nextHandle}`, `no handle was consumed${context}`)
      nextHandle++
      assert.equal(await request, 'still works', `a normal job completes${context}`)
    },
    async throws(what, call) {
      assert.throws(call, isInvalid, what)
      await s.undisturbed(what)
    },
    async fails(what, call) {
      await assert.rejects(Promise.resolve().then(call), isInvalid, what)
      await s.undisturbed(what)
    },
  }
  return s
}

test('a non-string function name is refused everywhere', limits, async (t) => {
  const s = setup(t)
  for (const name of [42, undefined, null, {}, ['echo'], Buffer.from('echo')]) {
    const n = bad(name)
    const l = label(name)
    await s.throws(`submit ${l}`, () => s.client.submit(n, 'x'))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground(n, 'x'))
    await s.throws(`submitMany ${l}`, () => s.client.submitMany([{ name: n, payload: 'x' }]))
    await s.throws(`register ${l}`, () => {
      s.worker.register(n, () => 'x')
    })
    await s.throws(`unregister ${l}`, () => s.worker.unregister(n))
    await s.fails(`createFunction ${l}`, () => s.broker.admin.createFunction(n))
    await s.fails(`dropFunction ${l}`, () => s.broker.admin.dropFunction(n))
    await s.fails(`maxQueue ${l}`, () => s.broker.admin.maxQueue(n, 1))
    await s.fails(`cancelJob ${l}`, () => s.broker.admin.cancelJob(n))
    await s.fails(`getStatus ${l}`, () => s.client.getStatus(n))
    await s.fails(`getStatusByUnique ${l}`, () => s.client.getStatusByUnique(n))
    await s.fails(`getResult ${l}`, () => s.client.getResult(n))
  }
})

test('an empty function name is refused', limits, async (t) => {
  const s = setup(t)
  await s.throws('submit', () => s.client.submit('', 'x'))
  await s.fails('submitBackground', () => s.client.submitBackground('', 'x'))
  await s.throws('submitMany', () => s.client.submitMany([{ name: '', payload: 'x' }]))
  await s.throws('register', () => {
    s.worker.register('', () => 'x')
  })
  await s.fails('createFunction', () => s.broker.admin.createFunction(''))
})

test('a function name over 512 bytes (counted in UTF-8 bytes) or containing NUL is refused', limits, async (t) => {
  const s = setup(t)
  assert.equal(MAX_FUNCTION_NAME_BYTES, 512)
  const refused = [
    'a'.repeat(513),
    'é'.repeat(257), // 257 characters, 514 bytes
    '€'.repeat(171), // 171 characters, 513 bytes
    'a'.repeat(511) + 'é', // 512 characters, 513 bytes
    'a\0b',
  ]
  for (const name of refused) {
    const l = label(name)
    await s.throws(`submit ${l}`, () => s.client.submit(name, 'x'))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground(name, 'x'))
    await s.throws(`register ${l}`, () => {
      s.worker.register(name, () => 'x')
    })
    await s.fails(`createFunction ${l}`, () => s.broker.admin.createFunction(name))
  }

  // exactly 512 bytes is fine
  for (const name of ['a'.repeat(512), 'é'.repeat(256)]) {
    s.worker.register(name, (job) => `${job.name.length}:${job.payload}`)
    s.functions.add(name)
    assert.equal(await s.client.submit(name, 'ok'), `${name.length}:ok`)
    s.accepted()
    await s.undisturbed(label(name))
  }
})

test('a unique over 64 bytes is refused: 64 accepted, 65 rejected, counting bytes not characters', limits, async (t) => {
  const s = setup(t)
  assert.equal(MAX_UNIQUE_BYTES, 64)
  const refused = [
    'u'.repeat(65),
    'é'.repeat(33), // 33 characters, 66 bytes
    'a'.repeat(63) + 'é', // 64 characters, 65 bytes
    '€'.repeat(22), // 22 characters, 66 bytes
    '😀'.repeat(16) + 'a', // 33 UTF-16 units, 65 bytes
  ]
  for (const unique of refused) {
    const l = label(unique)
    await s.throws(`submit ${l}`, () => s.client.submit('echo', 'x', { unique }))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground('echo', 'x', { unique }))
    await s.fails(`submitBackground to a new function ${l}`, () => s.client.submitBackground('fresh', 'x', { unique }))
  }

  const seen = new EventLog<string>()
  s.worker.register('keyed', (job) => {
    seen.push(job.unique)
    return job.payload
  })
  s.functions.add('keyed')
  const fits = ['u'.repeat(64), 'é'.repeat(32), '€'.repeat(21) + 'a', '😀'.repeat(16)]
  for (const unique of fits) {
    assert.equal(Buffer.byteLength(unique), 64)
    assert.equal(await s.client.submit('keyed', 'ok', { unique }), 'ok')
    s.accepted()
    await s.undisturbed(label(unique))
  }
  // the unique reaches the worker whole (no truncation)
  assert.deepEqual(seen.items, fits)
})

test('a unique containing NUL or that is not a string is refused', limits, async (t) => {
  const s = setup(t)
  for (const value of ['a\0b', '\0', 'tail\0', 42, {}, null, true]) {
    const unique = bad(value)
    const l = label(value)
    await s.throws(`submit ${l}`, () => s.client.submit('echo', 'x', { unique }))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground('echo', 'x', { unique }))
  }
})

test('an unknown priority is refused', limits, async (t) => {
  const s = setup(t)
  for (const value of ['urgent', 'HIGH', 'Normal', '', 0, 1, null, {}]) {
    const priority = bad(value)
    const l = label(value)
    await s.throws(`submit ${l}`, () => s.client.submit('echo', 'x', { priority }))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground('echo', 'x', { priority }))
    await s.throws(`submitMany ${l}`, () => s.client.submitMany([{ name: 'echo', payload: 'x', options: { priority } }]))
  }
})

const badCounts: unknown[] = [-1, 1.5, Number.NaN, Infinity, -Infinity, '3', null, true]

test('negative, fractional or NaN jobRetries, maxQueue and workerWakeup are refused by the broker', limits, async (t) => {
  for (const value of badCounts) {
    const v = bad(value)
    assert.throws(() => new Broker({ jobRetries: v }), isInvalid, `jobRetries ${label(value)}`)
    assert.throws(() => new Broker({ maxQueue: v }), isInvalid, `maxQueue ${label(value)}`)
    assert.throws(() => new Broker({ workerWakeup: v }), isInvalid, `workerWakeup ${label(value)}`)
  }
  const s = setup(t)
  await s.undisturbed()
})

test('negative, fractional or NaN admin.maxQueue limits are refused and the limits stay as they were', limits, async (t) => {
  const s = setup(t)
  assert.equal(await s.broker.admin.maxQueue('echo', 5), true)
  const shapes: unknown[] = [...badCounts, { high: -1 }, { normal: 1.5 }, { low: Number.NaN }, { high: 1, normal: 1, low: -1 }, 'all']
  for (const limit of shapes) {
    await s.fails(`maxQueue ${label(limit)}`, () => s.broker.admin.maxQueue('echo', bad(limit)))
    const row = (await s.broker.admin.status()).find((f) => f.name === 'echo')
    assert.deepEqual(row?.maxQueue, { high: 5, normal: 5, low: 5 }, label(limit))
  }
})

test('negative, fractional or NaN timeouts are refused', limits, async (t) => {
  const s = setup(t)
  for (const value of badCounts) {
    const timeout = bad(value)
    const l = label(value)
    await s.throws(`submit ${l}`, () => s.client.submit('echo', 'x', { timeout }))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground('echo', 'x', { timeout }))
    await s.throws(`register ${l}`, () => {
      s.worker.register('timed', () => 'x', { timeout })
    })
    await s.fails(`waitAll ${l}`, () => s.client.waitAll([], { timeout }))
    await s.fails(`idle ${l}`, () => s.broker.idle({ timeout }))
    await s.fails(`worker.close ${l}`, () => s.worker.close({ timeout }))
    await s.fails(`broker.close ${l}`, () => s.broker.close({ timeout }))
    assert.equal(s.broker.closed, false)
  }
})

test('zero, negative, fractional or NaN concurrency is refused', limits, async (t) => {
  const s = setup(t)
  for (const value of [0, ...badCounts.filter((v) => v !== Infinity)]) {
    const concurrency = bad(value)
    const l = label(value)
    await s.throws(`register ${l}`, () => {
      s.worker.register('parallel', () => 'x', { concurrency })
    })
    await s.throws(`worker ${l}`, () => s.broker.worker({ concurrency }))
    assert.deepEqual(await s.broker.admin.workers(), [{ id: 'w', functions: ['echo'], running: 0 }], l)
  }
})

test('a negative, fractional, NaN or unbounded resultCache is refused', limits, async (t) => {
  const shapes: unknown[] = [
    { max: -1, ttl: 10 },
    { max: 10, ttl: -1 },
    { max: 1.5, ttl: 10 },
    { max: 10, ttl: 1.5 },
    { max: Number.NaN, ttl: 10 },
    { max: 10, ttl: Number.NaN },
    { max: 0, ttl: 10 },
    { max: 10 },
  ]
  for (const resultCache of shapes) {
    assert.throws(() => new Broker({ resultCache: bad(resultCache) }), isInvalid, label(resultCache))
  }
  const s = setup(t)
  await s.undisturbed()
})

test('a handler that is not a function is refused', limits, async (t) => {
  const s = setup(t)
  for (const handler of ['echo', null, undefined, {}, 42]) {
    await s.throws(label(handler), () => {
      s.worker.register('nohandler', bad(handler))
    })
    assert.deepEqual(await s.broker.admin.workers(), [{ id: 'w', functions: ['echo'], running: 0 }])
  }
})

test('registering the same function twice on one worker is refused; the first registration keeps working', limits, async (t) => {
  const s = setup(t)
  await s.throws('second register', () => {
    s.worker.register('echo', () => 'second handler')
  })
  const row = (await s.broker.admin.status()).find((f) => f.name === 'echo')
  assert.equal(row?.workers, 1)
  assert.deepEqual(await s.broker.admin.workers(), [{ id: 'w', functions: ['echo'], running: 0 }])
  // another worker may register it
  s.broker.worker({ id: 'other' }).register('echo', () => 'other')
  assert.equal((await s.broker.admin.status()).find((f) => f.name === 'echo')?.workers, 2)
})

test('a bad `at` is refused', limits, async (t) => {
  const s = setup(t)
  for (const value of [-1, Number.NaN, Infinity, 'tomorrow', new Date('not a date'), {}, null, true]) {
    const at = bad(value)
    await s.fails(`at ${label(value)}`, () => s.client.submitBackground('echo', 'x', { at }))
    await s.fails(`at ${label(value)} on a new function`, () => s.client.submitBackground('later', 'x', { at }))
  }
})

test('a signal that is not an AbortSignal is refused', limits, async (t) => {
  const s = setup(t)
  for (const value of [{}, 'abort', 1, new AbortController(), { aborted: false, addEventListener: () => undefined }, null]) {
    const signal = bad(value)
    const l = value instanceof AbortController ? 'an AbortController' : label(value)
    await s.throws(`submit ${l}`, () => s.client.submit('echo', 'x', { signal }))
    await s.fails(`submitBackground ${l}`, () => s.client.submitBackground('echo', 'x', { signal }))
    await s.fails(`waitAll ${l}`, () => s.client.waitAll([], { signal }))
    await s.fails(`idle ${l}`, () => s.broker.idle({ signal }))
  }
})

test('a bad clock or bad broker options are refused', limits, async (t) => {
  const clocks: unknown[] = [
    {},
    'system',
    42,
    { now: () => 0 },
    { now: () => 0, setTimeout: () => 1 },
    { now: 0, setTimeout: () => 1, clearTimeout: () => undefined },
  ]
  for (const clock of clocks) {
    assert.throws(() => new Broker({ clock: bad(clock) }), isInvalid, label(clock))
  }
  for (const options of [null, 'options', 42]) {
    assert.throws(() => new Broker(bad(options)), isInvalid, label(options))
  }
  assert.throws(() => new Broker({ handlePrefix: '' }), isInvalid)
  assert.throws(() => new Broker({ handlePrefix: bad(7) }), isInvalid)
  assert.throws(() => new Broker({ roundRobin: bad('yes') }), isInvalid)
  const s = setup(t)
  await s.undisturbed()
})

test('submitMany and waitAll refuse something that is not an array', limits, async (t) => {
  const s = setup(t)
  for (const value of [null, 'echo', { name: 'echo', payload: 'x' }, 42]) {
    await s.throws(`submitMany ${label(value)}`, () => s.client.submitMany(bad(value)))
    await s.fails(`waitAll ${label(value)}`, () => s.client.waitAll(bad(value)))
  }
})

test('submitMany with one bad entry submits none of them', limits, async (t) => {
  const s = setup(t)
  await s.throws('a bad priority in the last entry', () =>
    s.client.submitMany([
      { name: 'nobody', payload: 'first' },
      { name: 'echo', payload: 'second', options: { unique: 'u1' } },
      { name: 'nobody', payload: 'bad', options: { priority: bad('urgent') } },
    ]),
  )
  await s.throws('an empty name in the last entry', () =>
    s.client.submitMany([
      { name: 'nobody', payload: 'first' },
      { name: '', payload: 'x' },
    ]),
  )
})

test('submits after close are refused with BrokerClosedError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const worker = broker.worker({ encoder: 'utf8' })
  worker.register('echo', (job) => job.payload)
  const client = broker.client({ encoder: 'utf8' })
  assert.equal(await client.submit('echo', 'before'), 'before')

  // a closed client refuses, the others do not
  const closedClient = broker.client({ encoder: 'utf8' })
  await closedClient.close()
  await assert.rejects(closedClient.submit('echo', 'x'), isClosed)
  await assert.rejects(closedClient.submitBackground('echo', 'x'), isClosed)
  assert.deepEqual(await broker.admin.showJobs(), [])
  assert.equal(await client.submit('echo', 'still open'), 'still open')

  await broker.close()
  const request = client.submit('echo', 'x')
  await assert.rejects(request, isClosed)
  assert.equal(request.handle, undefined)
  await assert.rejects(client.submitBackground('echo', 'x'), isClosed)
  for (const r of client.submitMany([
    { name: 'echo', payload: 'a' },
    { name: 'echo', payload: 'b' },
  ])) {
    await assert.rejects(r, isClosed)
  }
  await assert.rejects(broker.client({ encoder: 'utf8' }).submit('echo', 'x'), isClosed)
  assert.throws(() => broker.worker(), isClosed)
  assert.throws(() => {
    worker.register('late', () => 'x')
  }, isClosed)
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('a handler that throws produces an exception for its job only', limits, async (t) => {
  const s = setup(t)
  const thrown = { sync: new Error('sync boom'), async: new TypeError('async boom'), text: 'just a string' }
  s.worker.register(
    'risky',
    (job) => {
      switch (job.payload) {
        case 'sync':
          throw thrown.sync
        case 'async':
          return Promise.reject(thrown.async)
        case 'text':
          throw thrown.text // eslint-disable-line @typescript-eslint/only-throw-error -- a handler may throw anything
        default:
          return `ok ${job.payload}`
      }
    },
    { concurrency: 8 },
  )
  const payloads = ['a', 'sync', 'b', 'async', 'c', 'text', 'd']
  const results = await Promise.allSettled(payloads.map((p) => s.client.submit('risky', p)))
  s.accepted(payloads.length)
  const summary = results.map((r) => {
    if (r.status === 'fulfilled') return r.value
    const err: unknown = r.reason
    assert.ok(err instanceof JobExceptionError, `expected a JobExceptionError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
    return err.cause
  })
  assert.deepEqual(summary, ['ok a', thrown.sync, 'ok b', thrown.async, 'ok c', thrown.text, 'ok d'])
  assert.equal(await s.client.submit('risky', 'after'), 'ok after')
  s.accepted()
  s.functions.add('risky')
  await s.undisturbed()
})

test('promise-returning methods report bad arguments by rejecting, never by throwing synchronously', limits, async (t) => {
  const s = setup(t)
  const calls: [string, () => Promise<unknown>][] = [
    ['client.submitBackground', () => s.client.submitBackground('', 'x')],
    ['client.waitAll', () => s.client.waitAll([], { timeout: -1 })],
    ['client.getStatus', () => s.client.getStatus(bad(1))],
    ['client.getStatusByUnique', () => s.client.getStatusByUnique(bad(1))],
    ['client.getResult', () => s.client.getResult(bad(1))],
    ['admin.dropFunction', () => s.broker.admin.dropFunction(bad(1))],
    ['admin.createFunction', () => s.broker.admin.createFunction('')],
    ['admin.maxQueue', () => s.broker.admin.maxQueue('echo', -1)],
    ['admin.cancelJob', () => s.broker.admin.cancelJob(bad(1))],
    ['broker.idle', () => s.broker.idle({ timeout: -1 })],
    ['broker.close', () => s.broker.close({ timeout: -1 })],
    ['worker.close', () => s.worker.close({ timeout: -1 })],
  ]
  const syncThrows: string[] = []
  for (const [name, call] of calls) {
    let promise: Promise<unknown>
    try {
      promise = call()
    } catch (err) {
      isInvalid(err)
      syncThrows.push(name)
      continue
    }
    await assert.rejects(promise, isInvalid, name)
  }
  assert.deepEqual(syncThrows, [], 'these threw synchronously instead of returning a rejected promise')
  await s.undisturbed()
})
