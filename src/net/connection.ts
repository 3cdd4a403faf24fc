import type { Socket } from 'node:net'
import type { Engine, SubmitSpec } from '../core/engine.js'
import type { FunctionEntry } from '../core/function-entry.js'
import { PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NORMAL, type Job, type PriorityLevel } from '../core/job.js'
import type { ClientSession, WorkerRecord, WorkerSession } from '../core/sessions.js'
import { BrokerClosedError, InvalidArgumentError, type ProtocolError, QueueFullError } from '../errors.js'
import { bytesAt } from '../protocol/bytes.js'
import { Decoder, type DecoderSink } from '../protocol/decoder.js'
import type { Frame } from '../protocol/frame.js'
import { errorReplyFor, jobNotFoundFor, WIRE_ERRORS, type WireError } from '../protocol/error-replies.js'
import { MAX_CLIENT_ID_BYTES, MAX_UNIQUE_BYTES, checkRequestLimits } from '../protocol/limits.js'
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
import { LARGE_PAYLOAD, ReplyWriter, type ReplySource } from '../protocol/reply-writer.js'
import { readChunks } from './socket-input.js'

/** What a connection needs from its server. */
export interface ServerSide {
  readonly engine: Engine
  /** The engine's handle start (`H:host:`) as bytes, to find jobs from handles without decoding them. */
  readonly handleStart: Buffer
  readonly maxPacketSize: number
  readonly maxOutputBytes: number
  /** How long a client's replies may wait for more while input keeps coming, ms (see `holdReplies`). */
  readonly replyHoldMs: number
  /** Where connections get their output buffers. */
  readonly buffers: ReplySource
  /**
   * Calls `writeOut()` on the connection once this event-loop turn's input has been handled (or, while input
   * keeps coming, a little later: see `holdReplies`).
   */
  scheduleWrite(connection: Connection): void
  /** Counts a chunk read by a connection. */
  inputRead(): void
  /** Answers a text admin line (or returns null to close the connection without a reply). */
  admin(line: Buffer): string | null
  closed(connection: Connection): void
}

/** Replies held for more to join them (see `holdReplies`) are written once this many bytes are pending. */
const REPLY_HOLD_BYTES = 8 * 1024

