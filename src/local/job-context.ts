import type { Encoder, JobContext } from '../api.js'
import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { Registration } from '../core/sessions.js'
import { checkStatus } from '../guards.js'
import { JobContextBase } from '../job-context-base.js'
import { kOnAbort } from '../symbols.js'

/**
 * The `job` a handler receives for one attempt. Its signal is created on first use; its updates are
 * accepted only while this attempt is the job's current one.
 */
export class LocalJobContext<TPayload, TUpdate> extends JobContextBase<TPayload> implements JobContext<TPayload, TUpdate> {
  readonly #engine: Engine
  readonly #job: Job
  readonly registration: Registration
  readonly attempt: number
  #onAbort: ((reason: unknown) => void) | null = null

  constructor(engine: Engine, job: Job, registration: Registration, encoder: Encoder<unknown, unknown>) {
    super(encoder)
    this.#engine = engine
    this.#job = job
    this.registration = registration
    this.attempt = job.attempts
  }

  protected get bytes(): Uint8Array {
    return this.#job.data
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

  /** The attempt was taken away: fire the signal and the internal listener. */
  override abort(reason: unknown): boolean {
    if (!super.abort(reason)) return false
    this.#onAbort?.(reason)
    return true
  }

  /** Internal: one abort listener that needs no AbortController (see kOnAbort). */
  [kOnAbort](listener: ((reason: unknown) => void) | null): void {
    this.#onAbort = listener
    if (listener !== null && this.aborted) listener(this.abortReason)
  }

  sendData(data: TUpdate): boolean {
    return this.#engine.workData(this.#job, this.registration.worker, this.attempt, this.encode(data))
  }

  sendWarning(data: TUpdate): boolean {
    return this.#engine.workWarning(this.#job, this.registration.worker, this.attempt, this.encode(data))
  }

  sendStatus(numerator: number, denominator: number): boolean {
    checkStatus(numerator, denominator)
    return this.#engine.workStatus(this.#job, this.registration.worker, this.attempt, numerator, denominator)
  }

}
