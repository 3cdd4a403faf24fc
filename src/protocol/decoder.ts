/**
 * Incremental Gearman decoder: bytes in (`push(chunk)`, `end()`), packets, text lines and errors out through a
 * sink. Pure: no sockets, no streams, no timers.
 *
 * - At a packet boundary the first byte decides: `\0` starts a binary packet, anything else a text line
 *   (GEARMAN.md §1.3). Text lines end at `\n`; one `\r` before it is removed.
 * - The 12-byte header is checked before any payload is buffered: bad magic, type 0 or above 42, a size over
 *   `maxPacketSize`, or a payload on a type that takes no arguments are fatal at once.
 * - A packet that lies whole in one chunk is delivered as `subarray` views of that chunk (no copy). A packet
 *   that spans chunks is copied once, when its last byte arrives; until then only the chunks are referenced,
 *   so a peer that declares a large size and sends nothing costs no allocation.
 * - Arguments are split at the first N−1 NULs inside the declared size; the last one is the rest. Fewer NULs
 *   is fatal (`bad-arguments`).
 * - A sink with `onFrame` is offered each packet first as a reused Frame (argument offsets into the input, no
 *   views or objects made); what it declines is delivered to `onPacket` as usual.
 * - Packets with the other side's magic (`unexpected-magic`) or of a type the receiving side does not accept
 *   (`unexpected-command`) are skipped whole, without buffering, and reported once fully skipped; the stream
 *   stays in sync and `err.closeConnection` is `false` (gearmand answers ERROR and keeps the connection).
 * - After a fatal error (`closeConnection: true`) the decoder ignores all further input.
 *
 * Views stay valid as long as the caller does not reuse the chunk's memory (Node's socket chunks are fresh). A
 * caller that does reuse it (a socket read into one shared buffer) sets `reusedInput`: held pieces are then
 * copied, and views passed to the sink are valid only during the callback.
 * Sink callbacks run synchronously inside `push`/`end`. A callback may call `end()` to stop decoding (the
 * decoder is at a boundary then, so nothing is reported), e.g. after an admin line that means "close"; it must
 * not call `push()`. If a callback throws, the exception propagates and the decoder stops.
 */
import { InvalidArgumentError, ProtocolError, type ProtocolErrorKind } from '../errors.js'
import { readUint32 } from './bytes.js'
import { Frame } from './frame.js'
import { DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_PACKET_SIZE } from './limits.js'
import { HEADER_SIZE, MAGIC_CODE, type Magic, type Packet, type PacketInfo, packetInfo, packetName } from './packets.js'

/** Receives what the decoder finds, in stream order. */
export interface DecoderSink {
  /**
   * Optional fast path: the same packet as a Frame (offsets into the input, no views made). Return true when
   * handled; on false the decoder builds the `Packet` and calls `onPacket`.
   */
  onFrame?(frame: Frame): boolean
  /** A complete, well-formed packet of an accepted type and magic. */
  onPacket(packet: Packet): void
  /** A text (admin) line, without its `\n` and without one `\r` before it. */
  onText(line: Buffer): void
  /** Malformed or refused input; see `err.kind` and `err.closeConnection`. */
  onError(err: ProtocolError): void
}

export interface DecoderOptions {
  /**
   * The magic this side receives: `'REQ'` for a server (default), `'RES'` for a client, `'any'` to accept both
   * and every type (proxies, tests).
   */
  readonly expect?: Magic | 'any' | undefined
  /** Largest payload (bytes after the header) accepted; default 64 MiB. Larger sizes are fatal (`too-large`). */
  readonly maxPacketSize?: number | undefined
  /** Largest text line in bytes before its `\n` (a `\r` counts); default 8 KiB. Longer is fatal (`line-too-long`). */
  readonly maxLineLength?: number | undefined
  /**
   * The caller overwrites a chunk's memory once `push()` returns: the pieces of a packet or line that spans
   * chunks are copied when held instead of referenced. Default false.
   */
  readonly reusedInput?: boolean | undefined
}

