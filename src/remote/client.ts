import type {
  BackgroundOptions,
  ClientApi,
  Encoder,
  JobRequest,
  JobResult,
  JobSpec,
  JobStatus,
  Priority,
  SubmitOptions,
  UniqueStatus,
  WaitOptions,
} from '../api.js'
import {
  BrokerClosedError,
  ConnectionLostError,
  type GearboxError,
  InvalidArgumentError,
  PayloadTooLargeError,
  ServerError,
  ServerUnavailableError,
} from '../errors.js'
import { epochOption, intOption, signalOption, stringArg } from '../options.js'
import { encodePacket } from '../protocol/encoder.js'
import { MAX_HANDLE_BYTES, MAX_UNIQUE_BYTES } from '../protocol/limits.js'
import type { Frame } from '../protocol/frame.js'
import { PACKET, type Packet, type PacketType } from '../protocol/packets.js'
import { GLOBAL_TIMERS, waitAllSettled } from '../wait-all.js'
import { type ConnectionSink, type PendingReply, RemoteConnection } from './connection.js'
import { RemoteJobRequest } from './job-request.js'
import { argText, flag, priorityOption, serverError, statusOf } from './replies.js'
import { ServerLink } from './link.js'
import { HashRing } from './ring.js'
import type { RemoteSettings } from './settings.js'
import { BackgroundSubmission, type Submission } from './submission.js'

type Request = RemoteJobRequest<unknown, unknown>

const EMPTY = Buffer.alloc(0)

/** Removals from a link's job table after which it moves to a new Map (see ClientLink.untrack). */
const MAP_RENEWAL = 256

const FOREGROUND = { high: PACKET.SUBMIT_JOB_HIGH, normal: PACKET.SUBMIT_JOB, low: PACKET.SUBMIT_JOB_LOW } as const
const BACKGROUND: Record<Priority, PacketType> = { high: PACKET.SUBMIT_JOB_HIGH_BG, normal: PACKET.SUBMIT_JOB_BG, low: PACKET.SUBMIT_JOB_LOW_BG }

/** The reply record of one try of a submission (one object per try: the callbacks are the client's). */
class SubmitReply implements PendingReply {
  readonly #submission: Submission
  readonly #link: ClientLink
  readonly #onReply: (s: Submission, link: ClientLink, frame: Frame) => void
  readonly #onFail: (s: Submission, link: ClientLink, error: GearboxError) => void

  constructor(
    submission: Submission,
    link: ClientLink,
    onReply: (s: Submission, link: ClientLink, frame: Frame) => void,
    onFail: (s: Submission, link: ClientLink, error: GearboxError) => void,
  ) {
    this.#submission = submission
    this.#link = link
    this.#onReply = onReply
    this.#onFail = onFail
  }

  take(reply: Frame | Buffer): boolean {
    if (Buffer.isBuffer(reply)) return false
    this.#onReply(this.#submission, this.#link, reply)
    return true
  }

  fail(error: GearboxError): void {
    this.#onFail(this.#submission, this.#link, error)
  }
}

/** A server with the foreground jobs this client waits on there, by handle (an array only when several share one). */
class ClientLink extends ServerLink {
  connection: RemoteConnection | null = null
  jobs = new Map<string, Request | Request[]>()
  #removals = 0
  /** Submissions sent on the current connection and not yet answered (JOB_CREATED or ERROR). */
  unanswered = 0

  /**
   * Ends a handle's entry. Every MAP_RENEWAL removals (or as many as the table holds, if more: the copy then
   * costs O(1) per removal) the table moves to a new Map. A Map whose entries come
   * and go replaces its hash table every few dozen removals, and V8 leaves each old table pointing to the new
   * one (for iterators), entries and all; once one of them is in old space (a full GC promotes the live one),
   * that chain keeps every later table alive across scavenges, with the requests, promises and result views
   * (and so socket chunks) their entries held, until the next full GC. Measured on the remote bench: 1–2 MB
   * kept per scavenge instead of ~150 KB, and a mark-compact every few scavenges. A new Map ends the chain.
   */
  untrack(handle: string): void {
    const jobs = this.jobs
    jobs.delete(handle)
    if (++this.#removals >= MAP_RENEWAL && this.#removals >= jobs.size) {
      this.#removals = 0
      this.jobs = new Map(jobs)
    }
  }
}

