// The byte helpers of the per-packet paths agree with Buffer's own methods.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { bytesAt, putBytes, readUint32, writeUint32 } from '../../src/protocol/bytes.js'
import { limits } from './protocol-helpers.js'

test('readUint32 / writeUint32 match readUInt32BE / writeUInt32BE', limits, () => {
  fc.assert(
    fc.property(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff).chain((edge) => fc.oneof(fc.constant(edge), fc.nat({ max: 0xffffffff }))), fc.nat({ max: 8 }), (value, at) => {
      const mine = Buffer.alloc(12, 0xaa)
      const theirs = Buffer.alloc(12, 0xaa)
      assert.equal(writeUint32(mine, at, value), at + 4)
      theirs.writeUInt32BE(value, at)
      assert.deepEqual(mine, theirs)
      assert.equal(readUint32(mine, at), theirs.readUInt32BE(at))
    }),
  )
})

test('putBytes copies and returns the end; bytesAt compares in place and never reads past the end', limits, () => {
  const target = Buffer.alloc(8, 0)
  assert.equal(putBytes(target, 2, Buffer.from('abc')), 5)
  assert.deepEqual(target, Buffer.from('\0\0abc\0\0\0', 'latin1'))
  assert.equal(bytesAt(target, 2, Buffer.from('abc')), true)
  assert.equal(bytesAt(target, 2, Buffer.from('abd')), false)
  assert.equal(bytesAt(target, 6, Buffer.from('\0\0\0')), false, 'would run past the end')
  assert.equal(bytesAt(target, 8, Buffer.alloc(0)), true)
})