/** The plain SUBMIT_JOB* variants, by priority (high, normal, low): one shared spec object each. */
const FOREGROUND = [plainSpec(PRIORITY_HIGH, false), plainSpec(PRIORITY_NORMAL, false), plainSpec(PRIORITY_LOW, false)] as const
const BACKGROUND = [plainSpec(PRIORITY_HIGH, true), plainSpec(PRIORITY_NORMAL, true), plainSpec(PRIORITY_LOW, true)] as const

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
  /** Input chunks are views of a buffer that the next read overwrites (see socket-input.ts). */
  readonly #inputReused: boolean
  /** Created at the first worker packet. */
  #worker: WorkerRecord | null = null
  #clientId = '-'
  /** The `exceptions` option (OPTION_REQ). */
  #exceptions = false
  /** Foreground jobs this connection waits on. */
  readonly #waiting = new Set<Job>()
  #lastFunction: Buffer | null = null
  #lastFunctionName = ''
  /** The function of the last job assigned, and its name as bytes (a worker usually does one function). */
  #assignedFunction: FunctionEntry | null = null
  #assignedFunctionName: Buffer = Buffer.alloc(0)
  readonly #out: ReplyWriter
  /**
   * Replies that wait, in request order, behind a submit whose store write is not done yet (from `#heldHead`
   * on); a null entry is that submit's own reply, filled in when the write is over. While any wait, replies
   * are encoded on their own instead of into `#out`.
   */
  #held: { bytes: Buffer | null }[] = []
  #heldHead = 0
  /** end() was asked for while replies were held: it happens once they are written. */
  #endWhenReleased = false
  #writeQueued = false
  /** When the write pass first held this connection's replies (`performance.now()`), or -1. */
  #heldSince = -1
  #closed = false

  constructor(id: number, socket: Socket, server: ServerSide) {
    this.id = id
    this.#socket = socket
    this.#server = server
    this.remoteAddress = socket.remoteAddress ?? '-'
    this.#out = new ReplyWriter(server.buffers)
    // chunks arrive from the next event-loop turn on, once the decoder below exists
    this.#inputReused = readChunks(socket, (chunk) => {
      server.inputRead()
      this.#decoder.push(chunk)
      // a worker does nothing until it has its answer (JOB_ASSIGN*, NO_JOB): send it now, not after every
      // other connection's input of this event-loop turn has been handled
      if (this.#writeQueued && this.#worker !== null) this.writeOut()
    })
    this.#decoder = new Decoder(this, { expect: 'REQ', maxPacketSize: server.maxPacketSize, reusedInput: this.#inputReused })
    socket.on('end', () => {
      // the peer is done sending (FIN): answer what it sent, including replies still held behind a store write
      this.#decoder.end()
      this.end()
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

  /** Ends the connection after what is queued has been written (once held replies are released, if any). */
  end(): void {
    if (this.#holding) {
      this.#endWhenReleased = true
      return
    }
    this.writeOut()
    this.#socket.end()
  }

  // ---------------------------------------------------------------- decoder sink

  /** The packets of every job (submit, grab, complete), read by offset; anything else takes `onPacket`. */
  onFrame(frame: Frame): boolean {
    if (this.#closed) return true
    switch (frame.type) {
      case PACKET.SUBMIT_JOB:
        return this.#submitFrame(frame, FOREGROUND[PRIORITY_NORMAL])
      case PACKET.SUBMIT_JOB_HIGH:
        return this.#submitFrame(frame, FOREGROUND[PRIORITY_HIGH])
      case PACKET.SUBMIT_JOB_LOW:
        return this.#submitFrame(frame, FOREGROUND[PRIORITY_LOW])
      case PACKET.SUBMIT_JOB_BG:
        return this.#submitFrame(frame, BACKGROUND[PRIORITY_NORMAL])
      case PACKET.SUBMIT_JOB_HIGH_BG:
        return this.#submitFrame(frame, BACKGROUND[PRIORITY_HIGH])
      case PACKET.SUBMIT_JOB_LOW_BG:
        return this.#submitFrame(frame, BACKGROUND[PRIORITY_LOW])
      case PACKET.GRAB_JOB_UNIQ:
        this.#grab(PACKET.GRAB_JOB_UNIQ)
        return true
      case PACKET.WORK_COMPLETE: {
        const job = this.#ownedJob(frame.buf, frame.start(0), frame.end(0))
        // a result that only TCP clients get is written straight into their replies: no copy needed (unless
        // the writer would keep it as its own chunk while the input buffer is reused)
        const direct = job !== undefined && this.#onlyWrittenOut(job) && (!this.#inputReused || frame.length(1) < LARGE_PAYLOAD)
        const data = direct ? frame.arg(1) : copyArg(frame, 1)
        this.#workResult(PACKET.WORK_COMPLETE, job, data)
        return true
      }
      default:
        return false
    }
  }

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
      this.writeOut()
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
    this.writeOut()
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
    if (this.#closed) return
    if (this.#holding) return this.#send(encodeWorkComplete(this.#server.engine.handleOf(job), data))
    this.#out.workComplete(this.#server.handleStart, job.id, data)
    this.#queueWrite()
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
    this.#sendEmpty(PACKET.NOOP)
  }

  revoke(): void {
    // gearmand does not tell a worker that its job was taken away; its late results get JOB_NOT_FOUND
  }

  // ---------------------------------------------------------------- packets

  #handle(packet: Packet): void {
    const engine = this.#server.engine
    switch (packet.type) {
      // plain SUBMIT_JOB*, GRAB_JOB_UNIQ and WORK_COMPLETE are handled by onFrame
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
        if (engine.sleep(this.#workerRecord())) this.#sendEmpty(PACKET.NOOP)
        return
      case PACKET.GRAB_JOB:
      case PACKET.GRAB_JOB_ALL:
        return this.#grab(packet.type)
      case PACKET.WORK_DATA:
      case PACKET.WORK_WARNING:
      case PACKET.WORK_EXCEPTION: {
        const [handle, data] = packet.args
        return this.#workResult(packet.type, this.#ownedJob(handle, 0, handle.length), Buffer.from(data))
      }
      case PACKET.WORK_STATUS: {
        const [handle, numerator, denominator] = packet.args
        const job = this.#ownedJob(handle, 0, handle.length)
        const n = toUint32(numerator)
        const d = toUint32(denominator)
        if (job === undefined || !engine.workStatus(job, this.#workerRecord(), -1, n, d)) return this.#jobNotFound(packet.type)
        return
      }
      case PACKET.WORK_FAIL: {
        const handle = packet.args[0]
        const job = this.#ownedJob(handle, 0, handle.length)
        if (job === undefined || !engine.workFail(job, this.#workerRecord(), -1)) return this.#jobNotFound(packet.type)
        return
      }
      default:
        // server-only types never get here (the decoder refuses them as unexpected commands)
        return this.#sendError(WIRE_ERRORS.INVALID_COMMAND)
    }
  }

  #submitWith(fn: Buffer, unique: Buffer, data: Buffer, spec: SubmitSpec): void {
    // the payload outlives the socket chunk it arrived in: copy it
    this.#submitJob(this.#functionName(fn, 0, fn.length), unique.length === 0 ? '' : unique.toString('utf8'), Buffer.from(data), spec)
  }

  /** A plain SUBMIT_JOB*; one with an over-long unique takes the generic path, which answers gearmand's error. */
  #submitFrame(frame: Frame, spec: SubmitSpec): boolean {
    if (frame.length(1) > MAX_UNIQUE_BYTES) return false
    const buf = frame.buf
    const unique = frame.length(1) === 0 ? '' : buf.toString('utf8', frame.start(1), frame.end(1))
    this.#submitJob(this.#functionName(buf, frame.start(0), frame.end(0)), unique, copyArg(frame, 2), spec)
    return true
  }

  #submitJob(name: string, unique: string, data: Buffer, spec: SubmitSpec): void {
    const engine = this.#server.engine
    let job: Job
    try {
      job = engine.submit(name, unique, data, spec, spec.background ? null : this)
    } catch (err) {
      return this.#sendError(submitError(err))
    }
    if (this.#closed) return
    if (engine.awaitsDurability(job)) {
      this.#createdWhenDurable(job, engine.handleOf(job), spec.background)
      if (!spec.background) {
        this.#waiting.add(job)
        // a late joiner gets the latest status, right after its (held) JOB_CREATED
        if (job.hasStatus) this.#send(encodeWorkStatus(engine.handleOf(job), job.numerator, job.denominator))
      }
      return
    }
    if (this.#holding) this.#send(encodeJobCreated(engine.handleOf(job)))
    else {
      this.#out.jobCreated(this.#server.handleStart, job.id)
      this.#queueWrite()
    }
    if (!spec.background) {
      this.#waiting.add(job)
      // a late joiner gets the latest status at once
      if (job.hasStatus) this.#send(encodeWorkStatus(engine.handleOf(job), job.numerator, job.denominator))
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
      slot.bytes = error === null || !background ? encodeJobCreated(handle) : encodeError('QUEUE_ERROR', 'the job could not be stored')
      const held = this.#held
      for (let next = held[this.#heldHead]; next?.bytes != null; next = held[++this.#heldHead]) this.#write(next.bytes)
      if (this.#heldHead === held.length) {
        this.#held = []
        this.#heldHead = 0
        if (this.#endWhenReleased) this.end()
      }
    })
  }

  /** A client usually submits to one function over and over: decode its name (bytes `start`…`end` of `buf`) once. */
  #functionName(buf: Buffer, start: number, end: number): string {
    const last = this.#lastFunction
    if (last === null || last.length !== end - start || !bytesAt(buf, start, last)) {
      this.#lastFunction = Buffer.from(buf.subarray(start, end))
      this.#lastFunctionName = buf.toString('utf8', start, end)
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
    if (job === undefined) return this.#sendEmpty(PACKET.NO_JOB)
    const name = job.fn.name
    if (type === PACKET.GRAB_JOB) return this.#send(encodeJobAssign(engine.handleOf(job), name, job.data))
    if (type === PACKET.GRAB_JOB_ALL && job.reducer !== '') {
      return this.#send(encodeJobAssignAll(engine.handleOf(job), name, job.unique, job.reducer, job.data))
    }
    if (this.#closed) return
    if (this.#holding) return this.#send(encodeJobAssignUniq(engine.handleOf(job), name, job.unique, job.data))
    this.#out.jobAssignUniq(this.#server.handleStart, job.id, this.#functionBytes(job.fn), job.unique, job.data)
    this.#queueWrite()
  }

  #functionBytes(fn: FunctionEntry): Buffer {
    if (fn !== this.#assignedFunction) {
      this.#assignedFunction = fn
      this.#assignedFunctionName = Buffer.from(fn.name, 'utf8')
    }
    return this.#assignedFunctionName
  }

  #workResult(type: number, job: Job | undefined, data: Buffer): void {
    const engine = this.#server.engine
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

  /**
   * The job a worker names by handle (bytes `start`…`stop` of `buf`), read straight from the bytes (this runs
   * for every WORK_* packet).
   */
  #ownedJob(buf: Buffer, start: number, stop: number): Job | undefined {
    // one trailing NUL is tolerated (gearmand's own WORK_FAIL quirk, echoed by some workers)
    const end = stop > start && buf[stop - 1] === 0 ? stop - 1 : stop
    const prefix = this.#server.handleStart
    const from = start + prefix.length
    if (end <= from || !bytesAt(buf, start, prefix)) return undefined
    // the id: ASCII digits, no leading zero (as the engine writes it)
    if (buf[from] === 0x30 && end - from > 1) return undefined
    let id = 0
    for (let i = from; i < end; i++) {
      const digit = (buf[i] as number) - 0x30
      if (digit < 0 || digit > 9) return undefined
      id = id * 10 + digit
    }
    return Number.isSafeInteger(id) ? this.#server.engine.jobById(id) : undefined
  }

  /** Whether a result of `job` goes only into replies to TCP clients (no listener, cache or in-process client keeps it). */
  #onlyWrittenOut(job: Job): boolean {
    const engine = this.#server.engine
    if (engine.observer !== null || engine.resultCache !== null) return false
    const clients = job.clients
    if (clients !== null) for (const client of clients) if (!(client instanceof Connection)) return false
    return true
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

  /** Some reply waits for a store write: what follows it waits too. */
  get #holding(): boolean {
    return this.#heldHead < this.#held.length
  }

  #send(bytes: Buffer): void {
    if (this.#holding) this.#held.push({ bytes })
    else this.#write(bytes)
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return
    this.#out.bytes(bytes)
    this.#queueWrite()
  }

  #sendEmpty(type: typeof PACKET.NOOP | typeof PACKET.NO_JOB): void {
    if (this.#closed) return
    if (this.#holding) return this.#send(type === PACKET.NOOP ? encodeNoop() : encodeNoJob())
    this.#out.empty(type)
    this.#queueWrite()
  }

  #queueWrite(): void {
    if (!this.#writeQueued) {
      // at most one write per event-loop turn: replies caused by every packet read in this turn (from any
      // connection) go out together
      this.#writeQueued = true
      this.#server.scheduleWrite(this)
    }
  }

  /**
   * Asked by a write pass that saw input read since the last one (`now`: its `performance.now()`): whether the
   * replies queued here wait for the next pass instead of being written now. Under load a pipelining client's
   * replies then go out in fewer, larger writes (fewer system calls for the server and the client), at a cost
   * of at most the server's `replyHoldMs`; once a pass sees no new input, they are written. Workers are not held: their
   * replies are written as soon as their chunk is handled.
   */
  holdReplies(now: number): boolean {
    // nothing to write (a worker's replies already went out): nothing to hold, and no turn to wait for
    if (!this.#out.pending || this.#closed) return false
    if (this.#heldSince < 0) this.#heldSince = now
    return now - this.#heldSince < this.#server.replyHoldMs && this.#out.pendingBytes <= REPLY_HOLD_BYTES
  }

  /** Writes what is queued, as one write when it can. */
  writeOut(): void {
    this.#writeQueued = false
    this.#heldSince = -1
    const out = this.#out
    if (!out.pending || this.#closed) return
    const socket = this.#socket
    if (socket.writableLength > this.#server.maxOutputBytes) {
      // a peer that does not read its replies cannot make the server buffer without bound
      out.abandon()
      socket.destroy()
      return
    }
    const chunks = out.take()
    if (chunks.length === 1) socket.write(chunks[0] as Buffer)
    else {
      socket.cork()
      for (const chunk of chunks) socket.write(chunk)
      socket.uncork()
    }
    // nothing left in the socket's queue: the kernel has the bytes and the buffer can be reused
    if (socket.writableLength === 0) out.recycle()
    else out.abandon()
  }

  #teardown(): void {
    if (this.#closed) return
    this.#closed = true
    this.#out.abandon()
    const engine = this.#server.engine
    for (const job of this.#waiting) engine.detach(job, this)
    this.#waiting.clear()
    if (this.#worker !== null) engine.removeWorker(this.#worker)
    this.#server.closed(this)
  }
}

/** Argument `k` of the frame as a copy: it outlives the socket chunk it arrived in. */
function copyArg(frame: Frame, k: number): Buffer {
  const start = frame.start(k)
  const end = frame.end(k)
  const copy = Buffer.allocUnsafe(end - start)
  copy.set(frame.buf.subarray(start, end))
  return copy
}

function plainSpec(priority: PriorityLevel, background: boolean): SubmitSpec {
  return { priority, background, dueAt: 0, timeout: 0, reducer: '' }
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