/**
 * A Gearman client over TCP, with the in-process client's API. Jobs with a unique go to the server that owns
 * the unique on a consistent-hash ring of the live servers (so they coalesce across a cluster); others go to
 * the live servers in turn. A submission whose connection fails before JOB_CREATED is retried on another
 * server (`maxRetries`); an accepted foreground job whose connection drops fails with ConnectionLostError,
 * or is resubmitted with `resubmit: true`.
 * @example
 * const remote = connect({ servers: ['127.0.0.1:4730'] })
 * const text = await remote.client({ encoder: 'utf8' }).submit('reverse', 'hello')
 */
export class RemoteClient<TPayload, TResult> implements ClientApi<TPayload, TResult> {
  readonly #settings: RemoteSettings
  readonly #encoder: Encoder<unknown, unknown>
  readonly #id: string | undefined
  readonly #links: ClientLink[]
  readonly #ring: HashRing<ClientLink>
  #turn = 0
  #closed = false
  /** Retries waiting for a server's backoff to pass (none was live), with the error that made them retry. */
  readonly #delayed = new Map<NodeJS.Timeout, { s: Submission; error: GearboxError }>()
  /** close() callers, resolved once no submission waits for an answer. */
  #closing: (() => void)[] = []

  constructor(settings: RemoteSettings, encoder: Encoder<unknown, unknown>, id: string | undefined) {
    this.#settings = settings
    this.#encoder = encoder
    this.#id = id
    this.#links = settings.servers.map((address) => new ClientLink(address, settings.backoff))
    this.#ring = new HashRing(this.#links.map((link) => ({ name: link.address.key, node: link })))
  }

  submit<R = TResult>(name: string, payload: TPayload, options: SubmitOptions = {}): JobRequest<R, TResult> {
    return this.#start(this.#prepare(name, payload, options)) as unknown as JobRequest<R, TResult>
  }

