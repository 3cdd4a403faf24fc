import type { Encoder, JobContext } from '../api.js'
import type { ThreadTask, UpdateMessage } from './messages.js'
import { checkStatus } from '../guards.js'

const UNDECODED = Symbol('undecoded')

/**
 * The `job` a handler receives inside a thread: the same shape as in the main thread. Updates are posted to
 * the main thread, which forwards them to every waiting client in order.
 */
export class ThreadJobContext implements JobContext<unknown, unknown> {
  readonly #task: ThreadTask
  readonly #encoder: Encoder<unknown, unknown>
  readonly #post: (message: UpdateMessage) => void
  #payload: unknown = UNDECODED
  #controller: AbortController | null = null
  #abortReason: unknown = undefined
  #aborted = false
  /** Updates posted so far (the main thread waits for all of them before it reports the outcome). */
  updates = 0

  constructor(task: ThreadTask, encoder: Encoder<unknown, unknown>, post: (message: UpdateMessage) => void) {
    this.#task = task
    this.#encoder = encoder
    this.#post = post
  }

  get handle(): string {
    return this.#task.handle
  }

  get name(): string {
    return this.#task.name
  }

  get unique(): string {
    return this.#task.unique
  }

  get attempt(): number {
    return this.#task.attempt
  }

  get data(): Buffer {
    const d = this.#task.data
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength)
  }

  get payload(): unknown {
    if (this.#payload === UNDECODED) this.#payload = this.#encoder.decode(this.#task.data)
    return this.#payload
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#abortReason = reason
    this.#controller?.abort(reason)
  }

  sendData(data: unknown): boolean {
    return this.#send('data', data)
  }

  sendWarning(data: unknown): boolean {
    return this.#send('warning', data)
  }

  sendStatus(numerator: number, denominator: number): boolean {
    checkStatus(numerator, denominator)
    if (this.#aborted) return false
    this.updates++
    this.#post({ id: this.#task.id, type: 'status', numerator, denominator })
    return true
  }

  #send(type: 'data' | 'warning', value: unknown): boolean {
    const data = this.#encoder.encode(value)
    if (this.#aborted) return false
    this.updates++
    this.#post({ id: this.#task.id, type, data })
    return true
  }
}
