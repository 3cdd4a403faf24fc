/**
 * threads: gearbox's ThreadPool path, against raw tinypool with the same number of threads.
 *  - threads-echo: tiny jobs (100-byte echo), WINDOW in flight, through gearbox (`threads.handler(...)` on
 *    a broker, `client.submit`, refilled on completion) and through raw tinypool (`pool.run`): jobs/s and
 *    p50 latency (submit → result), CPU time per job. One child process per measured round, contenders
 *    interleaved.
 *  - threads-resize: a CPU-heavy job, the resize of examples/resize (decode a PNG, three thumbnails, three
 *    JPEGs, with jimp), inline on the main thread, on gearbox's pool (the example's handler, and tinypool's
 *    function) and on raw tinypool: the speedups and CPU per job. threads-spin, a control, does the same with
 *    pure computation (no allocation): what two threads can give on this machine at all. One child process
 *    per round (a warm-up pass, then the round); every result checked against the child's first inline run.
 *
 *   node --expose-gc .build/bench/threads.js [--part=echo|resize] [--rounds=N] [--jobs=20000] [--threads=N] [--prefetch=N] [--batch=N]
 *     [--node-arg=--single-threaded-gc ...]   (node flags for the child processes, which run every way)
 */
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Tinypool from 'tinypool'
import { Broker, ThreadPool } from '../src/index.js'
import { check, gc, now, runNode, siSpread, spread, type Spread } from './common.js'

const WINDOW = 256
const WARMUP_JOBS = 10_000
const PAYLOAD_BYTES = 100
/** Distinct payloads, each with its own 100-byte ArrayBuffer (a pooled Buffer would make tinypool clone the 8 KiB slab). */
const PAYLOADS = Array.from({ length: 1024 }, (_, i) => {
  const b = Buffer.alloc(PAYLOAD_BYTES, 0x2e)
  b.writeUInt32BE(i, 0)
  return b
})
const ECHO = ['gearbox', 'tinypool'] as const
type EchoName = (typeof ECHO)[number]

/** threads-resize: jobs per round and image size (about 0.2 s per job on a 2020s core). */
const RESIZE_IMAGES = 8
const RESIZE_WIDTH = 1024
const RESIZE_HEIGHT = 768
/** threads-spin: jobs per round and loop iterations per job (about 70 ms). */
const SPIN_JOBS = 12
const SPIN_ITERATIONS = 20_000_000
const WAYS = ['inline', 'gearbox', 'bare', 'tinypool'] as const
type Way = (typeof WAYS)[number]

/** gearbox's ThreadPool `prefetch` and `batch` (`--prefetch=N`, `--batch=N`); undefined: the pool's defaults. */
let prefetch: number | undefined
let batch: number | undefined
/** Node flags of every child process (`--node-arg=F`, repeatable): the same for the inline and the threaded ways. */
let nodeArgs: readonly string[] = []
/** After a line's name: the flags, when not node's defaults (figures with and without them sit side by side). */
const flagsTag = (): string => (nodeArgs.length === 0 ? '' : ` [${nodeArgs.join(' ')}]`)
const flagsNote = (): string => (nodeArgs.length === 0 ? '' : `node flags ${nodeArgs.join(' ')} (every way), `)
const prefetchArg = (): string[] => [...(prefetch === undefined ? [] : [`--prefetch=${prefetch}`]), ...(batch === undefined ? [] : [`--batch=${batch}`])]
/** How gearbox's pool is configured, as the figures' footnote says it. */
const poolConfig = (threads: number): string => {
  const pool = new ThreadPool({ maxThreads: threads, prefetch, batch })
  const text = `gearbox batch ${pool.batch}${batch === undefined ? ' (default)' : ''}, prefetch ${prefetch === undefined ? `adaptive up to ${pool.prefetch} (default)` : pool.prefetch}`
  void pool.close()
  return text
}

const fixture = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).href

// ---------------------------------------------------------------- threads-echo

interface EchoRound {
  readonly ms: number
  /** Median submit → result latency, ms. */
  readonly p50: number
  /** CPU time of the main thread per job, µs (what the broker's side costs, whatever else loads the machine). */
  readonly mainUs: number
  /** CPU time of the whole process (main thread, pool threads, V8's helpers) per job, µs. */
  readonly totalUs: number
}

