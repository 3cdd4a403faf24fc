// Remote worker and client details seen from the server: an idle worker sleeps (PRE_SLEEP, then silence until
// NOOP), and client and worker ids reach the server's `workers` list.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { type TestContext, test } from 'node:test'
import { connect } from '../src/index.js'
import { startServer, waitUntil } from './tcp-peer.js'
import { Proxy } from './tcp-proxy.js'

const limits = { timeout: 20_000 }

async function setup(t: TestContext): Promise<{ proxy: Proxy; remote: ReturnType<typeof connect>; raw: Awaited<ReturnType<typeof startServer>> }> {
  const raw = await startServer(t)
  const proxy = await Proxy.start(t, raw.port)
  const remote = connect({ servers: [proxy.address] })
  t.after(() => remote.close())
  return { proxy, remote, raw }
}

test('an idle worker sends nothing after PRE_SLEEP (no polling) and wakes on NOOP when a job comes', limits, async (t) => {
  const { proxy, remote } = await setup(t)
  const worker = remote.worker({ encoder: 'utf8' })
  t.after(() => worker.close({ graceful: false }))
  worker.register('idle', (job) => job.payload, { concurrency: 4 })
  // registration, four grabs, four NO_JOBs, PRE_SLEEP: then the byte count stops moving
  let last = -1
  await waitUntil(async () => {
    const now = proxy.bytesUp
    const still = now === last && now > 0
    last = now
    await sleep(50)
    return still
  }, 'the worker falls silent')
  const asleep = proxy.bytesUp
  await sleep(300)
  assert.equal(proxy.bytesUp, asleep, 'a sleeping worker sends nothing')
  assert.equal(await remote.client({ encoder: 'utf8' }).submit('idle', 'wake up'), 'wake up')
})

test('client and worker ids reach the server (SET_CLIENT_ID), shown by admin workers', limits, async (t) => {
  const { remote, raw } = await setup(t)
  const worker = remote.worker({ id: 'worker-7' })
  t.after(() => worker.close({ graceful: false }))
  worker.register('f', () => '')
  const client = remote.client({ id: 'client-3' })
  await client.submitBackground('g', 'x')
  const admin = await raw.connect()
  await waitUntil(async () => / worker-7 : f\n/.test(await admin.admin('workers')), 'the worker is listed')
  assert.match(await admin.admin('workers'), / client-3 :\n/)
})

test('admin getpid: the server process id (here, this process), and a round trip with ping', limits, async (t) => {
  const { remote } = await setup(t)
  assert.equal(await remote.admin.getpid(), process.pid)
  assert.ok((await remote.admin.ping()) >= 0)
})

test('a client keeps every job through its job table renewals (one per 256 removals): 1500 jobs, 64 in flight', limits, async (t) => {
  const { remote } = await setup(t)
  const worker = remote.worker({ encoder: 'utf8' })
  t.after(() => worker.close({ graceful: false }))
  worker.register('upper', (job) => job.payload.toUpperCase(), { concurrency: 8 })
  const client = remote.client({ encoder: 'utf8' })
  const total = 1500
  let next = 0
  const wrong: string[] = []
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++
      const result = await client.submit('upper', `job-${i}-abc`)
      if (result !== `JOB-${i}-ABC`) wrong.push(`${i}: ${result}`)
    }
  }
  await Promise.all(Array.from({ length: 64 }, lane))
  assert.deepEqual(wrong, [])
})
