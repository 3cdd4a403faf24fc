import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Broker, type BrokerOptions } from '../src/index.js'
import { deferred, EventLog } from './helpers.js'

const limits = { timeout: 10_000 }

/** Three workers registered for `job` in order w1, w2, w3, each running up to `concurrency` at once. */
function setup(t: TestContext, options: BrokerOptions, concurrency: number) {
  const broker = new Broker(options)
  t.after(() => broker.close({ graceful: false }))
  const gate = deferred()
  const ranOn = new EventLog<string>()
  for (const id of ['w1', 'w2', 'w3']) {
    broker.worker({ id, encoder: 'utf8' }).register(
      'job',
      async (job) => {
        ranOn.push(id)
        if (job.payload === 'wait') await gate.promise
        return id
      },
      { concurrency },
    )
  }
  const client = broker.client({ encoder: 'utf8' })
  return { broker, gate, ranOn, client }
}

test('by default the first registered idle worker gets jobs first, up to its concurrency', limits, async (t) => {
  const { gate, ranOn, client } = setup(t, {}, 2)
  const requests = Array.from({ length: 5 }, () => client.submit('job', 'wait'))
  await ranOn.waitFor(5)
  assert.deepEqual(ranOn.items, ['w1', 'w1', 'w2', 'w2', 'w3'])

  gate.resolve()
  assert.deepEqual(await Promise.all(requests), ['w1', 'w1', 'w2', 'w2', 'w3'])
})

test('by default one job at a time always goes to the first registered worker', limits, async (t) => {
  const { ranOn, client } = setup(t, {}, 1)
  for (let i = 0; i < 4; i++) await client.submit('job', 'quick')
  assert.deepEqual(ranOn.items, ['w1', 'w1', 'w1', 'w1'])
})

test('with roundRobin, jobs waiting together are handed to the workers in turn', limits, async (t) => {
  const { gate, ranOn, client } = setup(t, { roundRobin: true }, 2)
  const requests = Array.from({ length: 5 }, () => client.submit('job', 'wait'))
  await ranOn.waitFor(5)
  assert.deepEqual(ranOn.items, ['w1', 'w2', 'w3', 'w1', 'w2'])

  gate.resolve()
  assert.deepEqual(await Promise.all(requests), ['w1', 'w2', 'w3', 'w1', 'w2'])
})

test('with roundRobin, one job at a time rotates across the workers', limits, async (t) => {
  const { ranOn, client } = setup(t, { roundRobin: true }, 1)
  const results: string[] = []
  for (let i = 0; i < 5; i++) results.push(await client.submit('job', 'quick'))
  assert.deepEqual(ranOn.items, ['w1', 'w2', 'w3', 'w1', 'w2'])
  assert.deepEqual(results, ['w1', 'w2', 'w3', 'w1', 'w2'])
})
