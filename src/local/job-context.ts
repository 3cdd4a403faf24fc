import type { Encoder, JobContext } from '../api.js'
import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { Registration } from '../core/sessions.js'
import { checkStatus } from '../guards.js'
import { kOnAbort } from '../symbols.js'

const UNDECODED = Symbol('undecoded')

/**
 * The `job` a handler receives for one attempt. Its signal is created on first use; its updates are
 * accepted only while this attempt is the job's current one.
 */
export class LocalJobContext<TPayload, TUpdate> implements JobContext<TPayload, TUpdate> {
  readonly #engine: Engine
  readonly #job: Job
  readonly registration: Registration
  readonly #encoder: Encoder<unknown, unknown>
  readonly attempt: number
  #payload: TPayload | typeof UNDECODED = UNDECODED
  #controller: AbortController | null = null
  #abortReason: unknown = undefined
  #aborted = false
  #onAbort: ((reason: unknown) => void) | null = null

  constructor(engine: Engine, job: Job, registration: Registration, encoder: Encoder<unknown, unknown>) {
    this.#engine = engine
    this.#job = job
    this.registration = registration
    this.#encoder = encoder
    this.attempt = job.attempts
  }

  get job(): Job {
    return this.#job
  }

  get handle(): string {
    return this.#engine.handleOf(this.#job)
  }

  get name(): string {
    return this.#job.fn.name
  }

  get unique(): string {
    return this.#job.unique
  }

  get data(): Buffer {
    const d = this.#job.data
    return Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength)
  }

  get payload(): TPayload {
    if (this.#payload === UNDECODED) this.#payload = this.#encoder.decode(this.#job.data) as TPayload
    return this.#payload
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  /** The attempt was taken away: fire the signal. */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#abortReason = reason
    this.#controller?.abort(reason)
    this.#onAbort?.(reason)
  }

  /** Internal: one abort listener that needs no AbortController (see kOnAbort). */
  [kOnAbort](listener: ((reason: unknown) => void) | null): void {
    this.#onAbort = listener
    if (listener !== null && this.#aborted) listener(this.#abortReason)
  }

  sendData(data: TUpdate): boolean {
    return this.#engine.workData(this.#job, this.registration.worker, this.attempt, this.#encoder.encode(data))
  }

  sendWarning(data: TUpdate): boolean {
    return this.#engine.workWarning(this.#job, this.registration.worker, this.attempt, this.#encoder.encode(data))
  }

  sendStatus(numerator: number, denominator: number): boolean {
    checkStatus(numerator, denominator)
    return this.#engine.workStatus(this.#job, this.registration.worker, this.attempt, numerator, denominator)
  }

}
