// Unit-testing your own job logic with gearbox: a real broker in the test process, no server, no sleeps.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, FakeClock, JobTimeoutError, type JobUpdate } from 'gearbox'
import { slugify, type SlugifyRequest, type SlugifyResult } from './slugify-handler.js'

function setup(options: { clock?: FakeClock; timeout?: number } = {}) {
  const broker = new Broker({ clock: options.clock, jobRetries: 2 })
  broker.worker({ encoder: 'json' }).register('slugify', slugify, { timeout: options.timeout })
  const client = broker.client<SlugifyRequest | SlugifyResult>({ encoder: 'json' })
  return { broker, client }
}

test('slugify returns slugs and reports progress for every title', async (t) => {
  const { broker, client } = setup()
  t.after(() => broker.close())
  const request = client.submit<SlugifyResult>('slugify', { titles: ['Hello World', 'Crème Brûlée!'] })
  const updates: JobUpdate<unknown>[] = []
  for await (const update of request.updates()) updates.push(update)
  assert.deepEqual(await request, { slugs: ['hello-world', 'creme-brulee'] })
  assert.deepEqual(updates, [
    { type: 'status', numerator: 1, denominator: 2 },
    { type: 'status', numerator: 2, denominator: 2 },
  ])
})

test('an empty title produces a warning, not a failure', async (t) => {
  const { broker, client } = setup()
  t.after(() => broker.close())
  const request = client.submit<SlugifyResult>('slugify', { titles: ['  '] })
  const updates: JobUpdate<unknown>[] = []
  for await (const update of request.updates()) updates.push(update)
  assert.deepEqual(await request, { slugs: [''] })
  assert.deepEqual(updates[0], { type: 'warning', data: 'title 0 is empty' })
})

test('a job that outlives its timeout is retried, then fails with a typed error', async (t) => {
  const clock = new FakeClock()
  const { broker, client } = setup({ clock, timeout: 1_000 })
  t.after(() => broker.close({ graceful: false }))
  const attempts: number[] = []
  broker.on('job:retried', (e) => attempts.push(e.attempts))
  // a stuck lookup: the handler only returns when its signal fires
  let started = deferred()
  broker.worker({ encoder: 'json' }).register('stuck', (job) => new Promise((_, reject) => {
    started.resolve()
    job.signal.addEventListener('abort', () => { reject(job.signal.reason as Error) })
  }), { timeout: 1_000 })
  const request = client.submit('stuck', { titles: [] })
  await started.promise // attempt 1 is running
  started = deferred()
  clock.advance(1_000) // its timeout fires: back to the queue, attempt 2 starts
  await started.promise
  clock.advance(1_000) // attempt 2 times out too: jobRetries (2) reached
  await assert.rejects(request, (err: unknown) => err instanceof JobTimeoutError && err.code === 'GEARBOX_JOB_TIMEOUT')
  assert.deepEqual(attempts, [1])
})

test('identical requests with one unique key run the handler once', async (t) => {
  const { broker, client } = setup()
  t.after(() => broker.close())
  let runs = 0
  broker.on('job:completed', () => runs++)
  const payload = { titles: ['Same Title'] }
  const results = await Promise.all([1, 2, 3].map(() => client.submit('slugify', payload, { unique: 'same-title' })))
  assert.deepEqual(results, [{ slugs: ['same-title'] }, { slugs: ['same-title'] }, { slugs: ['same-title'] }])
  assert.equal(runs, 1)
})

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}
