import type { CloseOptions, Encoder, Handler, RegisterOptions, WorkerApi } from '../api.js'
import type { Engine } from '../core/engine.js'
import type { Job } from '../core/job.js'
import type { Registration, WorkerRecord, WorkerSession } from '../core/sessions.js'
import { type GearboxError, InvalidArgumentError, JobFailedError, WorkerLostError } from '../errors.js'
import { LocalJobContext } from './job-context.js'
import { intOption, limitOption, stringArg } from './validate.js'
import { rawEncoder } from '../encoders.js'
import { kThreaded, type ThreadedTraits } from '../symbols.js'
import { isThenable, messageOf } from '../guards.js'
import { Closing } from '../closing.js'

type AnyHandler = Handler<unknown, unknown, unknown>
type AnyContext = LocalJobContext<unknown, unknown>

/**
 * A reusable execution slot: its settle callbacks are bound once, so running a job allocates no closures.
 * A slot holds one attempt at a time, from `run` until its handler settles.
 */
interface Slot {
  ctx: AnyContext | null
  readonly onValue: (value: unknown) => void
  readonly onError: (err: unknown) => void
}

/** What the worker keeps per registration (the engine stores it as `Registration.data`). */
interface Entry {
  readonly handler: AnyHandler
  readonly freeSlots: Slot[]
  readonly encoder: Encoder<unknown, unknown>
}

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
  readonly #closing = new Closing()
  /** Set while a graceful close waits for the running jobs. */
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
    const threaded = (handler as { [kThreaded]?: ThreadedTraits })[kThreaded]
    const timeout = intOption('timeout', options.timeout, 0)
    // a threaded handler's slots are its pool's: by default it may use them all
    const concurrency = limitOption('concurrency', options.concurrency, threaded?.capacity ?? 1)
    if (this.#names.has(name)) throw new InvalidArgumentError('name', `a function not yet registered on worker "${this.id}"`, name)
    if (this.#closing.started) throw new InvalidArgumentError('worker', 'an open worker', 'a closed worker')
    threaded?.bind(this.#engine)
    const group = threaded === undefined ? null : this.#engine.slotGroup(threaded.key, threaded.capacity)
    if (threaded !== undefined && group !== null) {
      threaded.attach((limit) => {
        this.#engine.setGroupLimit(group, limit)
      })
    }
    // a threaded handler encodes inside its thread: bytes pass through here untouched
    const encoder = threaded === undefined ? this.#encoder : (rawEncoder as Encoder<unknown, unknown>)
    const entry: Entry = { handler: handler as AnyHandler, freeSlots: [], encoder }
    this.#engine.register(this.#record, name, timeout, concurrency, entry, group)
    this.#names.add(name)
  }

  /** Stops taking jobs of `name`; jobs of it already running finish normally. */
  unregister(name: string): boolean {
    stringArg('name', name)
    this.#names.delete(name)
    return this.#engine.unregister(this.#record, name, false)
  }

  async close(options: CloseOptions = {}): Promise<void> {
    // a forced close while a graceful one waits: stop waiting, lose what still runs
    return this.#closing.run(options, (graceful, timeout) => this.#drain(graceful, timeout))
  }

  async #drain(graceful: boolean, timeout: number): Promise<void> {
    const engine = this.#engine
    if (graceful) {
      engine.pauseWorker(this.#record)
      if (this.#record.active > 0) {
        await this.#closing.wait(timeout, engine.clock, (done) => {
          this.#drained = done
          return () => {
            this.#drained = null
          }
        })
      }
    }
    engine.removeWorker(this.#record)
  }

  // ---------------------------------------------------------------- WorkerSession

  run(job: Job, reg: Registration): void {
    const entry = reg.data as Entry
    const ctx: AnyContext = new LocalJobContext(this.#engine, job, reg, entry.encoder)
    job.runner = ctx
    const slot = entry.freeSlots.pop() ?? this.#newSlot()
    slot.ctx = ctx
    let result: unknown
    try {
      result = entry.handler(ctx)
    } catch (err) {
      slot.onError(err)
      return
    }
    if (isThenable(result)) {
      result.then(slot.onValue, slot.onError)
    } else {
      // settle on a later microtask, like an async handler, so the submitter always sees the handle first
      queueMicrotask(() => {
        slot.onValue(result)
      })
    }
  }

  #newSlot(): Slot {
    const slot: Slot = {
      ctx: null,
      onValue: (value) => {
        this.#completed(this.#vacate(slot), value)
      },
      onError: (err) => {
        this.#failed(this.#vacate(slot), err)
      },
    }
    return slot
  }

  /** Frees the slot for its registration's next job and returns the context it held. */
  #vacate(slot: Slot): AnyContext {
    const ctx = slot.ctx as AnyContext
    slot.ctx = null
    ;(ctx.registration.data as Entry).freeSlots.push(slot)
    return ctx
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
      data = (ctx.registration.data as Entry).encoder.encode(value)
    } catch (err) {
      // only the encoders' EncodingError can come from here (custom encoders are wrapped)
      engine.workException(ctx.job, this.#record, ctx.attempt, Buffer.from(messageOf(err)), err)
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
