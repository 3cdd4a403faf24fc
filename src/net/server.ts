import { createServer, type Server, type Socket } from 'node:net'
import type { Broker } from '../broker.js'
import type { Engine } from '../core/engine.js'
import { FunctionInUseError, InvalidArgumentError } from '../errors.js'
import {
  ADMIN_REPLIES,
  formatErr,
  formatOk,
  formatPriorityStatus,
  formatShowJobs,
  formatShowUniqueJobs,
  formatStatus,
  formatValue,
  formatWorkers,
  parseAdminLine,
} from '../protocol/admin-text.js'
import { DEFAULT_MAX_PACKET_SIZE } from '../protocol/limits.js'
import { kEngine } from '../symbols.js'
import { VERSION } from '../version.js'
import { BufferPool } from './buffer-pool.js'
import { Connection, type ServerSide } from './connection.js'

/** Output buffers: 16 KiB each (a busy peer's replies for one event-loop turn), up to 64 spares. */
const OUTPUT_BUFFER_BYTES = 16 * 1024
const SPARE_OUTPUT_BUFFERS = 64
/** `replyHold` by default, ms: in tcp-foreground it cut the server's system time per job by a sixth (bench/README.md). */
const DEFAULT_REPLY_HOLD_MS = 0.2

export interface GearmanServerOptions {
  /** Default 4730 (Gearman's port); 0 picks a free one. */
  port?: number | undefined
  /** Default 127.0.0.1: binding every interface is an explicit choice. */
  host?: string | undefined
  /** Listen backlog. Default 32, as gearmand. */
  backlog?: number | undefined
  /** Largest packet payload accepted, bytes. Default 64 MiB. */
  maxPacketSize?: number | undefined
  /** Connections at once; more are refused at accept. Default 10,000. */
  maxConnections?: number | undefined
  /** Replies queued for a peer that does not read before it is disconnected, bytes. Default 64 MiB. */
  maxOutputBytes?: number | undefined
  /**
   * How long a client's replies may wait for more while the server keeps reading input, ms (0 to 10). Fewer,
   * larger writes under load, for at most this much latency. Default 0.2; 0 writes them at the end of every
   * event-loop turn. Workers' replies never wait.
   */
  replyHold?: number | undefined
  /**
   * Answer the text commands `shutdown` and `shutdown graceful` (gearmand ≤ 1.1.14, python-gearman's
   * `send_shutdown`), calling `onShutdown`. Default: off, as gearmand 1.1.20.
   */
  onShutdown?: ((graceful: boolean) => void) | undefined
  /** Answer state-changing admin commands with `OK\n` instead of gearmand's `OK\r\n` (python-gearman's admin client needs it). */
  okLineFeed?: boolean | undefined
}

/** GearmanServerOptions with defaults filled in. */
interface Settings {
  readonly port: number
  readonly host: string
  readonly backlog: number
  readonly maxPacketSize: number
  readonly maxConnections: number
  readonly maxOutputBytes: number
  readonly replyHold: number
  readonly okLineFeed: boolean
  readonly onShutdown: ((graceful: boolean) => void) | undefined
}

/**
 * A gearmand-compatible TCP front for a Broker: the Gearman binary protocol and the text admin protocol on one
 * port. TCP clients and workers share the broker's jobs, uniques and queues with in-process ones.
 * @example
 * const server = new GearmanServer(broker, { port: 0 })
 * const { port } = await server.listen()
 * // … gearman -p $port -f reverse hello …
 * await server.close()
 */
export class GearmanServer {
  readonly #engine: Engine
  readonly #options: Settings
  readonly #server: Server
  readonly #connections = new Set<Connection>()
  readonly #side: ServerSide
  /** Connections with replies to write at the end of this event-loop turn. */
  #writers: Connection[] = []
  /** Chunks read by any connection since the last write pass. */
  #inputsRead = 0
  #nextId = 1
  #closing: Promise<void> | null = null

