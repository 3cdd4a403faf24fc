import { connect, type Socket } from 'node:net'
import Denque from 'denque'
import { ConnectionLostError, type GearboxError, type ProtocolError } from '../errors.js'
import { Decoder, type DecoderSink } from '../protocol/decoder.js'
import type { Arg } from '../protocol/encoder.js'
import type { Frame } from '../protocol/frame.js'
import { PACKET, type PacketType } from '../protocol/packets.js'
import type { Address } from './address.js'
import { RequestBatch } from './request-batch.js'

/** ms of silence before TCP keepalive probes start. */
const KEEPALIVE_DELAY = 10_000

/** Whether a packet type is the answer to one request (in request order): anything else is unsolicited. */
function isReply(type: number): boolean {
  return (
    type === PACKET.JOB_CREATED ||
    type === PACKET.STATUS_RES ||
    type === PACKET.STATUS_RES_UNIQUE ||
    type === PACKET.OPTION_RES ||
    type === PACKET.ECHO_RES ||
    type === PACKET.ERROR
  )
}

/** Settled once: `then` on it queues a microtask without queueMicrotask's per-call async resource. */
const RESOLVED = Promise.resolve()

/**
 * A request waiting for its reply: a packet (as the decoder's Frame, valid only during the call: read what
 * is needed, or keep `frame.toPacket()`), or text lines for an admin command.
 */
export interface PendingReply {
  /** Takes one reply packet or text line; true when the reply is complete (a list needs several lines). */
  take(reply: Frame | Buffer): boolean
  fail(error: GearboxError): void
}

/** Receives what the server sends beyond replies, and the end of the connection. */
export interface ConnectionSink {
  onOpen(connection: RemoteConnection): void
  /** Once, at the first packet or line from the server: it serves (a bare TCP accept does not show that). */
  onHeard(connection: RemoteConnection): void
  /**
   * Unsolicited packets: NOOP, NO_JOB, JOB_ASSIGN*, WORK_*, and ERROR when no request waits. The Frame is
   * valid only during the call (its arguments are read by offset; `frame.arg(k)` makes a view that may be kept).
   */
  onFrame(frame: Frame, connection: RemoteConnection): void
  /** Once, when the connection is gone for any reason. */
  onClose(error: GearboxError, connection: RemoteConnection): void
}

export interface ConnectionSettings {
  /** ms to establish the TCP connection. */
  readonly connectTimeout: number
  /** ms a request may wait for its reply; past it the connection is out of step and is dropped. */
  readonly replyTimeout: number
  /** Largest packet payload accepted from the server, bytes. */
  readonly maxPacketSize: number
}

/**
 * One TCP connection to a Gearman server. Writes made in one turn of the event loop go out in one batch (one
 * buffer, one write, from a microtask once the current work is done). Replies are matched to requests in order (the
 * server answers each connection's requests in order), each request bounded by `replyTimeout`.
 */
export class RemoteConnection {
  readonly address: Address
  readonly #sink: ConnectionSink
  readonly #settings: ConnectionSettings
  readonly #socket: Socket
  readonly #decoder: Decoder
  readonly #pending = new Denque<PendingReply>()
  /**
   * When each waiting request times out (in step with #pending), ms since #born: small integers, which V8
   * stores unboxed (an epoch ms would be a heap number per request).
   */
  readonly #expiries = new Denque<number>()
  readonly #born = Date.now()
  /** When the requests of the batch being filled were made (read once per batch: they go out together); -1: not read yet. */
  #batchTime = -1
  readonly #batch = new RequestBatch()
  /** A flush is queued as a microtask. */
  #flushing = false
  /** Inside the 'data' handler: writes wait for its end (#wrote) instead of queuing a flush. */
  #reading = false
  #wrote = false
  #opened = false
  #closed = false
  #hasHeard = false
  #timer: NodeJS.Timeout | null = null

