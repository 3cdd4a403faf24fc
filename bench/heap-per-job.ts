/**
 * heap-per-job: memory per queued background job. 1M jobs, each with its own 100-byte payload Buffer,
 * empty unique, no workers, so every job stays queued. Compared with the cost of holding the same
 * payloads in a plain array, so the broker's own overhead is visible.
 *
 *   node --expose-gc .build/bench/heap-per-job.js [--jobs=1000000]
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Broker } from '../src/index.js'
import { check, gc, runNode, si } from './common.js'

const PAYLOAD_BYTES = 100
const GOAL_BYTES = 600

interface Usage {
  readonly heap: number
  /** heapUsed + external: external counts Buffer backing stores (arrayBuffers), which live outside the V8 heap. */
  readonly total: number
  readonly rss: number
}

function usage(): Usage {
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, total: m.heapUsed + m.external, rss: m.rss }
}

/** Per-job difference between two snapshots, in bytes. */
function perJob(before: Usage, after: Usage, jobs: number): Usage {
  return { heap: (after.heap - before.heap) / jobs, total: (after.total - before.total) / jobs, rss: (after.rss - before.rss) / jobs }
}

/** A distinct payload: its own backing store (Buffer.alloc never uses the shared pool), tagged with `i`. */
function payload(i: number): Buffer {
  const b = Buffer.alloc(PAYLOAD_BYTES, 0x2e)
  b.writeUInt32BE(i, 0)
  return b
}

/** The same payloads held in an array, no broker. */
function baseline(jobs: number): Usage {
  const before = usage()
  const held: Buffer[] = []
  for (let i = 0; i < jobs; i++) held.push(payload(i))
  const after = usage()
  check(held.length === jobs && held[jobs - 1]?.readUInt32BE(0) === jobs - 1, 'baseline payloads')
  return perJob(before, after, jobs)
}

async function queued(jobs: number): Promise<Usage> {
  const before = usage()
  const broker = new Broker()
  const client = broker.client()
  let first = ''
  let last = ''
  for (let i = 0; i < jobs; i++) {
    last = await client.submitBackground('fn', payload(i))
    if (i === 0) first = last
  }
  const after = usage()
  // the broker really holds them all, queued, with their payloads
  const [status] = await broker.admin.status()
  check(broker.size === jobs, `broker.size ${broker.size}, expected ${jobs}`)
  check(status?.name === 'fn' && status.queued === jobs && status.running === 0, `admin status ${JSON.stringify(status)}`)
  for (const handle of [first, last]) {
    const s = await client.getStatus(handle)
    check(s.known && s.state === 'queued', `${handle} is ${s.state}`)
  }
  await broker.close({ graceful: false })
  return perJob(before, after, jobs)
}

/** Each part runs in a fresh process (`--part=...`, printing JSON), so neither inherits the other's heap or RSS. */
async function main(jobs: number): Promise<string> {
  const self = fileURLToPath(import.meta.url)
  const part = async (name: string): Promise<Usage> => JSON.parse(await runNode(self, [`--part=${name}`, `--jobs=${jobs}`])) as Usage
  const base = await part('baseline')
  const job = await part('broker')
  const b = (n: number): string => n.toFixed(0)
  return [
    `heap-per-job      gearbox ${b(job.total)} B/job (heapUsed ${b(job.heap)} + external ${b(job.total - job.heap)})   ` +
      `rss +${b(job.rss)} B/job   goal ≤ ${GOAL_BYTES} B/job total (gearmand 1.1.20 ~910)`,
    `heap-per-job      payloads alone ${b(base.total)} B/job (heapUsed ${b(base.heap)} + external ${b(base.total - base.heap)})   ` +
      `rss +${b(base.rss)}   broker's own overhead ${b(job.total - base.total)} B/job`,
    `(node ${process.version}, ${si(jobs)} queued background jobs, distinct ${PAYLOAD_BYTES}-byte Buffer.alloc payloads, ` +
      `no workers; memoryUsage() after global.gc(), one process per part; broker.size and admin status checked)`,
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { jobs: { type: 'string', default: '1000000' }, part: { type: 'string' } } })
  const jobs = Number(values.jobs)
  check(Number.isSafeInteger(jobs) && jobs > 0, `--jobs=${values.jobs}`)
  if (values.part === 'baseline') console.log(JSON.stringify(baseline(jobs)))
  else if (values.part === 'broker') console.log(JSON.stringify(await queued(jobs)))
  else if (values.part === undefined) console.log(await main(jobs))
  else throw new Error(`--part=${values.part}: expected baseline or broker`)
}
