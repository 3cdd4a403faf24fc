import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  Broker,
  EncodingError,
  type Encoder,
  InvalidArgumentError,
  JobExceptionError,
  type JobUpdate,
} from '../src/index.js'
import { EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

function isEncodingFailure(err: unknown): true {
  assert.ok(err instanceof JobExceptionError, `expected a JobExceptionError, got ${String(err)}`)
  assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
  assert.ok(err.cause instanceof EncodingError, `expected an EncodingError cause, got ${String(err.cause)}`)
  assert.equal(err.cause.code, 'GEARBOX_ENCODING')
  return true
}

async function collect<T>(updates: AsyncIterable<JobUpdate<T>>): Promise<JobUpdate<T>[]> {
  const out: JobUpdate<T>[] = []
  for await (const u of updates) out.push(u)
  return out
}

test('raw is the default: strings go out as UTF-8 bytes and results come back as Buffers', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const seen = new EventLog<{ data: Buffer; payload: unknown }>()
  broker.worker().register('echo', (job) => {
    seen.push({ data: job.data, payload: job.payload })
    if (job.data.toString('utf8') === 'string please') return 'héllo back'
    return job.data
  })
  const client = broker.client()

  const fromString = await client.submit('echo', 'héllo ✓')
  assert.ok(Buffer.isBuffer(fromString))
  assert.deepEqual(fromString, Buffer.from('héllo ✓', 'utf8'))

  const bytes = new Uint8Array([0, 1, 2, 255])
  const fromBytes = await client.submit('echo', bytes)
  assert.ok(Buffer.isBuffer(fromBytes))
  assert.deepEqual([...fromBytes], [0, 1, 2, 255])

  const empty = await client.submit('echo', null)
  assert.ok(Buffer.isBuffer(empty))
  assert.equal(empty.length, 0)

  // a handler returning a string sends its UTF-8 bytes
  const stringResult = await client.submit('echo', 'string please')
  assert.deepEqual(stringResult, Buffer.from('héllo back', 'utf8'))

  const [first] = await seen.waitFor(1)
  assert.ok(first)
  assert.ok(Buffer.isBuffer(first.data))
  assert.ok(Buffer.isBuffer(first.payload))
  assert.deepEqual(first.payload, Buffer.from('héllo ✓', 'utf8'))
})

test("'utf8' sends and receives strings, updates included", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const payloads = new EventLog<unknown>()
  broker.worker({ encoder: 'utf8' }).register('shout', (job) => {
    payloads.push(job.payload)
    job.sendData(`half of ${job.payload}`)
    return job.payload.toUpperCase()
  })
  const request = broker.client({ encoder: 'utf8' }).submit('shout', 'ünïcode')
  assert.equal(await request, 'ÜNÏCODE')
  assert.deepEqual(await collect(request.updates()), [{ type: 'data', data: 'half of ünïcode' }])
  assert.deepEqual(payloads.items, ['ünïcode'])

  // a utf8 worker reads what a raw client sent as bytes
  const raw = await broker.client().submit('shout', Buffer.from('bytes', 'utf8'))
  assert.deepEqual(raw, Buffer.from('BYTES', 'utf8'))
})

test("'json' round-trips objects and decodes updates", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  interface Order {
    id: number
    items: string[]
    meta: { rush: boolean; note: null }
  }
  broker.worker({ encoder: 'json' }).register('pack', (job) => {
    const order = job.payload as Order
    job.sendData({ packed: order.items[0] })
    job.sendWarning({ low: 'tape' })
    job.sendStatus(1, 2)
    job.sendData([1, 'two', null])
    return { id: order.id, count: order.items.length, rush: order.meta.rush, nested: { list: [true, false] } }
  })
  const order: Order = { id: 7, items: ['box', 'bag'], meta: { rush: true, note: null } }
  const request = broker.client({ encoder: 'json' }).submit('pack', order)
  assert.deepEqual(await request, { id: 7, count: 2, rush: true, nested: { list: [true, false] } })
  assert.deepEqual(await collect(request.updates()), [
    { type: 'data', data: { packed: 'box' } },
    { type: 'warning', data: { low: 'tape' } },
    { type: 'status', numerator: 1, denominator: 2 },
    { type: 'data', data: [1, 'two', null] },
  ])
})

test("'json' carries plain values and undefined as no bytes", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const sizes = new EventLog<number>()
  broker.worker({ encoder: 'json' }).register('id', (job) => {
    sizes.push(job.data.length)
    return job.payload
  })
  const client = broker.client({ encoder: 'json' })
  assert.equal(await client.submit('id', 42), 42)
  assert.equal(await client.submit('id', 'text'), 'text')
  assert.equal(await client.submit('id', null), null)
  assert.equal(await client.submit('id', undefined), undefined)
  assert.deepEqual(sizes.items, [2, 6, 4, 0])
})

test('a custom encoder works on both client and worker', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const float64: Encoder<number> = {
    encode(value) {
      const b = Buffer.alloc(8)
      b.writeDoubleBE(value)
      return b
    },
    decode(data) {
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readDoubleBE(0)
    },
  }
  const lengths = new EventLog<number>()
  broker.worker({ encoder: float64 }).register('double', (job) => {
    lengths.push(job.data.length)
    job.sendData(job.payload / 2)
    return job.payload * 2
  })
  const request = broker.client({ encoder: float64 }).submit('double', 21.25)
  assert.equal(await request, 42.5)
  assert.deepEqual(await collect(request.updates()), [{ type: 'data', data: 10.625 }])
  assert.deepEqual(lengths.items, [8])
  // what went over is the encoder's bytes
  const raw = await broker.client().submit('double', float64.encode(1.5))
  assert.deepEqual(raw, float64.encode(3))
})

