/**
 * A decoded packet as it lies in the input: its type, the bytes holding it and where each argument starts
 * and ends. The decoder fills one Frame per packet (already checked: the header, and that the payload has
 * its N−1 NUL separators) and offers it to a sink that reads hot packets by offset, without the argument
 * views and the `Packet` object the generic path builds (`toPacket`). Valid only during the sink call.
 */
import { PACKETS, type Magic, type Packet } from './packets.js'

const MAX_ARGS = Math.max(...Object.values(PACKETS).map((row) => row.args))
/** The arguments of every packet that takes none (shared; nobody may change it). */
const NO_ARGS: Buffer[] = []

export class Frame {
  magic: Magic = 'REQ'
  type = 0
  /** Holds the payload (a socket chunk, or the copy of a payload that spanned chunks). */
  buf: Buffer = Buffer.alloc(0)
  /** Number of arguments. */
  count = 0
  /** End of the payload in `buf`. */
  #end = 0
  /** Where argument k starts in `buf`. */
  readonly #starts = new Uint32Array(MAX_ARGS)

  /** Start of argument `k` in `buf`. */
  start(k: number): number {
    return this.#starts[k] as number
  }

  /** End (exclusive) of argument `k` in `buf`: the NUL after it, or the payload's end for the last. */
  end(k: number): number {
    return k + 1 < this.count ? (this.#starts[k + 1] as number) - 1 : this.#end
  }

  length(k: number): number {
    return this.end(k) - this.start(k)
  }

  /** Argument `k` as a view of `buf`. */
  arg(k: number): Buffer {
    const buf = this.buf
    const start = this.start(k)
    const end = this.end(k)
    return start === 0 && end === buf.length ? buf : buf.subarray(start, end)
  }

  /** The generic form: a `Packet` whose arguments are views of `buf`. */
  toPacket(): Packet {
    const count = this.count
    const args = count === 0 ? NO_ARGS : new Array<Buffer>(count)
    for (let k = 0; k < count; k++) args[k] = this.arg(k)
    return { magic: this.magic, type: this.type, args } as unknown as Packet
  }

  /** Decoder side: a new packet of `count` arguments with its payload at `start`…`end` of `buf`. */
  reset(magic: Magic, type: number, count: number, buf: Buffer, start: number, end: number): void {
    this.magic = magic
    this.type = type
    this.count = count
    this.buf = buf
    this.#end = end
    this.#starts[0] = start
  }

  /** Decoder side: argument `k` (k ≥ 1) starts at `at`, right after the NUL that ends argument k−1. */
  setStart(k: number, at: number): void {
    this.#starts[k] = at
  }
}
