// ReplyWriter: the bytes it writes are exactly what the generic encoder makes of the same packets, across
// buffer growth, large payloads passed on as their own chunks, and recycled or abandoned buffers.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { encodePacket } from '../../src/protocol/encoder.js'
import { PACKET } from '../../src/protocol/packets.js'
import { ReplyWriter, type ReplySource } from '../../src/protocol/reply-writer.js'
import { limits } from './protocol-helpers.js'

/** A source that hands out small buffers (so writes often outgrow them) and records what comes back. */
class TestSource implements ReplySource {
  readonly size: number
  readonly returned: Buffer[] = []
  constructor(size: number) {
    this.size = size
  }
  get(): Buffer {
    // garbage in fresh buffers: the writer must not rely on zeroed memory
    return Buffer.alloc(this.size, 0xee)
  }
  put(buf: Buffer): void {
    this.returned.push(buf)
  }
}

type Reply =
  | { readonly kind: 'created'; readonly id: number }
  | { readonly kind: 'assign'; readonly id: number; readonly fn: string; readonly unique: string; readonly data: Buffer }
  | { readonly kind: 'complete'; readonly id: number; readonly data: Buffer }
  | { readonly kind: 'noop' | 'nojob' }
  | { readonly kind: 'bytes'; readonly data: Buffer }
  | { readonly kind: 'take' }

const START = Buffer.from('H:host-ü:', 'utf8')
const handle = (id: number): string => `${START.toString('utf8')}${id.toFixed(0)}`

function write(writer: ReplyWriter, reply: Reply): Buffer {
  switch (reply.kind) {
    case 'created':
      writer.jobCreated(START, reply.id)
      return encodePacket('RES', PACKET.JOB_CREATED, [handle(reply.id)])
    case 'assign':
      writer.jobAssignUniq(START, reply.id, Buffer.from(reply.fn, 'utf8'), reply.unique, reply.data)
      return encodePacket('RES', PACKET.JOB_ASSIGN_UNIQ, [handle(reply.id), reply.fn, reply.unique, reply.data])
    case 'complete':
      writer.workComplete(START, reply.id, reply.data)
      return encodePacket('RES', PACKET.WORK_COMPLETE, [handle(reply.id), reply.data])
    case 'noop':
      writer.empty(PACKET.NOOP)
      return encodePacket('RES', PACKET.NOOP, [])
    case 'nojob':
      writer.empty(PACKET.NO_JOB)
      return encodePacket('RES', PACKET.NO_JOB, [])
    case 'bytes':
      writer.bytes(reply.data)
      return reply.data
    case 'take':
      return Buffer.alloc(0)
  }
}

const id = fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(9, 10, 99, 100, 999_999, 1_000_000, Number.MAX_SAFE_INTEGER), fc.nat())
const text = fc.string({ maxLength: 12 }).map((s) => s.replace(/\0/g, ''))
// mostly small payloads, sometimes one of 64 KiB or more (passed on as its own chunk)
const data = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.integer({ min: 64 * 1024, max: 70 * 1024 }).map((n) => Buffer.alloc(n, n % 251)) },
)
const reply: fc.Arbitrary<Reply> = fc.oneof(
  id.map((i) => ({ kind: 'created' as const, id: i })),
  fc.record({ kind: fc.constant('assign' as const), id, fn: text, unique: text, data }),
  fc.record({ kind: fc.constant('complete' as const), id, data }),
  fc.constantFrom({ kind: 'noop' as const }, { kind: 'nojob' as const }, { kind: 'take' as const }),
  data.map((d) => ({ kind: 'bytes' as const, data: d })),
)

test('the writer writes what the generic encoder encodes, in order, whatever the buffer size', limits, () => {
  fc.assert(
    fc.property(fc.array(reply, { maxLength: 40 }), fc.integer({ min: 16, max: 600 }), fc.boolean(), (replies, size, recycle) => {
      const source = new TestSource(size)
      const writer = new ReplyWriter(source)
      const expected: Buffer[] = []
      const taken: Buffer[] = []
      for (const r of replies) {
        expected.push(write(writer, r))
        if (r.kind === 'take') {
          // copy what was taken: after recycle() the writer may write over it
          taken.push(Buffer.from(Buffer.concat(writer.take())))
          if (recycle) writer.recycle()
          else writer.abandon()
        }
      }
      taken.push(Buffer.concat(writer.take()))
      assert.equal(writer.pending, false)
      assert.deepEqual(Buffer.concat(taken), Buffer.concat(expected))
    }),
    { numRuns: 300 },
  )
})

test('a large payload is passed on as its own chunk, not copied', limits, () => {
  const writer = new ReplyWriter(new TestSource(1024))
  const big = Buffer.alloc(64 * 1024, 7)
  writer.jobCreated(START, 1)
  writer.workComplete(START, 1, big)
  writer.empty(PACKET.NOOP)
  const chunks = writer.take()
  assert.equal(chunks.length, 3)
  assert.equal(chunks[1], big)
  assert.deepEqual(
    Buffer.concat(chunks),
    Buffer.concat([encodePacket('RES', PACKET.JOB_CREATED, [handle(1)]), encodePacket('RES', PACKET.WORK_COMPLETE, [handle(1), big]), encodePacket('RES', PACKET.NOOP, [])]),
  )
})

test('recycle gives the buffer back; abandon keeps it away from the source', limits, () => {
  const source = new TestSource(256)
  const writer = new ReplyWriter(source)
  writer.jobCreated(START, 5)
  const [view] = writer.take()
  writer.abandon()
  assert.equal(source.returned.length, 0)
  // a later write goes to another buffer: the view taken before is intact
  writer.jobCreated(START, 6)
  assert.deepEqual(view, encodePacket('RES', PACKET.JOB_CREATED, [handle(5)]))
  writer.take()
  writer.recycle()
  assert.equal(source.returned.length, 1)
  assert.equal(writer.pending, false)
})