/** The producer: WINDOW in flight until `total` completed; checks every result. */
function drive(total: number, submit: (payload: Buffer) => PromiseLike<Uint8Array>): Promise<EchoRound> {
  const latencies = new Float64Array(total)
  return new Promise((resolve, reject) => {
    let started = 0
    let completed = 0
    const t0 = now()
    const main0 = mainThreadCpuUs()
    const total0 = process.cpuUsage()
    const next = (): void => {
      const i = started++
      const payload = PAYLOADS[i & 1023] as Buffer
      const sent = now()
      submit(payload).then((result) => {
        latencies[i] = now() - sent
        if (!payload.equals(result)) reject(new Error(`job ${i} returned the wrong result`))
        else if (++completed === total) {
          const ms = now() - t0
          const cpu = process.cpuUsage(total0)
          const mainUs = (mainThreadCpuUs() - main0) / total
          resolve({ ms, p50: spread(Array.from(latencies)).median, mainUs, totalUs: (cpu.user + cpu.system) / total })
        }
        else if (started < total) next()
      }, reject)
    }
    for (let k = 0; k < Math.min(WINDOW, total); k++) next()
  })
}

/** Child side of threads-echo: a fresh pool, warm-up, one timed round, then check the pool ended empty. */
const echoRound: Record<EchoName, (jobs: number, threads: number) => Promise<EchoRound>> = {
  async gearbox(jobs, maxThreads) {
    const threads = new ThreadPool({ maxThreads, minThreads: maxThreads, prefetch, batch })
    const broker = new Broker()
    broker.worker().register('echo', threads.handler(fixture('echo.js'), { export: 'handler' }))
    const client = broker.client()
    const submit = (payload: Buffer): PromiseLike<Uint8Array> => client.submit('echo', payload)
    await drive(WARMUP_JOBS, submit)
    const round = await drive(jobs, submit)
    check(broker.size === 0 && threads.running === 0, `gearbox still holds ${broker.size} jobs, ${threads.running} on threads`)
    await broker.close()
    await threads.close()
    return round
  },
  async tinypool(jobs, maxThreads) {
    const pool = new Tinypool({ filename: fixture('echo.js'), name: 'task', maxThreads, minThreads: maxThreads })
    const submit = (payload: Buffer): Promise<Uint8Array> => pool.run(payload) as Promise<Uint8Array>
    await drive(WARMUP_JOBS, submit)
    const before = pool.completed
    const round = await drive(jobs, submit)
    check(pool.completed - before === jobs && pool.queueSize === 0, `tinypool completed ${pool.completed - before}, queue ${pool.queueSize}`)
    await pool.destroy()
    return round
  },
}

async function echoMain(rounds: number, jobs: number, threads: number): Promise<string[]> {
  const self = fileURLToPath(import.meta.url)
  const load = loadAverage()
  const rates: Record<EchoName, number[]> = { gearbox: [], tinypool: [] }
  const p50s: Record<EchoName, number[]> = { gearbox: [], tinypool: [] }
  const mains: Record<EchoName, number[]> = { gearbox: [], tinypool: [] }
  const totals: Record<EchoName, number[]> = { gearbox: [], tinypool: [] }
  for (let r = 0; r < rounds; r++) {
    for (const name of ECHO) {
      const out = JSON.parse(await runNode(self, [`--child=${name}`, `--jobs=${jobs}`, `--threads=${threads}`, ...prefetchArg()], nodeArgs)) as EchoRound & { name: string }
      check(out.name === name, `child reported ${JSON.stringify(out)}`)
      rates[name].push((jobs / out.ms) * 1000)
      p50s[name].push(out.p50)
      mains[name].push(out.mainUs)
      totals[name].push(out.totalUs)
    }
  }
  const g = spread(rates.gearbox)
  const t = spread(rates.tinypool)
  const paired = spread(rates.gearbox.map((x, i) => x / (rates.tinypool[i] ?? NaN)))
  const p50 = (values: readonly number[]): string => `p50 ${fixed(spread(values), 1)} ms`
  const cpu = (name: EchoName): string => `main ${fixed(spread(mains[name]), 1)} µs/job, process ${fixed(spread(totals[name]), 0)}`
  return [
    `threads-echo${flagsTag()}     gearbox ${siSpread(g, ' jobs/s')} ${p50(p50s.gearbox)}   tinypool ${siSpread(t)} ${p50(p50s.tinypool)}   ` +
      `ratio gearbox/tinypool ${(g.median / t.median).toFixed(2)} (per round ${paired.min.toFixed(2)}–${paired.max.toFixed(2)})   goal ≥ 0.95`,
    `threads-echo${flagsTag()} cpu gearbox ${cpu('gearbox')}   tinypool ${cpu('tinypool')}`,
    `(node ${process.version}, ${flagsNote()}${threads} threads, ${poolConfig(threads)}, ${rounds} interleaved rounds × ${jobs} ${PAYLOAD_BYTES}-byte echo jobs after ${WARMUP_JOBS} warm-up, ` +
      `${WINDOW} in flight, one child process per round, median [min–max]; CPU: main thread (Linux schedstat) and whole process (cpuUsage) per job; ` +
      `every result verified; load average before ${load})`,
  ]
}

