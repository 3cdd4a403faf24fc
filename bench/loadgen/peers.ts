/**
 * The load generator's peers, speaking the Gearman binary protocol over TCP: replies are decoded with the
 * project's Decoder (expect 'RES'); requests are framed here, straight into one Buffer per packet, and all
 * the requests one incoming chunk causes go out in one write.
 *
 * - `WorkerPeer`: CAN_DO, PRE_SLEEP; on NOOP, GRAB_JOB_UNIQ; on JOB_ASSIGN_UNIQ, WORK_COMPLETE with the payload
 *   reversed, then GRAB_JOB_UNIQ again; on NO_JOB, PRE_SLEEP. At most one grab is outstanding.
 * - `ClientPeer`: foreground jobs (SUBMIT_JOB), `pipeline` in flight, each WORK_COMPLETE checked against the
 *   expected bytes and refilled from a shared job source; or background jobs (SUBMIT_JOB_BG), a window of
 *   JOB_CREATED replies outstanding.
 *
 * Job payloads are a function of the job's index (see `writePayload`), so a result can be checked without
 * keeping the payload. Anything unexpected (ERROR, WORK_FAIL, an unknown handle, a wrong byte, a closed
 * connection) is reported to the peer's `Watch`, which fails the phase that is running.
 */
import { connect, type Socket } from 'node:net'
import type { ProtocolError } from '../../src/errors.js'
import { Decoder, type DecoderSink } from '../../src/protocol/decoder.js'
import { HEADER_SIZE, MAGIC_CODE, PACKET, type Packet, packetName } from '../../src/protocol/packets.js'
import { HOST } from './servers.js'

// ---------------------------------------------------------------- failure and timeouts

/** The failure of whatever phase is running, shared by all peers of one round. */
export class Watch {
  #error: Error | null = null
  readonly #rejects = new Set<(err: Error) => void>()

  get error(): Error | null {
    return this.#error
  }