  /** Submits several foreground jobs; if any entry is invalid (or cannot be encoded), none is submitted. */
  submitMany<R = TResult>(jobs: readonly JobSpec<TPayload>[]): JobRequest<R, TResult>[] {
    const list: unknown = jobs
    if (!Array.isArray(list)) throw new InvalidArgumentError('jobs', 'an array of { name, payload, options }', jobs)
    const prepared = jobs.map((j) => {
      if (typeof j !== 'object' || (j as unknown) === null) throw new InvalidArgumentError('jobs[]', 'an object { name, payload, options }', j)
      return this.#prepare(j.name, j.payload, j.options ?? {})
    })
    return prepared.map((p) => this.#start(p) as unknown as JobRequest<R, TResult>)
  }

  async submitBackground(name: string, payload: TPayload, options: BackgroundOptions = {}): Promise<string> {
    const unique = this.#check(name, options.unique)
    const priority = priorityOption(options.priority)
    const at = epochOption(options.at)
    if (options.timeout !== undefined && options.timeout !== 0) {
      throw new InvalidArgumentError('timeout', 'absent: Gearman has no per-job time limit for background jobs (register with a timeout)', options.timeout)
    }
    if (at !== 0 && priority !== 'normal') throw new InvalidArgumentError('priority', "'normal' for a scheduled job (SUBMIT_JOB_EPOCH)", priority)
    const signal = signalOption(options.signal)
    const data = this.#encode(payload)
    signal?.throwIfAborted()
    if (this.#closed) throw new BrokerClosedError('client is closed')
    // name and unique were checked for NULs, the data's size against maxPayloadSize
    const [type, args] = at === 0 ? [BACKGROUND[priority], [name, unique, data]] : [PACKET.SUBMIT_JOB_EPOCH, [name, unique, String(Math.floor(at / 1000)), data]]
    return new Promise<string>((resolve, reject) => {
      this.#send(new BackgroundSubmission(name, unique, data, type, args, resolve, reject))
    })
  }

  async waitAll<R>(requests: readonly JobRequest<R, unknown>[], options: WaitOptions = {}): Promise<PromiseSettledResult<R>[]> {
    const list: unknown = requests
    if (!Array.isArray(list)) throw new InvalidArgumentError('requests', 'an array of job requests', requests)
    return waitAllSettled(requests, intOption('timeout', options.timeout, 0), signalOption(options.signal), GLOBAL_TIMERS)
  }

  /**
   * Asks every live server (handles are only known to the server that issued them): the first that knows the
   * job answers; "unknown" once all have said so, or the first error if one failed.
   */
  async getStatus(handle: string): Promise<JobStatus> {
    stringArg('handle', handle)
    // gearmand never answers a longer one (GEARMAN.md §3.7), and issues none
    if (Buffer.byteLength(handle) > MAX_HANDLE_BYTES || handle.includes('\0')) {
      throw new InvalidArgumentError('handle', `a job handle: at most ${MAX_HANDLE_BYTES} bytes without NUL`, handle)
    }
    const packet = encodePacket('REQ', PACKET.GET_STATUS, [handle])
    const live = this.#links.filter((link) => link.live)
    const links = live.length > 0 ? live : this.#links
    return new Promise<JobStatus>((resolve, reject) => {
      let left = links.length
      let failure: Error | undefined = undefined
      const answered = (): void => {
        if (--left > 0) return
        if (failure !== undefined) reject(failure)
        else resolve({ handle, known: false, running: false, numerator: 0, denominator: 0, state: 'unknown' })
      }
      for (const link of links) {
        this.#ask(link, packet, PACKET.STATUS_RES).then(
          (reply) => {
            if (flag(reply.args[1])) resolve({ handle, ...statusOf(reply.args) })
            answered()
          },
          (err: unknown) => {
            failure ??= err as Error
            answered()
          },
        )
      }
    })
  }

  /** Asks the server that owns `unique` on the ring. Gearman looks uniques up across functions: `functionName` is not sent. */
  async getStatusByUnique(unique: string, functionName?: string): Promise<UniqueStatus> {
    stringArg('unique', unique)
    // gearmand never answers a longer one (§3.7); it stores a 64-byte unique truncated to 63, so none is lost
    if (Buffer.byteLength(unique) > MAX_UNIQUE_BYTES - 1 || unique.includes('\0')) {
      throw new InvalidArgumentError('unique', `at most ${MAX_UNIQUE_BYTES - 1} bytes without NUL (gearmand answers no longer one)`, unique)
    }
    if (functionName !== undefined) stringArg('functionName', functionName)
    const link = this.#pick(unique)
    const reply = await this.#ask(link, encodePacket('REQ', PACKET.GET_STATUS_UNIQUE, [unique]), PACKET.STATUS_RES_UNIQUE)
    const args = reply.args
    return { unique, ...statusOf(args), waiting: Number(args[5]?.toString('latin1') ?? 0) || 0 }
  }

  /** Gearman servers keep no results: always undefined. */
  async getResult<R = TResult>(handle: string): Promise<JobResult<R> | undefined> {
    stringArg('handle', handle)
    return undefined
  }

  /**
   * New submissions are refused. Resolves once every submission already made has its answer (bounded by the
   * reply timeout); each connection closes once no foreground job waits on it any more (status queries still
   * waiting then fail with BrokerClosedError).
   */
  async close(): Promise<void> {
    this.#closed = true
    for (const [timer, { s, error }] of this.#delayed) {
      clearTimeout(timer)
      s.rejected(error)
    }
    this.#delayed.clear()
    for (const link of this.#links) this.#maybeClose(link)
    if (this.#links.every((link) => link.unanswered === 0)) return
    await new Promise<void>((resolve) => this.#closing.push(resolve))
  }

  /** After close(): drops the link's connection once nothing waits on it; resolves close() once no link has a submission out. */
  #maybeClose(link: ClientLink): void {
    if (!this.#closed) return
    if (link.jobs.size === 0 && link.unanswered === 0) link.connection?.destroy(new BrokerClosedError('client is closed'))
    if (this.#closing.length > 0 && this.#links.every((l) => l.unanswered === 0)) {
      const waiting = this.#closing
      this.#closing = []
      for (const resolve of waiting) resolve()
    }
  }

  /** A submission on `link` got its answer (or its connection failed). */
  #answered(link: ClientLink): void {
    link.unanswered = Math.max(0, link.unanswered - 1)
  }

  // ---------------------------------------------------------------- submission

  /** A checked, encoded foreground request, not yet sent. */
  #prepare(name: string, payload: TPayload, options: SubmitOptions): { request: Request; signal: AbortSignal | undefined; timeout: number } {
    const checked = this.#check(name, options.unique)
    const priority = priorityOption(options.priority)
    const timeout = intOption('timeout', options.timeout, 0)
    const signal = signalOption(options.signal)
    const data = this.#encode(payload)
    // name and unique were checked for NULs: the packet is sent without the encoder's checks
    return { request: new RemoteJobRequest(name, checked, data, FOREGROUND[priority], this.#encoder, this.#forget), signal, timeout }
  }

  #start({ request, signal, timeout }: { request: Request; signal: AbortSignal | undefined; timeout: number }): Request {
    if (signal?.aborted === true) request.rejected(signal.reason)
    else if (this.#closed) request.rejected(new BrokerClosedError('client is closed'))
    else {
      request.watch(signal, timeout)
      this.#send(request)
    }
    return request
  }

  #check(name: unknown, unique: unknown): string {
    if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) throw new InvalidArgumentError('name', 'a non-empty string without NUL', name)
    if (unique === undefined) return ''
    if (typeof unique !== 'string' || unique.includes('\0') || Buffer.byteLength(unique) > MAX_UNIQUE_BYTES) {
      throw new InvalidArgumentError('unique', `a string of at most ${MAX_UNIQUE_BYTES} bytes without NUL`, unique)
    }
    return unique
  }

  #encode(payload: TPayload): Uint8Array {
    const data = this.#encoder.encode(payload)
    if (data.byteLength > this.#settings.maxPayloadSize) throw new PayloadTooLargeError(data.byteLength, this.#settings.maxPayloadSize)
    return data
  }

  /** A foreground job was accepted: its WORK_* packets will come from `link`. */
  #track(request: Request, handle: string, link: ClientLink): void {
    if (request.state !== 'pending') return
    const jobs = link.jobs
    const known = jobs.get(handle)
    if (known === undefined) jobs.set(handle, request)
    else if (Array.isArray(known)) known.push(request)
    else jobs.set(handle, [known, request])
  }

  /** Sends a submission to the server its unique (or the rotation) picks; retried elsewhere if the connection fails first. */
  #send(s: Submission): void {
    const link = this.#pick(s.unique === '-' ? s.data : s.unique)
    s.tries++
    const connection = this.#connection(link)
    link.unanswered++
    connection.requestPacket(s.packetType, s.packetArgs, new SubmitReply(s, link, this.#onSubmitReply, this.#onSubmitFailed))
  }

  readonly #onSubmitReply = (s: Submission, link: ClientLink, frame: Frame): void => {
    this.#answered(link)
    if (frame.type === PACKET.JOB_CREATED) {
      const handle = argText(frame, 0)
      if (s instanceof RemoteJobRequest) this.#track(s, handle, link)
      s.accepted(handle)
    } else if (frame.type === PACKET.ERROR) s.rejected(serverError(link.address.key, frame, s.functionName))
    else {
      s.rejected(new ServerError(link.address.key, 'UNEXPECTED_REPLY', `expected JOB_CREATED, got packet type ${frame.type}`))
      this.#outOfStep(link)
    }
    this.#maybeClose(link)
  }

  /** A reply of the wrong type: every later reply on that connection would go to the wrong request. */
  #outOfStep(link: ClientLink): void {
    link.connection?.destroy(new ConnectionLostError(link.address.key, 'replies out of step with requests'))
  }

