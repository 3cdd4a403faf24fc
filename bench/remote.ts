/**
 * remote: gearbox's remote client and worker (`connect()`, src/remote/) against the raw load generator
 * (bench/loadgen/), both driving a real `gearmand -t 0` with the same workload in the same run. Each round
 * starts a fresh gearmand and runs, for one contender: W workers connect; C clients each keep P foreground
 * jobs in flight (100-byte payloads, the worker answers the payload reversed), a warm-up, then a timed run.
 *  - loadgen: ClientPeer / WorkerPeer (raw packets, one job per worker connection at a time).
 *  - gearbox: `remote.client()` × C, each with P `submit()`s in flight, refilled as results arrive;
 *    `remote.worker().register('reverse', handler, { concurrency: 1 })` × W (the same one job at a time).
 * Rounds are interleaved loadgen, gearbox, loadgen, ... Reported: jobs/s, and this process's CPU time per job
 * (user + system: both sides of the protocol run here, so it is the client + worker cost of each contender;
 * its system part, and gearmand's own CPU per job, are shown too), with the ratio gearbox/loadgen (goal ≥ 0.9
 * for jobs/s). Every result is checked byte for byte.
 *
 *   npm run build && npx tsc -p tsconfig.json && node .build/bench/remote.js
 *   node .build/bench/remote.js [--rounds=15] [--jobs=50000] [--warmup=10000] [--clients=4] [--pipeline=32] [--workers=4] [--size=100] [--only=loadgen|gearbox]
 */
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { connect, type RemoteGearbox } from '../src/index.js'
import { check, intFlag, now, siSpread, spread } from './common.js'
import { ClientPeer, isPayload, JobSource, payloadIndex, Watch, WorkerPeer, writePayload } from './loadgen/peers.js'
import { gearmandVersion, type ServerProcess, startServer } from './loadgen/servers.js'

const FN = 'reverse'
const CONTENDERS = ['loadgen', 'gearbox'] as const
type Contender = (typeof CONTENDERS)[number]

interface Config {
  readonly rounds: number
  readonly jobs: number
  readonly warmup: number
  readonly clients: number
  readonly pipeline: number
  readonly workers: number
  readonly size: number
  readonly timeoutMs: number
  readonly contenders: readonly Contender[]
}

interface Round {
  readonly rate: number
  /** This process's CPU time per job, µs (user + system), and its system part. */
  readonly cpu: number
  readonly sys: number
  /** gearmand's CPU time per job, µs (user + system). */
  readonly server: number
}

