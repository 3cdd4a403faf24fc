// The engine's pull path (what the TCP adapter will drive): GRAB_JOB, PRE_SLEEP/NOOP and workerWakeup.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FakeClock } from '../../src/core/fake-clock.js'
import { Engine, type SubmitSpec } from '../../src/core/engine.js'
import type { Job } from '../../src/core/job.js'
import type { WorkerSession } from '../../src/core/sessions.js'
import { WorkerLostError } from '../../src/errors.js'

const BG: SubmitSpec = { priority: 1, background: true, dueAt: 0, timeout: 0, reducer: '' }

function engine(workerWakeup = 0, jobRetries = 0): Engine {
  return new Engine({ handlePrefix: 'H:t', jobRetries, roundRobin: false, workerWakeup, maxQueue: 0, clock: new FakeClock(), resultCache: null })
}

function pullSession(name: string, log: string[]): WorkerSession {
  return {
    mode: 'pull',
    run: () => {
      throw new Error('pull sessions are never pushed a job')
    },
    wake: () => log.push(`noop ${name}`),
    revoke: () => undefined,
  }
}

test('grab returns NO_JOB (undefined) on an empty queue, then jobs in priority order', () => {
  const e = engine()
  const w = e.addWorker(pullSession('a', []), 'a', Infinity)
  e.register(w, 'f', 0, Infinity)
  assert.equal(e.grab(w), undefined)
  const low = e.submit('f', '', Buffer.from('l'), { ...BG, priority: 2 }, null)
  const high = e.submit('f', '', Buffer.from('h'), { ...BG, priority: 0 }, null)
  assert.equal(e.grab(w), high)
  assert.equal(e.grab(w), low)
  assert.equal(e.grab(w), undefined)
  assert.equal(e.runningCount, 2)
})

test('PRE_SLEEP with work pending asks for a NOOP now; a sleeping worker is woken once per grab', () => {
  const log: string[] = []
  const e = engine()
  const w = e.addWorker(pullSession('a', log), 'a', Infinity)
  e.register(w, 'f', 0, Infinity)
  assert.equal(e.sleep(w), false)
  e.submit('f', '', Buffer.from('1'), BG, null)
  e.submit('f', '', Buffer.from('2'), BG, null)
  assert.deepEqual(log, ['noop a'], 'a second job does not NOOP a worker already woken')
  assert.equal(e.sleep(w), true, 'PRE_SLEEP while work waits answers NOOP at once')
  assert.ok(e.grab(w))
})

test('workerWakeup limits NOOPs per queued job and rotates over the sleepers', () => {
  const log: string[] = []
  const e = engine(1)
  const workers = ['a', 'b', 'c'].map((n) => {
    const w = e.addWorker(pullSession(n, log), n, Infinity)
    e.register(w, 'f', 0, Infinity)
    e.sleep(w)
    return w
  })
  e.submit('f', '', Buffer.from('1'), BG, null)
  e.submit('f', '', Buffer.from('2'), BG, null)
  e.submit('f', '', Buffer.from('3'), BG, null)
  assert.deepEqual(log, ['noop a', 'noop b', 'noop c'])
  assert.equal(workers.length, 3)
})

test('workerWakeup 0 wakes every sleeping worker', () => {
  const log: string[] = []
  const e = engine(0)
  for (const n of ['a', 'b']) {
    const w = e.addWorker(pullSession(n, log), n, Infinity)
    e.register(w, 'f', 0, Infinity)
    e.sleep(w)
  }
  e.submit('f', '', Buffer.from('1'), BG, null)
  assert.deepEqual(log, ['noop a', 'noop b'])
})

test('a pull worker that goes away loses its job to the head of the queue; results from it are refused', () => {
  const e = engine()
  const a = e.addWorker(pullSession('a', []), 'a', Infinity)
  const b = e.addWorker(pullSession('b', []), 'b', Infinity)
  e.register(a, 'f', 0, Infinity)
  e.register(b, 'f', 0, Infinity)
  const first = e.submit('f', '', Buffer.from('1'), BG, null)
  e.submit('f', '', Buffer.from('2'), BG, null)
  assert.equal(e.grab(a), first)
  e.removeWorker(a)
  assert.equal(e.workComplete(first, a, -1, Buffer.from('late')), false)
  const again: Job | undefined = e.grab(b)
  assert.equal(again, first)
  assert.equal(first.attempts, 2)
  assert.equal(e.workComplete(first, b, -1, Buffer.from('ok')), true)
  assert.equal(e.size, 1)
})

test('unregister with loseRunning requeues the running job (CANT_DO)', () => {
  const e = engine()
  const a = e.addWorker(pullSession('a', []), 'a', Infinity)
  e.register(a, 'f', 0, Infinity)
  const job = e.submit('f', '', Buffer.from('1'), BG, null)
  assert.equal(e.grab(a), job)
  assert.equal(e.unregister(a, 'f', true), true)
  assert.equal(job.state, 'queued')
  assert.equal(e.workLost(job, a, -1, new WorkerLostError()), false)
})
