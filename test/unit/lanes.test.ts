import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FakeClock } from '../../src/core/fake-clock.js'
import { FunctionEntry } from '../../src/core/function-entry.js'
import { Job, type PriorityLevel } from '../../src/core/job.js'
import { Lanes } from '../../src/core/lanes.js'
import { Schedule } from '../../src/core/schedule.js'

const fn = new FunctionEntry('f', 0)
let nextId = 1
function job(priority: PriorityLevel, dueAt = 0): Job {
  return new Job(nextId++, fn, '', null, new Uint8Array(0), priority, true, dueAt, 0, '', null)
}

function drain(lanes: Lanes): number[] {
  const out: number[] = []
  for (let j = lanes.peek(); j !== undefined; j = lanes.peek()) {
    lanes.take(j)
    out.push(j.id)
  }
  return out
}

test('lanes: high before normal before low, FIFO within a lane', () => {
  const lanes = new Lanes()
  const jobs = [job(2), job(1), job(0), job(2), job(0), job(1)]
  for (const j of jobs) lanes.push(j)
  assert.deepEqual(lanes.counts, [2, 2, 2])
  const ids = jobs.map((j) => j.id)
  assert.deepEqual(drain(lanes), [ids[2], ids[4], ids[1], ids[5], ids[0], ids[3]])
  assert.equal(lanes.size, 0)
})

test('lanes: unshift puts a job back at the head of its own lane', () => {
  const lanes = new Lanes()
  const a = job(1)
  const b = job(1)
  const h = job(0)
  lanes.push(a)
  lanes.push(h)
  lanes.unshift(b)
  assert.deepEqual(drain(lanes), [h.id, b.id, a.id])
})

test('lanes: a forgotten job is a tombstone that peek skips, and counts drop at once', () => {
  const lanes = new Lanes()
  const a = job(1)
  const b = job(1)
  lanes.push(a)
  lanes.push(b)
  a.state = 'done'
  lanes.forget(a)
  assert.equal(lanes.size, 1)
  assert.deepEqual(lanes.counts, [0, 1, 0])
  assert.deepEqual([...lanes.jobs()].map((j) => j.id), [b.id])
  assert.deepEqual(drain(lanes), [b.id])
})

test('schedule: pops in due order, ties by id, skipping tombstones', () => {
  const s = new Schedule(new FakeClock(), () => undefined)
  const times = [50, 10, 30, 10, 40, 20]
  const jobs = times.map((t) => {
    const j = job(1, t)
    j.state = 'scheduled'
    return j
  })
  for (const j of jobs) s.push(j)
  const dead = jobs[4]
  assert.ok(dead)
  dead.state = 'done'
  const order: number[] = []
  for (let j = s.peek(); j !== undefined; j = s.peek()) {
    s.pop()
    order.push(j.dueAt)
  }
  assert.deepEqual(order, [10, 10, 20, 30, 50])
  assert.equal(s.length, 0)
})

test('schedule: a heap of random due times comes out sorted', () => {
  const s = new Schedule(new FakeClock(), () => undefined)
  const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000)
  for (const t of times) {
    const j = job(1, t)
    j.state = 'scheduled'
    s.push(j)
  }
  const out: number[] = []
  for (let j = s.pop(); j !== undefined; j = s.pop()) out.push(j.dueAt)
  assert.deepEqual(out, [...times].sort((a, b) => a - b))
})
