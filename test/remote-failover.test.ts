// Several servers behind loopback proxies (tcp-proxy.ts): consistent hashing of uniques, spreading of jobs
// without one, a server cut mid-run (in-flight foreground jobs fail with ConnectionLostError, or are
// resubmitted), a stalled server, and workers that come back with their registrations when the server does.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { Broker, ConnectionLostError, connect, type ConnectOptions, GearmanServer } from '../src/index.js'
import { deferred } from './helpers.js'
import { startServer as startChild } from '../bench/loadgen/servers.js'
import { waitUntil } from './tcp-peer.js'
import { Proxy } from './tcp-proxy.js'

const limits = { timeout: 30_000 }

function nth<T>(list: readonly T[], i: number): T {
  const item = list[i]
  assert.ok(item !== undefined)
  return item
}

interface Cluster {
  readonly brokers: Broker[]
  readonly proxies: Proxy[]
  readonly remote: ReturnType<typeof connect>
}

/** Two gearbox servers, each behind a proxy, and connect() to the proxies. */
async function cluster(t: TestContext, options: Partial<ConnectOptions> = {}): Promise<Cluster> {
  const brokers: Broker[] = []
  const proxies: Proxy[] = []
  const servers: GearmanServer[] = []
  for (let i = 0; i < 2; i++) {
    const broker = new Broker({ handlePrefix: `H:s${i}` })
    const server = new GearmanServer(broker, { port: 0 })
    const { port } = await server.listen()
    brokers.push(broker)
    servers.push(server)
    proxies.push(await Proxy.start(t, port))
  }
  const remote = connect({ servers: proxies.map((p) => p.address), backoff: { base: 20, max: 100 }, replyTimeout: 2_000, ...options })
  t.after(async () => {
    await remote.close()
    for (const server of servers) await server.close()
    for (const broker of brokers) await broker.close({ graceful: false })
  })
  return { brokers, proxies, remote }
}

test('jobs with a unique go to one server per unique (they coalesce across the cluster); jobs without spread over both', limits, async (t) => {
  const { brokers, remote } = await cluster(t)
  const client = remote.client({ encoder: 'utf8' })
  const uniques = Array.from({ length: 40 }, (_, i) => `key-${i}`)
  const first = await Promise.all(uniques.map((unique) => client.submitBackground('keyed', 'x', { unique })))
  const sizes = brokers.map((b) => b.size)
  assert.equal(nth(sizes, 0) + nth(sizes, 1), 40)
  assert.ok(nth(sizes, 0) > 0 && nth(sizes, 1) > 0, `both servers own some uniques: ${sizes.join(', ')}`)
  // the same uniques again (another client, other payloads): the same servers, the same jobs
  const again = await Promise.all(uniques.map((unique) => remote.client().submitBackground('keyed', 'y', { unique })))
  assert.deepEqual(again, first)
  assert.deepEqual(brokers.map((b) => b.size), sizes)

  await Promise.all(Array.from({ length: 20 }, () => client.submitBackground('plain', 'x')))
  assert.deepEqual(brokers.map((b, i) => b.size - nth(sizes, i)), [10, 10])
})

test('a server cut mid-run: its in-flight foreground jobs fail with ConnectionLostError, new jobs go to the survivor, the worker comes back', limits, async (t) => {
  const { brokers, proxies, remote } = await cluster(t)
  const started = deferred()
  let running = 0
  const release = deferred()
  const worker = remote.worker({ id: 'fw', encoder: 'utf8' })
  worker.register(
    'work',
    async (job) => {
      if (job.payload === 'block' && ++running === 2) started.resolve()
      if (job.payload === 'block') await release.promise
      return `done ${job.payload}`
    },
    { concurrency: 4 },
  )
  await waitUntil(() => proxies.every((p) => p.connections >= 1), 'the worker is connected to both servers')
  const client = remote.client({ encoder: 'utf8' })
  // one blocked job on each server (submissions without a unique alternate)
  const blocked = [client.submit('work', 'block'), client.submit('work', 'block')]
  await started.promise
  const onFirst = blocked.find((r) => r.handle?.startsWith('H:s0') === true)
  const onSecond = blocked.find((r) => r.handle?.startsWith('H:s1') === true)
  assert.ok(onFirst !== undefined && onSecond !== undefined)

  nth(proxies, 0).cut()
  await assert.rejects(onFirst, (err: unknown) => err instanceof ConnectionLostError && err.server === nth(proxies, 0).address)
  // the survivor takes every new job
  const next = await Promise.all(['a', 'b', 'c', 'd'].map((p) => client.submit('work', p)))
  assert.deepEqual(next, ['done a', 'done b', 'done c', 'done d'])
  release.resolve()
  assert.equal(await onSecond, 'done block')

  // the server returns: the worker reconnects and registers again, and jobs reach it there
  nth(proxies, 0).restore()
  await waitUntil(async () => (await remote.adminOf(0).workers()).some((w) => w.id === 'fw' && w.functions.includes('work')), 'the worker is back on server 0')
  const handle = await client.submitBackground('work', 'after')
  await waitUntil(() => brokers.every((b) => b.size === 0), `the background job ${handle} ran`)
})

