// Malformed and refused input (GEARMAN.md §1.4): each case yields one ProtocolError with the right kind,
// offset, packet type and closeConnection, the same whether the bytes come whole or one at a time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ProtocolError } from '../../src/errors.js'
import { Decoder, type DecoderOptions } from '../../src/protocol/decoder.js'
import { encodePacket } from '../../src/protocol/encoder.js'
import { DEFAULT_MAX_PACKET_SIZE } from '../../src/protocol/limits.js'
import { PACKET, PACKETS, type Packet } from '../../src/protocol/packets.js'
import { type DecodeEvent, decodeChunks, header, limits, modes, raw, Recorder, REQ, RES, splitAt } from './protocol-helpers.js'

const canDo = encodePacket('REQ', PACKET.CAN_DO, ['f']) // 13 bytes
const canDoPacket: Packet = { magic: 'REQ', type: PACKET.CAN_DO, args: [Buffer.from('f')] }
const echo = encodePacket('REQ', PACKET.ECHO_REQ, ['ping'])
const echoPacket: Packet = { magic: 'REQ', type: PACKET.ECHO_REQ, args: [Buffer.from('ping')] }

function fatal(kind: string, offset: number | undefined, packetType: number | undefined): DecodeEvent {
  return { error: { kind, closeConnection: true, offset, packetType } } as DecodeEvent
}
function kept(kind: string, offset: number, packetType: number): DecodeEvent {
  return { error: { kind, closeConnection: false, offset, packetType } } as DecodeEvent
}

interface Case {
  readonly name: string
  readonly bytes: Buffer
  readonly options?: DecoderOptions
  readonly want: DecodeEvent[]
}

const cases: Case[] = [
  { name: 'bad magic', bytes: header(0x00524558, 7, 0), want: [fatal('bad-magic', 0, 7)] },
  { name: 'bad magic after a good packet; later bytes ignored', bytes: Buffer.concat([canDo, header(0x00414243, 1, 1), Buffer.from('x'), echo]), want: [{ packet: canDoPacket }, fatal('bad-magic', 13, 1)] },
  { name: 'type 0', bytes: header(REQ, 0, 0), want: [fatal('unknown-type', 0, 0)] },
  { name: 'type 43', bytes: header(REQ, 43, 0), want: [fatal('unknown-type', 0, 43)] },
  { name: 'type 2^32-1 with RES magic', bytes: header(RES, 0xffff_ffff, 0), want: [fatal('unknown-type', 0, 0xffff_ffff)] },
  { name: 'oversize length', bytes: Buffer.concat([canDo, header(REQ, 7, 1025)]), options: { maxPacketSize: 1024 }, want: [{ packet: canDoPacket }, fatal('too-large', 13, 7)] },
  { name: 'size at the limit is fine', bytes: encodePacket('REQ', PACKET.ECHO_REQ, ['x'.repeat(16)]), options: { maxPacketSize: 16 }, want: [{ packet: { magic: 'REQ', type: 16, args: [Buffer.from('x'.repeat(16))] } as Packet }] },
  { name: 'default limit: 64 MiB + 1', bytes: header(REQ, 16, DEFAULT_MAX_PACKET_SIZE + 1), want: [fatal('too-large', 0, 16)] },
  { name: 'too few NULs (1 of 2)', bytes: raw(REQ, 7, 'rev\x00abc'), want: [fatal('bad-arguments', 0, 7)] },
  { name: 'no NUL at all', bytes: Buffer.concat([echo, raw(REQ, 12, 'H:1')]), want: [{ packet: echoPacket }, fatal('bad-arguments', 16, 12)] },
  { name: 'NULs only past the declared size do not count', bytes: Buffer.concat([raw(REQ, 7, 'revuabc'), raw(REQ, 16, 'x\x00y\x00z')]), want: [fatal('bad-arguments', 0, 7)] },
  { name: 'payload on a type without arguments', bytes: raw(REQ, 9, 'x'), want: [fatal('bad-arguments', 0, 9)] },
  { name: 'truncated header', bytes: Buffer.concat([canDo, Buffer.from('\0RE', 'latin1')]), want: [{ packet: canDoPacket }, fatal('truncated', 13, undefined)] },
  { name: 'truncated payload', bytes: raw(REQ, 7, 'f\x00u\x00data').subarray(0, 17), want: [fatal('truncated', 0, 7)] },
  { name: 'truncated text line', bytes: Buffer.from('status\nwork', 'latin1'), want: [{ text: 'status' }, fatal('truncated', 7, undefined)] },
  { name: 'truncated while skipping a refused packet', bytes: raw(RES, 8, 'H:1').subarray(0, 13), want: [fatal('truncated', 0, 8)] },
  { name: 'clean end: nothing reported', bytes: Buffer.concat([canDo, Buffer.from('status\n')]), want: [{ packet: canDoPacket }, { text: 'status' }] },
  { name: 'line over maxLineLength', bytes: Buffer.from('ok\n' + 'x'.repeat(17) + '\n'), options: { maxLineLength: 16 }, want: [{ text: 'ok' }, fatal('line-too-long', 3, undefined)] },
  { name: 'line at maxLineLength', bytes: Buffer.from('x'.repeat(16) + '\n'), options: { maxLineLength: 16 }, want: [{ text: 'x'.repeat(16) }] },
  { name: 'the \\r counts towards maxLineLength', bytes: Buffer.from('x'.repeat(16) + '\r\n'), options: { maxLineLength: 16 }, want: [fatal('line-too-long', 0, undefined)] },
  { name: 'RES magic to a server: skipped, connection kept', bytes: Buffer.concat([raw(RES, 16, 'big\x00payload'), echo]), want: [kept('unexpected-magic', 0, 16), { packet: echoPacket }] },
  { name: 'REQ magic to a client', bytes: Buffer.concat([raw(REQ, 8, 'H:1'), encodePacket('RES', PACKET.NOOP, [])]), options: { expect: 'RES' }, want: [kept('unexpected-magic', 0, 8), { packet: { magic: 'RES', type: 6, args: [] } }] },
  { name: 'a request type sent to a client', bytes: raw(RES, 7, 'f\x00u\x00d'), options: { expect: 'RES' }, want: [kept('unexpected-command', 0, 7)] },
  { name: 'RES magic is checked before the command', bytes: raw(RES, 6, ''), want: [kept('unexpected-magic', 0, 6)] },
  { name: 'a refused packet is skipped without parsing its arguments', bytes: Buffer.concat([raw(REQ, 20, 'no-nuls'), echo]), want: [kept('unexpected-command', 0, 20), { packet: echoPacket }] },
  { name: 'ALL_YOURS with a payload', bytes: Buffer.concat([raw(REQ, 24, 'x'), echo]), want: [kept('unexpected-command', 0, 24), { packet: echoPacket }] },
]