  constructor(broker: Broker, options: GearmanServerOptions = {}) {
    this.#engine = broker[kEngine]
    this.#options = {
      port: intIn('port', options.port, 4730, 0, 65535),
      host: options.host ?? '127.0.0.1',
      backlog: intIn('backlog', options.backlog, 32, 1, 65535),
      maxPacketSize: intIn('maxPacketSize', options.maxPacketSize, DEFAULT_MAX_PACKET_SIZE, 12, 0xffffffff),
      maxConnections: intIn('maxConnections', options.maxConnections, 10_000, 1, 1_000_000),
      maxOutputBytes: intIn('maxOutputBytes', options.maxOutputBytes, 64 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
      replyHold: numberIn('replyHold', options.replyHold, DEFAULT_REPLY_HOLD_MS, 0, 10),
      okLineFeed: options.okLineFeed ?? false,
      onShutdown: options.onShutdown,
    }
    const engine = this.#engine
    this.#side = {
      engine,
      handleStart: Buffer.from(engine.handleStart, 'utf8'),
      maxPacketSize: this.#options.maxPacketSize,
      maxOutputBytes: this.#options.maxOutputBytes,
      replyHoldMs: this.#options.replyHold,
      buffers: new BufferPool(OUTPUT_BUFFER_BYTES, SPARE_OUTPUT_BUFFERS),
      scheduleWrite: (connection) => {
        if (this.#writers.push(connection) === 1) setImmediate(this.#writeAll)
      },
      inputRead: () => {
        this.#inputsRead++
      },
      admin: (line) => this.#admin(line),
      closed: (connection) => {
        this.#connections.delete(connection)
      },
    }
    // half-open: a peer's FIN ends our side only once its replies are out (see Connection.end)
    this.#server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      this.#accept(socket)
    })
    this.#server.maxConnections = this.#options.maxConnections
  }

  readonly #writeAll = (): void => {
    const writers = this.#writers
    this.#writers = []
    // input read since the last pass: more replies to the same peers are likely soon, and a peer's replies
    // may wait a little to go out together (Connection.holdReplies); otherwise everything is written now
    const busy = this.#inputsRead > 0
    this.#inputsRead = 0
    const now = busy ? performance.now() : 0
    for (const connection of writers) {
      if (busy && connection.holdReplies(now)) this.#writers.push(connection)
      else connection.writeOut()
    }
    if (this.#writers.length > 0) setImmediate(this.#writeAll)
  }

  /** Open connections. */
  get connections(): number {
    return this.#connections.size
  }

  /** Starts listening; resolves with the address actually bound (port 0 picks one). */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen({ port: this.#options.port, host: this.#options.host, backlog: this.#options.backlog }, () => {
        this.#server.off('error', reject)
        const address = this.#server.address()
        if (address === null || typeof address === 'string') {
          reject(new Error('server has no TCP address'))
          return
        }
        resolve({ host: address.address, port: address.port })
      })
    })
  }

  /**
   * Stops accepting connections. Graceful: existing connections are served until the broker has no jobs left
   * (or `timeout` ms pass); otherwise they are dropped at once. The broker itself stays open.
   */
  async close(options: { graceful?: boolean | undefined; timeout?: number | undefined } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceful ?? false, intIn('timeout', options.timeout, 30_000, 0, 2 ** 31 - 1))
    return this.#closing
  }

  async #close(graceful: boolean, timeout: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => { resolve() }))
    if (graceful && this.#engine.size > 0) await this.#waitForNoJobs(timeout)
    for (const c of this.#connections) c.destroy()
    await stopped
  }

  #waitForNoJobs(timeout: number): Promise<void> {
    return new Promise((resolve) => {
      const started = Date.now()
      const poll = (): void => {
        if (this.#engine.size === 0 || Date.now() - started >= timeout) resolve()
        else setTimeout(poll, 20)
      }
      poll()
    })
  }

  #accept(socket: Socket): void {
    if (this.#closing !== null) {
      socket.destroy()
      return
    }
    this.#connections.add(new Connection(this.#nextId++, socket, this.#side))
  }

  /** One text admin line → gearmand's reply (null: close the connection without one). */
  #admin(line: Buffer): string | null {
    const engine = this.#engine
    const parsed = parseAdminLine(line, { shutdown: this.#options.onShutdown !== undefined })
    const ok = formatOk(this.#options.okLineFeed ? 'lf' : 'crlf')
    switch (parsed.command) {
      case 'status':
        return formatStatus(engine.functionCounts().map((f) => ({ functionName: f.name, total: f.total, running: f.running, workers: f.workers })))
      case 'prioritystatus':
        return formatPriorityStatus(
          engine.functionCounts().map((f) => ({ functionName: f.name, high: f.queued[0], normal: f.queued[1], low: f.queued[2], workers: f.workers })),
        )
      case 'workers':
        return formatWorkers(
          [...this.#connections].map((c) => ({ fd: c.id, ip: c.remoteAddress, clientId: c.clientId, functions: c.functions })),
        )
      case 'maxqueue':
        engine.setMaxQueue(parsed.functionName, [parsed.high, parsed.normal, parsed.low])
        return ok
      case 'show-jobs':
        return formatShowJobs(
          // gearmand counts retries when an attempt is lost; attempts count hand-outs, including a running one
          engine.liveJobs().map((j) => ({
            handle: engine.handleOf(j),
            retries: j.state === 'running' ? j.attempts - 1 : j.attempts,
            ignore: j.clients === null && !j.background,
            persisted: j.background,
          })),
        )
      case 'show-unique-jobs':
        return formatShowUniqueJobs(engine.liveJobs().map((j) => j.unique))
      case 'cancel-job':
        return engine.cancel(parsed.handle) ? ok : ADMIN_REPLIES.UNKNOWN_JOB
      case 'create-function':
        try {
          engine.createFunction(parsed.functionName)
          return ok
        } catch (err) {
          if (err instanceof InvalidArgumentError) return formatErr('INVALID_ARGUMENTS', err.message)
          throw err
        }
      case 'drop-function':
        try {
          return engine.dropFunction(parsed.functionName) ? ok : ADMIN_REPLIES.FUNCTION_NOT_FOUND
        } catch (err) {
          if (err instanceof FunctionInUseError) return ADMIN_REPLIES.FUNCTION_IN_USE
          throw err
        }
      case 'getpid':
        return formatValue(process.pid)
      case 'version':
        return formatValue(VERSION)
      case 'verbose':
        return formatValue('ERROR')
      case 'shutdown':
        this.#options.onShutdown?.(parsed.graceful)
        return ok
      case 'error':
        return parsed.reply
      case 'close':
        return null
    }
  }
}

function numberIn(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= min && value <= max)) throw new InvalidArgumentError(name, `a number from ${min} to ${max}`, value)
  return value
}

function intIn(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `an integer from ${min} to ${max}`, value)
  }
  return value
}
