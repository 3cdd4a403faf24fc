/**
 * The servers under test, as child processes: `gearbox serve` (dist/cli/main.js) and a real gearmand. Picks a
 * free port, waits until the server accepts connections, reads its RSS and CPU time from /proc, and stops it
 * (SIGTERM, then SIGKILL). Every child started here is also killed when this process exits, however it exits.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const SERVERS = ['gearbox', 'gearmand'] as const
export type ServerName = (typeof SERVERS)[number]

export const HOST = '127.0.0.1'
export const GEARMAND = '/usr/sbin/gearmand'
/** dist/cli/main.js, from .build/bench/loadgen/servers.js (built by `npm run build`). */
export const GEARBOX_MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url))

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000

const live = new Set<ChildProcess>()
let hooked = false

/** Kill whatever is still running when this process goes away (normal exit, uncaught error, Ctrl-C). */
function hookExit(): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL')
      process.exit(130)
    })
  }
}

export interface ServerOptions {
  /** Extra node flags for gearbox (e.g. `--cpu-prof`); ignored for gearmand. */
  readonly nodeArgs?: readonly string[]
}

export interface ServerProcess {
  readonly name: ServerName
  readonly pid: number
  readonly port: number
  /** Resident set size now, bytes (VmRSS of /proc/PID/status). */
  rss(): number
  /** CPU time used so far, seconds (/proc/PID/stat), all threads. */
  cpuTimes(): CpuTimes
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>
}

/** A port that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen({ port: 0, host: HOST }, () => {
      const address = probe.address()
      probe.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port from the probe socket'))
        else resolve(address.port)
      })
    })
  })
}

/** Checks that both servers can be started at all, with a readable message if not. */
export function checkInstalled(): void {
  if (!existsSync(GEARBOX_MAIN)) throw new Error(`${GEARBOX_MAIN} is missing: run \`npm run build\` first`)
  if (!existsSync(GEARMAND)) throw new Error(`${GEARMAND} is missing (apt-get install gearman-job-server)`)
}

export function gearmandVersion(): string {
  const out = execFileSync(GEARMAND, ['--version'], { encoding: 'utf8' })
  return /gearmand\s+(\S+)/.exec(out)?.[1] ?? out.trim()
}

/** Starts `name` on a free port and resolves once it accepts TCP connections. */
export async function startServer(name: ServerName, options: ServerOptions = {}): Promise<ServerProcess> {
  hookExit()
  const port = await freePort()
  const [command, args] =
    name === 'gearbox'
      ? [process.execPath, [...(options.nodeArgs ?? []), GEARBOX_MAIN, 'serve', '-p', String(port), '-L', HOST, '--log-file=none']]
      : [GEARMAND, ['-t', '0', '-p', String(port), '-L', HOST, '--log-file=none']]
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  live.add(child)
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text: string) => {
    if (stderr.length < 10_000) stderr += text
  })
  // an object, so that the checks below see the callback's assignment
  const state: { exited: string | null } = { exited: null }
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = `exited with ${signal ?? `code ${code}`}`
      live.delete(child)
      resolve()
    })
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`${command}: could not be started`)

  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (state.exited !== null) throw new Error(`${name} ${state.exited} before accepting connections: ${stderr.trim()}`)
    if (await canConnect(port)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`)
    }
    await sleep(25)
  }

  let stopping: Promise<void> | null = null
  return {
    name,
    pid,
    port,
    rss: () => rssOf(pid),
    cpuTimes: () => cpuTimesOf(pid),
    stop: () =>
      (stopping ??= (async () => {
        if (state.exited !== null) return
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
        await gone
        clearTimeout(timer)
      })()),
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** VmRSS of a process, bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(kb) * 1024
}

let ticksPerSecond = 0

export interface CpuTimes {
  readonly user: number
  readonly system: number
}

/** utime and stime of a process, seconds. */
export function cpuTimesOf(pid: number): CpuTimes {
  if (ticksPerSecond === 0) ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // fields after "pid (comm) ": state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond }
}
