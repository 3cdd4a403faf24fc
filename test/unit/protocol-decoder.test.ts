// The decoder's test matrix (STYLE.md §5.3 habit 5): every packet type whole, byte by byte and split at random
// points; decode(encode(p)) deep-equals p; zero-copy views when a packet lies in one chunk; text lines.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Decoder } from '../../src/protocol/decoder.js'
import { type Arg, encodePacket, encodePacketChunks } from '../../src/protocol/encoder.js'
import type { Frame } from '../../src/protocol/frame.js'
import { PACKET, PACKETS, type Magic, type Packet, type PacketType } from '../../src/protocol/packets.js'
import { type DecodeEvent, decodeChunks, limits, modes, raw, Recorder, RES, splitAt } from './protocol-helpers.js'

const rows = Object.values(PACKETS)

function encode(p: Packet): Buffer {
  return encodePacket(p.magic, p.type, p.args as never)
}

/** A packet of `type` whose arguments exercise the framing: an empty one, NULs in the last. */
function sample(type: PacketType, magic?: Magic): Packet {
  const row = rows.find((r) => r.code === type)
  if (row === undefined) throw new Error(`no type ${type}`)
  const args = Array.from({ length: row.args }, (_, k) => {
    if (k === row.args - 1) return row.blob ? Buffer.from('last\0arg\0', 'latin1') : Buffer.from('last')
    return k === 1 ? Buffer.alloc(0) : Buffer.from(`arg${k}`)
  })
  const natural: Magic = row.request ? 'REQ' : 'RES'
  return { magic: magic ?? natural, type, args } as unknown as Packet
}

for (const [mode, split] of Object.entries(modes)) {
  test(`every packet type decodes to what was encoded (${mode})`, limits, () => {
    for (const row of rows) {
      for (const magic of ['REQ', 'RES'] as const) {
        const p = sample(row.code, magic)
        assert.deepEqual(decodeChunks(split(encode(p)), { expect: 'any' }), [{ packet: p }], `${row.code} ${magic}`)
      }
      // and with the side that accepts it
      if (row.request) {
        const p = sample(row.code, 'REQ')
        assert.deepEqual(decodeChunks(split(encode(p)), { expect: 'REQ' }), [{ packet: p }], `${row.code} to a server`)
      }
      if (row.response) {
        const p = sample(row.code, 'RES')
        assert.deepEqual(decodeChunks(split(encode(p)), { expect: 'RES' }), [{ packet: p }], `${row.code} to a client`)
      }
    }
  })

  test(`a pipelined stream of every type, text lines between (${mode})`, limits, () => {
    const packets = rows.map((r) => sample(r.code))
    const bytes = Buffer.concat([Buffer.from('version\n'), ...packets.map(encode), Buffer.from('getpid\r\n')])
    const want: DecodeEvent[] = [{ text: 'version' }, ...packets.map((packet) => ({ packet })), { text: 'getpid' }]
    assert.deepEqual(decodeChunks(split(bytes), { expect: 'any' }), want)
  })

  test(`§1.1 probe order: version, ECHO_REQ, getpid in one write (${mode})`, limits, () => {
    const echo: Packet = { magic: 'REQ', type: PACKET.ECHO_REQ, args: [Buffer.from('hi')] }
    const bytes = Buffer.concat([Buffer.from('version\n'), encode(echo), Buffer.from('getpid\r\n')])
    assert.deepEqual(decodeChunks(split(bytes)), [{ text: 'version' }, { packet: echo }, { text: 'getpid' }])
  })

  test(`text lines: \\n or \\r\\n end a line, only one \\r is removed (${mode})`, limits, () => {
    const bytes = Buffer.from('status\nstatus\r\nstatus\r\r\n\n\r\nSTATUS  x \n', 'latin1')
    assert.deepEqual(decodeChunks(split(bytes)), [
      { text: 'status' },
      { text: 'status' },
      { text: 'status\r' },
      { text: '' },
      { text: '' },
      { text: 'STATUS  x ' },
    ])
  })
}

test('fields follow §1.2: empty unique, NULs only in the last field', limits, () => {
  const bytes = encodePacket('REQ', PACKET.SUBMIT_JOB, ['rev', '', Buffer.from('test\0data', 'latin1')])
  const [event] = decodeChunks([bytes])
  assert.ok(event && 'packet' in event)
  assert.deepEqual(event.packet.args.map((a) => a.toString('latin1')), ['rev', '', 'test\0data'])
  // gearmand's WORK_FAIL after WORK_EXCEPTION carries a trailing NUL: one argument, NUL included (§3.6)
  const fail = raw(RES, PACKET.WORK_FAIL, 'H:vm:3\x00')
  const [failed] = decodeChunks([fail], { expect: 'RES' })
  assert.ok(failed && 'packet' in failed)
  assert.deepEqual(failed.packet, { magic: 'RES', type: PACKET.WORK_FAIL, args: [Buffer.from('H:vm:3\0', 'latin1')] })
})

