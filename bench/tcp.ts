/**
 * tcp: `gearbox serve` against a real gearmand 1.1.20, both as child processes, driven by the same load
 * generator speaking the Gearman protocol over TCP (bench/loadgen/). Each round starts a fresh server and runs,
 * in order:
 *  - tcp-rss-per-job: BG_JOBS background jobs (SUBMIT_JOB_BG, 100-byte payloads) queued with no worker
 *    connected; the server's VmRSS before and after, per job. (tcp-queue-bg: how fast they were queued.)
 *  - tcp-drain: then W workers connect and the clock runs until all BG_JOBS have been handed out and answered.
 *  - tcp-foreground: then C clients, each with P foreground jobs (SUBMIT_JOB) in flight, refilled on
 *    WORK_COMPLETE, with the same W workers: a warm-up, then a timed run.
 * The tcp-cpu-* lines give the server's CPU time (user + system, /proc/PID/stat) per job in each timed phase:
 * unlike jobs/s, they hardly depend on what else runs on the machine.
 * Rounds are interleaved gearbox, gearmand, gearbox, ... Every job is checked: a worker checks each payload
 * (and that no background job comes twice), a client checks each result (the payload reversed), counts must
 * match, and the admin `status` must show the queue empty. A mismatch, an ERROR, a dropped connection or a
 * phase that takes longer than --timeout fails the run (exit code 1).
 *
 *   npm run build && npx tsc -p tsconfig.json && node .build/bench/tcp.js
 *   node .build/bench/tcp.js [--rounds=9] [--jobs=100000] [--warmup=20000] [--bg-jobs=100000] [--clients=4]
 *     [--pipeline=32] [--workers=4] [--size=100] [--timeout=60] [--only=gearbox|gearmand] [--node-arg=--cpu-prof ...]
 */
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { check, intFlag, now, si, siSpread, spread, type Spread } from './common.js'
import { adminStatus, ClientPeer, type FunctionStatus, isPayload, JobSource, payloadIndex, Watch, WorkerPeer } from './loadgen/peers.js'
import { checkInstalled, type CpuTimes, gearmandVersion, SERVERS, type ServerName, type ServerProcess, sleep, startServer } from './loadgen/servers.js'

const FN = 'reverse'
/** JOB_CREATED replies outstanding while queueing background jobs. */
const BG_WINDOW = 256

interface Config {
  readonly rounds: number
  readonly jobs: number
  readonly warmup: number
  readonly bgJobs: number
  readonly clients: number
  readonly pipeline: number
  readonly workers: number
  readonly size: number
  readonly timeoutMs: number
  readonly servers: readonly ServerName[]
  readonly nodeArgs: readonly string[]
}

interface Round {
  /** Foreground jobs/s (timed part). */
  readonly foreground: number
  /** Background jobs drained per second. */
  readonly drain: number
  /** Background jobs queued per second (no workers). */
  readonly queue: number
  /** RSS growth per queued background job, bytes. */
  readonly rssPerJob: number
  /** Server CPU time per job, µs, user + system, and system alone: timed foreground, drain, queueing. */
  readonly cpuForeground: number
  readonly sysForeground: number
  readonly cpuDrain: number
  readonly sysDrain: number
  readonly cpuQueue: number
  readonly sysQueue: number
  /** Server and load generator CPU seconds per wall second in the timed foreground run. */
  readonly busyForeground: number
  readonly loadgenForeground: number
  /** The load generator's (this process's) CPU per foreground job, µs. */
  readonly loadgenCpuForeground: number
  readonly loadgenSysForeground: number
}

/** One round on a fresh server process; closes everything it opened, whatever happens. */
async function round(name: ServerName, cfg: Config): Promise<Round> {
  const server = await startServer(name, { nodeArgs: cfg.nodeArgs })
  const watch = new Watch()
  const peers: { close(): void }[] = []
  try {
    return await phases(server, watch, peers, cfg)
  } finally {
    for (const peer of peers) peer.close()
    await server.stop()
  }
}

