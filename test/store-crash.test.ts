// Proof that an acknowledged background job survives a crash: `gearbox serve -q sqlite` as a child process takes
// thousands of background jobs over TCP while a worker runs them, is killed with SIGKILL at a random moment,
// restarted on the same file, and the worker finishes: every job whose JOB_CREATED arrived before the kill has
// run at least once. Jobs run twice (their WORK_COMPLETE or its removal was lost in the crash) are counted and
// reported. Also: `gearbox serve`'s store flags and its start-up errors.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { ProtocolError } from '../src/index.js'
import { Decoder, type DecoderSink } from '../src/protocol/decoder.js'
import { encodePacket } from '../src/protocol/encoder.js'
import { PACKET, type Packet } from '../src/protocol/packets.js'
import { tempDir } from './store-setup.js'

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const JOBS = 3000
const WINDOW = 200
const FN = 'crash-test'
const KILL_MOMENTS = 4

interface Served {
  readonly child: ChildProcess
  readonly port: number
  readonly exited: Promise<void>
}

/** Starts `gearbox serve` on port 0 with `args`; resolves once it printed the port it bound. Killed when the test ends. */
async function serve(t: TestContext, args: readonly string[]): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '-p', '0', '-L', '127.0.0.1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let stderr = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
      if (m !== null) resolve(Number(m[1]))
    })
    child.once('exit', (code, signal) => {
      reject(new Error(`gearbox serve exited (${signal ?? code}) before listening: ${stderr}`))
    })
  })
  return { child, port, exited }
}

/** A raw Gearman connection that hands every reply packet to `onPacket`; a reset is expected (the server is killed). */
class RawPeer implements DecoderSink {
  readonly #socket: Socket
  readonly #decoder = new Decoder(this, { expect: 'RES' })
  readonly #onPacket: (packet: Packet) => void
  readonly closed: Promise<void>

  constructor(port: number, onPacket: (packet: Packet) => void) {
    this.#onPacket = onPacket
    this.#socket = connect({ host: '127.0.0.1', port, noDelay: true })
    this.#socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk)
    })
    this.#socket.on('error', () => {
      // the server was killed: 'close' follows
    })
    this.closed = new Promise((resolve) => this.#socket.once('close', () => { resolve() }))
  }

  send(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes)
  }

  destroy(): void {
    this.#socket.destroy()
  }

  onPacket(packet: Packet): void {
    this.#onPacket(packet)
  }

  onText(): void {
    throw new Error('unexpected text line')
  }

  onError(err: ProtocolError): void {
    throw err
  }
}

/** A worker that runs every job it is given (counting runs per job index) and asks for the next one. */
function worker(port: number, runs: Uint16Array): RawPeer {
  const grab = encodePacket('REQ', PACKET.GRAB_JOB, [])
  const peer = new RawPeer(port, (packet) => {
    switch (packet.type) {
      case PACKET.NOOP:
        return peer.send(grab)
      case PACKET.NO_JOB:
        return peer.send(encodePacket('REQ', PACKET.PRE_SLEEP, []))
      case PACKET.JOB_ASSIGN: {
        const [handle, , data] = packet.args
        const index = Number(data.toString('latin1'))
        assert.ok(Number.isSafeInteger(index) && index >= 0 && index < runs.length, `a job this test submitted: ${data.toString('latin1')}`)
        runs[index] = (runs[index] ?? 0) + 1
        peer.send(Buffer.concat([encodePacket('REQ', PACKET.WORK_COMPLETE, [handle, 'done']), grab]))
        return
      }
      default:
        assert.fail(`worker: unexpected packet ${packet.type}`)
    }
  })
  peer.send(Buffer.concat([encodePacket('REQ', PACKET.CAN_DO, [FN]), grab]))
  return peer
}

/** Submits jobs 0 … JOBS-1 as SUBMIT_JOB_BG with WINDOW outstanding; `acked()` counts the JOB_CREATED replies (in order). */
function submitter(port: number): { peer: RawPeer; acked: () => number } {
  let sent = 0
  let acked = 0
  const submitNext = (): void => {
    if (sent < JOBS) peer.send(encodePacket('REQ', PACKET.SUBMIT_JOB_BG, [FN, '', String(sent++)]))
  }
  const peer = new RawPeer(port, (packet) => {
    assert.equal(packet.type, PACKET.JOB_CREATED, 'every submit is acknowledged with JOB_CREATED')
    acked++
    submitNext()
  })
  for (let i = 0; i < WINDOW; i++) submitNext()
  return { peer, acked: () => acked }
}