test('a packet whole in one chunk is delivered as views of that chunk (zero copy)', limits, () => {
  const packets: Packet[] = [
    { magic: 'REQ', type: PACKET.SUBMIT_JOB, args: [Buffer.from('f'), Buffer.from('u'), Buffer.from('data')] },
    { magic: 'REQ', type: PACKET.CAN_DO, args: [Buffer.from('f')] },
    { magic: 'REQ', type: PACKET.WORK_STATUS, args: [Buffer.from('H:1'), Buffer.from('1'), Buffer.from('2')] },
  ]
  const chunk = Buffer.concat(packets.map(encode))
  const recorder = new Recorder()
  new Decoder(recorder).push(chunk)
  assert.deepEqual(recorder.packets, packets)
  for (const p of recorder.packets) {
    for (const arg of p.args) {
      assert.equal(arg.buffer, chunk.buffer, 'same memory')
      assert.ok(arg.byteOffset >= chunk.byteOffset && arg.byteOffset + arg.length <= chunk.byteOffset + chunk.length, 'inside the chunk')
    }
  }
  chunk.fill(0x41)
  assert.equal(recorder.packets[0]?.args[2]?.toString(), 'AAAA', 'views see writes to the chunk')
})

test('a packet spanning chunks is copied once; a payload alone in the next chunk stays a view', limits, () => {
  const p: Packet = { magic: 'REQ', type: PACKET.SUBMIT_JOB, args: [Buffer.from('f'), Buffer.from('u'), Buffer.alloc(1000, 9)] }
  const bytes = encode(p)
  const recorder = new Recorder()
  const decoder = new Decoder(recorder)
  decoder.push(bytes.subarray(0, 500))
  assert.equal(decoder.bufferedBytes, 500 - 12)
  decoder.push(bytes.subarray(500))
  assert.equal(decoder.bufferedBytes, 0)
  assert.deepEqual(recorder.packets, [p])
  bytes.fill(0)
  assert.deepEqual(recorder.packets, [p], 'a copy: writes to the chunks do not show')

  // header exactly at the end of one chunk, payload whole in the next: no copy needed
  const head = Buffer.from(encode(p).subarray(0, 12))
  const body = Buffer.from(encode(p).subarray(12))
  const r2 = new Recorder()
  const d2 = new Decoder(r2)
  d2.push(head)
  d2.push(body)
  assert.deepEqual(r2.packets, [p])
  body.fill(0x42)
  assert.equal(r2.packets[0]?.args[0].toString(), 'B', 'a view of the second chunk')
})

test('the decoder can be told what it expects; options are validated', limits, () => {
  assert.throws(() => new Decoder(new Recorder(), { maxPacketSize: -1 }), { code: 'GEARBOX_INVALID_ARGUMENT' })
  assert.throws(() => new Decoder(new Recorder(), { maxPacketSize: 2 ** 32 }), { code: 'GEARBOX_INVALID_ARGUMENT' })
  assert.throws(() => new Decoder(new Recorder(), { maxLineLength: 1.5 }), { code: 'GEARBOX_INVALID_ARGUMENT' })
  assert.throws(() => new Decoder(new Recorder(), { expect: 'req' as Magic }), { code: 'GEARBOX_INVALID_ARGUMENT' })
  const d = new Decoder(new Recorder(), { expect: undefined, maxPacketSize: undefined, maxLineLength: undefined })
  assert.equal(d.stopped, false)
})

// ------------------------------------------------------------------------------------------- properties

const nonNul = fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u.map((b) => (b === 0 ? 1 : b))))
const anyBytes = fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u))

const packetArb: fc.Arbitrary<Packet> = fc
  .record({ row: fc.constantFrom(...rows), magic: fc.constantFrom<Magic>('REQ', 'RES') })
  .chain(({ row, magic }) =>
    fc
      .tuple(fc.array(nonNul, { minLength: Math.max(row.args - 1, 0), maxLength: Math.max(row.args - 1, 0) }), anyBytes)
      .map(([lead, last]) => ({ magic, type: row.code, args: row.args === 0 ? [] : [...lead, last] }) as unknown as Packet),
  )

