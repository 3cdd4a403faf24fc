// Finished jobs leave nothing behind: the job table, the unique index and the heap return to baseline.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Broker } from '../src/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

test('200,000 coalesced submits leave the job table, unique index and heap as they were', async (t) => {
  const broker = new Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker().register('f', (job) => Promise.resolve(job.data), { concurrency: 64 })
  const client = broker.client()
  const payload = Buffer.alloc(100, 1)
  const round = async (n: number): Promise<void> => {
    const requests = []
    for (let i = 0; i < n; i++) requests.push(client.submit('f', payload, { unique: `u${i % 1000}` }))
    await Promise.all(requests)
  }
  await round(10_000) // warm up: JIT code, and queues and maps grown to the working size
  const before = heapAfterGc()
  for (let i = 0; i < 20; i++) await round(10_000)
  await broker.idle()
  const grown = heapAfterGc() - before
  assert.equal(broker.size, 0)
  assert.deepEqual(await broker.admin.showUniqueJobs(), [])
  // a leak of even one small object per job would be > 6 MB here
  assert.ok(grown < 2_000_000, `heap grew by ${grown} bytes`)
})
