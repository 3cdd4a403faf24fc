/**
 * store: durable background jobs. `gearbox serve -q sqlite` against `gearmand -q libsqlite3` (the anchor) and
 * `gearbox serve` without a store, all as child processes on a fresh database each round, driven by the same
 * load generator (bench/loadgen/). Each round:
 *  - store-queue: C clients submit N background jobs (SUBMIT_JOB_BG, `size`-byte payloads), each with `window`
 *    JOB_CREATED outstanding, no worker connected: a job counts once its JOB_CREATED arrived, i.e. (with a
 *    store) once it is on disk. Then the admin `status` must show all N queued.
 *  - store-drain: W workers run them all (each removal is a store write too); every payload checked, each
 *    index seen once, then `status` must show the queue empty.
 * The store-cpu-* lines give the server's CPU time (user + system, /proc/PID/stat) per job in each phase.
 * Rounds are interleaved gearbox-sqlite, gearmand-sqlite, gearbox-memory, ... A mismatch, an ERROR, a dropped
 * connection or a phase longer than --timeout fails the run (exit code 1).
 *
 *   npm run build && npx tsc -p tsconfig.json && node .build/bench/store.js
 *   node .build/bench/store.js [--rounds=3] [--jobs=5000] [--clients=4] [--window=64] [--workers=4] [--size=100] [--timeout=120]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { check, intFlag, now, si, siSpread, spread } from './common.js'
import { adminStatus, ClientPeer, isPayload, payloadIndex, Watch, WorkerPeer } from './loadgen/peers.js'
import { checkInstalled, type CpuTimes, cpuTimesOf, freePort, GEARBOX_MAIN, GEARMAND, gearmandVersion, HOST, sleep } from './loadgen/servers.js'

const FN = 'store'
const KINDS = ['gearbox-sqlite', 'gearmand-sqlite', 'gearbox-memory'] as const
type Kind = (typeof KINDS)[number]

interface Config {
  readonly rounds: number
  readonly jobs: number
  readonly clients: number
  readonly window: number
  readonly workers: number
  readonly size: number
  readonly timeoutMs: number
}

interface Round {
  /** Background jobs acknowledged per second, and drained per second. */
  readonly queue: number
  readonly drain: number
  /** Server CPU per job, µs (user + system). */
  readonly cpuQueue: number
  readonly cpuDrain: number
}