async function phases(server: ServerProcess, watch: Watch, peers: { close(): void }[], cfg: Config): Promise<Round> {
  const { name, port } = server
  const limit = cfg.timeoutMs
  const N = cfg.bgJobs

  // ---- queue N background jobs with no workers: RSS before and after
  const submitter = await ClientPeer.connect(port, watch, FN)
  peers.push(submitter)
  const rssBefore = server.rss()
  let cpu0 = server.cpuTimes()
  let t0 = now()
  await watch.race(submitter.submitBackground(0, N, cfg.size, BG_WINDOW), limit, `${name}: queueing ${N} background jobs`)
  const queueMs = now() - t0
  const cpuQueue = since(server, cpu0)
  expectStatus(await adminStatus(port), name, 'after queueing', { total: N, running: 0, workers: 0 })
  const rssAfter = server.rss()

  // ---- W workers drain them; each payload checked, each index seen once
  const seen = new Uint8Array(N)
  let drained = 0
  let onDrained: () => void = () => undefined
  const allDrained = new Promise<void>((resolve) => (onDrained = resolve))
  let onJob = (data: Buffer): boolean => {
    const i = payloadIndex(data)
    if (i < 0 || i >= N || seen[i] === 1 || !isPayload(data, i, cfg.size, false)) return false
    seen[i] = 1
    if (++drained === N) onDrained()
    return true
  }
  const workers = await Promise.all(Array.from({ length: cfg.workers }, () => WorkerPeer.connect(port, watch, { fn: FN, onJob: (data) => onJob(data) })))
  peers.push(...workers)
  cpu0 = server.cpuTimes()
  t0 = now()
  for (const worker of workers) worker.start()
  await watch.race(allDrained, limit, () => `${name}: draining ${N} background jobs (${drained} done)`)
  const drainMs = now() - t0
  const cpuDrain = since(server, cpu0)
  await expectEmpty(port, name, 'after the drain', cfg.workers, limit)

  // ---- foreground: C clients × P in flight; a warm-up, then the timed run
  const first = N
  const last = N + cfg.warmup + cfg.jobs
  onJob = (data) => {
    const i = payloadIndex(data)
    return i >= first && i < last && isPayload(data, i, cfg.size, false)
  }
  const clients = await Promise.all(Array.from({ length: cfg.clients }, () => ClientPeer.connect(port, watch, FN)))
  peers.push(...clients)
  const foreground = async (start: number, total: number, what: string): Promise<number> => {
    const source = new JobSource(start, total, cfg.size)
    const started = now()
    for (const client of clients) client.runForeground(source, cfg.pipeline)
    await watch.race(source.finished(), limit, () => `${name}: ${what} (${source.completed} of ${total} done)`)
    const ms = now() - started
    check(source.take() === -1 && clients.every((c) => c.inFlight === 0), `${name}: ${what}: jobs left in flight after ${total} results`)
    return ms
  }
  if (cfg.warmup > 0) await foreground(first, cfg.warmup, `${cfg.warmup} warm-up foreground jobs`)
  cpu0 = server.cpuTimes()
  const load0 = process.cpuUsage()
  const foregroundMs = await foreground(first + cfg.warmup, cfg.jobs, `${cfg.jobs} foreground jobs`)
  const cpuForeground = since(server, cpu0)
  const load = process.cpuUsage(load0)
  const loadgenForeground = (load.user + load.system) / 1000 / foregroundMs
  await expectEmpty(port, name, 'after the foreground jobs', cfg.workers, limit)
  const answered = workers.reduce((sum, w) => sum + w.completed, 0)
  check(answered === last, `${name}: workers answered ${answered} jobs, expected ${last}`)
  if (watch.error !== null) throw watch.error

  return {
    foreground: (cfg.jobs / foregroundMs) * 1000,
    drain: (N / drainMs) * 1000,
    queue: (N / queueMs) * 1000,
    rssPerJob: (rssAfter - rssBefore) / N,
    cpuForeground: ((cpuForeground.user + cpuForeground.system) / cfg.jobs) * 1e6,
    sysForeground: (cpuForeground.system / cfg.jobs) * 1e6,
    cpuDrain: ((cpuDrain.user + cpuDrain.system) / N) * 1e6,
    sysDrain: (cpuDrain.system / N) * 1e6,
    cpuQueue: ((cpuQueue.user + cpuQueue.system) / N) * 1e6,
    sysQueue: (cpuQueue.system / N) * 1e6,
    busyForeground: (cpuForeground.user + cpuForeground.system) / (foregroundMs / 1000),
    loadgenForeground,
    loadgenCpuForeground: (load.user + load.system) / cfg.jobs,
    loadgenSysForeground: load.system / cfg.jobs,
  }
}