for (const c of cases) {
  for (const [mode, split] of Object.entries(modes)) {
    test(`malformed: ${c.name} (${mode})`, limits, () => {
      assert.deepEqual(decodeChunks(split(c.bytes), c.options ?? {}), c.want)
    })
  }
}

// §1.4: 5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42 → ERROR INVALID_COMMAND, connection kept
test('every type a client or worker must not send is refused and skipped; the next packet still decodes', limits, () => {
  const refused = [5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42]
  for (const type of Object.values(PACKETS).map((p) => p.code)) {
    const row = Object.values(PACKETS).find((p) => p.code === type)
    const payload = Array.from({ length: row?.args ?? 0 }, (_, k) => `a${k}`).join('\0')
    const events = decodeChunks([Buffer.concat([raw(REQ, type, payload), echo])])
    if (refused.includes(type)) assert.deepEqual(events, [kept('unexpected-command', 0, type), { packet: echoPacket }], `type ${type}`)
    else assert.equal(events.length, 2, `type ${type} is accepted`)
  }
})

test('an oversize length is refused on the 12-byte header alone, before any payload is buffered', limits, () => {
  for (const options of [{ maxPacketSize: 100 }, {}]) {
    const recorder = new Recorder()
    const decoder = new Decoder(recorder, options)
    decoder.push(header(REQ, PACKET.SUBMIT_JOB, (options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE) + 1))
    assert.equal(recorder.errors.length, 1)
    const err = recorder.errors[0]
    assert.ok(err instanceof ProtocolError)
    assert.equal(err.code, 'GEARBOX_PROTOCOL')
    assert.equal(err.kind, 'too-large')
    assert.equal(err.closeConnection, true)
    assert.equal(err.packetType, PACKET.SUBMIT_JOB)
    assert.equal(decoder.stopped, true)
    assert.equal(decoder.bufferedBytes, 0)
    decoder.push(Buffer.alloc(1000))
    decoder.end()
    assert.equal(recorder.events.length, 1, 'nothing after a fatal error')
  }
  // a large declared size within the limit buffers nothing until bytes arrive
  const recorder = new Recorder()
  const decoder = new Decoder(recorder)
  decoder.push(header(REQ, PACKET.ECHO_REQ, DEFAULT_MAX_PACKET_SIZE))
  assert.equal(decoder.bufferedBytes, 0)
  assert.deepEqual(recorder.events, [])
})