interface Server {
  readonly port: number
  cpuTimes(): CpuTimes
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** `kind` on a free port with its database in `dir`; resolves once it answers the admin `status` command. */
async function start(kind: Kind, dir: string): Promise<Server> {
  const port = await freePort()
  const db = join(dir, `${kind}.db`)
  const at = ['-p', String(port), '-L', HOST, '--log-file=none']
  const [command, args] =
    kind === 'gearmand-sqlite'
      ? [GEARMAND, ['-t', '0', ...at, '-q', 'libsqlite3', `--libsqlite3-db=${db}`]]
      : [process.execPath, [GEARBOX_MAIN, 'serve', ...at, ...(kind === 'gearbox-sqlite' ? ['-q', 'sqlite', '--sqlite-db', db] : [])]]
  const child = spawn(command, args, { stdio: 'ignore' })
  live.add(child)
  const gone = new Promise<void>((resolve) => child.once('exit', () => { live.delete(child); resolve() }))
  const pid = child.pid
  if (pid === undefined) throw new Error(`${command}: could not be started`)
  const deadline = now() + 10_000
  for (;;) {
    try {
      await adminStatus(port)
      break
    } catch (err) {
      if (!live.has(child) || now() > deadline) throw new Error(`${kind} did not start: ${String(err)}`)
      await sleep(25)
    }
  }
  return {
    port,
    cpuTimes: () => cpuTimesOf(pid),
    stop: async () => {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await gone
      clearTimeout(timer)
    },
  }
}

async function round(kind: Kind, cfg: Config): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-bench-store-'))
  const server = await start(kind, dir)
  const watch = new Watch()
  const peers: { close(): void }[] = []
  try {
    return await phases(kind, server, watch, peers, cfg)
  } finally {
    for (const peer of peers) peer.close()
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function phases(kind: Kind, server: Server, watch: Watch, peers: { close(): void }[], cfg: Config): Promise<Round> {
  const N = cfg.jobs
  const clients = await Promise.all(Array.from({ length: cfg.clients }, () => ClientPeer.connect(server.port, watch, FN)))
  peers.push(...clients)
  const per = Math.ceil(N / cfg.clients)
  let cpu0 = server.cpuTimes()
  let t0 = now()
  await watch.race(
    Promise.all(clients.map((c, i) => c.submitBackground(i * per, Math.max(0, Math.min(per, N - i * per)), cfg.size, cfg.window))),
    cfg.timeoutMs,
    `${kind}: queueing ${N} background jobs`,
  )
  const queueMs = now() - t0
  const cpuQueue = cpuSince(server, cpu0)
  await expectTotal(server.port, kind, N, 0)

  const seen = new Uint8Array(N)
  let drained = 0
  let onDrained: () => void = () => undefined
  const allDrained = new Promise<void>((resolve) => (onDrained = resolve))
  const onJob = (data: Buffer): boolean => {
    const i = payloadIndex(data)
    if (i < 0 || i >= N || seen[i] === 1 || !isPayload(data, i, cfg.size, false)) return false
    seen[i] = 1
    if (++drained === N) onDrained()
    return true
  }
  const workers = await Promise.all(Array.from({ length: cfg.workers }, () => WorkerPeer.connect(server.port, watch, { fn: FN, onJob })))
  peers.push(...workers)
  cpu0 = server.cpuTimes()
  t0 = now()
  for (const w of workers) w.start()
  await watch.race(allDrained, cfg.timeoutMs, () => `${kind}: draining ${N} background jobs (${drained} done)`)
  const drainMs = now() - t0
  const cpuDrain = cpuSince(server, cpu0)
  await expectTotal(server.port, kind, 0, cfg.workers)
  if (watch.error !== null) throw watch.error
  return { queue: (N / queueMs) * 1000, drain: (N / drainMs) * 1000, cpuQueue: (cpuQueue / N) * 1e6, cpuDrain: (cpuDrain / N) * 1e6 }
}

function cpuSince(server: Server, before: CpuTimes): number {
  const after = server.cpuTimes()
  return after.user - before.user + (after.system - before.system)
}

/** Polls the admin `status` (the last WORK_COMPLETE may still be on its way) until the function shows `total`. */
async function expectTotal(port: number, kind: Kind, total: number, workers: number): Promise<void> {
  const deadline = now() + 10_000
  for (;;) {
    const row = (await adminStatus(port)).find((r) => r.name === FN)
    const got = row === undefined ? 'no row' : `total ${row.total}, workers ${row.workers}`
    if (row !== undefined && row.total === total && row.workers === workers) return
    check(now() < deadline, `${kind}: admin status shows ${got}, expected total ${total}, workers ${workers}`)
    await sleep(10)
  }
}

function report(results: Record<Kind, Round[]>, cfg: Config, loadBefore: string): string[] {
  const med = (kind: Kind, key: keyof Round): number => spread(results[kind].map((r) => r[key])).median
  const lines: string[] = []
  for (const [label, key] of [['store-queue-bg', 'queue'], ['store-drain', 'drain']] as const) {
    const parts = KINDS.map((kind, i) => `${kind} ${siSpread(spread(results[kind].map((r) => r[key])), i === 0 ? ' jobs/s' : '')}`)
    const vsGearmand = med('gearbox-sqlite', key) / med('gearmand-sqlite', key)
    const vsMemory = med('gearbox-sqlite', key) / med('gearbox-memory', key)
    parts.push(`ratio sqlite/gearmand-sqlite ${vsGearmand.toFixed(1)} ${key === 'queue' ? '(goal ≥ 10)' : '(no goal)'}`, `sqlite/memory ${vsMemory.toFixed(2)}`)
    lines.push(`${label.padEnd(15)} ${parts.join('   ')}`)
  }
  for (const [label, key] of [['store-cpu-queue', 'cpuQueue'], ['store-cpu-drain', 'cpuDrain']] as const) {
    const parts = KINDS.map((kind) => {
      const s = spread(results[kind].map((r) => r[key]))
      return `${kind} ${s.median.toFixed(1)} µs/job [${s.min.toFixed(1)}–${s.max.toFixed(1)}]`
    })
    lines.push(`${label.padEnd(15)} ${parts.join('   ')}   (server CPU per job)`)
  }
  lines.push(
    `(node ${process.version}, gearmand ${gearmandVersion()} -t 0 -q libsqlite3, gearbox serve -q sqlite (WAL, synchronous FULL), ` +
      `${cfg.rounds} interleaved rounds, a fresh server and database per round, median [min–max]; ${si(cfg.jobs)} background jobs of ` +
      `${cfg.size} bytes from ${cfg.clients} clients × ${cfg.window} JOB_CREATED outstanding, no worker; then ${cfg.workers} workers drain them; ` +
      `every payload verified, each job seen once, admin status checked; load average before ${loadBefore}, after ${loadAverage()})`,
  )
  return lines
}

function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      jobs: { type: 'string', default: '5000' },
      clients: { type: 'string', default: '4' },
      window: { type: 'string', default: '64' },
      workers: { type: 'string', default: '4' },
      size: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '120' },
    },
  })
  const int = intFlag
  const cfg: Config = {
    rounds: int('rounds', values.rounds, 1),
    jobs: int('jobs', values.jobs, 1),
    clients: int('clients', values.clients, 1),
    window: int('window', values.window, 1),
    workers: int('workers', values.workers, 1),
    size: int('size', values.size, 4),
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
  }
  try {
    checkInstalled()
    const loadBefore = loadAverage()
    const results: Record<Kind, Round[]> = { 'gearbox-sqlite': [], 'gearmand-sqlite': [], 'gearbox-memory': [] }
    for (let r = 0; r < cfg.rounds; r++) for (const kind of KINDS) results[kind].push(await round(kind, cfg))
    console.log(report(results, cfg, loadBefore).join('\n'))
  } catch (err) {
    console.error(`store: FAILED: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  }
}
