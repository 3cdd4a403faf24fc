import type { Socket } from 'node:net'
import type { Engine, SubmitSpec } from '../core/engine.js'
import { PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NORMAL, type Job, type PriorityLevel } from '../core/job.js'
import type { ClientSession, WorkerRecord, WorkerSession } from '../core/sessions.js'
import { BrokerClosedError, InvalidArgumentError, type ProtocolError, QueueFullError } from '../errors.js'
import { Decoder, type DecoderSink } from '../protocol/decoder.js'
import { errorReplyFor, jobNotFoundFor, WIRE_ERRORS, type WireError } from '../protocol/error-replies.js'
import { MAX_CLIENT_ID_BYTES, checkRequestLimits } from '../protocol/limits.js'
import { PACKET, type Packet } from '../protocol/packets.js'
import {
  encodeError,
  encodeEchoRes,
  encodeJobAssign,
  encodeJobAssignAll,
  encodeJobAssignUniq,
  encodeJobCreated,
  encodeNoJob,
  encodeNoop,
  encodeOptionRes,
  encodeStatusRes,
  encodeStatusResUnique,
  encodeWorkComplete,
  encodeWorkData,
  encodeWorkException,
  encodeWorkFail,
  encodeWorkStatus,
  encodeWorkWarning,
} from '../protocol/responses.js'

/** What a connection needs from its server. */
export interface ServerSide {
  readonly engine: Engine
  /** The engine's handle start (`H:host:`) as bytes, to find jobs from handles without decoding them. */
  readonly handleStart: Buffer
  readonly maxPacketSize: number
  readonly maxOutputBytes: number
  /** Answers a text admin line (or returns null to close the connection without a reply). */
  admin(line: Buffer): string | null
  closed(connection: Connection): void
}

const NO_TIMEOUT_SPEC = { dueAt: 0, timeout: 0, reducer: '' } as const

/**
 * One TCP peer. It may act as a client (its foreground jobs' updates and outcomes are sent to it), as a
 * worker (a pull session: it grabs jobs, is woken with NOOP) and as an admin, all at once, as in gearmand.
 * Packets are handled in arrival order and replies queued in the same order.
 */
export class Connection implements ClientSession, WorkerSession, DecoderSink {
  readonly mode = 'pull'
  /** A stable per-connection number (gearmand shows its socket descriptor). */
  readonly id: number
  readonly remoteAddress: string
  readonly #socket: Socket
  readonly #server: ServerSide
  readonly #decoder: Decoder
  /** Created at the first worker packet. */
  #worker: WorkerRecord | null = null
  #clientId = '-'
  /** The `exceptions` option (OPTION_REQ). */
  #exceptions = false
  /** Foreground jobs this connection waits on. */
  readonly #waiting = new Set<Job>()
  #lastFunction: Buffer | null = null
  #lastFunctionName = ''
  #out: Buffer[] = []
  /**
   * Replies that wait, in request order, behind a submit whose store write is not done yet (from `#heldHead`
   * on); a null entry is that submit's own reply, filled in when the write is over.
   */
  #held: { bytes: Buffer | null }[] = []
  #heldHead = 0
  #flushQueued = false
  #closed = false