function since(server: ServerProcess, before: CpuTimes): CpuTimes {
  const after = server.cpuTimes()
  return { user: after.user - before.user, system: after.system - before.system }
}

function expectStatus(rows: FunctionStatus[], name: string, when: string, want: Omit<FunctionStatus, 'name'>): void {
  const row = rows.find((r) => r.name === FN)
  const got = row === undefined ? 'no row' : `total ${row.total}, running ${row.running}, workers ${row.workers}`
  check(
    row !== undefined && row.total === want.total && row.running === want.running && row.workers === want.workers,
    `${name}: admin status ${when}: ${got}, expected total ${want.total}, running ${want.running}, workers ${want.workers}`,
  )
}

/** The last WORK_COMPLETE may still be on its way to the server: poll `status` until nothing is queued or running. */
async function expectEmpty(port: number, name: string, when: string, workers: number, limitMs: number): Promise<void> {
  const deadline = now() + Math.min(limitMs, 10_000)
  for (;;) {
    const rows = await adminStatus(port)
    const row = rows.find((r) => r.name === FN)
    if ((row !== undefined && row.total === 0 && row.running === 0) || now() > deadline) {
      expectStatus(rows, name, when, { total: 0, running: 0, workers })
      return
    }
    await sleep(10)
  }
}

// ---------------------------------------------------------------- report

type Results = Record<ServerName, Round[]>

function pick(results: Results, name: ServerName, key: keyof Round): number[] {
  return results[name].map((r) => r[key])
}

function bytes(s: Spread): string {
  return `${Math.round(s.median)} B/job [${Math.round(s.min)}–${Math.round(s.max)}]`
}

function percent(values: readonly number[]): string {
  return `${Math.round(spread(values).median * 100)}%`
}

