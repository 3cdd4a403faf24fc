import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Broker, FakeClock } from '../src/index.js'

const limits = { timeout: 10_000 }

/** 2030-01-01T00:00:00Z: a FakeClock at a realistic epoch, so `at` values are real dates. */
const START = Date.UTC(2030, 0, 1)

function setup(t: TestContext) {
  const clock = new FakeClock(START)
  const broker = new Broker({ clock })
  t.after(() => broker.close({ graceful: false }))
  const ran: string[] = []
  broker.worker({ encoder: 'utf8' }).register('report', (job) => {
    ran.push(job.payload)
    return 'ok'
  })
  const client = broker.client({ encoder: 'utf8' })
  return { clock, broker, client, ran }
}

for (const form of ['Date', 'epoch ms'] as const) {
  test(`a job scheduled with \`at\` as ${form === 'Date' ? 'a Date' : 'epoch ms'} waits queued until it is due, then runs`, limits, async (t) => {
    const { clock, broker, client, ran } = setup(t)
    const due = START + 60_000
    const handle = await client.submitBackground('report', 'nightly', { at: form === 'Date' ? new Date(due) : due })
    await broker.idle()

    assert.deepEqual(ran, [])
    const [row] = await broker.admin.status()
    assert.deepEqual(
      row && { name: row.name, total: row.total, queued: row.queued, running: row.running },
      { name: 'report', total: 1, queued: 1, running: 0 },
    )
    assert.deepEqual(await broker.admin.showJobs(), [
      {
        handle,
        functionName: 'report',
        unique: '',
        priority: 'normal',
        background: true,
        state: 'scheduled',
        attempts: 0,
        waiting: 0,
        runAt: due,
      },
    ])
    assert.deepEqual(await client.getStatus(handle), {
      handle,
      known: true,
      running: false,
      numerator: 0,
      denominator: 0,
      state: 'queued',
    })

    clock.advance(59_999)
    await broker.idle()
    assert.deepEqual(ran, [])

    clock.advance(1)
    await broker.idle()
    assert.deepEqual(ran, ['nightly'])
    assert.deepEqual(await broker.admin.showJobs(), [])
    assert.equal(broker.size, 0)
  })
}

test('several scheduled jobs run in due order, ties in submission order', limits, async (t) => {
  const { clock, broker, client, ran } = setup(t)
  await client.submitBackground('report', 'third', { at: START + 3_000 })
  await client.submitBackground('report', 'first', { at: new Date(START + 1_000) })
  await client.submitBackground('report', 'second-a', { at: START + 2_000 })
  await client.submitBackground('report', 'fourth', { at: START + 4_000 })
  await client.submitBackground('report', 'second-b', { at: new Date(START + 2_000) })

  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.state, j.runAt]),
    [
      ['scheduled', START + 1_000],
      ['scheduled', START + 2_000],
      ['scheduled', START + 2_000],
      ['scheduled', START + 3_000],
      ['scheduled', START + 4_000],
    ],
  )

  clock.advance(2_000)
  await broker.idle()
  assert.deepEqual(ran, ['first', 'second-a', 'second-b'])

  // several falling due within one advance still run in due order
  clock.advance(10_000)
  await broker.idle()
  assert.deepEqual(ran, ['first', 'second-a', 'second-b', 'third', 'fourth'])
})

test('an `at` in the past (or now) runs at once', limits, async (t) => {
  const { broker, client, ran } = setup(t)
  await client.submitBackground('report', 'overdue', { at: new Date(START - 5_000) })
  await client.submitBackground('report', 'now', { at: START })
  await broker.idle()
  assert.deepEqual(ran, ['overdue', 'now'])
})

test('a cancelled scheduled job never runs', limits, async (t) => {
  const { clock, broker, client, ran } = setup(t)
  const cancelled = await client.submitBackground('report', 'cancelled', { at: START + 1_000 })
  const kept = await client.submitBackground('report', 'kept', { at: START + 1_000 })

  assert.equal(await broker.admin.cancelJob(cancelled), true)
  assert.deepEqual(
    (await broker.admin.showJobs()).map((j) => [j.handle, j.state]),
    [[kept, 'scheduled']],
  )
  assert.equal((await client.getStatus(cancelled)).known, false)
  assert.equal((await broker.admin.status())[0]?.queued, 1)

  clock.advance(5_000)
  await broker.idle()
  assert.deepEqual(ran, ['kept'])
  assert.equal(broker.size, 0)
  assert.equal(await broker.admin.cancelJob(cancelled), false)
})
