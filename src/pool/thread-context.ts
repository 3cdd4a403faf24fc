import type { Encoder, JobContext } from '../api.js'
import { checkStatus } from '../guards.js'
import { JobContextBase } from '../job-context-base.js'
import type { ThreadTask, UpdateMessage } from './messages.js'

/**
 * The `job` a handler receives inside a thread: the same shape as in the main thread. Updates are posted to
 * the main thread, which forwards them to every waiting client in order.
 */
export class ThreadJobContext extends JobContextBase<unknown> implements JobContext<unknown, unknown> {
  readonly #task: ThreadTask
  readonly #post: (message: UpdateMessage) => void
  /** Updates posted so far (the main thread waits for all of them before it reports the outcome). */
  updates = 0

  constructor(task: ThreadTask, encoder: Encoder<unknown, unknown>, post: (message: UpdateMessage) => void) {
    super(encoder)
    this.#task = task
    this.#post = post
  }

  protected get bytes(): Uint8Array {
    return this.#task.data
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
    this.#post({ id: this.#task.id, type: 'status', numerator, denominator })
    return true
  }

  #send(type: 'data' | 'warning', value: unknown): boolean {
    const data = this.encode(value)
    if (this.aborted) return false
    this.updates++
    this.#post({ id: this.#task.id, type, data })
    return true
  }
}