// ---------------------------------------------------------------- threads-resize and threads-spin

interface Workload<T> {
  readonly items: readonly T[]
  readonly inline: (item: T) => Promise<Uint8Array>
  readonly gearbox: (item: T) => Promise<Uint8Array>
  /** gearbox running exactly tinypool's function (no updates), where `gearbox` runs more (the example's handler). */
  readonly bare?: (item: T) => Promise<Uint8Array>
  readonly tinypool: (item: T) => Promise<Uint8Array>
}

/** Per round: wall time and the whole process's CPU time (every thread, V8's helpers too), ms. */
interface Round {
  readonly wall: number
  readonly cpu: number
}
type Times = Partial<Record<Way, Round[]>>

/** Child side: round `round` of both workloads (inline, then the threaded ways, whose order alternates by round). */
async function speedupChild(round: number, maxThreads: number): Promise<{ resize: Times; spin: Times }> {
  // imported here, so that the echo children do not load jimp
  const { makeTestImages } = await import('../examples/resize/images.js')
  const { makeThumbnails, packThumbnails } = await import('../examples/resize/resize.js')
  const { spin } = await import('./fixtures/spin.js')
  const threads = new ThreadPool({ maxThreads, minThreads: maxThreads, prefetch, batch })
  const broker = new Broker()
  const worker = broker.worker()
  worker.register('resize', threads.handler(new URL('../examples/resize/resize-handler.js', import.meta.url)))
  worker.register('resize-bare', threads.handler(fixture('resize.js'), { export: 'handler' }))
  worker.register('spin', threads.handler(fixture('spin.js'), { export: 'handler' }))
  const client = broker.client()
  const pool = new Tinypool({ filename: fixture('spin.js'), name: 'task', maxThreads, minThreads: maxThreads })

  const images = (await makeTestImages(RESIZE_IMAGES, RESIZE_WIDTH, RESIZE_HEIGHT)).map((img) => img.png)
  const resize: Workload<Buffer> = {
    items: images,
    inline: async (png) => packThumbnails(await makeThumbnails(png)),
    gearbox: (png) => client.submit('resize', png),
    bare: (png) => client.submit('resize-bare', png),
    tinypool: (png) => pool.run(png, { filename: fixture('resize.js'), name: 'task' }) as Promise<Uint8Array>,
  }
  const spinning: Workload<number> = {
    items: Array.from({ length: SPIN_JOBS }, (_, i) => SPIN_ITERATIONS + i),
    inline: async (n) => Buffer.from(spin(n)),
    gearbox: (n) => client.submit('spin', String(n)),
    tinypool: async (n) => Buffer.from((await pool.run(n)) as string),
  }
  const times = { resize: await timeWays(resize, round), spin: await timeWays(spinning, round) }
  check(broker.size === 0 && threads.running === 0, 'broker or pool not empty')
  await broker.close()
  await threads.close()
  await pool.destroy()
  return times
}

