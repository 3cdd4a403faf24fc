// A threaded attempt that is lost (the handler calls process.exit, throws WorkerLostError, its thread dies of
// an uncaught exception or runs out of memory) is retried per `jobRetries`; only that job is affected, the
// pool replaces a dead thread and keeps serving, and the main process is unaffected.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WorkerLostError, type ThreadPoolOptions } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

const kinds: { kind: string; export: string; pool: ThreadPoolOptions }[] = [
  { kind: 'process.exit(1) in the handler', export: 'exit', pool: {} },
  { kind: 'WorkerLostError thrown in the thread', export: 'lost', pool: {} },
  { kind: 'an uncaught exception in the thread', export: 'uncaught', pool: {} },
  { kind: 'process.exit(1) from a timer in the thread', export: 'exitLater', pool: {} },
  {
    kind: 'running out of memory (resourceLimits)',
    export: 'outOfMemory',
    pool: { resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } },
  },
]

for (const { kind, export: name, pool } of kinds) {
  test(`${kind} loses only that attempt: retried, it succeeds on attempt 2; a job on another thread carries on`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { maxThreads: 2, ...pool })
    const worker = broker.worker()
    worker.register('bystander', threads.handler(fixture('blocking')))
    worker.register('crashy', threads.handler(fixture('crashing'), { export: name, encoder: 'json' }))
    const gate = new Gate()

    // one thread is busy with the bystander while the other loses its attempt
    const bystander = broker.client().submit('bystander', gate.payload)
    await gate.whenEntered()
    assert.deepEqual(await broker.client({ encoder: 'json' }).submit('crashy', { crashes: 1 }), { attempt: 2 })
    assert.deepEqual(retried, [{ attempts: 1, code: 'GEARBOX_WORKER_LOST' }])

    assert.equal(bystander.state, 'pending')
    gate.open()
    assert.equal((await bystander).toString('utf8'), 'released: attempt 1, entry 1')
  })

  test(`${kind} on every attempt: the job fails with WorkerLostError after jobRetries; the pool keeps serving`, limits, async (t) => {
    const { threads, broker, retried } = setup(t, { maxThreads: 1, ...pool })
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

    const after = broker.client().submit('echo', 'still serving')
    assert.equal((await after).toString('utf8'), 'gnivres llits')
    assert.equal(threads.running, 0)
  })
}
