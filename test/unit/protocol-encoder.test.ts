// Encoder and response helpers, byte for byte against GEARMAN.md §1.2 and the probe transcript of §9.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvalidArgumentError } from '../../src/errors.js'
import { DEFAULT_CHUNK_THRESHOLD, encodePacket, encodePacketChunks } from '../../src/protocol/encoder.js'
import { WIRE_ERRORS } from '../../src/protocol/error-replies.js'
import { PACKET, type PacketType } from '../../src/protocol/packets.js'
import {
  encodeEchoRes,
  encodeError,
  encodeJobAssign,
  encodeJobAssignAll,
  encodeJobAssignUniq,
  encodeJobCreated,
  encodeNoJob,
  encodeNoop,
  encodeOptionRes,
  encodeStatusRes,
  encodeStatusResUnique,
  encodeWorkComplete,
  encodeWorkData,
  encodeWorkException,
  encodeWorkFail,
  encodeWorkStatus,
  encodeWorkWarning,
} from '../../src/protocol/responses.js'
import { limits, raw, RES } from './protocol-helpers.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
/** A `\0RES` packet of `type` with the payload given as a Python-style bytes literal body. */
const res = (type: number, payload: string): Buffer => raw(RES, type, payload)

test('§1.2 worked example: SUBMIT_JOB rev/u1/abc and JOB_CREATED H:vm:1', limits, () => {
  assert.deepEqual(
    encodePacket('REQ', PACKET.SUBMIT_JOB, ['rev', 'u1', 'abc']),
    hex('00524551 00000007 0000000a 726576 00 7531 00 616263'),
  )
  assert.deepEqual(encodePacket('RES', PACKET.JOB_CREATED, ['H:vm:1']), hex('00524553 00000008 00000006 483a766d3a31'))
  assert.deepEqual(encodeJobCreated('H:vm:1'), hex('00524553 00000008 00000006 483a766d3a31'))
})

test('§9 probe replies are reproduced byte for byte by the response helpers', limits, () => {
  const cases: [Buffer, Buffer][] = [
    [encodeEchoRes(Buffer.from('hello\0world', 'latin1')), res(17, 'hello\x00world')],
    [encodeJobAssign('H:vm:1', 'rev', Buffer.from('test\0data', 'latin1')), res(11, 'H:vm:1\x00rev\x00test\x00data')],
    [encodeStatusRes('H:vm:1', true, true, 0, 0), res(20, 'H:vm:1\x001\x001\x000\x000')],
    [encodeStatusRes('H:vm:1', true, true, 3, 10), res(20, 'H:vm:1\x001\x001\x003\x0010')],
    [encodeStatusRes('H:vm:1', false, false, 0, 0), res(20, 'H:vm:1\x000\x000\x000\x000')],
    [encodeWorkStatus('H:vm:1', 3, 10), res(12, 'H:vm:1\x003\x0010')],
    [encodeWorkStatus('H:vm:1', '3', Buffer.from('10')), res(12, 'H:vm:1\x003\x0010')],
    [encodeStatusResUnique('u1', true, false, 0, 0, 1), res(42, 'u1\x001\x000\x000\x000\x001')],
    [encodeStatusResUnique('u1', false, false, 0, 0, 0), res(42, 'u1\x000\x000\x000\x000\x000')],
    [encodeJobAssignAll('PFX:13', 'mr', 'ru', 'reducerfn', 'payload'), res(40, 'PFX:13\x00mr\x00ru\x00reducerfn\x00payload')],
    [encodeJobAssignUniq('H:vm:1', 'rev', 'u1', 'abc'), res(31, 'H:vm:1\x00rev\x00u1\x00abc')],
    [encodeWorkComplete('H:vm:1', 'res'), res(13, 'H:vm:1\x00res')],
    [encodeWorkData('H:vm:1', 'dd'), res(28, 'H:vm:1\x00dd')],
    [encodeWorkWarning('H:vm:1', 'w'), res(29, 'H:vm:1\x00w')],
    [encodeWorkException('H:vm:3', 'boom'), res(25, 'H:vm:3\x00boom')],
    [encodeWorkFail('PFX:1'), res(14, 'PFX:1')],
    [encodeOptionRes('Exceptions'), res(27, 'Exceptions')],
    [encodeNoop(), res(6, '')],
    [encodeNoJob(), res(10, '')],
    [encodeError('JOB_NOT_FOUND', 'Job given in work result not found'), res(19, 'JOB_NOT_FOUND\x00Job given in work result not found')],
    [encodeError(WIRE_ERRORS.UNKNOWN_OPTION.code, WIRE_ERRORS.UNKNOWN_OPTION.text), res(19, 'UNKNOWN_OPTION\x00Server does not recognize given option')],
    [encodeError(WIRE_ERRORS.QUEUE_FULL.code, WIRE_ERRORS.QUEUE_FULL.text), res(19, 'QUEUE_ERROR\x00Job queue is full')],
    [encodeError(WIRE_ERRORS.UNIQUE_TOO_LARGE.code, WIRE_ERRORS.UNIQUE_TOO_LARGE.text), res(19, 'ARGUMENT_TOO_LARGE\x00Unique value too large')],
    [encodeError(WIRE_ERRORS.INVALID_MAGIC.code, WIRE_ERRORS.INVALID_MAGIC.text), res(19, 'INVALID_MAGIC\x00Request magic expected')],
    [encodeError(WIRE_ERRORS.INVALID_COMMAND.code, WIRE_ERRORS.INVALID_COMMAND.text), res(19, 'INVALID_COMMAND\x00Command not expected')],
  ]
  for (const [got, want] of cases) assert.deepEqual(got, want, want.toString('latin1'))
})