/** A text line: does not start with NUL, has no LF, does not end with CR. */
const lineArb = fc
  .tuple(fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 30 }), fc.boolean())
  .filter(([first]) => first !== 0x0a)
  .map(([first, rest, crlf]) => {
    const body = Buffer.from([first, ...rest.filter((b) => b !== 0x0a)])
    // the decoder drops the CR of a CRLF ending, so the line itself may not end in CR (any number of them)
    let end = body.length
    while (end > 0 && body[end - 1] === 0x0d) end--
    const line = body.subarray(0, end)
    return line.length === 0 || line[0] === 0 ? null : { line, wire: Buffer.concat([line, Buffer.from(crlf ? '\r\n' : '\n')]) }
  })
  .filter((x) => x !== null)

const itemArb = fc.oneof(
  packetArb.map((packet) => ({ wire: encode(packet), event: { packet } })),
  lineArb.map(({ line, wire }) => ({ wire, event: { text: line.toString('latin1') } })),
)

test('property: decode(encode(p)) deep-equals p for any packet, split at random points', limits, () => {
  fc.assert(
    fc.property(packetArb, fc.array(fc.nat(), { maxLength: 8 }), (p, cuts) => {
      assert.deepEqual(decodeChunks(splitAt(encode(p), cuts), { expect: 'any' }), [{ packet: p }])
    }),
    { numRuns: 500 },
  )
})

test('property: a stream of packets and text lines decodes the same however it is split', limits, () => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
      const bytes = Buffer.concat(items.map((i) => i.wire))
      assert.deepEqual(decodeChunks(splitAt(bytes, cuts), { expect: 'any' }), items.map((i) => i.event))
    }),
    { numRuns: 300 },
  )
})

/** Records copies: with `reusedInput`, what the decoder passes on is valid only during the callback. */
class CopyingRecorder extends Recorder {
  override onPacket(packet: Packet): void {
    super.onPacket({ ...packet, args: packet.args.map((a) => Buffer.from(a)) } as unknown as Packet)
  }
}

test('property: with reusedInput, a stream decodes the same when each chunk is overwritten after push', limits, () => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
      const bytes = Buffer.concat(items.map((i) => i.wire))
      const recorder = new CopyingRecorder()
      const decoder = new Decoder(recorder, { expect: 'any', reusedInput: true })
      // one buffer for every chunk, as a socket read into a shared buffer: garbage once push returns
      const scratch = Buffer.alloc(bytes.length)
      for (const chunk of splitAt(bytes, cuts)) {
        chunk.copy(scratch)
        decoder.push(scratch.subarray(0, chunk.length))
        scratch.fill(0xee)
      }
      decoder.end()
      assert.deepEqual(recorder.events, items.map((i) => i.event))
    }),
    { numRuns: 300 },
  )
})

test('property: the chunk-list encoder produces the same bytes as the one-buffer encoder', limits, () => {
  fc.assert(
    fc.property(packetArb, fc.nat({ max: 100 }), (p, threshold) => {
      const chunks = encodePacketChunks(p.magic, p.type, p.args as readonly Arg[] as never, threshold)
      assert.deepEqual(Buffer.concat(chunks), encode(p))
    }),
  )
})

/** Takes packets of odd type codes as frames (recording their arguments by offset); the rest as packets. */
class FrameRecorder extends Recorder {
  onFrame(frame: Frame): boolean {
    if (frame.type % 2 === 0) return false
    const args = Array.from({ length: frame.count }, (_, k) => Buffer.from(frame.buf.subarray(frame.start(k), frame.end(k))))
    assert.deepEqual(args, Array.from({ length: frame.count }, (_, k) => frame.arg(k)))
    assert.deepEqual(args.map((a) => a.length), Array.from({ length: frame.count }, (_, k) => frame.length(k)))
    this.onPacket({ magic: frame.magic, type: frame.type, args } as unknown as Packet)
    return true
  }
}

test('property: a sink taking packets as frames sees the same arguments as one taking packets', limits, () => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
      const bytes = Buffer.concat(items.map((i) => i.wire))
      const recorder = new FrameRecorder()
      const decoder = new Decoder(recorder, { expect: 'any' })
      for (const chunk of splitAt(bytes, cuts)) decoder.push(chunk)
      decoder.end()
      assert.deepEqual(recorder.events, items.map((i) => i.event))
    }),
    { numRuns: 300 },
  )
})
