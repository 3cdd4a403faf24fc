import Denque from 'denque'
import type { Encoder, JobRequest, JobUpdate, RequestState } from './api.js'

/**
 * What the in-process and the remote job requests share: the outcome as a lazily created promise (a request
 * nobody awaits never causes an unhandled rejection), and the updates buffered for `updates()` (several readers
 * at once share them: each update goes to one of them, and every reader ends with the job).
 */
export abstract class JobRequestBase<TResult, TUpdate> implements JobRequest<TResult, TUpdate> {
  readonly functionName: string
  readonly unique: string
  readonly #encoder: Encoder<unknown, unknown>
  #state: RequestState = 'pending'
  #value: TResult | undefined = undefined
  #error: unknown = undefined
  #promise: Promise<TResult> | null = null
  #resolve: ((value: TResult) => void) | null = null
  #reject: ((reason: unknown) => void) | null = null
  #updates: Denque<JobUpdate<TUpdate>> | null = null
  /** Readers waiting for the next update or the end (made with the first one: most requests have none). */
  #waiting: (() => void)[] | null = null

  constructor(functionName: string, unique: string, encoder: Encoder<unknown, unknown>) {
    this.functionName = functionName
    this.unique = unique
    this.#encoder = encoder
  }

  abstract get handle(): string | undefined

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
      await new Promise<void>((resolve) => (this.#waiting ??= []).push(resolve))
    }
  }

  /** A data or warning update's bytes, decoded (left as bytes if the encoder refuses them). */
  protected pushData(type: 'data' | 'warning', data: Uint8Array): void {
    let decoded: TUpdate
    try {
      decoded = this.#encoder.decode(data) as TUpdate
    } catch {
      decoded = data as TUpdate
    }
    this.push({ type, data: decoded })
  }

  protected push(update: JobUpdate<TUpdate>): void {
    if (this.#state !== 'pending') return
    ;(this.#updates ??= new Denque()).push(update)
    this.#wakeReaders()
  }

  /** Completes with the result bytes decoded; a decoding failure fails the request. */
  protected complete(data: Uint8Array): void {
    let value: TResult
    try {
      value = this.#encoder.decode(data) as TResult
    } catch (err) {
      this.settle('failed', undefined, err)
      return
    }
    this.settle('completed', value, undefined)
  }

  /** Ends the request once; later calls are ignored. */
  protected settle(state: 'completed' | 'failed', value: TResult | undefined, error: unknown): void {
    if (this.#state !== 'pending') return
    this.#state = state
    this.#value = value
    this.#error = error
    this.onSettled()
    if (state === 'completed') this.#resolve?.(value as TResult)
    else this.#reject?.(error)
    this.#resolve = this.#reject = null
    this.#wakeReaders()
  }

  /** Subclasses release what they hold on the job (listeners, references). */
  protected abstract onSettled(): void

  #wakeReaders(): void {
    const waiting = this.#waiting
    if (waiting === null) return
    this.#waiting = null
    for (const wake of waiting) wake()
  }
}