  constructor(id: number, socket: Socket, server: ServerSide) {
    this.id = id
    this.#socket = socket
    this.#server = server
    this.remoteAddress = socket.remoteAddress ?? '-'
    this.#decoder = new Decoder(this, { expect: 'REQ', maxPacketSize: server.maxPacketSize })
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk)
    })
    socket.on('end', () => {
      this.#decoder.end()
      this.#flush()
      socket.end()
    })
    socket.on('close', () => {
      this.#teardown()
    })
    socket.on('error', () => {
      // 'close' follows; a reset peer is an ordinary disconnect
    })
  }

  /** Shown by admin `workers`: `-` unless SET_CLIENT_ID was sent. */
  get clientId(): string {
    return this.#clientId
  }

  /** Registered functions, newest first (gearmand's order). */
  get functions(): string[] {
    return this.#worker === null ? [] : this.#worker.registrations.map((r) => r.fn.name).reverse()
  }

  /** Drops the connection (server shutdown). */
  destroy(): void {
    this.#socket.destroy()
  }

  /** Ends the connection after what is queued has been written. */
  end(): void {
    this.#flush()
    this.#socket.end()
  }

  // ---------------------------------------------------------------- decoder sink

  onPacket(packet: Packet): void {
    if (this.#closed) return
    const limit = checkRequestLimits(packet)
    if (limit !== null) {
      if (limit.reply !== null) this.#sendError(limit.reply)
      else if (packet.type === PACKET.GET_STATUS) this.#send(encodeStatusRes(packet.args[0], false, false, 0, 0))
      else if (packet.type === PACKET.GET_STATUS_UNIQUE) this.#send(encodeStatusResUnique(packet.args[0], false, false, 0, 0, 0))
      return
    }
    this.#handle(packet)
  }

  onText(line: Buffer): void {
    if (this.#closed) return
    const reply = this.#server.admin(line)
    if (reply === null) {
      this.#decoder.end()
      this.#flush()
      this.#socket.destroy()
      return
    }
    this.#send(Buffer.from(reply, 'utf8'))
  }

  onError(err: ProtocolError): void {
    const reply = errorReplyFor(err)
    if (reply !== null && !err.closeConnection) {
      this.#sendError(reply)
      return
    }
    this.#flush()
    this.#socket.destroy()
  }

  // ---------------------------------------------------------------- ClientSession

  onData(job: Job, data: Uint8Array): void {
    this.#send(encodeWorkData(this.#server.engine.handleOf(job), data))
  }

  onWarning(job: Job, data: Uint8Array): void {
    this.#send(encodeWorkWarning(this.#server.engine.handleOf(job), data))
  }

  onStatus(job: Job, numerator: number, denominator: number): void {
    this.#send(encodeWorkStatus(this.#server.engine.handleOf(job), numerator, denominator))
  }

  onComplete(job: Job, data: Uint8Array): void {
    this.#waiting.delete(job)
    this.#send(encodeWorkComplete(this.#server.engine.handleOf(job), data))
  }

  onFail(job: Job): void {
    this.#waiting.delete(job)
    this.#send(encodeWorkFail(this.#server.engine.handleOf(job)))
  }

  onException(job: Job, data: Uint8Array): void {
    this.#waiting.delete(job)
    const handle = this.#server.engine.handleOf(job)
    // without the option, an exception reaches the client as a plain WORK_FAIL (bare handle, no NUL)
    this.#send(this.#exceptions ? encodeWorkException(handle, data) : encodeWorkFail(handle))
  }

  // ---------------------------------------------------------------- WorkerSession

  run(): void {
    throw new Error('a TCP worker pulls its jobs')
  }

  wake(): void {
    this.#send(encodeNoop())
  }

  revoke(): void {
    // gearmand does not tell a worker that its job was taken away; its late results get JOB_NOT_FOUND
  }

  // ---------------------------------------------------------------- packets

  #handle(packet: Packet): void {
    const engine = this.#server.engine
    switch (packet.type) {
      case PACKET.SUBMIT_JOB:
        return this.#submit(packet.args, PRIORITY_NORMAL, false)
      case PACKET.SUBMIT_JOB_HIGH:
        return this.#submit(packet.args, PRIORITY_HIGH, false)
      case PACKET.SUBMIT_JOB_LOW:
        return this.#submit(packet.args, PRIORITY_LOW, false)
      case PACKET.SUBMIT_JOB_BG:
        return this.#submit(packet.args, PRIORITY_NORMAL, true)
      case PACKET.SUBMIT_JOB_HIGH_BG:
        return this.#submit(packet.args, PRIORITY_HIGH, true)
      case PACKET.SUBMIT_JOB_LOW_BG:
        return this.#submit(packet.args, PRIORITY_LOW, true)
      case PACKET.SUBMIT_JOB_EPOCH: {
        const [fn, unique, epoch, data] = packet.args
        const seconds = Number.parseInt(epoch.toString('latin1'), 10)
        const dueAt = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0
        return this.#submitWith(fn, unique, data, { priority: PRIORITY_NORMAL, background: true, dueAt, timeout: 0, reducer: '' })
      }
      case PACKET.SUBMIT_REDUCE_JOB:
      case PACKET.SUBMIT_REDUCE_JOB_BACKGROUND: {
        const [fn, unique, reducer, , data] = packet.args
        const background = packet.type === PACKET.SUBMIT_REDUCE_JOB_BACKGROUND
        return this.#submitWith(fn, unique, data, { priority: PRIORITY_NORMAL, background, dueAt: 0, timeout: 0, reducer: reducer.toString('utf8') })
      }
      case PACKET.GET_STATUS: {
        const handle = packet.args[0]
        const job = engine.jobByHandle(handle.toString('utf8'))
        if (job === undefined) return this.#send(encodeStatusRes(handle, false, false, 0, 0))
        return this.#send(encodeStatusRes(handle, true, job.state === 'running', job.numerator, job.denominator))
      }
      case PACKET.GET_STATUS_UNIQUE: {
        const unique = packet.args[0]
        const job = engine.jobByUnique(unique.toString('utf8'))
        if (job === undefined) return this.#send(encodeStatusResUnique(unique, false, false, 0, 0, 0))
        return this.#send(encodeStatusResUnique(unique, true, job.state === 'running', job.numerator, job.denominator, job.clients?.length ?? 0))
      }
      case PACKET.ECHO_REQ:
        return this.#send(encodeEchoRes(packet.args[0]))
      case PACKET.OPTION_REQ: {
        const option = packet.args[0]
        if (option.toString('latin1').toLowerCase() !== 'exceptions') return this.#sendError(WIRE_ERRORS.UNKNOWN_OPTION)
        this.#exceptions = true
        return this.#send(encodeOptionRes(option))
      }
      case PACKET.SET_CLIENT_ID: {
        const id = packet.args[0].subarray(0, MAX_CLIENT_ID_BYTES).toString('utf8')
        this.#clientId = id === '' ? '-' : id
        if (this.#worker !== null) this.#worker.id = this.#clientId
        return
      }
      case PACKET.CAN_DO:
        return this.#canDo(packet.args[0].toString('utf8'), 0)
      case PACKET.CAN_DO_TIMEOUT: {
        const [fn, ms] = packet.args
        const parsed = Number.parseInt(ms.toString('latin1'), 10)
        // gearmand: non-numeric or ≤ 0 → no timeout; below a second → one second
        const timeout = Number.isFinite(parsed) && parsed > 0 ? Math.max(1000, parsed) : 0
        return this.#canDo(fn.toString('utf8'), timeout)
      }
      case PACKET.CANT_DO:
        engine.unregister(this.#workerRecord(), packet.args[0].toString('utf8'), true)
        return
      case PACKET.RESET_ABILITIES: {
        const worker = this.#workerRecord()
        for (const name of new Set(worker.registrations.map((r) => r.fn.name))) engine.unregister(worker, name, true)
        return
      }
      case PACKET.PRE_SLEEP:
        if (engine.sleep(this.#workerRecord())) this.#send(encodeNoop())
        return
      case PACKET.GRAB_JOB:
      case PACKET.GRAB_JOB_UNIQ:
      case PACKET.GRAB_JOB_ALL:
        return this.#grab(packet.type)
      case PACKET.WORK_DATA:
      case PACKET.WORK_WARNING:
      case PACKET.WORK_COMPLETE:
      case PACKET.WORK_EXCEPTION: {
        const [handle, data] = packet.args
        return this.#workResult(packet.type, handle, Buffer.from(data))
      }
      case PACKET.WORK_STATUS: {
        const [handle, numerator, denominator] = packet.args
        const job = this.#ownedJob(handle)
        const n = toUint32(numerator)
        const d = toUint32(denominator)
        if (job === undefined || !engine.workStatus(job, this.#workerRecord(), -1, n, d)) return this.#jobNotFound(packet.type)
        return
      }
      case PACKET.WORK_FAIL: {
        const job = this.#ownedJob(packet.args[0])
        if (job === undefined || !engine.workFail(job, this.#workerRecord(), -1)) return this.#jobNotFound(packet.type)
        return
      }
      default:
        // server-only types never get here (the decoder refuses them as unexpected commands)
        return this.#sendError(WIRE_ERRORS.INVALID_COMMAND)
    }
  }

  #submit(args: readonly [Buffer, Buffer, Buffer], priority: PriorityLevel, background: boolean): void {
    this.#submitWith(args[0], args[1], args[2], { priority, background, ...NO_TIMEOUT_SPEC })
  }

  #submitWith(fn: Buffer, uniqueBytes: Buffer, data: Buffer, spec: SubmitSpec): void {
    const engine = this.#server.engine
    let job: Job
    try {
      // the payload outlives the socket chunk it arrived in: copy it
      job = engine.submit(this.#functionName(fn), uniqueBytes.length === 0 ? '' : uniqueBytes.toString('utf8'), Buffer.from(data), spec, spec.background ? null : this)
    } catch (err) {
      return this.#sendError(submitError(err))
    }
    const handle = engine.handleOf(job)
    if (engine.awaitsDurability(job)) {
      if (!spec.background) this.#waiting.add(job)
      return this.#createdWhenDurable(job, handle, spec.background)
    }
    this.#send(encodeJobCreated(handle))
    if (!spec.background) {
      this.#waiting.add(job)
      // a late joiner gets the latest status at once
      if (job.hasStatus) this.#send(encodeWorkStatus(handle, job.numerator, job.denominator))
    }
  }

  /**
   * JOB_CREATED once the job's row is written; later replies wait. If the write failed the job is gone: a
   * background submitter gets ERROR instead, a foreground one (joined by unique) JOB_CREATED then WORK_FAIL.
   */
  #createdWhenDurable(job: Job, handle: string, background: boolean): void {
    const slot: { bytes: Buffer | null } = { bytes: null }
    this.#held.push(slot)
    this.#server.engine.whenDurable(job, (error) => {
      slot.bytes = error === null || !background ? encodeJobCreated(handle) : encodeError('QUEUE_ERROR', error.message)
      const held = this.#held
      for (let next = held[this.#heldHead]; next?.bytes != null; next = held[++this.#heldHead]) this.#write(next.bytes)
      if (this.#heldHead === held.length) {
        this.#held = []
        this.#heldHead = 0
      }
    })
  }

  /** A client usually submits to one function over and over: decode its name once. */
  #functionName(bytes: Buffer): string {
    if (this.#lastFunction === null || !bytes.equals(this.#lastFunction)) {
      this.#lastFunction = Buffer.from(bytes)
      this.#lastFunctionName = bytes.toString('utf8')
    }
    return this.#lastFunctionName
  }

  #canDo(name: string, timeout: number): void {
    try {
      this.#server.engine.register(this.#workerRecord(), name, timeout, Infinity)
    } catch {
      // an empty or over-long name, or a closed broker: gearmand gives no reply to CAN_DO either way
    }
  }

  #grab(type: number): void {
    const engine = this.#server.engine
    const job = engine.grab(this.#workerRecord())
    if (job === undefined) return this.#send(encodeNoJob())
    const handle = engine.handleOf(job)
    const name = job.fn.name
    if (type === PACKET.GRAB_JOB) return this.#send(encodeJobAssign(handle, name, job.data))
    if (type === PACKET.GRAB_JOB_ALL && job.reducer !== '') return this.#send(encodeJobAssignAll(handle, name, job.unique, job.reducer, job.data))
    this.#send(encodeJobAssignUniq(handle, name, job.unique, job.data))
  }

  #workResult(type: number, handle: Buffer, data: Buffer): void {
    const engine = this.#server.engine
    const job = this.#ownedJob(handle)
    const worker = this.#workerRecord()
    let ok = false
    if (job !== undefined) {
      if (type === PACKET.WORK_DATA) ok = engine.workData(job, worker, -1, data)
      else if (type === PACKET.WORK_WARNING) ok = engine.workWarning(job, worker, -1, data)
      else if (type === PACKET.WORK_COMPLETE) ok = engine.workComplete(job, worker, -1, data)
      else ok = engine.workException(job, worker, -1, data, undefined)
    }
    if (!ok) this.#jobNotFound(type)
  }

  /** The job a worker names by handle, read straight from the bytes (this runs for every WORK_* packet). */
  #ownedJob(handle: Buffer): Job | undefined {
    // one trailing NUL is tolerated (gearmand's own WORK_FAIL quirk, echoed by some workers)
    const end = handle.length > 0 && handle[handle.length - 1] === 0 ? handle.length - 1 : handle.length
    const start = this.#server.handleStart
    const from = start.length
    if (end <= from || handle.compare(start, 0, from, 0, from) !== 0) return undefined
    // the id: ASCII digits, no leading zero (as the engine writes it)
    if (handle[from] === 0x30 && end - from > 1) return undefined
    let id = 0
    for (let i = from; i < end; i++) {
      const digit = (handle[i] as number) - 0x30
      if (digit < 0 || digit > 9) return undefined
      id = id * 10 + digit
    }
    return Number.isSafeInteger(id) ? this.#server.engine.jobById(id) : undefined
  }

  #jobNotFound(type: number): void {
    const reply = jobNotFoundFor(type)
    if (reply !== null) this.#sendError(reply)
  }

  #workerRecord(): WorkerRecord {
    this.#worker ??= this.#server.engine.addWorker(this, this.#clientId, Infinity)
    return this.#worker
  }

  // ---------------------------------------------------------------- output

  #sendError(reply: WireError): void {
    this.#send(encodeError(reply.code, reply.text))
  }

  #send(bytes: Buffer): void {
    if (this.#heldHead < this.#held.length) this.#held.push({ bytes })
    else this.#write(bytes)
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return
    this.#out.push(bytes)
    if (!this.#flushQueued) {
      // one write per event-loop turn: replies caused by every packet read in this turn (from any
      // connection) go out together
      this.#flushQueued = true
      setImmediate(this.#flushSoon)
    }
  }

  readonly #flushSoon = (): void => {
    this.#flush()
  }

  #flush(): void {
    this.#flushQueued = false
    const out = this.#out
    if (out.length === 0 || this.#closed) return
    this.#out = []
    const socket = this.#socket
    if (socket.writableLength > this.#server.maxOutputBytes) {
      // a peer that does not read its replies cannot make the server buffer without bound
      socket.destroy()
      return
    }
    socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out))
  }

  #teardown(): void {
    if (this.#closed) return
    this.#closed = true
    this.#out = []
    const engine = this.#server.engine
    for (const job of this.#waiting) engine.detach(job, this)
    this.#waiting.clear()
    if (this.#worker !== null) engine.removeWorker(this.#worker)
    this.#server.closed(this)
  }
}

function toUint32(field: Buffer): number {
  const n = Number.parseInt(field.toString('latin1'), 10)
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 0xffffffff) : 0
}

function submitError(err: unknown): WireError {
  if (err instanceof QueueFullError) return WIRE_ERRORS.QUEUE_FULL
  if (err instanceof BrokerClosedError) return { code: 'QUEUE_ERROR', text: 'Server is shutting down' }
  if (err instanceof InvalidArgumentError) return { code: 'INVALID_ARGUMENT', text: err.message }
  return { code: 'QUEUE_ERROR', text: err instanceof Error ? err.message : 'cannot create the job' }
}
