import type { ReplySource } from '../protocol/reply-writer.js'

/**
 * Output buffers shared by a server's connections. A connection holds one only while it has replies to
 * write, so idle connections cost nothing; at most `keep` spare buffers are kept.
 */
export class BufferPool implements ReplySource {
  readonly size: number
  readonly #keep: number
  readonly #spare: Buffer[] = []

  constructor(size: number, keep: number) {
    this.size = size
    this.#keep = keep
  }

  get(): Buffer {
    return this.#spare.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  put(buf: Buffer): void {
    if (buf.length === this.size && this.#spare.length < this.#keep) this.#spare.push(buf)
  }
}
