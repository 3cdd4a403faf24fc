import type { Encoder } from './api.js'

const UNDECODED = Symbol('undecoded')

/**
 * What the in-process and the in-thread job contexts share: the payload decoded on first read, and the
 * attempt's AbortSignal, created only when a handler asks for it.
 */
export abstract class JobContextBase<TPayload> {
  readonly #encoder: Encoder<unknown, unknown>
  #payload: TPayload | typeof UNDECODED = UNDECODED
  #controller: AbortController | null = null
  #abortReason: unknown = undefined
  #aborted = false

  protected constructor(encoder: Encoder<unknown, unknown>) {
    this.#encoder = encoder
  }

  /** The payload bytes. */
  protected abstract get bytes(): Uint8Array

  get data(): Buffer {
    const d = this.bytes
    return Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength)
  }

  get payload(): TPayload {
    if (this.#payload === UNDECODED) this.#payload = this.#encoder.decode(this.bytes) as TPayload
    return this.#payload
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  /** The attempt was taken away (its signal fired, or will fire when first read). */
  get aborted(): boolean {
    return this.#aborted
  }

  protected get abortReason(): unknown {
    return this.#abortReason
  }

  /** Takes the attempt away: fires the signal. Returns false if it already was. */
  abort(reason: unknown): boolean {
    if (this.#aborted) return false
    this.#aborted = true
    this.#abortReason = reason
    this.#controller?.abort(reason)
    return true
  }

  protected encode(value: unknown): Uint8Array {
    return this.#encoder.encode(value)
  }
}