test('empty fields and empty payloads', limits, () => {
  assert.deepEqual(encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', '', '']), raw(0x00524551, 7, 'f\x00\x00'))
  assert.deepEqual(encodePacket('REQ', PACKET.GRAB_JOB, []), hex('00524551 00000009 00000000'))
  assert.deepEqual(encodePacket('REQ', PACKET.ECHO_REQ, ['']), hex('00524551 00000010 00000000'))
})

test('strings are written as UTF-8, byte arrays as they are', limits, () => {
  const got = encodePacket('REQ', PACKET.SUBMIT_JOB, ['é', new Uint8Array([1, 2]), 'ü'])
  assert.deepEqual(got.subarray(12), Buffer.from([0xc3, 0xa9, 0, 1, 2, 0, 0xc3, 0xbc]))
  assert.equal(got.readUInt32BE(8), 8)
})

test('encodePacketChunks keeps a large last argument as its own chunk, without copying', limits, () => {
  const big = Buffer.alloc(DEFAULT_CHUNK_THRESHOLD, 7)
  big[10] = 0 // NULs are fine in the last argument
  const chunks = encodePacketChunks('RES', PACKET.WORK_COMPLETE, ['H:x:1', big])
  assert.equal(chunks.length, 2)
  assert.equal(chunks[1], big, 'the same Buffer, not a copy')
  assert.deepEqual(Buffer.concat(chunks), encodePacket('RES', PACKET.WORK_COMPLETE, ['H:x:1', big]))
  assert.equal(chunks[0]?.length, 12 + 'H:x:1'.length + 1)

  // a plain Uint8Array becomes a Buffer view over the same memory
  const u8 = new Uint8Array(100_000).fill(3)
  const viewChunks = encodePacketChunks('REQ', PACKET.SUBMIT_JOB, ['f', 'u', u8.subarray(10)])
  assert.equal(viewChunks.length, 2)
  assert.equal(viewChunks[1]?.buffer, u8.buffer)
  assert.equal(viewChunks[1].byteOffset, 10)
  assert.deepEqual(Buffer.concat(viewChunks), encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', 'u', u8.subarray(10)]))

  // below the threshold, or a string: one Buffer, identical to encodePacket
  const small = Buffer.alloc(DEFAULT_CHUNK_THRESHOLD - 1, 1)
  assert.deepEqual(encodePacketChunks('RES', PACKET.ECHO_RES, [small]), [encodePacket('RES', PACKET.ECHO_RES, [small])])
  assert.equal(encodePacketChunks('RES', PACKET.ECHO_RES, ['x'.repeat(100_000)]).length, 1)
  assert.equal(encodePacketChunks('RES', PACKET.NOOP, []).length, 1)
  // a custom threshold
  assert.equal(encodePacketChunks('RES', PACKET.ECHO_RES, [Buffer.alloc(10)], 10).length, 2)
  assert.deepEqual(encodePacketChunks('RES', PACKET.ECHO_RES, [Buffer.alloc(0)], 0), [hex('00524553 00000011 00000000'), Buffer.alloc(0)])
})

test('the encoder refuses what cannot be framed', limits, () => {
  const wrongCount = (): Buffer => encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', 'u'] as unknown as ['f', 'u', 'd'])
  assert.throws(wrongCount, (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'args')
  assert.throws(
    () => encodePacket('REQ', PACKET.SUBMIT_JOB, ['f\0g', 'u', 'd']),
    (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'args[0]',
  )
  assert.throws(
    () => encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', Buffer.from([1, 0]), 'd']),
    (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'args[1]',
  )
  for (const type of [0, 43]) {
    assert.throws(
      () => encodePacket('REQ', type as PacketType, [] as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'type',
    )
  }
  assert.throws(() => encodePacketChunks('REQ', PACKET.CAN_DO, [] as unknown as ['f']), InvalidArgumentError)
})