const IDLE = 0
const HEADER = 1
const PAYLOAD = 2
const SKIP = 3
const LINE = 4
const STOPPED = 5

const LF = 0x0a
const CR = 0x0d
const MAX_WIRE_SIZE = 0xffff_ffff
const EMPTY = Buffer.alloc(0)

/**
 * @example
 * const decoder = new Decoder(connection, { expect: 'REQ' }) // connection implements DecoderSink
 * socket.on('data', (chunk) => decoder.push(chunk))
 * socket.on('end', () => decoder.end())
 */
export class Decoder {
  readonly #sink: DecoderSink
  readonly #expect: Magic | 'any'
  readonly #maxPacketSize: number
  readonly #maxLineLength: number
  readonly #reusedInput: boolean

  #state = IDLE
  /** Stream offset of the first byte of the chunk being pushed. */
  #base = 0
  /** Stream offset where the current packet or line started. */
  #start = 0
  readonly #header = Buffer.alloc(HEADER_SIZE)
  #headerLength = 0
  #info: PacketInfo | undefined = undefined
  #magic: Magic = 'REQ'
  #size = 0
  /** The refusal to report once a skipped packet has been consumed. */
  #refusal: ProtocolErrorKind | undefined = undefined
  /** Bytes still to skip (SKIP). */
  #remaining = 0
  /** Pieces of a packet payload or text line that spans chunks. */
  #parts: Buffer[] = []
  #partsLength = 0
  /** Reused for every packet. */
  readonly #frame = new Frame()

