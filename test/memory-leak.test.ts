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

test('230,000 coalesced submits leave the job table, unique index and heap as they were', async (t) => {
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
  // the least heap (after a full GC) over a few rounds: what lives across rounds (a leak) is in every one of
  // them, while what V8 keeps for a moment (seen: 3 MB, gone a round later) is not
  const settled = async (rounds: number): Promise<number> => {
    let least = Infinity
    for (let i = 0; i < rounds; i++) {
      await round(10_000)
      least = Math.min(least, heapAfterGc())
    }
    return least
  }
  // warm up: JIT code, and queues and maps grown to the working size
  for (let i = 0; i < 3; i++) await round(10_000)
  const before = await settled(3)
  for (let i = 0; i < 14; i++) await round(10_000)
  await broker.idle()
  const after = await settled(3)
  assert.equal(broker.size, 0)
  assert.deepEqual(await broker.admin.showUniqueJobs(), [])
  t.diagnostic(`least heap after GC: ${before} before, ${after} after 170,000 more jobs`)
  // a leak of even 12 bytes per job would be > 2 MB here
  assert.ok(after - before < 2_000_000, `heap grew by ${after - before} bytes`)
})
