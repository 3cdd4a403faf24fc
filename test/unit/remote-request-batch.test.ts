// The remote connection's write batch: packets encoded in place, byte for byte as the encoder builds them,
// and chunks already taken never written over when the buffer fills.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodePacket, encodeTrusted } from '../../src/protocol/encoder.js'
import { PACKET } from '../../src/protocol/packets.js'
import { RequestBatch } from '../../src/remote/request-batch.js'

test('a batch holds its packets back to back, as encodePacket encodes them; take() empties it', () => {
  const batch = new RequestBatch()
  assert.equal(batch.take(), null)
  const data = Buffer.from('payload\0with a NUL')
  batch.packet(PACKET.SUBMIT_JOB, ['reverse', 'u-1', data])
  batch.packet(PACKET.SUBMIT_JOB_BG, ['fünf', '', Buffer.alloc(0)])
  batch.bytes(encodePacket('REQ', PACKET.GRAB_JOB_UNIQ, []))
  batch.packet(PACKET.WORK_STATUS, [Buffer.from('H:x:1'), '3', '4'])
  const expected = Buffer.concat([
    encodePacket('REQ', PACKET.SUBMIT_JOB, ['reverse', 'u-1', data]),
    encodePacket('REQ', PACKET.SUBMIT_JOB_BG, ['fünf', '', Buffer.alloc(0)]),
    encodePacket('REQ', PACKET.GRAB_JOB_UNIQ, []),
    encodePacket('REQ', PACKET.WORK_STATUS, [Buffer.from('H:x:1'), '3', '4']),
  ])
  assert.deepEqual(batch.take(), expected)
  assert.equal(batch.take(), null)
})

test('encodeTrusted and the batch agree on long and non-ASCII strings', () => {
  const name = `fn-${'x'.repeat(100)}`
  const unique = 'ключ-😀'
  const batch = new RequestBatch()
  batch.packet(PACKET.SUBMIT_JOB, [name, unique, 'data'])
  assert.deepEqual(batch.take(), encodeTrusted('REQ', PACKET.SUBMIT_JOB, [name, unique, 'data']))
  assert.deepEqual(encodeTrusted('REQ', PACKET.SUBMIT_JOB, [name, unique, 'data']), encodePacket('REQ', PACKET.SUBMIT_JOB, [name, unique, 'data']))
})

test('taken chunks keep their bytes while later packets fill and replace the buffer', () => {
  const batch = new RequestBatch()
  const taken: { chunk: Buffer; expected: Buffer }[] = []
  // enough packets, of growing sizes, to need several buffers (16 KiB each), with a take every few packets
  let pending: Buffer[] = []
  for (let i = 0; i < 400; i++) {
    const data = Buffer.alloc(i * 7, i & 0xff)
    batch.packet(PACKET.SUBMIT_JOB, ['f', String(i), data])
    pending.push(encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', String(i), data]))
    if (i % 3 === 2) {
      const chunk = batch.take()
      assert.ok(chunk !== null)
      taken.push({ chunk, expected: Buffer.concat(pending) })
      pending = []
    }
  }
  const last = batch.take()
  assert.ok(last !== null)
  taken.push({ chunk: last, expected: Buffer.concat(pending) })
  for (const { chunk, expected } of taken) assert.deepEqual(chunk, expected)
})

test('a packet larger than a batch buffer goes out whole, after what was queued before it', () => {
  const batch = new RequestBatch()
  const big = Buffer.alloc(100_000, 7)
  batch.bytes(encodePacket('REQ', PACKET.GRAB_JOB_UNIQ, []))
  batch.packet(PACKET.WORK_COMPLETE, [Buffer.from('H:x:2'), big])
  const chunk = batch.take()
  assert.ok(chunk !== null)
  assert.deepEqual(chunk, Buffer.concat([encodePacket('REQ', PACKET.GRAB_JOB_UNIQ, []), encodePacket('REQ', PACKET.WORK_COMPLETE, [Buffer.from('H:x:2'), big])]))
  batch.packet(PACKET.WORK_FAIL, [Buffer.from('H:x:3')])
  assert.deepEqual(batch.take(), encodePacket('REQ', PACKET.WORK_FAIL, [Buffer.from('H:x:3')]))
  assert.equal(chunk[chunk.length - 1], 7, 'the big chunk is intact after the next packet')
})

test('clear() drops what was not taken', () => {
  const batch = new RequestBatch()
  batch.packet(PACKET.CAN_DO, ['f'])
  batch.clear()
  assert.equal(batch.take(), null)
  batch.packet(PACKET.CAN_DO, ['g'])
  assert.deepEqual(batch.take(), encodePacket('REQ', PACKET.CAN_DO, ['g']))
})

test('a turn that queues far more than one buffer holds is taken whole, in order', () => {
  const batch = new RequestBatch()
  const expected: Buffer[] = []
  for (let i = 0; i < 3000; i++) {
    const data = Buffer.alloc(100 + (i % 50), i & 0xff)
    batch.packet(PACKET.SUBMIT_JOB, ['f', String(i), data])
    expected.push(encodePacket('REQ', PACKET.SUBMIT_JOB, ['f', String(i), data]))
  }
  assert.deepEqual(batch.take(), Buffer.concat(expected))
  assert.equal(batch.take(), null)
})