function report(results: Results, cfg: Config, loadBefore: string): string[] {
  const both = cfg.servers.length === 2
  const lines: string[] = []
  const line = (label: string, key: keyof Round, format: (s: Spread, first: boolean, name: ServerName) => string, goal: string): void => {
    const parts = cfg.servers.map((name, i) => `${name} ${format(spread(pick(results, name, key)), i === 0, name)}`)
    if (both) {
      const g = pick(results, 'gearbox', key)
      const d = pick(results, 'gearmand', key)
      const paired = spread(g.map((x, i) => x / (d[i] ?? NaN)))
      parts.push(`ratio gearbox/gearmand ${(spread(g).median / spread(d).median).toFixed(2)} (per round ${paired.min.toFixed(2)}–${paired.max.toFixed(2)})`)
    }
    if (both || goal.startsWith('(')) parts.push(goal)
    lines.push(`${label.padEnd(17)} ${parts.join('   ')}`)
  }
  const rate = (s: Spread, first: boolean): string => siSpread(s, first ? ' jobs/s' : '')
  line('tcp-foreground', 'foreground', rate, 'goal ≥ 1.0')
  line('tcp-drain', 'drain', rate, 'goal ≥ 1.0')
  line('tcp-rss-per-job', 'rssPerJob', (s) => bytes(s), 'goal ≤ 1.0 (gearmand ~910 B/job)')
  line('tcp-queue-bg', 'queue', rate, '(no goal)')
  const micros = (sys: keyof Round) => (s: Spread, _first: boolean, name: ServerName): string =>
    `${s.median.toFixed(1)} µs/job [${s.min.toFixed(1)}–${s.max.toFixed(1)}] (sys ${spread(pick(results, name, sys)).median.toFixed(1)})`
  line('tcp-cpu-fg', 'cpuForeground', micros('sysForeground'), '(server CPU per job: foreground)')
  line('tcp-cpu-drain', 'cpuDrain', micros('sysDrain'), '(server CPU per job: drain)')
  line('tcp-cpu-queue-bg', 'cpuQueue', micros('sysQueue'), '(server CPU per job: queueing)')
  line('tcp-cpu-loadgen', 'loadgenCpuForeground', micros('loadgenSysForeground'), '(load generator CPU per job: foreground)')
  const busy = cfg.servers
    .map((name) => `${name} ${percent(pick(results, name, 'busyForeground'))} / load generator ${percent(pick(results, name, 'loadgenForeground'))}`)
    .join(', ')
  lines.push(
    `(node ${process.version}, gearmand ${gearmandVersion()} -t 0, ${cfg.rounds} interleaved rounds, a fresh server process per round, median [min–max]; ` +
      `foreground: ${cfg.clients} clients × ${cfg.pipeline} in flight, ${cfg.workers} workers, ${cfg.size}-byte payloads reversed, ` +
      `${si(cfg.warmup)} warm-up + ${si(cfg.jobs)} timed jobs; drain: ${si(cfg.bgJobs)} background jobs queued with no worker ` +
      `(${BG_WINDOW} JOB_CREATED outstanding), then ${cfg.workers} workers; RSS: VmRSS before and after queueing; ` +
      `every payload and result verified, counts and admin status checked; CPU busy in the timed foreground run, ` +
      `server / load generator: ${busy}; load average before ${loadBefore}, after ${loadAverage()})`,
  )
  return lines
}

function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
}

// ---------------------------------------------------------------- main

async function main(cfg: Config): Promise<void> {
  checkInstalled()
  // belt and braces over the per-phase timeouts: nothing may keep the run alive for ever
  const watchdogMs = cfg.timeoutMs * 5 * cfg.rounds * cfg.servers.length
  setTimeout(() => {
    console.error(`tcp: FAILED: the run did not finish within ${watchdogMs / 1000} s`)
    process.exit(1)
  }, watchdogMs).unref()
  const loadBefore = loadAverage()
  const results: Results = { gearbox: [], gearmand: [] }
  for (let r = 0; r < cfg.rounds; r++) {
    for (const name of cfg.servers) results[name].push(await round(name, cfg))
  }
  console.log(report(results, cfg, loadBefore).join('\n'))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '9' },
      jobs: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '20000' },
      'bg-jobs': { type: 'string', default: '100000' },
      clients: { type: 'string', default: '4' },
      pipeline: { type: 'string', default: '32' },
      workers: { type: 'string', default: '4' },
      size: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '60' },
      only: { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
    },
  })
  const int = intFlag
  const only = values.only
  check(only === undefined || (SERVERS as readonly string[]).includes(only), `--only=${only ?? ''}: expected gearbox or gearmand`)
  const cfg: Config = {
    rounds: int('rounds', values.rounds, 1),
    jobs: int('jobs', values.jobs, 1),
    warmup: int('warmup', values.warmup, 0),
    bgJobs: int('bg-jobs', values['bg-jobs'], 1),
    clients: int('clients', values.clients, 1),
    pipeline: int('pipeline', values.pipeline, 1),
    workers: int('workers', values.workers, 1),
    size: int('size', values.size, 4),
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
    servers: only === undefined ? SERVERS : [only as ServerName],
    nodeArgs: values['node-arg'],
  }
  try {
    await main(cfg)
  } catch (err) {
    console.error(`tcp: FAILED: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1) // the exit hook kills the servers; nothing left open can keep the run alive
  }
}