/** Wall and CPU time of each way in one round, after one warm-up pass of each (starts the threads, loads the modules, JIT). */
async function timeWays<T>(work: Workload<T>, round: number): Promise<Times> {
  const threaded = (submit: (item: T) => Promise<Uint8Array>) => () => Promise.all(work.items.map(submit))
  const bare = work.bare
  const run: Partial<Record<Way, () => Promise<Uint8Array[]>>> = {
    inline: async () => {
      const out: Uint8Array[] = []
      for (const item of work.items) out.push(await work.inline(item))
      return out
    },
    gearbox: threaded(work.gearbox),
    ...(bare === undefined ? {} : { bare: threaded(bare) }),
    tinypool: threaded(work.tinypool),
  }
  const threadedWays = WAYS.filter((way) => way !== 'inline' && run[way] !== undefined)
  const expected = await (run.inline as () => Promise<Uint8Array[]>)()
  for (const way of threadedWays) await run[way]?.()
  const times: Times = {}
  // inline first, then the threaded ways, forwards in even rounds and backwards in odd ones; each starts on a
  // collected heap (the inline run leaves garbage whose concurrent marking would otherwise take CPU from the
  // threads of whichever way comes next)
  for (const way of ['inline' as const, ...(round % 2 === 0 ? threadedWays : threadedWays.reverse())]) {
    gc()
    const cpu0 = process.cpuUsage()
    const t0 = now()
    const results = (await run[way]?.()) ?? []
    const wall = now() - t0
    const cpu = process.cpuUsage(cpu0)
    times[way] = [{ wall, cpu: (cpu.user + cpu.system) / 1000 }]
    const same = results.length === expected.length && results.every((b, i) => Buffer.compare(b, expected[i] ?? new Uint8Array()) === 0)
    check(same, `${way} round ${round}: results differ from the first inline run`)
  }
  return times
}

async function speedupMain(rounds: number, threads: number): Promise<string[]> {
  const self = fileURLToPath(import.meta.url)
  const load = loadAverage()
  // one child per round: a whole series in one process would outlast runNode's limit on a loaded machine
  const out: { resize: Times; spin: Times } = { resize: {}, spin: {} }
  for (let r = 0; r < rounds; r++) {
    const round = JSON.parse(await runNode(self, ['--child=speedup', `--round=${r}`, `--threads=${threads}`, ...prefetchArg()], nodeArgs)) as typeof out
    for (const part of ['resize', 'spin'] as const) {
      for (const way of WAYS) for (const t of round[part][way] ?? []) (out[part][way] ??= []).push(t)
    }
  }
  const label = { inline: 'inline', gearbox: 'gearbox', bare: 'gearbox without updates', tinypool: 'tinypool' }
  const lines = (name: string, times: Times, jobs: number, goal: string): string[] => {
    const inline = times.inline ?? []
    const of = (way: Way): Round[] => times[way] ?? []
    const perJob = (way: Way): string => `${fixed(spread(of(way).map((r) => r.wall / jobs)), 0)} ms/job`
    const speedup = (way: Way): string => {
      const paired = spread(inline.map((r, i) => r.wall / (of(way)[i]?.wall ?? NaN)))
      return `speedup ${paired.median.toFixed(2)}× [${paired.min.toFixed(2)}–${paired.max.toFixed(2)}]`
    }
    const ratio = spread(of('tinypool').map((r, i) => r.wall / (of('gearbox')[i]?.wall ?? NaN)))
    const threadedWays = WAYS.filter((way) => way !== 'inline' && times[way] !== undefined)
    // CPU: all of it has to fit on `threads` cores, so inline wall / (threaded CPU / threads) bounds the speedup
    const cpu = (way: Way): string => `${label[way]} ${spread(of(way).map((r) => r.cpu / jobs)).median.toFixed(0)}`
    const bound = (way: Way): string =>
      `${label[way]} ${spread(of(way).map((r, i) => (inline[i]?.wall ?? NaN) / (r.cpu / threads))).median.toFixed(2)}×`
    return [
      `${name.padEnd(17)} inline ${perJob('inline')}   ` +
        threadedWays.map((way) => `${label[way]} ${perJob(way)} ${speedup(way)}`).join('   ') +
        `   gearbox/tinypool ${ratio.median.toFixed(2)}   ${goal}`,
      `${name} cpu   ms/job, whole process: ${['inline' as const, ...threadedWays].map(cpu).join(', ')}; ` +
        `inline keeps ${spread(inline.map((r) => r.cpu / r.wall)).median.toFixed(2)} cores busy; ` +
        `speedup bound (inline wall ÷ (CPU ÷ ${threads} cores)): ${threadedWays.map(bound).join(', ')}`,
    ]
  }
  return [
    ...lines(`threads-resize${flagsTag()}`, out.resize, RESIZE_IMAGES, `goal ≥ 1.85 (limit ${threads}.0)`),
    ...lines(`threads-spin${flagsTag()}`, out.spin, SPIN_JOBS, '(control: pure computation)'),
    `(node ${process.version}, ${flagsNote()}${threads} threads, ${poolConfig(threads)}, ${rounds} rounds of inline then the threaded ways, one child process per round, after one warm-up pass of each; ` +
      `resize: ${RESIZE_IMAGES} images ${RESIZE_WIDTH}×${RESIZE_HEIGHT} PNG → 3 JPEG thumbnails (examples/resize, jimp) per round, gearbox with the example's handler ` +
      `(5 status updates per job) and without updates (tinypool's function); ` +
      `spin: ${SPIN_JOBS} × ${SPIN_ITERATIONS / 1e6}M loop iterations per round; threaded rounds submit all jobs at once; ` +
      `median [min–max] of wall time per job and of per-round speedup; CPU: process.cpuUsage (all threads); every result equal to the child's warm-up inline one; load average before ${load})`,
  ]
}

