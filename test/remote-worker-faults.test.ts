// The remote worker against a scripted server that answers in awkward orders: every grab's answer counts, a
// dropped connection's leftover packets are not acted on, and a stalled server is noticed.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { connect, WorkerLostError } from '../src/index.js'
import { PACKET } from '../src/protocol/packets.js'
import { FakeGearman, res } from './fake-gearman.js'
import { waitUntil } from './tcp-peer.js'

const limits = { timeout: 20_000 }

test('a grab answered NO_JOB while another brings a job: the link still sleeps (PRE_SLEEP) and is woken by NOOP', limits, async (t) => {
  let grabs = 0
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.GRAB_JOB_UNIQ) {
      grabs++
      if (grabs === 1) return res(PACKET.NO_JOB, [])
      if (grabs === 2) return res(PACKET.JOB_ASSIGN_UNIQ, ['H:1', 'f', 'u', 'x'])
      return res(PACKET.NO_JOB, [])
    }
    return r.type === PACKET.PRE_SLEEP && fake.count(PACKET.PRE_SLEEP) === 1 ? res(PACKET.NOOP, []) : null
  })
  const remote = connect({ servers: [fake.address] })
  t.after(() => remote.close())
  const worker = remote.worker({ encoder: 'utf8' })
  t.after(() => worker.close({ graceful: false }))
  worker.register('f', (job) => job.payload, { concurrency: 2 })
  await waitUntil(() => fake.count(PACKET.WORK_COMPLETE) === 1, 'the job is done')
  await waitUntil(() => fake.count(PACKET.PRE_SLEEP) === 1, 'the worker says it sleeps')
  await waitUntil(() => grabs > 2, 'NOOP wakes it: it grabs again')
})

test('packets after the one whose handler dropped the connection are not acted on (no job runs on a dead link)', limits, async (t) => {
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type !== PACKET.GRAB_JOB_UNIQ) return null
    // the first connection's second grab gets two jobs in one chunk; later connections have none
    if (r.conn === 1 && fake.count(PACKET.GRAB_JOB_UNIQ, 1) === 2) {
      return Buffer.concat([res(PACKET.JOB_ASSIGN_UNIQ, ['H:1', 'f', 'u1', 'lose']), res(PACKET.JOB_ASSIGN_UNIQ, ['H:2', 'f', 'u2', 'other'])])
    }
    return r.conn === 1 ? null : res(PACKET.NO_JOB, [])
  })
  const remote = connect({ servers: [fake.address], backoff: { base: 20, max: 50 } })
  t.after(() => remote.close())
  const worker = remote.worker({ encoder: 'utf8' })
  t.after(() => worker.close({ graceful: false }))
  const ran: string[] = []
  worker.register(
    'f',
    (job) => {
      ran.push(job.payload)
      if (job.payload === 'lose') throw new WorkerLostError('give it back')
      return 'ok'
    },
    { concurrency: 2 },
  )
  await waitUntil(() => fake.count(PACKET.PRE_SLEEP) > 0, 'the second connection sleeps')
  await sleep(50)
  assert.deepEqual(ran, ['lose'], 'the job after the give-back was requeued by the server, not run here')
  assert.equal(worker.running, 0)
  assert.equal(fake.count(PACKET.WORK_COMPLETE), 0)
})

test('a server that accepts and hangs up at once is retried with growing backoff: a TCP accept alone does not reset it', limits, async (t) => {
  const fake = await FakeGearman.start(t, (_r, socket) => {
    socket.destroy()
    return null
  })
  const remote = connect({ servers: [fake.address], backoff: { base: 20, max: 10_000 } })
  t.after(() => remote.close())
  const worker = remote.worker()
  t.after(() => worker.close({ graceful: false }))
  worker.register('f', () => '')
  await sleep(1_000)
  // doubling from 20 ms (jitter's floor: half of it) allows at most 8 tries in a second; a reset one, ~50
  assert.ok(fake.accepted <= 8, `${fake.accepted} connections in a second`)
  assert.ok(fake.accepted >= 2, 'it does retry')
})

test('a server that never answers a grab (stalled) is dropped after the reply timeout, and the worker reconnects', limits, async (t) => {
  const fake = await FakeGearman.start(t, (r) => (r.type === PACKET.GRAB_JOB_UNIQ && r.conn > 1 ? res(PACKET.NO_JOB, []) : null))
  const remote = connect({ servers: [fake.address], replyTimeout: 200, backoff: { base: 20, max: 50 } })
  t.after(() => remote.close())
  const worker = remote.worker()
  t.after(() => worker.close({ graceful: false }))
  worker.register('f', () => '')
  await waitUntil(() => fake.count(PACKET.PRE_SLEEP, 2) === 1, 'a second connection is made, and answered')
})

test('a connection dropped while its function is being unregistered does not register it again', limits, async (t) => {
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type !== PACKET.GRAB_JOB_UNIQ) return null
    return r.conn === 1 && fake.count(PACKET.GRAB_JOB_UNIQ, 1) === 1 ? res(PACKET.JOB_ASSIGN_UNIQ, ['H:1', 'f', 'u', 'x']) : res(PACKET.NO_JOB, [])
  })
  const remote = connect({ servers: [fake.address], backoff: { base: 20, max: 50 } })
  t.after(() => remote.close())
  const worker = remote.worker()
  t.after(() => worker.close({ graceful: false }))
  let started = (): void => undefined
  const running = new Promise<void>((resolve) => (started = resolve))
  let release = (): void => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  worker.register('f', async () => {
    started()
    await released // a handler that ignores its signal: it runs on after the drop
    return ''
  })
  await running
  assert.equal(worker.unregister('f'), true)
  fake.drop()
  await sleep(200)
  release()
  await waitUntil(() => worker.running === 0, 'the job ends')
  assert.equal(fake.accepted, 1, 'no reconnection for an unregistered function')
})

test('a server that wakes the worker for work its grabs never find (NOOP, NO_JOB, …) is not answered in a tight loop', limits, async (t) => {
  // gearmand does this while a future SUBMIT_JOB_EPOCH job heads a priority above a runnable job (GEARMAN.md §3.4)
  let haveJob = false
  const fake = await FakeGearman.start(t, (r) => {
    if (r.type === PACKET.PRE_SLEEP) return res(PACKET.NOOP, [])
    if (r.type !== PACKET.GRAB_JOB_UNIQ) return null
    if (!haveJob) return res(PACKET.NO_JOB, [])
    haveJob = false
    return res(PACKET.JOB_ASSIGN_UNIQ, ['H:1', 'f', 'u', 'x'])
  })
  const remote = connect({ servers: [fake.address] })
  t.after(() => remote.close())
  const worker = remote.worker({ encoder: 'utf8' })
  t.after(() => worker.close({ graceful: false }))
  worker.register('f', (job) => job.payload)
  await waitUntil(() => fake.count(PACKET.GRAB_JOB_UNIQ) > 0, 'the worker grabs')
  await sleep(1_000)
  // 4 at once, then PRE_SLEEP waits 1, 2, 4 … ms, at most 100: about 20 in the second; unchecked, thousands
  const grabs = fake.count(PACKET.GRAB_JOB_UNIQ)
  assert.ok(grabs <= 40, `${grabs} grabs in a second`)
  assert.ok(grabs >= 8, `${grabs} grabs in a second: the worker should still ask now and then`)
  // work that does come is still taken within the longest pause (and the pauses start over after it)
  haveJob = true
  await waitUntil(() => fake.count(PACKET.WORK_COMPLETE) === 1, 'the job is done', 1_000)
})
