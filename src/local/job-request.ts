import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { ClientSession } from '../core/sessions.js'
import { type GearboxError, JobExceptionError } from '../errors.js'
import { JobRequestBase } from '../job-request-base.js'

/**
 * An in-process foreground submission: the client session attached to one job. The result promise is
 * created only when someone asks for it, so a request nobody awaits never causes an unhandled rejection.
 */
export class LocalJobRequest<TResult, TUpdate> extends JobRequestBase<TResult, TUpdate> implements ClientSession {
  /** The handle string is built on first read. */
  #handle: string | undefined = undefined
  #jobId = 0
  #engine: Engine | null = null
  #job: Job | null = null
  #signal: AbortSignal | undefined = undefined
  #onAbort: (() => void) | null = null

  /** Called once the engine accepted the job. */
  attach(engine: Engine, job: Job, signal: AbortSignal | undefined): void {
    this.#engine = engine
    this.#job = job
    this.#jobId = job.id
    if (job.hasStatus) this.onStatus(job, job.numerator, job.denominator)
    if (signal !== undefined && this.state === 'pending') {
      this.#signal = signal
      this.#onAbort = () => {
        this.#abort()
      }
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  get handle(): string | undefined {
    if (this.#handle === undefined && this.#engine !== null) this.#handle = this.#engine.handleFor(this.#jobId)
    return this.#handle
  }

  // ---------------------------------------------------------------- ClientSession

  onData(_job: Job, data: Uint8Array): void {
    this.pushData('data', data)
  }

  onWarning(_job: Job, data: Uint8Array): void {
    this.pushData('warning', data)
  }

  onStatus(_job: Job, numerator: number, denominator: number): void {
    this.push({ type: 'status', numerator, denominator })
  }

  onComplete(_job: Job, data: Uint8Array): void {
    this.complete(data)
  }

  onFail(_job: Job, error: GearboxError): void {
    this.settle('failed', undefined, error)
  }

  onException(_job: Job, data: Uint8Array, cause: unknown): void {
    this.settle('failed', undefined, new JobExceptionError(data, cause === undefined ? undefined : { cause }))
  }

  /** Ends the request before submission (bad state at submit time). */
  reject(error: unknown): void {
    this.settle('failed', undefined, error)
  }

  // ---------------------------------------------------------------- internals

  protected onSettled(): void {
    this.#job = null
    if (this.#onAbort !== null) {
      this.#signal?.removeEventListener('abort', this.#onAbort)
      this.#onAbort = null
      this.#signal = undefined
    }
  }

  #abort(): void {
    const job = this.#job
    const engine = this.#engine
    if (this.state !== 'pending' || job === null || engine === null) return
    const reason: unknown = this.#signal?.reason
    this.settle('failed', undefined, reason)
    engine.detach(job, this)
  }
}
