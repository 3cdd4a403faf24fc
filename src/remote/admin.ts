import type { AdminApi, FunctionStatus, JobInfo, MaxQueueLimits, WorkerInfo } from '../api.js'
import { BrokerClosedError, FunctionInUseError, InvalidArgumentError, ServerError } from '../errors.js'
import { intOption, stringArg } from '../options.js'
import { encodePacket } from '../protocol/encoder.js'
import { PACKET } from '../protocol/packets.js'
import type { Address } from './address.js'
import { parsePriorityStatus, parseShowJobs, parseStatus, parseWorkers } from './admin-replies.js'
import { RemoteConnection } from './connection.js'
import type { RemoteSettings } from './settings.js'

/** An admin command's reply: one line, or the lines of a list up to its `.`. */
type Shape = 'line' | 'list'

/**
 * Gearman's text admin protocol to one server, with the in-process admin's API (plus `getpid`). One
 * connection, opened on first use and reopened after a drop; each command is bounded by the reply timeout.
 * @example
 * for (const f of await connect({ servers: ['127.0.0.1:4730'] }).admin.status()) console.log(f.name, f.queued)
 */
export class RemoteAdmin implements AdminApi {
  readonly server: Address
  readonly #settings: RemoteSettings
  #connection: RemoteConnection | null = null
  #closed = false

  constructor(settings: RemoteSettings, server: Address) {
    this.#settings = settings
    this.server = server
  }