  fail(err: Error): void {
    if (this.#error !== null) return
    this.#error = err
    for (const reject of this.#rejects) reject(err)
  }

  /** `promise`, unless a peer fails first or `ms` pass (a hang): then rejects with the reason. */
  async race<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
    if (this.#error !== null) throw this.#error
    let reject: (err: Error) => void = () => undefined
    const failed = new Promise<never>((_, rej) => (reject = rej))
    this.#rejects.add(reject)
    const timer = setTimeout(() => {
      this.fail(new Error(`timeout: ${typeof what === 'string' ? what : what()} did not finish within ${ms / 1000} s`))
    }, ms)
    try {
      return await Promise.race([promise, failed])
    } finally {
      clearTimeout(timer)
      this.#rejects.delete(reject)
    }
  }
}

// ---------------------------------------------------------------- payloads

/** Byte `k` of job `index`'s payload: the index (big-endian uint32), then a pattern that depends on both. */
function payloadByte(index: number, k: number): number {
  return k < 4 ? (index >>> (24 - 8 * k)) & 0xff : (index * 131 + k * 7) & 0xff
}

/** Writes job `index`'s `size`-byte payload at `at`. */
export function writePayload(out: Buffer, at: number, index: number, size: number): void {
  for (let k = 0; k < size; k++) out[at + k] = payloadByte(index, k)
}

/** Whether `data` is job `index`'s payload (`reversed`: byte for byte backwards). */
export function isPayload(data: Buffer, index: number, size: number, reversed: boolean): boolean {
  if (data.length !== size) return false
  for (let k = 0; k < size; k++) if (data[reversed ? size - 1 - k : k] !== payloadByte(index, k)) return false
  return true
}

/** The index a (not reversed) payload carries. */
export function payloadIndex(data: Buffer): number {
  return data.length < 4 ? -1 : data.readUInt32BE(0)
}

// ---------------------------------------------------------------- framing

function header(out: Buffer, type: number, size: number): void {
  out.writeUInt32BE(MAGIC_CODE.REQ, 0)
  out.writeUInt32BE(type, 4)
  out.writeUInt32BE(size, 8)
}

/** A request whose arguments are all ASCII strings (NUL-separated). */
function textPacket(type: number, args: readonly string[]): Buffer {
  const payload = Buffer.from(args.join('\0'), 'latin1')
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length)
  header(out, type, payload.length)
  payload.copy(out, HEADER_SIZE)
  return out
}

const GRAB_JOB_UNIQ = textPacket(PACKET.GRAB_JOB_UNIQ, [])
const PRE_SLEEP = textPacket(PACKET.PRE_SLEEP, [])
const ECHO_REQ = textPacket(PACKET.ECHO_REQ, ['sync'])

/** SUBMIT_JOB or SUBMIT_JOB_BG: function, empty unique, job `index`'s payload. */
function submitPacket(type: number, fn: Buffer, index: number, size: number): Buffer {
  const body = fn.length + 2 + size
  const out = Buffer.allocUnsafe(HEADER_SIZE + body)
  header(out, type, body)
  fn.copy(out, HEADER_SIZE)
  out[HEADER_SIZE + fn.length] = 0
  out[HEADER_SIZE + fn.length + 1] = 0
  writePayload(out, HEADER_SIZE + fn.length + 2, index, size)
  return out
}

/** WORK_COMPLETE for `handle` with `data` reversed as the result. */
function workCompleteReversed(handle: Buffer, data: Buffer): Buffer {
  const body = handle.length + 1 + data.length
  const out = Buffer.allocUnsafe(HEADER_SIZE + body)
  header(out, PACKET.WORK_COMPLETE, body)
  handle.copy(out, HEADER_SIZE)
  const at = HEADER_SIZE + handle.length
  out[at] = 0
  const n = data.length
  for (let k = 0; k < n; k++) out[at + 1 + n - 1 - k] = data[k] as number
  return out
}

// ---------------------------------------------------------------- peers

/** One connection: decoded replies in, batched requests out, failures to the watch. */
abstract class Peer implements DecoderSink {
  protected readonly socket: Socket
  protected readonly watch: Watch
  readonly #decoder: Decoder
  #out: Buffer[] = []
  #outBytes = 0
  #closing = false
  #synced: (() => void) | null = null

  protected constructor(socket: Socket, watch: Watch) {
    this.socket = socket
    this.watch = watch
    this.#decoder = new Decoder(this, { expect: 'RES', maxPacketSize: 0xffff_ffff })
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk)
      } catch (err) {
        this.watch.fail(err instanceof Error ? err : new Error(String(err)))
      }
      this.flush()
    })
    socket.on('error', (err) => {
      if (!this.#closing) this.watch.fail(new Error(`${this.constructor.name}: ${err.message}`))
    })
    socket.on('close', () => {
      if (!this.#closing) this.watch.fail(new Error(`${this.constructor.name}: the server closed the connection`))
    })
  }

  protected static open(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port, noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(socket)
      })
    })
  }

  /** An ECHO round trip: the server has accepted this connection and answered everything sent before. */
  sync(): Promise<void> {
    return new Promise((resolve) => {
      this.#synced = resolve
      this.send(ECHO_REQ)
      this.flush()
    })
  }

  close(): void {
    this.#closing = true
    this.socket.destroy()
  }

  protected send(packet: Buffer): void {
    this.#out.push(packet)
    this.#outBytes += packet.length
  }

  protected flush(): void {
    const out = this.#out
    if (out.length === 0 || this.#closing) return
    this.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, this.#outBytes))
    this.#out = []
    this.#outBytes = 0
  }

  onPacket(packet: Packet): void {
    if (packet.type === PACKET.ECHO_RES && this.#synced !== null) {
      const synced = this.#synced
      this.#synced = null
      synced()
      return
    }
    if (packet.type === PACKET.ERROR) {
      this.unexpected(`ERROR ${packet.args[0].toString('latin1')}: ${packet.args[1].toString('latin1')}`)
      return
    }
    this.packet(packet)
  }

  protected abstract packet(packet: Packet): void

  onText(line: Buffer): void {
    this.unexpected(`a text line: ${JSON.stringify(line.toString('latin1'))}`)
  }

  onError(err: ProtocolError): void {
    this.watch.fail(new Error(`${this.constructor.name}: undecodable reply: ${err.message}`))
  }

  protected unexpected(what: string): void {
    this.watch.fail(new Error(`${this.constructor.name}: unexpected ${what}`))
  }
}

