import type { CloseOptions, Encoder, Handler, RegisterOptions, WorkerApi } from '../api.js'
import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { Registration, WorkerRecord, WorkerSession } from '../core/sessions.js'
import { EncodingError, type GearboxError, InvalidArgumentError, JobFailedError, WorkerLostError } from '../errors.js'
import { LocalJobContext } from './job-context.js'
import { intOption, limitOption, stringArg } from './validate.js'

type AnyHandler = Handler<unknown, unknown, unknown>
type AnyContext = LocalJobContext<unknown, unknown>

/**
 * The in-process worker: runs registered async handlers in this thread. Each registration has its own
 * concurrency; the worker's `concurrency` caps the total, and when it binds, the highest-priority job across
 * the worker's functions runs first.
 * @example
 * const worker = broker.worker({ id: 'resizer-1' })
 * worker.register('reverse', (job) => Buffer.from(job.data).reverse(), { concurrency: 4, timeout: 5_000 })
 */
export class LocalWorker<TPayload, TResult> implements WorkerApi<TPayload, TResult>, WorkerSession {
  readonly mode = 'push'
  readonly #engine: Engine
  readonly #encoder: Encoder<unknown, unknown>
  readonly #record: WorkerRecord
  readonly #names = new Set<string>()
  #closing: Promise<void> | null = null
  #drained: (() => void) | null = null

  constructor(engine: Engine, id: string, concurrency: number, encoder: Encoder<unknown, unknown>) {
    this.#engine = engine
    this.#encoder = encoder
    this.#record = engine.addWorker(this, id, concurrency)
  }

  get id(): string {
    return this.#record.id
  }

  /** Jobs this worker's handlers are running now. */
  get running(): number {
    return this.#record.active
  }

  register<P = TPayload, R = TResult>(name: string, handler: Handler<P, R, TResult>, options: RegisterOptions = {}): void {
    stringArg('name', name)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler)
    const timeout = intOption('timeout', options.timeout, 0)
    const concurrency = limitOption('concurrency', options.concurrency, 1)
    if (this.#names.has(name)) throw new InvalidArgumentError('name', `a function not yet registered on worker "${this.id}"`, name)
    if (this.#closing !== null) throw new InvalidArgumentError('worker', 'an open worker', 'a closed worker')
    this.#engine.register(this.#record, name, timeout, concurrency, handler)
    this.#names.add(name)
  }

  /** Stops taking jobs of `name`; jobs of it already running finish normally. */
  unregister(name: string): boolean {
    stringArg('name', name)
    this.#names.delete(name)
    return this.#engine.unregister(this.#record, name, false)
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing
    const graceful = options.graceful ?? true
    const timeout = intOption('timeout', options.timeout, 30_000)
    if (graceful) {
      this.#closing = this.#drain(timeout)
    } else {
      this.#engine.removeWorker(this.#record)
      this.#closing = Promise.resolve()
    }
    return this.#closing
  }

  async #drain(timeout: number): Promise<void> {
    const engine = this.#engine
    engine.pauseWorker(this.#record)
    if (this.#record.active > 0) {
      const clock = engine.clock
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(finish, timeout)
        function finish(): void {
          clock.clearTimeout(timer)
          resolve()
        }
        this.#drained = finish
      })
      this.#drained = null
    }
    engine.removeWorker(this.#record)
  }

  // ---------------------------------------------------------------- WorkerSession

  run(job: Job, reg: Registration): void {
    const ctx: AnyContext = new LocalJobContext(this.#engine, job, reg, this.#encoder)
    job.runner = ctx
    let result: unknown
    try {
      result = (reg.data as AnyHandler)(ctx)
    } catch (err) {
      this.#failed(ctx, err)
      return
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          this.#completed(ctx, value)
        },
        (err: unknown) => {
          this.#failed(ctx, err)
        },
      )
    } else {
      // settle on a later microtask, like an async handler, so the submitter always sees the handle first
      queueMicrotask(() => {
        this.#completed(ctx, result)
      })
    }
  }

  wake(): void {
    // push workers are never asleep
  }

  revoke(job: Job, reason: GearboxError): void {
    ;(job.runner as AnyContext | null)?.abort(reason)
  }

  // ---------------------------------------------------------------- outcomes

  #completed(ctx: AnyContext, value: unknown): void {
    const engine = this.#engine
    let data: Uint8Array | undefined
    try {
      data = this.#encoder.encode(value)
    } catch (cause) {
      const err = cause instanceof EncodingError ? cause : new EncodingError('handler result cannot be encoded', { cause })
      engine.workException(ctx.job, this.#record, ctx.attempt, Buffer.from(err.message), err)
    }
    if (data !== undefined) engine.workComplete(ctx.job, this.#record, ctx.attempt, data)
    this.#release(ctx.registration)
  }

  #failed(ctx: AnyContext, err: unknown): void {
    const engine = this.#engine
    if (err instanceof JobFailedError) engine.workFail(ctx.job, this.#record, ctx.attempt, err)
    else if (err instanceof WorkerLostError) engine.workLost(ctx.job, this.#record, ctx.attempt, err)
    else engine.workException(ctx.job, this.#record, ctx.attempt, Buffer.from(messageOf(err)), err)
    this.#release(ctx.registration)
  }

  #release(reg: Registration): void {
    this.#engine.release(reg)
    if (this.#drained !== null && this.#record.active === 0) this.#drained()
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof err === 'string') return err
  try {
    return JSON.stringify(err)
  } catch {
    return String(err)
  }
}