/** A timed phase: `run` resolves when `total` jobs are done; returns jobs/s and CPU µs per job here and in the server. */
async function timed(total: number, server: ServerProcess, run: () => Promise<void>): Promise<Round> {
  const server0 = server.cpuTimes()
  const cpu0 = process.cpuUsage()
  const t0 = now()
  await run()
  const ms = now() - t0
  const cpu = process.cpuUsage(cpu0)
  const server1 = server.cpuTimes()
  const serverSeconds = server1.user - server0.user + server1.system - server0.system
  return { rate: (total / ms) * 1000, cpu: (cpu.user + cpu.system) / total, sys: cpu.system / total, server: (serverSeconds * 1e6) / total }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timeout: ${what} did not finish within ${ms / 1000} s`))
    }, ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

async function loadgenRound(server: ServerProcess, cfg: Config): Promise<Round> {
  const watch = new Watch()
  const last = cfg.warmup + cfg.jobs
  const onJob = (data: Buffer): boolean => {
    const i = payloadIndex(data)
    return i >= 0 && i < last && isPayload(data, i, cfg.size, false)
  }
  const peers: { close(): void }[] = []
  try {
    const workers = await Promise.all(Array.from({ length: cfg.workers }, () => WorkerPeer.connect(server.port, watch, { fn: FN, onJob })))
    peers.push(...workers)
    for (const w of workers) w.start()
    const clients = await Promise.all(Array.from({ length: cfg.clients }, () => ClientPeer.connect(server.port, watch, FN)))
    peers.push(...clients)
    const phase = async (first: number, total: number): Promise<void> => {
      const source = new JobSource(first, total, cfg.size)
      for (const c of clients) c.runForeground(source, cfg.pipeline)
      await watch.race(source.finished(), cfg.timeoutMs, `loadgen: ${total} foreground jobs`)
    }
    if (cfg.warmup > 0) await phase(0, cfg.warmup)
    return await timed(cfg.jobs, server, () => phase(cfg.warmup, cfg.jobs))
  } finally {
    for (const p of peers) p.close()
  }
}

function payload(index: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  writePayload(out, 0, index, size)
  return out
}

async function gearboxRound(server: ServerProcess, cfg: Config): Promise<Round> {
  const remote: RemoteGearbox = connect({ servers: [`127.0.0.1:${server.port}`] })
  const last = cfg.warmup + cfg.jobs
  try {
    for (let w = 0; w < cfg.workers; w++) {
      remote.worker().register(
        FN,
        (job) => {
          const data = job.data
          const i = payloadIndex(data)
          check(i >= 0 && i < last && isPayload(data, i, cfg.size, false), `gearbox worker: bad payload for job ${i}`)
          return Buffer.from(data).reverse()
        },
        { concurrency: 1 },
      )
    }
    const clients = Array.from({ length: cfg.clients }, () => remote.client())
    const phase = async (first: number, total: number): Promise<void> => {
      let next = first
      const end = first + total
      let done = 0
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          const submit = (client: (typeof clients)[number]): void => {
            if (next >= end) return
            const index = next++
            client.submit(FN, payload(index, cfg.size)).then((result) => {
              if (!isPayload(result, index, cfg.size, true)) {
                reject(new Error(`gearbox: wrong result for job ${index}`))
                return
              }
              if (++done === total) resolve()
              else submit(client)
            }, reject)
          }
          for (const client of clients) for (let k = 0; k < cfg.pipeline; k++) submit(client)
        }),
        cfg.timeoutMs,
        `gearbox: ${total} foreground jobs`,
      )
    }
    if (cfg.warmup > 0) await phase(0, cfg.warmup)
    return await timed(cfg.jobs, server, () => phase(cfg.warmup, cfg.jobs))
  } finally {
    await remote.close()
  }
}

async function main(cfg: Config): Promise<void> {
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ')
  const results: Record<Contender, Round[]> = { loadgen: [], gearbox: [] }
  for (let r = 0; r < cfg.rounds; r++) {
    for (const name of cfg.contenders) {
      const server = await startServer('gearmand')
      try {
        results[name].push(await (name === 'loadgen' ? loadgenRound(server, cfg) : gearboxRound(server, cfg)))
      } finally {
        await server.stop()
      }
    }
  }
  if (cfg.contenders.length === 1) {
    const only = results[cfg.contenders[0] ?? 'gearbox']
    const median = (pick: (r: Round) => number): string => spread(only.map(pick)).median.toFixed(1)
    console.log(
      `remote ${cfg.contenders.join('')} ${siSpread(spread(only.map((r) => r.rate)), ' jobs/s')}, ${median((r) => r.cpu)} µs/job ` +
        `(per round ${only.map((r) => r.cpu.toFixed(1)).join(' ')}; sys ${median((r) => r.sys)}, gearmand ${median((r) => r.server)})`,
    )
    return
  }
  const rate = (name: Contender): number[] => results[name].map((r) => r.rate)
  const cpu = (name: Contender): number[] => results[name].map((r) => r.cpu)
  const paired = spread(results.gearbox.map((g, i) => g.rate / (results.loadgen[i]?.rate ?? NaN)))
  const ratio = spread(rate('gearbox')).median / spread(rate('loadgen')).median
  const cpuRatio = spread(cpu('gearbox')).median / spread(cpu('loadgen')).median
  const micros = (name: Contender): string => {
    const s = spread(cpu(name))
    const sys = spread(results[name].map((r) => r.sys)).median
    const server = spread(results[name].map((r) => r.server)).median
    return `${s.median.toFixed(1)} µs/job [${s.min.toFixed(1)}–${s.max.toFixed(1)}] (sys ${sys.toFixed(1)}, gearmand ${server.toFixed(1)})`
  }
  console.log(
    `remote-foreground gearbox ${siSpread(spread(rate('gearbox')), ' jobs/s')}   loadgen ${siSpread(spread(rate('loadgen')))}   ` +
      `ratio gearbox/loadgen ${ratio.toFixed(2)} (per round ${paired.min.toFixed(2)}–${paired.max.toFixed(2)})   goal ≥ 0.9`,
  )
  console.log(`remote-cpu        gearbox ${micros('gearbox')}   loadgen ${micros('loadgen')}   ratio ${cpuRatio.toFixed(2)}   (client + worker CPU in this process per job; gearmand's own CPU per job)`)
  console.log(
    `(node ${process.version}, gearmand ${gearmandVersion()} -t 0, ${cfg.rounds} interleaved rounds, a fresh gearmand per round, median [min–max]; ` +
      `${cfg.clients} clients × ${cfg.pipeline} in flight, ${cfg.workers} workers one job at a time, ${cfg.size}-byte payloads reversed, ` +
      `${cfg.warmup} warm-up + ${cfg.jobs} timed jobs, every result checked; load average before ${loadBefore}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')})`,
  )
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '15' },
      jobs: { type: 'string', default: '50000' },
      warmup: { type: 'string', default: '10000' },
      clients: { type: 'string', default: '4' },
      pipeline: { type: 'string', default: '32' },
      workers: { type: 'string', default: '4' },
      size: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '60' },
      only: { type: 'string' },
    },
  })
  const int = intFlag
  const cfg: Config = {
    rounds: int('rounds', values.rounds, 1),
    jobs: int('jobs', values.jobs, 1),
    warmup: int('warmup', values.warmup, 0),
    clients: int('clients', values.clients, 1),
    pipeline: int('pipeline', values.pipeline, 1),
    workers: int('workers', values.workers, 1),
    size: int('size', values.size, 4),
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
    contenders: values.only === undefined ? CONTENDERS : [values.only as Contender],
  }
  check(values.only === undefined || (CONTENDERS as readonly string[]).includes(values.only), `--only=${values.only ?? ''}: expected loadgen or gearbox`)
  try {
    await main(cfg)
  } catch (err) {
    console.error(`remote: FAILED: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  }
}