  async status(): Promise<FunctionStatus[]> {
    const [rows, priorities] = await Promise.all([this.#list('status'), this.#list('prioritystatus')])
    const waiting = new Map(parsePriorityStatus(priorities).map((p) => [p.name, p]))
    return parseStatus(rows).map((r) => {
      const p = waiting.get(r.name)
      const byPriority = { high: p?.high ?? 0, normal: p?.normal ?? 0, low: p?.low ?? 0 }
      return {
        name: r.name,
        total: r.total,
        queued: Math.max(0, r.total - r.running),
        running: r.running,
        workers: r.workers,
        // Gearman does not say which workers are busy: an estimate, as if each ran one job
        availableWorkers: Math.max(0, r.workers - r.running),
        byPriority,
        // and it does not report the limits
        maxQueue: { high: 0, normal: 0, low: 0 },
      }
    })
  }

  async workers(): Promise<WorkerInfo[]> {
    return parseWorkers(await this.#list('workers'))
  }

  /** false when the function does not exist (gearmand answers OK and does nothing). */
  async maxQueue(name: string, limits: MaxQueueLimits): Promise<boolean> {
    checkToken('name', name)
    const [high, normal, low] = limitsOf(limits)
    const known = parseStatus(await this.#list('status')).some((r) => r.name === name)
    if (!known) return false
    await this.#ok(`maxqueue ${name} ${high} ${normal} ${low}`)
    return true
  }

  async cancelJob(handle: string): Promise<boolean> {
    checkToken('handle', handle)
    const line = await this.#command(`cancel job ${handle}`, 'line')
    return this.#okOr(line, (code) => (code === 'UNKNOWN_JOB' ? false : undefined))
  }

  async createFunction(name: string): Promise<void> {
    checkToken('name', name)
    await this.#ok(`create function ${name}`)
  }

  async dropFunction(name: string): Promise<boolean> {
    checkToken('name', name)
    const line = await this.#command(`drop function ${name}`, 'line')
    return this.#okOr(line, (_code, text) => {
      if (/not found/i.test(text)) return false
      if (/still connected/i.test(text)) throw new FunctionInUseError(name)
      return undefined
    })
  }

  async showJobs(): Promise<JobInfo[]> {
    return parseShowJobs(await this.#list('show jobs'))
  }

  /** Gearman lists the uniques only: `functionName` and `handle` are empty. */
  async showUniqueJobs(): Promise<{ functionName: string; unique: string; handle: string }[]> {
    return (await this.#list('show unique jobs')).filter((u) => u.length > 0).map((unique) => ({ functionName: '', unique, handle: '' }))
  }

  async version(): Promise<string> {
    return this.#value('version')
  }

  /** The server's process id (`getpid`). */
  async getpid(): Promise<number> {
    const pid = Number(await this.#value('getpid'))
    if (!Number.isSafeInteger(pid)) throw new ServerError(this.server.key, 'UNEXPECTED_REPLY', 'getpid did not answer a number')
    return pid
  }

  /** ECHO_REQ round trip, ms. */
  async ping(): Promise<number> {
    const start = performance.now()
    await new Promise<void>((resolve, reject) => {
      this.#open().request(encodePacket('REQ', PACKET.ECHO_REQ, ['ping']), {
        take: () => {
          resolve()
          return true
        },
        fail: reject,
      })
    })
    return performance.now() - start
  }

  close(): void {
    this.#closed = true
    this.#connection?.destroy(new BrokerClosedError('admin closed'))
  }

  // ---------------------------------------------------------------- commands

  #open(): RemoteConnection {
    if (this.#closed) throw new BrokerClosedError('admin closed')
    if (this.#connection === null || this.#connection.closed) {
      this.#connection = new RemoteConnection(this.server, { onOpen: () => undefined, onHeard: () => undefined, onFrame: () => undefined, onClose: () => undefined }, this.#settings.connection)
    }
    return this.#connection
  }

  #command(command: string, shape: Shape): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const lines: string[] = []
      this.#open().request(Buffer.from(`${command}\r\n`), {
        take: (reply) => {
          if (!Buffer.isBuffer(reply)) return false
          const line = reply.toString('utf8')
          if (shape === 'line' || (lines.length === 0 && line.startsWith('ERR '))) {
            resolve([line])
            return true
          }
          if (line === '.') {
            resolve(lines)
            return true
          }
          lines.push(line)
          return false
        },
        fail: reject,
      })
    })
  }

  async #list(command: string): Promise<string[]> {
    const lines = await this.#command(command, 'list')
    const first = lines[0]
    if (lines.length === 1 && first?.startsWith('ERR ') === true) throw this.#error(first)
    return lines
  }

  async #ok(command: string): Promise<void> {
    this.#okOr((await this.#command(command, 'line'))[0] ?? '', () => undefined)
  }

  /** `OK <value>` → value. */
  async #value(command: string): Promise<string> {
    const line = (await this.#command(command, 'line'))[0] ?? ''
    if (line.startsWith('OK ')) return line.slice(3)
    if (line.startsWith('ERR')) throw this.#error(line)
    return line // the Perl server answers `version` with the bare version
  }

  /** true for OK; for ERR, what `known` makes of it (undefined: a ServerError). */
  #okOr(lines: readonly string[] | string, known: (code: string, text: string) => boolean | undefined): boolean {
    const line = typeof lines === 'string' ? lines : (lines[0] ?? '')
    if (line === 'OK' || line.startsWith('OK ')) return true
    const [, code = '', ...rest] = line.split(' ')
    const text = rest.join(' ').replaceAll('+', ' ')
    const answer = line.startsWith('ERR') ? known(code, `${code} ${text}`) : undefined
    if (answer === undefined) throw this.#error(line)
    return answer
  }

  #error(line: string): ServerError {
    const [, code = 'ERR', ...rest] = line.split(' ')
    return new ServerError(this.server.key, code, rest.join(' ').replaceAll('+', ' '))
  }
}

/** Admin arguments travel as space-separated tokens: no spaces or line breaks inside. */
function checkToken(name: string, value: unknown): void {
  stringArg(name, value)
  if ((value as string).length === 0 || /[\s]/.test(value as string)) throw new InvalidArgumentError(name, 'a non-empty string without white space (a text admin token)', value)
}

function limitsOf(limits: MaxQueueLimits): [number, number, number] {
  if (typeof limits === 'number') {
    const n = intOption('limits', limits, 0)
    return [n, n, n]
  }
  if (typeof limits === 'object' && (limits as unknown) !== null) {
    return [intOption('limits.high', limits.high, 0), intOption('limits.normal', limits.normal, 0), intOption('limits.low', limits.low, 0)]
  }
  throw new InvalidArgumentError('limits', 'an integer >= 0 or { high, normal, low }', limits)
}
