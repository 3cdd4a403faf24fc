import { type Arg, trustedPayloadSize, writeTrusted } from '../protocol/encoder.js'
import { HEADER_SIZE, type PacketType } from '../protocol/packets.js'

/** Bytes of a batch buffer; a packet that does not fit gets a buffer of its own size. */
const BATCH_BYTES = 16 * 1024

const EMPTY = Buffer.alloc(0)

/**
 * The requests one connection queues in one turn, encoded straight into one buffer (no Buffer per packet,
 * no copy into a batch afterwards) and taken out as one chunk to write. A buffer is never written over:
 * a taken chunk may still wait in the socket, so a full buffer is replaced by a fresh one, and what it holds
 * is kept aside as it is (a turn that queues more than a buffer holds is joined once, when it is taken).
 */
export class RequestBatch {
  #buf: Buffer = EMPTY
  /** First byte not yet taken. */
  #start = 0
  /** First free byte. */
  #end = 0
  /** Untaken bytes of buffers filled this turn, in order, before [#start, #end). */
  #full: Buffer[] = []

  /** Appends an encoded packet (or admin text). */
  bytes(bytes: Uint8Array): void {
    const at = this.#reserve(bytes.byteLength)
    this.#buf.set(bytes, at)
    this.#end = at + bytes.byteLength
  }

  /** Appends a request packet; as `encodeTrusted`, the caller guarantees the argument count and that only the last may hold NULs. */
  packet(type: PacketType, args: readonly Arg[]): void {
    const size = trustedPayloadSize(args)
    const at = this.#reserve(HEADER_SIZE + size)
    this.#end = writeTrusted(this.#buf, at, 'REQ', type, args, size)
  }

  /** What was queued since the last take, as one chunk; null if nothing was. */
  take(): Buffer | null {
    if (this.#end === this.#start && this.#full.length === 0) return null
    let chunk = this.#buf.subarray(this.#start, this.#end)
    this.#start = this.#end
    if (this.#full.length > 0) {
      this.#full.push(chunk)
      chunk = Buffer.concat(this.#full)
      this.#full = []
    }
    // a buffer made for one big packet is not kept past its write
    if (this.#buf.length > BATCH_BYTES) this.#drop()
    return chunk
  }

  /** Forgets what was not taken (the connection is gone). */
  clear(): void {
    this.#drop()
  }

  #drop(): void {
    this.#full = []
    this.#buf = EMPTY
    this.#start = 0
    this.#end = 0
  }

  /** Room for `n` more bytes; returns where they go. */
  #reserve(n: number): number {
    const end = this.#end
    if (end + n <= this.#buf.length) return end
    if (end > this.#start) this.#full.push(this.#buf.subarray(this.#start, end))
    this.#buf = Buffer.allocUnsafe(Math.max(BATCH_BYTES, n))
    this.#start = 0
    this.#end = 0
    return 0
  }
}