  constructor(address: Address, sink: ConnectionSink, settings: ConnectionSettings) {
    this.address = address
    this.#sink = sink
    this.#settings = settings
    const decoderSink: DecoderSink = {
      // every packet is read from the frame (no argument views or Packet made): onPacket is never called
      onFrame: (frame) => {
        this.#heard()
        this.#onFrame(frame)
        return true
      },
      onPacket: () => undefined,
      onText: (line) => {
        this.#heard()
        if (!this.#closed) this.#onReply(line)
      },
      onError: (err: ProtocolError) => {
        if (err.closeConnection) this.destroy(new ConnectionLostError(address.key, `the server broke the protocol: ${err.message}`, { cause: err }))
      },
    }
    this.#decoder = new Decoder(decoderSink, { expect: 'RES', maxPacketSize: settings.maxPacketSize })
    const socket = connect({ host: address.host, port: address.port, noDelay: true })
    this.#socket = socket
    // a server gone without a FIN (power loss, a cut link) is noticed even by a worker that only waits for NOOP
    socket.setKeepAlive(true, KEEPALIVE_DELAY)
    socket.setTimeout(settings.connectTimeout, () => {
      this.destroy(new ConnectionLostError(address.key, `no connection within ${settings.connectTimeout} ms`))
    })
    socket.once('connect', () => {
      socket.setTimeout(0)
      this.#opened = true
      if (!this.#closed) this.#sink.onOpen(this)
    })
    socket.on('data', (chunk: Buffer) => {
      if (this.#closed) return
      // what the packets of this chunk make us send (a worker's result and next grab) goes out in one write
      // right after it, without a microtask; what user code sends in reaction (promise callbacks) comes later
      this.#reading = true
      try {
        this.#decoder.push(chunk)
      } finally {
        this.#reading = false
      }
      if (this.#wrote) this.#flush()
    })
    socket.on('error', (err) => {
      this.destroy(new ConnectionLostError(address.key, err.message, { cause: err }))
    })
    socket.once('close', () => {
      this.destroy(new ConnectionLostError(address.key, 'connection closed by the server'))
    })
  }

  get open(): boolean {
    return this.#opened && !this.#closed
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Queues bytes for this turn's batch (sent once connected). False once the connection is closed. */
  write(bytes: Uint8Array): boolean {
    if (this.#closed) return false
    this.#batch.bytes(bytes)
    this.#schedule()
    return true
  }

  /** Queues a request packet, encoded as `encodeTrusted` does (the caller checked its arguments). */
  writePacket(type: PacketType, args: readonly Arg[]): boolean {
    if (this.#closed) return false
    this.#batch.packet(type, args)
    this.#schedule()
    return true
  }

  /** Sends a request whose reply (in order) goes to `reply`. */
  request(bytes: Uint8Array, reply: PendingReply): void {
    this.#expect(this.write(bytes), reply)
  }

  /** `request` for a packet `writePacket` encodes. */
  requestPacket(type: PacketType, args: readonly Arg[], reply: PendingReply): void {
    this.#expect(this.writePacket(type, args), reply)
  }

  #expect(written: boolean, reply: PendingReply): void {
    if (!written) {
      reply.fail(new ConnectionLostError(this.address.key, 'connection is closed'))
      return
    }
    this.#pending.push(reply)
    if (this.#batchTime < 0) this.#batchTime = this.#now()
    this.#expiries.push(this.#batchTime + this.#settings.replyTimeout)
    this.#arm()
  }

  /** Drops the connection: the sink hears of it, then every waiting request fails with `error`. Idempotent. */
  destroy(error: GearboxError): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#batch.clear()
    this.#socket.destroy()
    // the owner hears first (it marks the server down), so retries of the waiting requests go elsewhere
    this.#sink.onClose(error, this)
    this.#expiries.clear()
    for (let p = this.#pending.shift(); p !== undefined; p = this.#pending.shift()) p.fail(error)
  }

  #schedule(): void {
    if (this.#reading) {
      this.#wrote = true
      return
    }
    if (this.#flushing) return
    this.#flushing = true
    void RESOLVED.then(this.#flush)
  }

  readonly #flush = (): void => {
    this.#flushing = false
    this.#wrote = false
    this.#batchTime = -1
    if (this.#closed) return
    const chunk = this.#batch.take()
    if (chunk !== null) this.#socket.write(chunk)
  }

  #heard(): void {
    if (this.#hasHeard || this.#closed) return
    this.#hasHeard = true
    this.#sink.onHeard(this)
  }

  #onFrame(frame: Frame): void {
    // a handler may have dropped the connection while this chunk was being decoded: the rest is not ours to act on
    if (this.#closed) return
    if (isReply(frame.type) && this.#pending.length > 0) this.#onReply(frame)
    else this.#sink.onFrame(frame, this)
  }

  #onReply(reply: Frame | Buffer): void {
    // off the queue while it takes the reply: if it drops the connection (a reply out of step), it is not failed too
    const head = this.#pending.shift()
    const expires = this.#expiries.shift()
    if (head === undefined || expires === undefined) return // a stray text line: nothing asked for it
    if (head.take(reply)) return
    if (this.#closed) head.fail(new ConnectionLostError(this.address.key, 'connection is closed'))
    else {
      this.#pending.unshift(head)
      this.#expiries.unshift(expires)
    }
  }

  /** One timer, for the oldest request (replies come in order, so it expires first); re-armed lazily. */
  #arm(): void {
    if (this.#timer !== null) return
    const expires = this.#expiries.peekFront()
    if (expires === undefined) return
    // the socket keeps the process alive while a request waits; the timer need not
    this.#timer = setTimeout(this.#expire, Math.max(0, expires - this.#now())).unref()
  }

  #now(): number {
    return Date.now() - this.#born
  }

  readonly #expire = (): void => {
    this.#timer = null
    const expires = this.#expiries.peekFront()
    if (expires !== undefined && expires <= this.#now()) {
      this.destroy(new ConnectionLostError(this.address.key, `no reply within ${this.#settings.replyTimeout} ms`))
    } else this.#arm()
  }
}
