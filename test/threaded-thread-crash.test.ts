// A thread that dies of an uncaught exception (thrown, or process.exit(1) called, from a timer callback in
// the thread) loses only the attempt it was running: the job is retried per `jobRetries`, other jobs carry
// on, the pool replaces the thread, and the main process is unaffected.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WorkerLostError } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

const kinds = [
  { kind: 'an uncaught exception in the thread', export: 'uncaught' },
  { kind: 'process.exit(1) from a timer in the thread', export: 'exitLater' },
]

for (const { kind, export: name } of kinds) {
  test(`${kind} loses only that attempt: retried, it succeeds on attempt 2; a job on another thread carries on`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { maxThreads: 2 })
    const worker = broker.worker()
    worker.register('bystander', threads.handler(fixture('blocking')))
    worker.register('crashy', threads.handler(fixture('crashing'), { export: name, encoder: 'json' }))
    const gate = new Gate()

    const bystander = broker.client().submit('bystander', gate.payload)
    await gate.whenEntered()
    assert.deepEqual(await broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1 }), { attempt: 2 })
    assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_WORKER_LOST' }])

    assert.equal(bystander.state, 'pending')
    gate.open()
    assert.equal((await bystander).toString('utf8'), 'released: attempt 1, entry 1')
  })

  test(`${kind} on every attempt: the job fails with WorkerLostError after jobRetries; the pool keeps serving`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { maxThreads: 1 })
    const worker = broker.worker()
    worker.register('crashy', threads.handler(fixture('crashing'), { export: name, encoder: 'json' }))
    worker.register('echo', threads.handler(fixture('echo')))

    await assert.rejects(broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1_000 }), (err: unknown) => {
      assert.ok(err instanceof WorkerLostError)
      assert.equal(err.code, 'GEARBOX_WORKER_LOST')
      assert.equal(err.attempts, 3)
      return true
    })
    assert.deepEqual(retried, [
      { attempts: 1, code: 'GEARBOX_WORKER_LOST' },
      { attempts: 2, code: 'GEARBOX_WORKER_LOST' },
    ])

    assert.equal((await broker.client().submit('echo', 'still serving')).toString('utf8'), 'gnivres llits')
    assert.equal(threads.running, 0)
  })
}
