import type { Encoder } from '../api.js'
import { type EncoderName, resolveEncoder } from '../encoders.js'
import { InvalidArgumentError } from '../errors.js'
import { intOption } from '../options.js'
import { DEFAULT_MAX_PACKET_SIZE } from '../protocol/limits.js'
import { type Address, parseAddress, type ServerAddress } from './address.js'
import { RemoteAdmin } from './admin.js'
import { RemoteClient } from './client.js'
import type { RemoteSettings } from './settings.js'
import { RemoteWorker } from './worker.js'

export interface ConnectOptions {
  /** `'host:port'`, `'host'` (port 4730), `'[::1]:4730'` or `{ host, port }`; at least one. */
  servers: readonly ServerAddress[]
  /** ms to establish a TCP connection. Default 5,000. */
  connectTimeout?: number | undefined
  /** ms a request (submission, status, admin command) may wait for its reply before the connection is dropped. Default 10,000. */
  replyTimeout?: number | undefined
  /** Extra tries of a submission after a connection failure or drop (python-gearman's `max_retries`). Default 2. */
  maxRetries?: number | undefined
  /** Resubmit accepted foreground jobs whose connection dropped, within `maxRetries`. Default false: they fail with ConnectionLostError. */
  resubmit?: boolean | undefined
  /** Reconnection backoff, ms: the first wait (default 100) and the longest (default 10,000), with jitter. */
  backoff?: { base?: number | undefined; max?: number | undefined } | undefined
  /** Largest payload, result or update sent or received, bytes. Default 64 MiB. */
  maxPayloadSize?: number | undefined
}

export interface RemoteClientOptions<E> {
  /** How payloads, results and updates are turned into bytes. Default `'raw'`. */
  encoder?: E | undefined
  /** Sent as SET_CLIENT_ID (shown by admin `workers`). */
  id?: string | undefined
}

export interface RemoteWorkerOptions<E> {
  /** Sent as SET_CLIENT_ID on every connection (admin `workers`). Default `worker-<pid>-<n>`. */
  id?: string | undefined
  encoder?: E | undefined
}

type RawIn = Uint8Array | string | undefined | null

let workerCount = 0

/**
 * Clients, workers and admins for a set of Gearman servers (`gearbox serve` or gearmand), with the same
 * interfaces as a Broker's. Nothing connects until it is used.
 */
export class RemoteGearbox {
  readonly #settings: RemoteSettings
  readonly #clients = new Set<RemoteClient<unknown, unknown>>()
  readonly #workers = new Set<RemoteWorker<unknown, unknown>>()
  readonly #admins = new Map<string, RemoteAdmin>()

  constructor(settings: RemoteSettings) {
    this.#settings = settings
  }

  get servers(): readonly Address[] {
    return this.#settings.servers
  }

  /** The admin API of the first server (see `adminOf` for the others). */
  get admin(): RemoteAdmin {
    return this.adminOf(0)
  }

  /** The admin API of `servers[index]`. */
  adminOf(index: number): RemoteAdmin {
    const address = this.#settings.servers[index]
    if (address === undefined) throw new InvalidArgumentError('index', `a server index below ${this.#settings.servers.length}`, index)
    let admin = this.#admins.get(address.key)
    if (admin === undefined) {
      admin = new RemoteAdmin(this.#settings, address)
      this.#admins.set(address.key, admin)
    }
    return admin
  }

  client(options?: RemoteClientOptions<'raw'>): RemoteClient<RawIn, Buffer>
  client(options: RemoteClientOptions<'utf8'>): RemoteClient<string, string>
  client<T = unknown>(options: RemoteClientOptions<'json'>): RemoteClient<T, T>
  client<TIn, TOut>(options: RemoteClientOptions<Encoder<TIn, TOut>>): RemoteClient<TIn, TOut>
  client(options: RemoteClientOptions<EncoderName | Encoder<never, unknown>> = {}): RemoteClient<unknown, unknown> {
    const id = options.id === undefined ? undefined : idOption(options.id)
    const client = new RemoteClient<unknown, unknown>(this.#settings, resolveEncoder(options.encoder), id)
    this.#clients.add(client)
    return client
  }

  worker(options?: RemoteWorkerOptions<'raw'>): RemoteWorker<Buffer, RawIn>
  worker(options: RemoteWorkerOptions<'utf8'>): RemoteWorker<string, string>
  worker<T = unknown>(options: RemoteWorkerOptions<'json'>): RemoteWorker<T, unknown>
  worker<TIn, TOut>(options: RemoteWorkerOptions<Encoder<TIn, TOut>>): RemoteWorker<TOut, TIn>
  worker(options: RemoteWorkerOptions<EncoderName | Encoder<never, unknown>> = {}): RemoteWorker<unknown, unknown> {
    const id = idOption(options.id ?? `worker-${process.pid}-${++workerCount}`)
    const worker = new RemoteWorker<unknown, unknown>(this.#settings, resolveEncoder(options.encoder), id)
    this.#workers.add(worker)
    return worker
  }

  /** Closes every client, worker (gracefully, as `worker.close()`) and admin handed out. */
  async close(): Promise<void> {
    await Promise.all([...[...this.#clients].map((c) => c.close()), ...[...this.#workers].map((w) => w.close())])
    for (const admin of this.#admins.values()) admin.close()
  }
}

/**
 * Connects to Gearman servers: `gearbox serve` instances or gearmand.
 * @example
 * const remote = connect({ servers: ['gearman-a:4730', 'gearman-b:4730'] })
 * remote.worker({ id: 'w1' }).register('reverse', (job) => Buffer.from(job.data).reverse())
 * console.log(await remote.client({ encoder: 'utf8' }).submit('reverse', 'hello'))
 * await remote.close()
 */
export function connect(options: ConnectOptions): RemoteGearbox {
  if (typeof options !== 'object' || (options as unknown) === null) throw new InvalidArgumentError('options', 'an object { servers }', options)
  const list: unknown = options.servers
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError('servers', 'a non-empty array of addresses', list)
  const servers = options.servers.map(parseAddress)
  const maxPayloadSize = intOption('maxPayloadSize', options.maxPayloadSize, DEFAULT_MAX_PACKET_SIZE - 4096, 1)
  const base = intOption('backoff.base', options.backoff?.base, 100, 1)
  return new RemoteGearbox({
    servers,
    connection: {
      connectTimeout: intOption('connectTimeout', options.connectTimeout, 5_000, 1),
      replyTimeout: intOption('replyTimeout', options.replyTimeout, 10_000, 1),
      // a packet's arguments besides its data: handle, function, unique (each well under 1 KiB)
      maxPacketSize: maxPayloadSize + 4096,
    },
    backoff: { base, max: intOption('backoff.max', options.backoff?.max, 10_000, base) },
    maxRetries: intOption('maxRetries', options.maxRetries, 2),
    resubmit: booleanOption('resubmit', options.resubmit, false),
    maxPayloadSize,
  })
}

function idOption(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || /[\0\n\r]/.test(id)) throw new InvalidArgumentError('id', 'a non-empty string without NUL or line breaks', id)
  return id
}

function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidArgumentError(name, 'a boolean', value)
  return value
}