test('a handler result the json encoder cannot encode fails that job only, with an EncodingError cause', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker({ encoder: 'json' }).register(
    'build',
    (job) => {
      if (job.payload === 'circular') {
        const loop: Record<string, unknown> = {}
        loop['self'] = loop
        return loop
      }
      if (job.payload === 'bigint') return 10n
      return { built: job.payload }
    },
    { concurrency: 4 },
  )
  const client = broker.client({ encoder: 'json' })
  const before = client.submit('build', 'a')
  const circular = client.submit('build', 'circular')
  const bigint = client.submit('build', 'bigint')
  const after = client.submit('build', 'b')
  await assert.rejects(circular, isEncodingFailure)
  await assert.rejects(bigint, isEncodingFailure)
  assert.deepEqual(await before, { built: 'a' })
  assert.deepEqual(await after, { built: 'b' })
  // the worker keeps working
  assert.deepEqual(await client.submit('build', 'c'), { built: 'c' })
  await broker.idle()
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test('a raw worker returning a number fails that job with an EncodingError cause', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker().register('count', (job) => (job.data.toString() === 'number' ? (42 as unknown as string) : 'fine'))
  const client = broker.client({ encoder: 'utf8' })
  await assert.rejects(client.submit('count', 'number'), isEncodingFailure)
  assert.equal(await client.submit('count', 'other'), 'fine')
})

test('a custom encoder that throws on a result fails that job with an EncodingError cause', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const picky: Encoder<string> = {
    encode(value) {
      if (value === 'unencodable') throw new TypeError('no thanks')
      return Buffer.from(value, 'utf8')
    },
    decode: (data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
  }
  broker.worker({ encoder: picky }).register('pick', (job) => job.payload)
  const client = broker.client({ encoder: 'utf8' })
  await assert.rejects(client.submit('pick', 'unencodable'), (err) => {
    isEncodingFailure(err)
    assert.ok(err instanceof JobExceptionError && err.cause instanceof EncodingError)
    assert.ok(err.cause.cause instanceof TypeError, 'the encoder error is kept as the cause')
    return true
  })
  assert.equal(await client.submit('pick', 'fine'), 'fine')
})

test('a payload the client encoder cannot encode throws EncodingError and queues nothing', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const json = broker.client({ encoder: 'json' })
  const loop: Record<string, unknown> = {}
  loop['self'] = loop
  assert.throws(
    () => json.submit('f', loop),
    (err) => err instanceof EncodingError && err.code === 'GEARBOX_ENCODING',
  )
  await assert.rejects(json.submitBackground('f', loop), (err) => err instanceof EncodingError && err.code === 'GEARBOX_ENCODING')
  const utf8 = broker.client({ encoder: 'utf8' })
  assert.throws(
    () => utf8.submit('f', 42 as unknown as string),
    (err) => err instanceof EncodingError && err.code === 'GEARBOX_ENCODING',
  )
  assert.throws(
    () => broker.client().submit('f', 42 as unknown as string),
    (err) => err instanceof EncodingError && err.code === 'GEARBOX_ENCODING',
  )
  assert.deepEqual(await broker.admin.showJobs(), [])
  assert.deepEqual(await broker.admin.status(), [])
})

test('a custom client encoder that throws on a payload gives an EncodingError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const failing: Encoder<string> = {
    encode() {
      throw new RangeError('cannot encode')
    },
    decode: () => '',
  }
  assert.throws(
    () => broker.client({ encoder: failing }).submit('f', 'x'),
    (err) => {
      assert.ok(err instanceof EncodingError, `expected an EncodingError, got ${String(err)}`)
      assert.equal(err.code, 'GEARBOX_ENCODING')
      assert.ok(err.cause instanceof RangeError)
      return true
    },
  )
  assert.deepEqual(await broker.admin.showJobs(), [])
})

test("a result the client's custom encoder cannot decode rejects with an EncodingError", limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const strict: Encoder<string> = {
    encode: (value) => Buffer.from(value, 'utf8'),
    decode(data) {
      const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
      if (text === 'garbage') throw new SyntaxError('bad bytes')
      return text
    },
  }
  broker.worker({ encoder: 'utf8' }).register('f', (job) => job.payload)
  const client = broker.client({ encoder: strict })
  await assert.rejects(client.submit('f', 'garbage'), (err) => {
    assert.ok(err instanceof EncodingError, `expected an EncodingError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_ENCODING')
    assert.ok(err.cause instanceof SyntaxError)
    return true
  })
  assert.equal(await client.submit('f', 'fine'), 'fine')
})

test('a json result that is not valid JSON rejects with an EncodingError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker({ encoder: 'utf8' }).register('f', () => '{not json')
  await assert.rejects(broker.client({ encoder: 'json' }).submit('f', 1), (err) => {
    assert.ok(err instanceof EncodingError, `expected an EncodingError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_ENCODING')
    return true
  })
})

test('an invalid encoder option throws InvalidArgumentError', limits, async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  const bad: unknown[] = ['xml', 'JSON', '', 42, null, {}, { encode: () => new Uint8Array() }, { decode: () => 1 }, { encode: 1, decode: 2 }]
  const isInvalid = (err: unknown): boolean => {
    assert.ok(err instanceof InvalidArgumentError, `expected an InvalidArgumentError, got ${String(err)}`)
    assert.equal(err.code, 'GEARBOX_INVALID_ARGUMENT')
    return true
  }
  for (const encoder of bad) {
    assert.throws(() => broker.client({ encoder: encoder as 'raw' }), isInvalid, `client ${String(encoder)}`)
    assert.throws(() => broker.worker({ encoder: encoder as 'raw' }), isInvalid, `worker ${String(encoder)}`)
  }
  // no half-made worker was left behind
  assert.deepEqual(await broker.admin.workers(), [])
})
