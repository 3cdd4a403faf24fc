// Closing with threaded jobs: a graceful broker close waits for a running threaded job, a pool close lets
// running jobs finish, and once both are closed nothing keeps the process alive.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setImmediate, setTimeout as sleep } from 'node:timers/promises'
import { BrokerClosedError } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { track } from './helpers.js'
import { fifo, fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

test('a graceful broker close waits for a running threaded job, whose client gets the result; then the pool closes', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const client = broker.client()
  const gate = new Gate()

  const running = client.submit('block', gate.payload)
  await gate.whenEntered()
  const queued = client.submit('block', Buffer.from('waits for the pool'))

  const closing = broker.close()
  const closed = track(closing)
  // the job still waiting for the pool is refused; the running one is waited for
  await assert.rejects(queued, (err: unknown) => err instanceof BrokerClosedError && err.code === 'GEARBOX_BROKER_CLOSED')
  assert.equal(closed.settled, false)
  assert.equal(running.state, 'pending')

  gate.open()
  assert.equal((await running).toString('utf8'), 'released: attempt 1, entry 1')
  await closing
  await threads.close()
  assert.equal(threads.running, 0)
  assert.equal(gate.entered, 1)
})

test('closing the pool lets a running job finish before its threads are stopped', limits, async (t) => {
  const { threads, broker } = setup(t)
  broker.worker().register('block', threads.handler(fixture('blocking')))
  const gate = new Gate()

  const running = broker.client().submit('block', gate.payload)
  await gate.whenEntered()
  const closing = threads.close()
  const closed = track(closing)
  await Promise.resolve()
  assert.equal(closed.settled, false)

  gate.open()
  assert.equal((await running).toString('utf8'), 'released: attempt 1, entry 1')
  await closing
  assert.equal(threads.running, 0)
})

/**
 * Runs `body` as an ES module in a child process with `Broker`, `ThreadPool` and `fixture(name)` in scope; the
 * child must exit on its own (a handle left open would keep it alive until the kill timeout).
 */
async function runChild(t: TestContext, body: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gearbox-threaded-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'child.mjs')
  await writeFile(
    file,
    `import { Broker, ThreadPool } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)}
const fixtures = ${JSON.stringify(new URL('./fixtures/', import.meta.url).href)}
const fixture = (name) => new URL(name + '.js', fixtures)
${body}
`,
  )
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const failure = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null
      resolve({
        code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        signal: failure?.signal ?? null,
        stdout: stdout.trim(),
        stderr: stderr.trim(),
      })
    })
  })
}

test('a process whose broker and pool are closed gracefully exits on its own: no handle stays open', limits, async (t) => {
  const child = await runChild(t, `
    const threads = new ThreadPool({ maxThreads: 2, gracePeriod: 50, terminateTimeout: 2000 })
    const broker = new Broker({ jobRetries: 2 })
    const worker = broker.worker()
    worker.register('echo', threads.handler(fixture('echo')))
    worker.register('stuck', threads.handler(fixture('stuck'), { export: 'spin', encoder: 'json' }), { timeout: 500 })
    worker.register('exit', threads.handler(fixture('crashing'), { export: 'exit', encoder: 'json' }))
    const json = broker.client({ encoder: 'json' })
    const outcomes = await Promise.allSettled([
      broker.client({ encoder: 'utf8' }).submit('echo', 'olleh'),
      json.submit('stuck', { stuck: 1 }),
      json.submit('exit', { crashes: 1 }),
    ])
    await broker.close()
    await threads.close()
    const [echo, stuck, exit] = outcomes.map((o) => o.status === 'fulfilled' ? o.value : o.reason.code)
    console.log(JSON.stringify([echo, stuck.attempt, exit.attempt, threads.running]))
  `)
  assert.deepEqual(child, { code: 0, signal: null, stdout: JSON.stringify(['hello', 2, 2, 0]), stderr: '' })
})

test('a process whose broker is closed at once while a thread is stuck exits once the pool is closed', limits, async (t) => {
  const child = await runChild(t, `
    const threads = new ThreadPool({ maxThreads: 1, gracePeriod: 50, terminateTimeout: 2000 })
    const broker = new Broker()
    broker.worker().register('stuck', threads.handler(fixture('stuck'), { export: 'spin', encoder: 'json' }))
    const request = broker.client({ encoder: 'json' }).submit('stuck', { stuck: 1 })
    for await (const update of request.updates()) break // the thread is spinning
    await broker.close({ graceful: false })
    const outcome = await request.then(() => 'completed', (err) => err.code)
    await threads.close()
    console.log(JSON.stringify([outcome, threads.running]))
  `)
  assert.deepEqual(child, { code: 0, signal: null, stdout: JSON.stringify(['GEARBOX_BROKER_CLOSED', 0]), stderr: '' })
})

test('a job whose thread cannot be terminated still settles when the pool closes', limits, async (t) => {
  const path = fifo(t)
  const { threads, broker } = setup(t, { terminateTimeout: 200 })
  broker.worker().register('stuck', threads.handler(fixture('stuck'), { export: 'inSyscall', encoder: 'json' }))
  const request = broker.client({ encoder: 'json' }).submit('stuck', { stuck: 1, fifo: path })
  // its first update: the thread is about to block in open(2), where even terminating it hangs
  for await (const update of request.updates()) if (update.type === 'data') break
  const outcome = track(request)

  await threads.close({ timeout: 100 })
  // the pool gave up on the thread: the attempt is lost, and its retry refused by the closed pool
  await setImmediate()
  assert.equal(outcome.settled, true)
  await assert.rejects(request)
  assert.equal(threads.running, 0)
})

test('a pool that closes settles the jobs still waiting in its queue at once, without waiting for its threads to end', limits, async (t) => {
  const path = fifo(t)
  const { threads, broker } = setup(t, { terminateTimeout: 2000 })
  const worker = broker.worker()
  worker.register('stuck', threads.handler(fixture('stuck'), { export: 'inSyscall', encoder: 'json' }))
  worker.register('block', threads.handler(fixture('blocking')))
  const stuck = broker.client({ encoder: 'json' }).submit('stuck', { stuck: 1, fifo: path })
  for await (const update of stuck.updates()) if (update.type === 'data') break
  // the only thread is taken: this one waits in the pool's own queue
  const request = broker.client().submit('block', new Gate().payload)
  const queued = track(request)
  await setImmediate()
  assert.equal(threads.running, 2)

  const pool = threads.close({ timeout: 50 })
  const closing = track(pool)
  await sleep(500)
  // the pool still waits (up to terminateTimeout) for the thread stuck in open(2); the queued job does not
  assert.equal(closing.settled, false)
  assert.equal(queued.settled, true)
  await assert.rejects(request)
  await pool
  await assert.rejects(stuck)
})