  readonly #onSubmitFailed = (s: Submission, link: ClientLink, error: GearboxError): void => {
    this.#answered(link)
    ;(s.tried ??= []).push(link.address.key)
    this.#retry(s, error)
    this.#maybeClose(link)
  }

  #retry(s: Submission, error: GearboxError): void {
    // a foreground request may have ended meanwhile (its signal, its deadline): nothing to retry
    if (s instanceof RemoteJobRequest && s.state !== 'pending') return
    if (this.#closed) s.rejected(error)
    else if (s.tries > this.#settings.maxRetries) {
      s.rejected(new ServerUnavailableError([...new Set(s.tried ?? [])], `no server took the job after ${s.tries} tries: ${error.message}`, { cause: error }))
    } else this.#sendWhenLive(s, error)
  }

  /** Sends now if a server is live; otherwise once the first one's backoff has passed (so retries are not spent at once). */
  #sendWhenLive(s: Submission, error: GearboxError): void {
    const wait = Math.min(...this.#links.map((link) => link.downUntil)) - Date.now()
    if (wait <= 0) {
      this.#send(s)
      return
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(timer)
      if (s instanceof RemoteJobRequest && s.state !== 'pending') return
      this.#send(s)
    }, wait)
    this.#delayed.set(timer, { s, error })
  }

  /** The server for a unique (the ring), or the next one in turn; only live servers, unless none is. */
  #pick(key: string | Uint8Array): ClientLink {
    const links = this.#links
    const anyLive = links.some(isLive)
    if (key.length > 0) return this.#ring.pick(key, anyLive ? isLive : anyLink) as ClientLink
    for (let k = 0; k < links.length; k++) {
      const link = links[this.#turn++ % links.length] as ClientLink
      if (!anyLive || link.live) return link
    }
    return links[0] as ClientLink
  }

  /** The link's connection, opened (with the `exceptions` option and the client id) if there is none. */
  #connection(link: ClientLink): RemoteConnection {
    if (link.connection !== null && !link.connection.closed) return link.connection
    const connection = new RemoteConnection(link.address, this.#sink(link), this.#settings.connection)
    link.connection = connection
    connection.request(encodePacket('REQ', PACKET.OPTION_REQ, ['exceptions']), { take: (reply) => !Buffer.isBuffer(reply), fail: () => undefined })
    if (this.#id !== undefined) connection.write(encodePacket('REQ', PACKET.SET_CLIENT_ID, [this.#id]))
    return connection
  }

  #sink(link: ClientLink): ConnectionSink {
    return {
      onOpen: () => undefined,
      onHeard: () => {
        link.opened()
      },
      onFrame: (frame) => {
        this.#onFrame(link, frame)
      },
      onClose: (error, connection) => {
        if (link.connection === connection) link.connection = null
        if (!(error instanceof BrokerClosedError)) link.failed()
        this.#dropped(link, error)
      },
    }
  }

  /** The connection dropped: its accepted foreground jobs fail, or are resubmitted. */
  #dropped(link: ClientLink, error: GearboxError): void {
    const requests = [...link.jobs.values()].flat()
    link.jobs.clear()
    for (const request of requests) {
      if (this.#settings.resubmit && !this.#closed && request.tries <= this.#settings.maxRetries) {
        request.accepted(undefined)
        this.#sendWhenLive(request, error)
      } else request.rejected(error)
    }
  }

  #onFrame(link: ClientLink, frame: Frame): void {
    const type = frame.type
    switch (type) {
      case PACKET.WORK_DATA:
      case PACKET.WORK_WARNING:
      case PACKET.WORK_STATUS:
      case PACKET.WORK_COMPLETE:
      case PACKET.WORK_FAIL:
      case PACKET.WORK_EXCEPTION:
        break
      default:
        return // NOOP, or an ERROR nothing waits for
    }
    const buf = frame.buf
    const start = frame.start(0)
    let end = frame.end(0)
    // gearmand turns WORK_EXCEPTION into WORK_FAIL `H\0` for clients without the option (GEARMAN.md §3.6)
    if (end > start && buf[end - 1] === 0) end--
    const key = buf.toString('latin1', start, end)
    const entry = link.jobs.get(key)
    if (entry === undefined) return
    const outcome = type === PACKET.WORK_COMPLETE || type === PACKET.WORK_FAIL || type === PACKET.WORK_EXCEPTION
    if (outcome) link.untrack(key)
    // one view of the data for every request that shares the job
    const data = type === PACKET.WORK_FAIL || type === PACKET.WORK_STATUS ? EMPTY : frame.arg(1)
    if (Array.isArray(entry)) for (const r of entry) deliver(r, frame, data)
    else deliver(entry, frame, data)
    if (outcome) this.#maybeClose(link)
  }

  /** Ends a request's membership in its link's job table (it settled: outcome, abort or timeout). */
  readonly #forget = (request: Request): void => {
    const handle = request.handle
    if (handle === undefined) return
    for (const link of this.#links) {
      const entry = link.jobs.get(handle)
      if (entry === request) link.untrack(handle)
      else if (Array.isArray(entry) && entry.includes(request)) {
        const rest = entry.filter((r) => r !== request)
        link.jobs.set(handle, rest.length === 1 ? (rest[0] as Request) : rest)
      } else continue
      this.#maybeClose(link)
      return
    }
  }

  /** One request with a one-packet reply of type `expect`; ERROR rejects with ServerError. */
  #ask(link: ClientLink, packet: Buffer, expect: number): Promise<Packet> {
    if (this.#closed) return Promise.reject(new BrokerClosedError('client is closed'))
    return new Promise((resolve, reject) => {
      this.#connection(link).request(packet, {
        take: (reply) => {
          if (Buffer.isBuffer(reply)) return false
          if (reply.type === expect) resolve(reply.toPacket())
          else if (reply.type === PACKET.ERROR) reject(serverError(link.address.key, reply, ''))
          else {
            reject(new ServerError(link.address.key, 'UNEXPECTED_REPLY', `expected packet type ${expect}, got ${reply.type}`))
            this.#outOfStep(link)
          }
          return true
        },
        fail: reject,
      })
    })
  }
}

function isLive(link: ClientLink): boolean {
  return link.live
}

function anyLink(): boolean {
  return true
}

/** A WORK_* packet for `r`, whose data argument (if it has one) is `data`. */
function deliver(r: Request, frame: Frame, data: Buffer): void {
  switch (frame.type) {
    case PACKET.WORK_COMPLETE:
      r.onComplete(data)
      return
    case PACKET.WORK_DATA:
      r.onData(data)
      return
    case PACKET.WORK_WARNING:
      r.onWarning(data)
      return
    case PACKET.WORK_STATUS:
      r.onStatus(Number(argText(frame, 1)) || 0, Number(argText(frame, 2)) || 0)
      return
    case PACKET.WORK_EXCEPTION:
      r.onException(data)
      return
    default:
      r.onFail()
  }
}
