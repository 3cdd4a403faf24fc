import { setTimeout as sleep } from 'node:timers/promises'
import { Broker, type FunctionStatus, GearboxError, type JobContext } from '../index.js'

/** Something a demo step prints. */
type Print = (line: string) => void

/**
 * An end-to-end tour of the in-process broker: priorities, coalescing, progress, worker loss and retry,
 * timeouts, background jobs with a result cache, and the admin status table. No server, no network.
 */
export async function runTour(print: Print): Promise<void> {
  const started = performance.now()
  const broker = new Broker({ jobRetries: 2, resultCache: { max: 100, ttl: 60_000 } })
  print('gearbox tour: a Gearman-style job server inside this process\n')
  try {
    await priorities(broker, print)
    await coalescing(broker, print)
    await workerLoss(broker, print)
    await timeouts(broker, print)
    await background(broker, print)
    await adminStatus(broker, print)
  } finally {
    const failed: string[] = []
    broker.on('job:failed', (e) => failed.push(`${e.handle} (${e.error instanceof GearboxError ? e.error.code : e.error.name})`))
    await broker.close()
    if (failed.length > 0) print(`\nclose: jobs still queued fail visibly (no durable store configured): ${failed.join(', ')}`)
  }
  print(`\ndone in ${(performance.now() - started).toFixed(0)} ms; broker closed.`)
}

async function priorities(broker: Broker, print: Print): Promise<void> {
  print('1. Priorities: six jobs queued before any worker exists, then one worker with one slot')
  const client = broker.client({ encoder: 'utf8' })
  const order: string[] = []
  const jobs = [
    client.submit('thumbnail', 'low-1', { priority: 'low' }),
    client.submit('thumbnail', 'normal-1'),
    client.submit('thumbnail', 'high-1', { priority: 'high' }),
    client.submit('thumbnail', 'low-2', { priority: 'low' }),
    client.submit('thumbnail', 'high-2', { priority: 'high' }),
    client.submit('thumbnail', 'normal-2'),
  ]
  const worker = broker.worker({ id: 'thumbs', encoder: 'utf8' })
  worker.register('thumbnail', async (job) => {
    order.push(job.payload)
    await sleep(2)
    return `${job.payload}.jpg`
  })
  const results = await Promise.all(jobs)
  print(`   ran in order: ${order.join(' → ')}`)
  print(`   results: ${results.join(', ')}\n`)
  await worker.close()
}

async function coalescing(broker: Broker, print: Print): Promise<void> {
  print("2. Unique keys: three clients ask for the same 'daily' report; it runs once")
  let runs = 0
  let reachedHalf!: () => void
  const half = new Promise<void>((resolve) => (reachedHalf = resolve))
  const worker = broker.worker({ id: 'reports', encoder: 'json' })
  worker.register('report', async (job: JobContext<unknown, unknown>) => {
    runs++
    for (let step = 1; step <= 4; step++) {
      await sleep(5)
      job.sendStatus(step, 4)
      if (step === 2) reachedHalf()
    }
    return { rows: 42 }
  })
  const client = broker.client({ encoder: 'json' })
  const first = client.submit('report', { day: 'today' }, { unique: 'daily' })
  const second = client.submit('report', { day: 'today' }, { unique: 'daily' })
  await half
  const late = client.submit('report', { day: 'today' }, { unique: 'daily' })
  const lateUpdates = collect(late.updates())
  const [a, b, c] = await Promise.all([first, second, late])
  print(`   handler runs: ${runs}; handles: ${first.handle ?? '?'} ${second.handle ?? '?'} ${late.handle ?? '?'}`)
  print(`   every client got ${JSON.stringify(a)} (${JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(b) === JSON.stringify(c) ? 'identical' : 'different!'})`)
  print(`   the late joiner's updates: ${(await lateUpdates).map((u) => (u.type === 'status' ? `${u.numerator}/${u.denominator}` : u.type)).join(' ')}\n`)
  await worker.close()
}

async function workerLoss(broker: Broker, print: Print): Promise<void> {
  print('3. Worker loss: a worker disappears mid-job; the job goes back to the head of its lane')
  const client = broker.client({ encoder: 'utf8' })
  const attempts: string[] = []
  let started!: () => void
  const running = new Promise<void>((resolve) => (started = resolve))
  const flaky = broker.worker({ id: 'flaky', encoder: 'utf8' })
  flaky.register('encode', (job) => {
    attempts.push(`attempt ${job.attempt} on flaky`)
    started()
    return new Promise<string>(() => undefined) // never finishes: the worker will vanish
  })
  const request = client.submit('encode', 'video.mp4')
  await running
  await flaky.close({ graceful: false })
  const steady = broker.worker({ id: 'steady', encoder: 'utf8' })
  steady.register('encode', (job) => {
    attempts.push(`attempt ${job.attempt} on steady`)
    return `${job.payload} encoded`
  })
  print(`   result: ${await request}; ${attempts.join(', ')}\n`)
  await steady.close()
}

async function timeouts(broker: Broker, print: Print): Promise<void> {
  print('4. Timeouts: the handler\'s signal fires; after jobRetries (2) attempts the client gets a typed error')
  const worker = broker.worker({ id: 'slow' })
  const seen: string[] = []
  worker.register(
    'slow',
    (job) =>
      new Promise((_resolve, reject) => {
        job.signal.addEventListener('abort', () => {
          seen.push(`attempt ${job.attempt} aborted (${(job.signal.reason as GearboxError).code})`)
          reject(job.signal.reason as Error)
        })
      }),
    { timeout: 20, concurrency: 2 },
  )
  try {
    await broker.client().submit('slow', 'x')
  } catch (err) {
    print(`   ${seen.join('; ')}`)
    print(`   client error: ${err instanceof GearboxError ? err.code : String(err)}\n`)
  }
  await worker.close()
}

async function background(broker: Broker, print: Print): Promise<void> {
  print('5. Background jobs: the submitter gets a handle; the result cache keeps the outcome')
  const client = broker.client({ encoder: 'json' })
  const handle = await client.submitBackground('index', { doc: 7 }, { priority: 'low' })
  const queued = await client.getStatus(handle)
  const worker = broker.worker({ id: 'indexer', encoder: 'json' })
  worker.register('index', (job) => ({ indexed: (job.payload as { doc: number }).doc }))
  await broker.idle()
  const done = await client.getStatus(handle)
  const result = await client.getResult(handle)
  print(`   ${handle}: ${queued.state} → ${done.state}; cached result ${JSON.stringify(result?.state === 'completed' ? result.value : result)}\n`)
  await worker.close()
}

async function adminStatus(broker: Broker, print: Print): Promise<void> {
  print('6. Admin: three background jobs wait for an "archive" worker that never comes')
  const client = broker.client()
  for (const priority of ['high', 'normal', 'low'] as const) await client.submitBackground('archive', priority, { priority })
  printStatus(await broker.admin.status(), print)
}

function printStatus(rows: FunctionStatus[], print: Print): void {
  const header = ['function', 'total', 'running', 'workers', 'high', 'normal', 'low']
  const table = [header, ...rows.map((r) => [r.name, r.total, r.running, r.workers, r.byPriority.high, r.byPriority.normal, r.byPriority.low].map(String))]
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)))
  for (const row of table) print(('   ' + row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')).trimEnd())
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}