  constructor(sink: DecoderSink, options: DecoderOptions = {}) {
    this.#sink = sink
    const expect: unknown = options.expect ?? 'REQ'
    if (expect !== 'REQ' && expect !== 'RES' && expect !== 'any') throw new InvalidArgumentError('expect', "'REQ', 'RES' or 'any'", expect)
    this.#expect = expect
    this.#maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE
    this.#maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH
    this.#reusedInput = options.reusedInput ?? false
    if (!Number.isInteger(this.#maxPacketSize) || this.#maxPacketSize < 0 || this.#maxPacketSize > MAX_WIRE_SIZE) {
      throw new InvalidArgumentError('maxPacketSize', `an integer from 0 to ${MAX_WIRE_SIZE}`, options.maxPacketSize)
    }
    if (!Number.isInteger(this.#maxLineLength) || this.#maxLineLength < 0) {
      throw new InvalidArgumentError('maxLineLength', 'an integer >= 0', options.maxLineLength)
    }
  }

  /** Whether a fatal error (or `end()`) stopped the decoder. */
  get stopped(): boolean {
    return this.#state === STOPPED
  }

  /** Bytes held for an incomplete packet or line (headers included): what the peer costs right now. */
  get bufferedBytes(): number {
    return this.#state === HEADER ? this.#headerLength : this.#partsLength
  }

  /** Feed the next chunk of the stream. */
  push(chunk: Buffer): void {
    if (this.#state === STOPPED) return
    try {
      this.#consume(chunk)
    } catch (err) {
      this.#stop()
      throw err
    }
    this.#base += chunk.length
  }

  /** The stream ended: report a packet or line cut off mid-way (`truncated`), then stop. */
  end(): void {
    if (this.#state === STOPPED) return
    const state = this.#state
    this.#stop()
    if (state === IDLE) return
    const type = state === HEADER || state === LINE ? undefined : this.#info?.code
    const what = state === LINE ? 'text line' : state === HEADER ? 'packet header' : `${packetName(type ?? 0)} packet`
    this.#sink.onError(new ProtocolError('truncated', `stream ended inside a ${what} that started at offset ${this.#start}`, { packetType: type, offset: this.#start }))
  }

  #consume(chunk: Buffer): void {
    const n = chunk.length
    let i = 0
    while (i < n) {
      switch (this.#state) {
        case IDLE: {
          this.#start = this.#base + i
          if (chunk[i] !== 0) {
            i = this.#lineStart(chunk, i)
            break
          }
          if (n - i < HEADER_SIZE) {
            chunk.copy(this.#header, 0, i, n)
            this.#headerLength = n - i
            this.#state = HEADER
            return
          }
          if (!this.#readHeader(chunk, i)) return
          i = this.#bodyStart(chunk, i + HEADER_SIZE)
          break
        }
        case HEADER: {
          const take = Math.min(HEADER_SIZE - this.#headerLength, n - i)
          chunk.copy(this.#header, this.#headerLength, i, i + take)
          this.#headerLength += take
          i += take
          if (this.#headerLength < HEADER_SIZE) return
          this.#headerLength = 0
          if (!this.#readHeader(this.#header, 0)) return
          i = this.#bodyStart(chunk, i)
          break
        }
        case PAYLOAD: {
          const need = this.#size - this.#partsLength
          if (n - i < need) {
            this.#hold(chunk.subarray(i))
            return
          }
          this.#hold(chunk.subarray(i, i + need))
          i += need
          const payload = this.#takeParts()
          this.#packet(payload, 0, payload.length)
          break
        }
        case SKIP: {
          const take = Math.min(this.#remaining, n - i)
          this.#remaining -= take
          i += take
          if (this.#remaining === 0) this.#refuse()
          break
        }
        case LINE: {
          const lf = chunk.indexOf(LF, i)
          const end = lf === -1 ? n : lf
          if (this.#partsLength + (end - i) > this.#maxLineLength) {
            this.#lineTooLong()
            return
          }
          if (lf === -1) {
            this.#hold(chunk.subarray(i))
            return
          }
          this.#hold(chunk.subarray(i, lf))
          i = lf + 1
          this.#line(this.#takeParts())
          break
        }
        default:
          return
      }
    }
  }

  /** Check a complete header at `at`; on success set up the packet, else report and stop. */
  #readHeader(buf: Buffer, at: number): boolean {
    const magic = readUint32(buf, at)
    const type = readUint32(buf, at + 4)
    const size = readUint32(buf, at + 8)
    const offset = this.#start
    if (magic !== MAGIC_CODE.REQ && magic !== MAGIC_CODE.RES) {
      return this.#fail('bad-magic', `bad magic 0x${magic.toString(16).padStart(8, '0')} (expected \\0REQ or \\0RES) at offset ${offset}`, type)
    }
    const info = packetInfo(type)
    if (info === undefined) return this.#fail('unknown-type', `unknown packet type ${type} at offset ${offset}`, type)
    if (size > this.#maxPacketSize) {
      return this.#fail('too-large', `${info.name} packet of ${size} bytes exceeds maxPacketSize ${this.#maxPacketSize} at offset ${offset}`, type)
    }
    this.#info = info
    this.#magic = magic === MAGIC_CODE.REQ ? 'REQ' : 'RES'
    this.#size = size
    this.#refusal = this.#refusalOf(info)
    if (this.#refusal === undefined && info.args === 0 && size !== 0) {
      return this.#fail('bad-arguments', `${info.name} takes no arguments but declares a payload of ${size} bytes at offset ${offset}`, type)
    }
    return true
  }

  #refusalOf(info: PacketInfo): ProtocolErrorKind | undefined {
    if (this.#expect === 'any') return undefined
    if (this.#magic !== this.#expect) return 'unexpected-magic'
    return (this.#expect === 'REQ' ? info.request : info.response) ? undefined : 'unexpected-command'
  }

  /** The header is done and the payload starts at `i` of `chunk`: deliver, skip or start buffering. */
  #bodyStart(chunk: Buffer, i: number): number {
    const n = chunk.length
    const size = this.#size
    if (this.#refusal !== undefined) {
      const take = Math.min(size, n - i)
      this.#remaining = size - take
      if (this.#remaining === 0) this.#refuse()
      else this.#state = SKIP
      return i + take
    }
    if (n - i >= size) {
      this.#state = IDLE
      this.#packet(chunk, i, i + size)
      return i + size
    }
    this.#state = PAYLOAD
    this.#hold(chunk.subarray(i))
    return n
  }

  /** Split the payload, bytes `start` to `end` of `buf`, into the packet's arguments and deliver it. */
  #packet(buf: Buffer, start: number, end: number): void {
    const info = this.#info as PacketInfo
    const count = info.args
    const frame = this.#frame
    frame.reset(this.#magic, info.code, count, buf, start, end)
    let from = start
    for (let k = 1; k < count; k++) {
      const nul = buf.indexOf(0, from)
      if (nul === -1 || nul >= end) {
        this.#fail('bad-arguments', `${info.name} needs ${count} arguments (${count - 1} NUL separators) but has ${k} at offset ${this.#start}`, info.code)
        return
      }
      from = nul + 1
      frame.setStart(k, from)
    }
    this.#state = IDLE
    const sink = this.#sink
    if (sink.onFrame?.(frame) !== true) sink.onPacket(frame.toPacket())
    // do not keep the input alive through the frame
    frame.buf = EMPTY
  }

  #refuse(): void {
    const info = this.#info as PacketInfo
    const kind = this.#refusal as ProtocolErrorKind
    this.#state = IDLE
    this.#refusal = undefined
    const message =
      kind === 'unexpected-magic'
        ? `${info.name} packet with \\0${this.#magic} magic where \\0${this.#expect} was expected at offset ${this.#start}`
        : `${info.name} packet is not accepted from a ${this.#expect === 'REQ' ? 'client or worker' : 'server'} at offset ${this.#start}`
    this.#sink.onError(new ProtocolError(kind, message, { packetType: info.code, offset: this.#start }))
  }

  /** A text line starts at `i` (a non-NUL byte at a boundary); returns where to continue. */
  #lineStart(chunk: Buffer, i: number): number {
    const n = chunk.length
    const lf = chunk.indexOf(LF, i)
    const end = lf === -1 ? n : lf
    if (end - i > this.#maxLineLength) {
      this.#lineTooLong()
      return n
    }
    if (lf === -1) {
      this.#state = LINE
      this.#hold(chunk.subarray(i))
      return n
    }
    this.#line(chunk.subarray(i, lf))
    return lf + 1
  }

  #line(line: Buffer): void {
    this.#state = IDLE
    const length = line.length
    this.#sink.onText(length > 0 && line[length - 1] === CR ? line.subarray(0, length - 1) : line)
  }

  #lineTooLong(): void {
    this.#fail('line-too-long', `text line starting at offset ${this.#start} exceeds maxLineLength ${this.#maxLineLength} without a newline`, undefined)
  }

  #hold(part: Buffer): void {
    if (part.length === 0) return
    if (this.#reusedInput && this.#state === PAYLOAD) {
      // the packet's size is known: its pieces are copied once, straight into one buffer of that size
      let whole = this.#parts[0]
      if (whole === undefined) {
        whole = Buffer.allocUnsafe(this.#size)
        this.#parts.push(whole)
      }
      part.copy(whole, this.#partsLength)
      this.#partsLength += part.length
      return
    }
    this.#parts.push(this.#reusedInput ? Buffer.from(part) : part)
    this.#partsLength += part.length
  }

  /** The held pieces as one Buffer: the piece itself if there is one, else one copy. */
  #takeParts(): Buffer {
    const parts = this.#parts
    const whole = parts.length === 1 ? (parts[0] as Buffer) : parts.length === 0 ? EMPTY : Buffer.concat(parts, this.#partsLength)
    this.#parts = []
    this.#partsLength = 0
    return whole
  }

  #fail(kind: ProtocolErrorKind, message: string, packetType: number | undefined): false {
    this.#stop()
    this.#sink.onError(new ProtocolError(kind, message, { packetType, offset: this.#start }))
    return false
  }

  #stop(): void {
    this.#state = STOPPED
    this.#parts = []
    this.#partsLength = 0
    this.#headerLength = 0
  }
}
