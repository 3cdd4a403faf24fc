import type { Encoder, JobContext } from '../api.js'
import { checkStatus } from '../guards.js'
import { JobContextBase } from '../job-context-base.js'
import type { UpdateMessage } from './messages.js'

/**
 * The `job` a handler receives inside a thread: the same shape as in the main thread. Updates are posted to
 * the main thread, which forwards them to every waiting client in order.
 */
export class ThreadJobContext extends JobContextBase<unknown> implements JobContext<unknown, unknown> {
  readonly #id: number
  readonly #data: Uint8Array
  readonly #post: (message: UpdateMessage) => void
  readonly name: string
  readonly handle: string
  readonly unique: string
  readonly attempt: number
  /** Updates posted so far (the main thread waits for all of them before it reports the outcome). */
  updates = 0

  /** `id`: the pool's task id of this attempt, which its updates carry. */
  constructor(
    id: number,
    job: { readonly name: string; readonly handle: string; readonly unique: string; readonly attempt: number; readonly data: Uint8Array },
    encoder: Encoder<unknown, unknown>,
    post: (message: UpdateMessage) => void,
  ) {
    super(encoder)
    this.#id = id
    this.#data = job.data
    this.#post = post
    this.name = job.name
    this.handle = job.handle
    this.unique = job.unique
    this.attempt = job.attempt
  }

  protected get bytes(): Uint8Array {
    return this.#data
  }

  sendData(data: unknown): boolean {
    return this.#send('data', data)
  }

  sendWarning(data: unknown): boolean {
    return this.#send('warning', data)
  }

  sendStatus(numerator: number, denominator: number): boolean {
    checkStatus(numerator, denominator)
    if (this.aborted) return false
    this.updates++
    this.#post({ id: this.#id, type: 'status', numerator, denominator })
    return true
  }

  #send(type: 'data' | 'warning', value: unknown): boolean {
    const data = this.encode(value)
    if (this.aborted) return false
    this.updates++
    this.#post({ id: this.#id, type, data })
    return true
  }
}