async function until(check: () => boolean, what: () => string, ms: number, refresh?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    await refresh?.()
    if (check()) return
    if (Date.now() > deadline) assert.fail(`timed out: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** The test function's queued + running jobs, from the text admin `status` command. */
function total(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let text = ''
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      text += chunk
      if (!text.endsWith('.\n')) return
      socket.destroy()
      const row = text.split('\n').find((line) => line.startsWith(FN + '\t'))
      resolve(row === undefined ? 0 : Number(row.split('\t')[1]))
    })
    socket.once('error', reject)
    socket.write('status\n')
  })
}

test(`kill -9 at ${KILL_MOMENTS} random moments: every background job acknowledged before the kill runs at least once`, { timeout: 50_000 }, async (t) => {
  const dir = tempDir(t)
  const report: string[] = []
  for (let round = 0; round < KILL_MOMENTS; round++) {
    const db = join(dir, `jobs-${round}.db`)
    const runs = new Uint16Array(JOBS)
    const first = await serve(t, ['-q', 'sqlite', '--sqlite-db', db, '--log-file', 'stderr'])
    const jobsWorker = worker(first.port, runs)
    const client = submitter(first.port)
    // a random moment: while jobs are being submitted (after a random number of acknowledgements), or while the
    // worker drains them (after a random number of runs)
    const whileSubmitting = round % 2 === 0
    const target = 1 + Math.floor(Math.random() * (whileSubmitting ? JOBS : JOBS / 2))
    const reached = (): number => (whileSubmitting ? client.acked() : runs.reduce((n, r) => n + r, 0))
    await until(() => reached() >= target, () => `round ${round}: ${reached()} of ${target} ${whileSubmitting ? 'acknowledgements' : 'runs'}`, 20_000)
    first.child.kill('SIGKILL')
    await first.exited
    await Promise.all([jobsWorker.closed, client.peer.closed])
    const acked = client.acked()
    const ranBeforeKill = runs.reduce((n, r) => n + (r > 0 ? 1 : 0), 0)

    const second = await serve(t, ['--queue-type', 'libsqlite3', '--libsqlite3-db', db, '--log-file', 'stderr'])
    const finisher = worker(second.port, runs)
    let queued = -1
    const lost = (): number[] => {
      const out: number[] = []
      for (let i = 0; i < acked; i++) if (runs[i] === 0) out.push(i)
      return out
    }
    await until(() => lost().length === 0, () => `round ${round}: acknowledged jobs never run after the restart: ${lost().length} (first ${lost().slice(0, 5).join(', ')})`, 20_000)
    // nothing left queued either: whatever was written but not yet acknowledged has run too
    await until(() => queued === 0, () => `round ${round}: ${queued} job(s) still queued`, 10_000, async () => {
      queued = await total(second.port)
    })
    finisher.destroy()
    second.child.kill('SIGKILL')
    await second.exited
    const twice = runs.reduce((n, r) => n + (r > 1 ? 1 : 0), 0)
    report.push(`kill after ${target} ${whileSubmitting ? 'acks' : 'runs'}: ${acked} acknowledged, ${ranBeforeKill} had run, 0 lost, ${twice} ran twice`)
  }
  t.diagnostic(report.join('; '))
})

test('gearbox serve: -q sqlite needs --sqlite-db; an unknown queue type, a directory or a corrupted file stop it at start with a message', { timeout: 20_000 }, async (t) => {
  const dir = tempDir(t)
  const garbage = join(dir, 'garbage.db')
  writeFileSync(garbage, Buffer.alloc(8192, 0x5a))
  const cases: [string[], RegExp][] = [
    [['-q', 'sqlite'], /-q sqlite needs --sqlite-db FILE/],
    [['-q', 'mysql'], /unknown queue type "mysql"/],
    [['--sqlite-db', garbage], /--sqlite-db needs -q sqlite/],
    [['-q', 'sqlite', '--sqlite-db', dir], /cannot open the job store/],
    [['-q', 'sqlite', '--sqlite-db', garbage], /file is not a database/],
  ]
  for (const [args, message] of cases) {
    const child = spawn(process.execPath, [MAIN, 'serve', '-p', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 2, `${args.join(' ')}: exit code (stderr: ${stderr})`)
    assert.match(stderr, message, args.join(' '))
  }
})