export interface WorkerOptions {
  readonly fn: string
  /** Called with each assigned job's payload before it is answered; return false to fail the run. */
  readonly onJob: (data: Buffer) => boolean
}

export class WorkerPeer extends Peer {
  /** Jobs answered with WORK_COMPLETE. */
  completed = 0
  readonly #fn: string
  readonly #onJob: (data: Buffer) => boolean
  #grabbing = false

  private constructor(socket: Socket, watch: Watch, options: WorkerOptions) {
    super(socket, watch)
    this.#fn = options.fn
    this.#onJob = options.onJob
  }

  static async connect(port: number, watch: Watch, options: WorkerOptions): Promise<WorkerPeer> {
    return new WorkerPeer(await Peer.open(port), watch, options)
  }

  /** CAN_DO and PRE_SLEEP: from here on the worker takes jobs as the server offers them. */
  start(): void {
    this.send(textPacket(PACKET.CAN_DO, [this.#fn]))
    this.send(PRE_SLEEP)
    this.flush()
  }

  protected packet(packet: Packet): void {
    switch (packet.type) {
      case PACKET.NOOP:
        if (!this.#grabbing) {
          this.#grabbing = true
          this.send(GRAB_JOB_UNIQ)
        }
        return
      case PACKET.NO_JOB:
        this.#grabbing = false
        this.send(PRE_SLEEP)
        return
      case PACKET.JOB_ASSIGN_UNIQ: {
        const [handle, , , data] = packet.args
        if (!this.#onJob(data)) {
          this.unexpected(`payload for ${handle.toString('latin1')}: ${data.toString('hex')}`)
          return
        }
        this.send(workCompleteReversed(handle, data))
        this.send(GRAB_JOB_UNIQ)
        this.completed++
        return
      }
      default:
        this.unexpected(packetName(packet.type))
    }
  }
}

/** Where foreground jobs come from: indices `first` … `first + total - 1`, shared by all clients. */
export class JobSource {
  readonly total: number
  readonly size: number
  #next: number
  readonly #end: number
  #completed = 0
  #done: (() => void) | null = null

  constructor(first: number, total: number, size: number) {
    this.total = total
    this.size = size
    this.#next = first
    this.#end = first + total
  }

  /** The next index to submit, or -1 when all are out. */
  take(): number {
    return this.#next < this.#end ? this.#next++ : -1
  }

  get completed(): number {
    return this.#completed
  }

  /** Resolves when `total` jobs have completed. */
  finished(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#completed === this.total) resolve()
      else this.#done = resolve
    })
  }

  complete(): void {
    if (++this.#completed === this.total) this.#done?.()
  }
}

export class ClientPeer extends Peer {
  readonly #fn: Buffer
  /** Indices submitted whose JOB_CREATED has not arrived, oldest first (replies come in request order). */
  #created: number[] = []
  #createdHead = 0
  /** Handle → index of the foreground jobs waiting for their WORK_COMPLETE. */
  readonly #running = new Map<string, number>()
  #source: JobSource | null = null
  #background: { left: number; inFlight: number; created: number; done: () => void; size: number; next: number; window: number } | null = null

  private constructor(socket: Socket, watch: Watch, fn: string) {
    super(socket, watch)
    this.#fn = Buffer.from(fn, 'latin1')
  }

  static async connect(port: number, watch: Watch, fn: string): Promise<ClientPeer> {
    const peer = new ClientPeer(await Peer.open(port), watch, fn)
    await watch.race(peer.sync(), 10_000, 'an ECHO round trip on a new client connection')
    return peer
  }

  /** Foreground jobs from `source`, `pipeline` in flight on this connection, until the source runs dry. */
  runForeground(source: JobSource, pipeline: number): void {
    this.#source = source
    for (let k = 0; k < pipeline; k++) if (!this.#submitNext(source)) break
    this.flush()
  }

  /**
   * `count` background jobs, indices `first` …, with at most `window` JOB_CREATED outstanding; resolves when
   * every one has been created.
   */
  submitBackground(first: number, count: number, size: number, window: number): Promise<void> {
    return new Promise((resolve) => {
      this.#background = { left: count, inFlight: 0, created: 0, done: resolve, size, next: first, window }
      this.#fillBackground()
      this.flush()
    })
  }

  /** Foreground jobs still waiting for a result. */
  get inFlight(): number {
    return this.#running.size + this.#created.length - this.#createdHead
  }

  #fillBackground(): void {
    const bg = this.#background
    if (bg === null) return
    while (bg.left > 0 && bg.inFlight < bg.window) {
      this.send(submitPacket(PACKET.SUBMIT_JOB_BG, this.#fn, bg.next++, bg.size))
      bg.left--
      bg.inFlight++
    }
  }

  #submitNext(source: JobSource): boolean {
    const index = source.take()
    if (index === -1) return false
    this.#created.push(index)
    this.send(submitPacket(PACKET.SUBMIT_JOB, this.#fn, index, source.size))
    return true
  }

  protected packet(packet: Packet): void {
    switch (packet.type) {
      case PACKET.JOB_CREATED: {
        const handle = packet.args[0]
        if (handle.length === 0) return this.unexpected('JOB_CREATED with an empty handle')
        const bg = this.#background
        if (bg !== null) {
          bg.inFlight--
          bg.created++
          if (bg.left === 0 && bg.inFlight === 0) {
            this.#background = null
            bg.done()
            return
          }
          this.#fillBackground()
          return
        }
        if (this.#createdHead === this.#created.length) return this.unexpected(`JOB_CREATED ${handle.toString('latin1')} for no submitted job`)
        const index = this.#created[this.#createdHead++] as number
        if (this.#createdHead === this.#created.length) {
          this.#created = []
          this.#createdHead = 0
        }
        this.#running.set(handle.toString('latin1'), index)
        return
      }
      case PACKET.WORK_COMPLETE: {
        const [handle, data] = packet.args
        const key = handle.toString('latin1')
        const index = this.#running.get(key)
        const source = this.#source
        if (index === undefined || source === null) return this.unexpected(`WORK_COMPLETE for unknown handle ${key}`)
        if (!isPayload(data, index, source.size, true)) return this.unexpected(`result for job ${index} (${key}): ${data.toString('hex')}`)
        this.#running.delete(key)
        source.complete()
        this.#submitNext(source)
        return
      }
      default:
        this.unexpected(packetName(packet.type))
    }
  }
}

// ---------------------------------------------------------------- text admin

export interface FunctionStatus {
  readonly name: string
  readonly total: number
  readonly running: number
  readonly workers: number
}

/** The text admin `status` command on a fresh connection: one row per function. */
export function adminStatus(port: number): Promise<FunctionStatus[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port })
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`admin status: no reply within 10 s (got ${JSON.stringify(text)})`))
    }, 10_000)
    socket.setEncoding('latin1')
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('data', (chunk: string) => {
      text += chunk
      if (!(text === '.\n' || text.endsWith('\n.\n'))) return
      clearTimeout(timer)
      socket.destroy()
      const rows: FunctionStatus[] = []
      for (const line of text.split('\n').slice(0, -2)) {
        const [name, total, running, workers] = line.split('\t')
        if (name === undefined || workers === undefined) {
          reject(new Error(`admin status: bad line ${JSON.stringify(line)}`))
          return
        }
        rows.push({ name, total: Number(total), running: Number(running), workers: Number(workers) })
      }
      resolve(rows)
    })
    socket.write('status\n')
  })
}