test('with resubmit, foreground jobs in flight on a cut server are submitted again to the survivor and complete', limits, async (t) => {
  const { brokers, proxies, remote } = await cluster(t, { resubmit: true })
  const client = remote.client({ encoder: 'utf8' })
  // no worker yet: the jobs wait on both servers
  const requests = Array.from({ length: 6 }, (_, i) => client.submit('later', `p${i}`))
  await waitUntil(() => nth(brokers, 0).size === 3 && nth(brokers, 1).size === 3, 'three jobs queued on each server')
  nth(proxies, 0).cut()
  await waitUntil(() => nth(brokers, 1).size === 6, 'the cut server’s jobs were resubmitted to the survivor')
  remote.worker({ encoder: 'utf8' }).register('later', (job) => job.payload.toUpperCase(), { concurrency: 2 })
  assert.deepEqual(await Promise.all(requests), ['P0', 'P1', 'P2', 'P3', 'P4', 'P5'])
})

test('a stalled server: the reply timeout drops it and the submission goes to the other server', limits, async (t) => {
  const { brokers, proxies, remote } = await cluster(t, { replyTimeout: 300, maxRetries: 1 })
  const client = remote.client({ encoder: 'utf8' })
  // warm both connections up
  await client.submitBackground('s', 'a')
  await client.submitBackground('s', 'b')
  assert.deepEqual(brokers.map((b) => b.size), [1, 1])
  nth(proxies, 0).stall()
  const handles = await Promise.all([client.submitBackground('s', 'c'), client.submitBackground('s', 'd')])
  assert.ok(handles.every((h) => h.startsWith('H:s1')), handles.join(', '))
  nth(proxies, 0).resume()
})

test('two gearmand processes, one killed mid-run: its foreground job fails with ConnectionLostError, the other server carries on', limits, async (t) => {
  const children = [await startChild('gearmand'), await startChild('gearmand')]
  const remote = connect({ servers: children.map((c) => `127.0.0.1:${c.port}`), backoff: { base: 20, max: 100 } })
  t.after(async () => {
    await remote.close()
    for (const child of children) await child.stop()
  })
  const release = deferred()
  let blocked = 0
  const bothRunning = deferred()
  remote.worker({ encoder: 'utf8' }).register(
    'work',
    async (job) => {
      if (job.payload === 'block') {
        if (++blocked === 2) bothRunning.resolve()
        await release.promise
      }
      return `done ${job.payload}`
    },
    { concurrency: 4 },
  )
  const client = remote.client({ encoder: 'utf8' })
  const requests = [client.submit('work', 'block'), client.submit('work', 'block')]
  await bothRunning.promise
  await nth(children, 0).stop()
  // the job on the dead server can no longer report; the other one finishes
  release.resolve()
  const outcomes = await Promise.allSettled(requests)
  const lost = outcomes.filter((o) => o.status === 'rejected')
  assert.equal(lost.length, 1)
  assert.ok(outcomes.some((o) => o.status === 'fulfilled' && o.value === 'done block'))
  assert.ok(lost[0]?.status === 'rejected' && lost[0].reason instanceof ConnectionLostError)
  assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((p) => client.submit('work', p))), ['done a', 'done b', 'done c'])
})
