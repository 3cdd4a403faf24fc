/**
 * dispatch-inproc: foreground no-op jobs through gearbox, fastq (promise API) and p-queue, with the same
 * producer (WINDOW jobs outstanding, each completion submits the next) and the same async echo handler.
 *
 *   node --expose-gc .build/bench/dispatch.js [--rounds=7] [--jobs=1000000] [--in-process]
 *
 * By default every measured round runs in a fresh child process (`--child=<name>`: warm up, then one
 * round, printing JSON), rounds interleaved A B C A B C ...; see bench/README.md for why.
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import fastq from 'fastq'
import PQueue from 'p-queue'
import { Broker } from '../src/index.js'
import { check, now, runNode, si, siSpread, spread } from './common.js'

const WINDOW = 128
const WARMUP_JOBS = 500_000
/** Distinct payloads, so a sample of results can be checked against what was sent. */
const PAYLOADS = Array.from({ length: 1024 }, (_, i) => Buffer.from(`payload ${String(i).padStart(4, '0')}`))
const CONTENDERS = ['gearbox', 'fastq', 'p-queue'] as const
type Name = (typeof CONTENDERS)[number]

/** The producer: keeps WINDOW jobs in flight until `total` completed; checks every 64th result. Resolves to ms. */
function drive(total: number, submit: (payload: Buffer) => PromiseLike<Buffer>): Promise<number> {
  return new Promise((resolve, reject) => {
    let started = 0
    let completed = 0
    const t0 = now()
    const next = (): void => {
      const i = started++
      const payload = PAYLOADS[i & 1023] as Buffer
      submit(payload).then((result) => {
        if ((i & 63) === 0 && !result.equals(payload)) reject(new Error(`job ${i} returned the wrong result`))
        else if (++completed === total) resolve(now() - t0)
        else if (started < total) next()
      }, reject)
    }
    for (let k = 0; k < Math.min(WINDOW, total); k++) next()
  })
}

/** One round of `jobs` jobs on a fresh queue; returns elapsed ms after checking the queue ended empty. */
const oneRound: Record<Name, (jobs: number) => Promise<number>> = {
  async gearbox(jobs) {
    const broker = new Broker()
    broker.worker().register('noop', async (job) => job.data, { concurrency: WINDOW })
    const client = broker.client()
    const ms = await drive(jobs, (payload) => client.submit('noop', payload))
    check(broker.size === 0, `gearbox still holds ${broker.size} jobs`)
    await broker.close()
    return ms
  },
  async fastq(jobs) {
    const queue = fastq.promise(async (payload: Buffer) => payload, WINDOW)
    const ms = await drive(jobs, (payload) => queue.push(payload))
    check(queue.idle(), 'fastq is not idle')
    return ms
  },
  async 'p-queue'(jobs) {
    const queue = new PQueue({ concurrency: WINDOW })
    const echo = async (payload: Buffer): Promise<Buffer> => payload
    const ms = await drive(jobs, (payload) => queue.add(() => echo(payload)))
    check(queue.size === 0 && queue.pending === 0, 'p-queue is not empty')
    return ms
  },
}

async function warmUp(name: Name): Promise<void> {
  for (let done = 0; done < WARMUP_JOBS; done += 100_000) await oneRound[name](100_000)
}

/** Child mode: warm up, run one round, print `{"name","jobs","ms"}`. */
async function child(name: Name, jobs: number): Promise<void> {
  await warmUp(name)
  const ms = await oneRound[name](jobs)
  console.log(JSON.stringify({ name, jobs, ms }))
}

/** Runs the rounds and returns the result lines. */
async function main(options: { rounds: number; jobs: number; inProcess: boolean }): Promise<string> {
  const { jobs } = options
  const self = fileURLToPath(import.meta.url)
  const rates: Record<Name, number[]> = { gearbox: [], fastq: [], 'p-queue': [] }
  if (options.inProcess) for (const name of CONTENDERS) await warmUp(name)
  for (let r = 0; r < options.rounds; r++) {
    for (const name of CONTENDERS) {
      let ms: number
      if (options.inProcess) ms = await oneRound[name](jobs)
      else {
        const out = JSON.parse(await runNode(self, [`--child=${name}`, `--jobs=${jobs}`])) as { name: string; jobs: number; ms: number }
        check(out.name === name && out.jobs === jobs, `child reported ${JSON.stringify(out)}`)
        ms = out.ms
      }
      rates[name].push((jobs / ms) * 1000)
    }
  }
  const g = spread(rates.gearbox)
  const f = spread(rates.fastq)
  const p = spread(rates['p-queue'])
  // ratio of the medians, and the spread of the per-round ratios (each round's contenders ran back to back)
  const ratio = (anchor: Name, m: number): string => {
    const paired = spread(rates.gearbox.map((x, i) => x / (rates[anchor][i] ?? NaN)))
    return `${(g.median / m).toFixed(2)} (per round ${paired.min.toFixed(2)}–${paired.max.toFixed(2)})`
  }
  return [
    `dispatch-inproc   gearbox ${siSpread(g, ' jobs/s')}   p-queue ${siSpread(p)}   ratio gearbox/p-queue ${ratio('p-queue', p.median)}   goal ≥ 2`,
    `dispatch-inproc   gearbox ${siSpread(g, ' jobs/s')}   fastq ${siSpread(f)}   ratio gearbox/fastq ${ratio('fastq', f.median)}   goal ≥ 0.5`,
    `(node ${process.version}, ${options.rounds} interleaved rounds × ${si(jobs)} jobs, ${WINDOW} outstanding, ` +
      `${options.inProcess ? 'one process' : 'one child process per round'}, median [min–max]; all results verified)`,
  ].join('\n')
}

function isName(s: string): s is Name {
  return (CONTENDERS as readonly string[]).includes(s)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '7' },
      jobs: { type: 'string', default: '1000000' },
      'in-process': { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  })
  const jobs = Number(values.jobs)
  const rounds = Number(values.rounds)
  check(Number.isSafeInteger(jobs) && jobs > 0, `--jobs=${values.jobs}`)
  check(Number.isSafeInteger(rounds) && rounds > 0, `--rounds=${values.rounds}`)
  if (values.child !== undefined) {
    const name = values.child
    if (!isName(name)) throw new Error(`--child=${name}: expected one of ${CONTENDERS.join(', ')}`)
    await child(name, jobs)
  } else {
    console.log(await main({ rounds, jobs, inProcess: values['in-process'] }))
  }
}
