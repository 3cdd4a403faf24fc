// ThreadSlots' abort ring, both sides in one thread: a thread reads only the aborts written after its task
// was posted (the count the task carries), finds its own among them, and still finds it after the count
// wraps or when more aborts than the ring holds were written since (then it reads the whole ring).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { abortRingSize, ThreadSlots } from '../src/pool/thread-slots.js'

const CANCELLED = 0
const TIMEOUT = 1

test('a task sees an abort written after it was posted, not one written before', () => {
  const slots = ThreadSlots.create(2, 1, abortRingSize(4))
  slots.markAborted(7, TIMEOUT) // an earlier attempt's task id, say, before task 7 was (re)posted
  const since = slots.aborts
  assert.equal(slots.abortOf(7, since), 0)
  slots.markAborted(8, CANCELLED)
  assert.equal(slots.abortOf(7, since), 0)
  slots.markAborted(7, TIMEOUT)
  assert.equal(slots.abortOf(7, since), TIMEOUT + 1)
  assert.equal(slots.abortOf(8, since), CANCELLED + 1)
})

test('the ring is a power of two holding at least four aborts per task in flight', () => {
  assert.equal(abortRingSize(1), 256)
  assert.equal(abortRingSize(64), 256)
  assert.equal(abortRingSize(65), 512)
  assert.equal(abortRingSize(1000), 4096)
})

test('more aborts than the ring holds since the task was posted: the whole ring is read, the latest found', () => {
  const ring = abortRingSize(1)
  const slots = ThreadSlots.create(1, 1, ring)
  const since = slots.aborts
  for (let id = 1000; id < 1000 + 2 * ring; id++) slots.markAborted(id, CANCELLED)
  slots.markAborted(5, TIMEOUT)
  assert.equal(slots.abortOf(5, since), TIMEOUT + 1)
  // overwritten long ago
  assert.equal(slots.abortOf(1000, since), 0)
})

test('the abort count may wrap past 2^32 (stored in an Int32Array cell)', () => {
  const ring = abortRingSize(1)
  const slots = ThreadSlots.create(1, 1, ring)
  // jump the count to just below the wrap: the count is the last cell before the ring
  const cells = new Int32Array(slots.buffer)
  const countAt = cells.length - 1 - 2 * ring
  Atomics.store(cells, countAt, -2) // 2^32 - 2 as uint32
  const since = slots.aborts
  slots.markAborted(3, CANCELLED)
  slots.markAborted(4, CANCELLED)
  slots.markAborted(5, TIMEOUT) // written after the count wrapped to 0
  assert.equal(slots.aborts, 1)
  assert.equal(slots.abortOf(5, since), TIMEOUT + 1)
  assert.equal(slots.abortOf(3, since), CANCELLED + 1)
  assert.equal(slots.abortOf(6, since), 0)
})
