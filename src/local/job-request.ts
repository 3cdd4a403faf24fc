import Denque from 'denque'
import type { Encoder, JobRequest, JobUpdate, RequestState } from '../api.js'
import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { ClientSession } from '../core/sessions.js'
import { type GearboxError, JobExceptionError } from '../errors.js'

/**
 * An in-process foreground submission: the client session attached to one job. The result promise is
 * created only when someone asks for it, so a request nobody awaits never causes an unhandled rejection.
 */
export class LocalJobRequest<TResult, TUpdate> implements JobRequest<TResult, TUpdate>, ClientSession {
  readonly functionName: string
  readonly unique: string
  /** The handle string is built on first read. */
  #handle: string | undefined = undefined
  #jobId = 0
  #engine: Engine | null = null
  #job: Job | null = null
  readonly #encoder: Encoder<unknown, unknown>
  #state: RequestState = 'pending'
  #value: TResult | undefined = undefined
  #error: unknown = undefined
  #promise: Promise<TResult> | null = null
  #resolve: ((value: TResult) => void) | null = null
  #reject: ((reason: unknown) => void) | null = null
  #updates: Denque<JobUpdate<TUpdate>> | null = null
  #wake: (() => void) | null = null
  #signal: AbortSignal | undefined = undefined
  #onAbort: (() => void) | null = null

  constructor(functionName: string, unique: string, encoder: Encoder<unknown, unknown>) {
    this.functionName = functionName
    this.unique = unique
    this.#encoder = encoder
  }

  /** Called once the engine accepted the job. */
  attach(engine: Engine, job: Job, signal: AbortSignal | undefined): void {
    this.#engine = engine
    this.#job = job
    this.#jobId = job.id
    if (job.hasStatus) this.onStatus(job, job.numerator, job.denominator)
    if (signal !== undefined && this.#state === 'pending') {
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

  get state(): RequestState {
    return this.#state
  }

  get result(): Promise<TResult> {
    this.#promise ??= new Promise<TResult>((resolve, reject) => {
      if (this.#state === 'completed') resolve(this.#value as TResult)
      else if (this.#state === 'failed') reject(this.#error)
      else {
        this.#resolve = resolve
        this.#reject = reject
      }
    })
    return this.#promise
  }

  then<A = TResult, B = never>(
    onfulfilled?: ((value: TResult) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(onfulfilled, onrejected)
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<TResult | B> {
    return this.result.catch(onrejected)
  }

  finally(onfinally?: (() => void) | null): Promise<TResult> {
    return this.result.finally(onfinally)
  }

  get [Symbol.toStringTag](): string {
    return 'JobRequest'
  }

  async *updates(): AsyncIterableIterator<JobUpdate<TUpdate>> {
    const queue = (this.#updates ??= new Denque())
    for (;;) {
      const next = queue.shift()
      if (next !== undefined) {
        yield next
        continue
      }
      if (this.#state !== 'pending') return
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  // ---------------------------------------------------------------- ClientSession

  onData(_job: Job, data: Uint8Array): void {
    this.#push({ type: 'data', data: this.#decodeUpdate(data) })
  }

  onWarning(_job: Job, data: Uint8Array): void {
    this.#push({ type: 'warning', data: this.#decodeUpdate(data) })
  }

  onStatus(_job: Job, numerator: number, denominator: number): void {
    this.#push({ type: 'status', numerator, denominator })
  }

  onComplete(_job: Job, data: Uint8Array): void {
    let value: TResult
    try {
      value = this.#encoder.decode(data) as TResult
    } catch (err) {
      this.#settle('failed', undefined, err)
      return
    }
    this.#settle('completed', value, undefined)
  }

  onFail(_job: Job, error: GearboxError): void {
    this.#settle('failed', undefined, error)
  }

  onException(_job: Job, data: Uint8Array, cause: unknown): void {
    this.#settle('failed', undefined, new JobExceptionError(data, cause === undefined ? undefined : { cause }))
  }

  /** Ends the request before submission (bad state at submit time). */
  reject(error: unknown): void {
    this.#settle('failed', undefined, error)
  }

  // ---------------------------------------------------------------- internals

  #decodeUpdate(data: Uint8Array): TUpdate {
    try {
      return this.#encoder.decode(data) as TUpdate
    } catch {
      return data as TUpdate
    }
  }

  #push(update: JobUpdate<TUpdate>): void {
    if (this.#state !== 'pending') return
    ;(this.#updates ??= new Denque()).push(update)
    this.#wakeReader()
  }

  #wakeReader(): void {
    const wake = this.#wake
    if (wake !== null) {
      this.#wake = null
      wake()
    }
  }

  #abort(): void {
    const job = this.#job
    const engine = this.#engine
    if (this.#state !== 'pending' || job === null || engine === null) return
    const reason: unknown = this.#signal?.reason
    this.#settle('failed', undefined, reason)
    engine.detach(job, this)
  }

  #settle(state: 'completed' | 'failed', value: TResult | undefined, error: unknown): void {
    if (this.#state !== 'pending') return
    this.#state = state
    this.#value = value
    this.#error = error
    this.#job = null
    if (this.#onAbort !== null) {
      this.#signal?.removeEventListener('abort', this.#onAbort)
      this.#onAbort = null
      this.#signal = undefined
    }
    if (state === 'completed') this.#resolve?.(value as TResult)
    else this.#reject?.(error)
    this.#resolve = this.#reject = null
    this.#wakeReader()
  }
}
