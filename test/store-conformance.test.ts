// The JobStore contract, run against every store (memory, SQLite): what is written is loaded back whole, in
// id order; removals delete; equal (or empty) uniques never overwrite each other; data survives a reopen.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StoredJob } from '../src/index.js'
import { STORE_KINDS } from './store-setup.js'

const limits = { timeout: 10_000 }

function job(id: number, overrides: Partial<StoredJob> = {}): StoredJob {
  return { id, functionName: 'fn', unique: '', data: Buffer.from(`payload ${id}`), priority: 1, dueAt: 0, timeout: 0, reducer: '', ...overrides }
}

/** A loaded job as plain values (data as a Buffer), for deepEqual against what was written. */
function plain(j: StoredJob): StoredJob {
  return { ...j, data: Buffer.from(j.data) }
}

for (const kind of STORE_KINDS) {
  test(`${kind.name}: a new store loads nothing`, limits, (t) => {
    const { store } = kind.open(t)
    assert.deepEqual(store.load(), [])
  })

  test(`${kind.name}: every field of every written job is loaded back, in id order`, limits, (t) => {
    const { store } = kind.open(t)
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const jobs = [
      job(7, { functionName: 'resize', unique: 'k1', priority: 0, dueAt: 1_900_000_000_000, timeout: 2_500, reducer: 'merge' }),
      job(3, { unique: '-', data: everyByte, priority: 2 }),
      job(5, { functionName: 'ünïcödé', unique: 'ключ', data: Buffer.alloc(0) }),
    ]
    store.write(jobs, [])
    assert.deepEqual(store.load().map(plain), [jobs[1], jobs[2], jobs[0]].map((j) => plain(j as StoredJob)))
  })

  test(`${kind.name}: two jobs with the same function and an empty (or equal) unique are two rows`, limits, (t) => {
    const { store } = kind.open(t)
    store.write([job(1), job(2), job(3, { unique: 'same' }), job(4, { unique: 'same' })], [])
    assert.deepEqual(
      store.load().map((j) => j.id),
      [1, 2, 3, 4],
    )
  })

  test(`${kind.name}: removals delete by id, in the same write as adds or later; unknown ids are ignored`, limits, (t) => {
    const { store } = kind.open(t)
    store.write([job(1), job(2), job(3)], [])
    store.write([job(4)], [2, 99])
    assert.deepEqual(
      store.load().map((j) => j.id),
      [1, 3, 4],
    )
    store.write([], [1, 3, 4])
    assert.deepEqual(store.load(), [])
  })

  test(`${kind.name}: what was written is there after close and reopen`, limits, (t) => {
    const { store, reopen } = kind.open(t)
    store.write([job(1, { priority: 0 }), job(2, { dueAt: 123_000 })], [])
    store.write([job(3)], [1])
    store.close()
    const again = reopen()
    assert.deepEqual(again.load().map(plain), [job(2, { dueAt: 123_000 }), job(3)].map(plain))
  })
}