test('a refused packet is skipped without being buffered', limits, () => {
  const recorder = new Recorder()
  const decoder = new Decoder(recorder)
  decoder.push(header(RES, PACKET.WORK_COMPLETE, 100_000))
  for (let i = 0; i < 10; i++) {
    decoder.push(Buffer.alloc(10_000))
    assert.equal(decoder.bufferedBytes, 0)
  }
  decoder.push(echo)
  decoder.end()
  assert.deepEqual(recorder.events, [kept('unexpected-magic', 0, PACKET.WORK_COMPLETE), { packet: echoPacket }])
})

test('end() reports once; a line over the limit errors without waiting for its newline', limits, () => {
  const recorder = new Recorder()
  const decoder = new Decoder(recorder, { maxLineLength: 8 })
  decoder.push(Buffer.from('abcdefgh'))
  assert.deepEqual(recorder.events, [])
  decoder.push(Buffer.from('i'))
  assert.deepEqual(recorder.events, [fatal('line-too-long', 0, undefined)])
  decoder.end()
  decoder.end()
  assert.equal(recorder.events.length, 1)

  const r2 = new Recorder()
  const d2 = new Decoder(r2)
  d2.push(raw(REQ, 7, 'f\x00u\x00data').subarray(0, 14))
  d2.end()
  d2.end()
  d2.push(echo)
  assert.deepEqual(r2.events, [fatal('truncated', 0, 7)])
})

test('a sink that throws stops the decoder and the exception reaches the caller', limits, () => {
  const boom = new Error('sink failed')
  const decoder = new Decoder({
    onPacket: () => {
      throw boom
    },
    onText: () => undefined,
    onError: () => undefined,
  })
  assert.throws(() => {
    decoder.push(Buffer.concat([canDo, canDo]))
  }, boom)
  assert.equal(decoder.stopped, true)
  decoder.push(canDo) // ignored, no throw
})

test('property: binary garbage never throws and decodes the same however it is split', limits, () => {
  const garbage = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // garbage that starts like a packet, to get past the first byte
    fc.uint8Array({ maxLength: 200 }).map((u) => Uint8Array.from([0, 0x52, 0x45, 0x51, ...u])),
    fc.tuple(fc.integer({ min: 0, max: 45 }), fc.uint8Array({ maxLength: 60 })).map(([type, u]) => Uint8Array.from([...header(REQ, type, u.length), ...u])),
  )
  fc.assert(
    fc.property(garbage, fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom<DecoderOptions>({}, { expect: 'RES' }, { expect: 'any', maxLineLength: 40, maxPacketSize: 30 }), (u, cuts, options) => {
      const bytes = Buffer.from(u)
      const whole = decodeChunks([bytes], options)
      assert.deepEqual(decodeChunks(modes.bytewise(bytes), options), whole)
      assert.deepEqual(decodeChunks(splitAt(bytes, cuts), options), whole)
      const fatalAt = whole.findIndex((e) => 'error' in e && e.error.closeConnection)
      assert.ok(fatalAt === -1 || fatalAt === whole.length - 1, 'nothing after a fatal error')
    }),
    { numRuns: 500 },
  )
})

test('a callback may call end() to stop decoding at once (e.g. an admin line of more than 5 tokens)', limits, () => {
  const lines: string[] = []
  const decoder: Decoder = new Decoder({
    onPacket: () => undefined,
    onText: (line) => {
      lines.push(line.toString())
      if (line.toString() === 'close') decoder.end()
    },
    onError: () => assert.fail('no error expected'),
  })
  decoder.push(Buffer.from('a\nclose\nb\n\0REQ'))
  decoder.push(Buffer.from('c\n'))
  decoder.end()
  assert.deepEqual(lines, ['a', 'close'])
  assert.equal(decoder.stopped, true)
})