// ---------------------------------------------------------------- helpers and command line

/**
 * CPU time of this process's main thread so far, µs: Linux's per-thread scheduler statistics (ns on CPU),
 * so time spent waiting for a core that other work holds is not counted; elsewhere, the event loop's active
 * time (which does count it).
 */
function mainThreadCpuUs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
  } catch {
    return performance.eventLoopUtilization().active * 1000
  }
}

function fixed(s: Spread, digits: number): string {
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`
}

/** The 1-minute load average: other work on the machine takes cores from the threads, not from the inline run. */
function loadAverage(): string {
  return (loadavg()[0] ?? 0).toFixed(2)
}

function isEcho(s: string): s is EchoName {
  return (ECHO as readonly string[]).includes(s)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      part: { type: 'string' },
      rounds: { type: 'string' },
      round: { type: 'string' },
      jobs: { type: 'string', default: '20000' },
      threads: { type: 'string', default: String(availableParallelism()) },
      prefetch: { type: 'string' },
      batch: { type: 'string' },
      child: { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
    },
  })
  const jobs = Number(values.jobs)
  const threads = Number(values.threads)
  check(Number.isSafeInteger(jobs) && jobs > 0, `--jobs=${values.jobs}`)
  check(Number.isSafeInteger(threads) && threads > 0, `--threads=${values.threads}`)
  const rounds = (fallback: number): number => {
    const n = Number(values.rounds ?? fallback)
    check(Number.isSafeInteger(n) && n > 0, `--rounds=${String(values.rounds)}`)
    return n
  }
  if (values.prefetch !== undefined) {
    prefetch = Number(values.prefetch)
    check(Number.isSafeInteger(prefetch) && prefetch >= 0, `--prefetch=${values.prefetch}`)
  }
  if (values.batch !== undefined) {
    batch = Number(values.batch)
    check(Number.isSafeInteger(batch) && batch >= 1, `--batch=${values.batch}`)
  }
  nodeArgs = values['node-arg']
  const child = values.child
  if (child === 'speedup') {
    console.log(JSON.stringify(await speedupChild(Number(values.round ?? 0), threads)))
  } else if (child !== undefined) {
    if (!isEcho(child)) throw new Error(`--child=${child}: expected speedup, ${ECHO.join(' or ')}`)
    console.log(JSON.stringify({ name: child, ...(await echoRound[child](jobs, threads)) }))
  } else {
    const part = values.part
    check(part === undefined || part === 'echo' || part === 'resize', `--part=${String(part)}: expected echo or resize`)
    const lines: string[] = []
    if (part !== 'resize') lines.push(...(await echoMain(rounds(7), jobs, threads)))
    if (part !== 'echo') lines.push(...(await speedupMain(rounds(5), threads)))
    console.log(lines.join('\n'))
  }
}
