import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import type { CloseOptions, Encoder, WaitOptions } from './api.js'
import { type Clock, systemClock } from './core/clock.js'
import { Engine, type EngineObserver } from './core/engine.js'
import type { Job } from './core/job.js'
import { ResultCache, type ResultCacheOptions } from './core/result-cache.js'
import type { JobStore } from './core/store.js'
import { BrokerClosedError, type GearboxError, InvalidArgumentError, JobExceptionError, WaitTimeoutError } from './errors.js'
import { LocalAdmin } from './local/admin.js'
import { LocalClient } from './local/client.js'
import { type EncoderName, resolveEncoder } from './encoders.js'
import { intOption, limitOption, signalOption } from './local/validate.js'
import { LocalWorker } from './local/worker.js'
import { kEngine } from './symbols.js'
import { Closing } from './closing.js'

export interface BrokerOptions {
  /** Hand jobs to idle workers in turn instead of in registration order. Default false. */
  roundRobin?: boolean | undefined
  /** Attempts before a job whose worker is lost (or times out) fails; 0 = retry forever. Default 3. */
  jobRetries?: number | undefined
  /** Sleeping remote workers woken per queued job (used by the TCP adapter); 0 = all. Default 0. */
  workerWakeup?: number | undefined
  /** Default per-priority limit on each function's queued + running jobs; 0 = unlimited. Default 0. */
  maxQueue?: number | undefined
  /** Keep finished jobs' outcomes (bounded: `max` entries, `ttl` ms). Off unless given. */
  resultCache?: ResultCacheOptions | undefined
  /** The time source for timeouts and scheduled jobs; pass a FakeClock in tests. */
  clock?: Clock | undefined
  /** Handles are `${handlePrefix}:${n}`. Default `H:<hostname>`, as gearmand. */
  handlePrefix?: string | undefined
  /**
   * Where background jobs survive a restart (`sqliteStore(path)`, or `memoryStore()` to survive only a new
   * Broker in the same process). What it holds is replayed at construction; a background submit resolves
   * (over TCP: JOB_CREATED is sent) only once its job is written. Default: none, jobs live in memory only.
   */
  store?: JobStore | undefined
}

export interface ClientOptions<E> {
  /** How payloads, results and updates are turned into bytes. Default `'raw'`. */
  encoder?: E | undefined
}

export interface WorkerOptions<E> {
  /** Shown by admin `workers` (Gearman's client id). */
  id?: string | undefined
  /** Jobs this worker runs at once across all its functions. Default unlimited (each function's own concurrency applies). */
  concurrency?: number | undefined
  encoder?: E | undefined
}

/** What the broker's events carry. Events observe; outcomes travel through promises. */
export interface JobEvent {
  readonly handle: string
  readonly functionName: string
  readonly unique: string
}

export interface BrokerEvents {
  'job:completed': [JobEvent]
  'job:failed': [JobEvent & { readonly error: Error }]
  'job:retried': [JobEvent & { readonly attempts: number; readonly cause: GearboxError }]
  close: []
}

type RawIn = Uint8Array | string | undefined | null

/**
 * A complete Gearman-style job server in memory. Clients, workers and the admin API talk to it directly.
 * @example
 * const broker = new Broker()
 * broker.worker().register('reverse', (job) => Buffer.from(job.data).reverse())
 * const out = await broker.client({ encoder: 'utf8' }).submit('reverse', 'hello') // 'olleh'
 * await broker.close()
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly #engine: Engine
  readonly admin: LocalAdmin
  #workerCount = 0
  readonly #closing = new Closing()

  constructor(options: BrokerOptions = {}) {
    super()
    if (typeof options !== 'object' || (options as unknown) === null) throw new InvalidArgumentError('options', 'an object', options)
    try {
      this.#engine = Broker.#engineFor(options)
    } catch (err) {
      // the broker owns the store it was given: nothing else would close it (a SQLite store keeps its file locked)
      if (isStore(options.store)) options.store.close()
      throw err
    }
    this.admin = new LocalAdmin(this.#engine)
    const untyped = this as EventEmitter
    untyped.on('newListener', (event: string | symbol) => {
      if (isJobEvent(event)) this.#engine.observer = this.#observer
    })
    untyped.on('removeListener', (event: string | symbol) => {
      if (!isJobEvent(event)) return
      const observed = this.listenerCount('job:completed') + this.listenerCount('job:failed') + this.listenerCount('job:retried') > 0
      if (!observed) this.#engine.observer = null
    })
  }
  /** Checks the options and builds the engine, replaying what the store holds. */
  static #engineFor(options: BrokerOptions): Engine {
    const clock = options.clock ?? systemClock
    if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      throw new InvalidArgumentError('clock', 'an object with now(), setTimeout() and clearTimeout()', clock)
    }
    if (options.roundRobin !== undefined && typeof options.roundRobin !== 'boolean') {
      throw new InvalidArgumentError('roundRobin', 'a boolean', options.roundRobin)
    }
    const handlePrefix = options.handlePrefix ?? `H:${hostname()}`
    if (typeof handlePrefix !== 'string' || handlePrefix.length === 0 || handlePrefix.length > 40) {
      throw new InvalidArgumentError('handlePrefix', 'a string of 1 to 40 characters', handlePrefix)
    }
    let resultCache: ResultCache | null = null
    if (options.resultCache !== undefined) {
      if (typeof options.resultCache !== 'object' || (options.resultCache as unknown) === null) {
        throw new InvalidArgumentError('resultCache', 'an object { max, ttl }', options.resultCache)
      }
      resultCache = new ResultCache(options.resultCache, clock)
    }
    const engine = new Engine({
      handlePrefix,
      jobRetries: intOption('jobRetries', options.jobRetries, 3),
      roundRobin: options.roundRobin ?? false,
      workerWakeup: intOption('workerWakeup', options.workerWakeup, 0),
      maxQueue: intOption('maxQueue', options.maxQueue, 0),
      clock,
      resultCache,
      store: storeOption(options.store),
    })
    if (options.store !== undefined) {
      engine.restore(options.store.load())
      engine.reserveIds(options.store.nextId?.() ?? 0)
    }
    return engine
  }


  /** The engine, for the TCP adapter and thread pool (module-private symbol; not part of the public API). */
  get [kEngine](): Engine {
    return this.#engine
  }

  get closed(): boolean {
    return this.#engine.closed
  }

  /** Live jobs: queued, scheduled and running. */
  get size(): number {
    return this.#engine.size
  }

  /** A client. Payloads and results are raw bytes unless an encoder is given. */
  client(options?: ClientOptions<'raw'>): LocalClient<RawIn, Buffer>
  client(options: ClientOptions<'utf8'>): LocalClient<string, string>
  client<T = unknown>(options: ClientOptions<'json'>): LocalClient<T, T>
  client<TIn, TOut>(options: ClientOptions<Encoder<TIn, TOut>>): LocalClient<TIn, TOut>
  client(options: ClientOptions<EncoderName | Encoder<never, unknown>> = {}): LocalClient<unknown, unknown> {
    return new LocalClient(this.#engine, resolveEncoder(options.encoder))
  }

  /** A worker: register handlers on it. Handlers see raw bytes unless an encoder is given. */
  worker(options?: WorkerOptions<'raw'>): LocalWorker<Buffer, RawIn>
  worker(options: WorkerOptions<'utf8'>): LocalWorker<string, string>
  worker<T = unknown>(options: WorkerOptions<'json'>): LocalWorker<T, unknown>
  worker<TIn, TOut>(options: WorkerOptions<Encoder<TIn, TOut>>): LocalWorker<TOut, TIn>
  worker(options: WorkerOptions<EncoderName | Encoder<never, unknown>> = {}): LocalWorker<unknown, unknown> {
    if (this.#engine.closed) throw new BrokerClosedError()
    const id = options.id ?? `worker-${++this.#workerCount}`
    if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('id', 'a non-empty string', id)
    const concurrency = limitOption('concurrency', options.concurrency, Infinity)
    return new LocalWorker(this.#engine, id, concurrency, resolveEncoder(options.encoder))
  }

  /**
   * Resolves when nothing is running and nothing queued can be handed out (no free worker for it):
   * the moment to assert in a test.
   */
  async idle(options: WaitOptions = {}): Promise<void> {
    const timeout = intOption('timeout', options.timeout, 0)
    const signal = signalOption(options.signal)
    const engine = this.#engine
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason as Error)
        return
      }
      const clock = engine.clock
      const timer = timeout > 0 ? clock.setTimeout(() => { stop(); reject(new WaitTimeoutError(timeout, engine.runningCount)) }, timeout) : null
      const onAbort = (): void => {
        stop()
        reject(signal?.reason as Error)
      }
      const onIdle = (): void => {
        stop()
        resolve()
      }
      function stop(): void {
        if (timer !== null) clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        engine.offIdle(onIdle)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      // let submissions made in this tick reach dispatch first
      queueMicrotask(() => {
        engine.onIdle(onIdle)
      })
    })
  }

  /**
   * Closes the broker. Graceful (default): new submissions are refused, queued and scheduled jobs fail with
   * BrokerClosedError, running jobs may finish until `timeout` ms; whatever still runs then fails with
   * BrokerClosedError and its handler's signal fires. `graceful: false` does that last step at once.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    return this.#closing.run(options, (graceful, timeout) => this.#close(graceful, timeout))
  }

  async #close(graceful: boolean, timeout: number): Promise<void> {
    const engine = this.#engine
    engine.close(new BrokerClosedError('broker closed before the job ran'))
    if (graceful && engine.runningCount > 0) {
      await this.#closing.wait(timeout, engine.clock, (done) => {
        engine.onIdle(done)
        return () => {
          engine.offIdle(done)
        }
      })
    }
    engine.failRunning(new BrokerClosedError('broker closed before the job finished'))
    for (const w of engine.workers()) engine.removeWorker(w)
    try {
      engine.closeStore()
    } finally {
      this.emit('close')
    }
  }

  readonly #observer: EngineObserver = {
    jobFinished: (job: Job, handle, outcome) => {
      const base = { handle, functionName: job.fn.name, unique: job.unique }
      switch (outcome.state) {
        case 'completed':
          this.emit('job:completed', base)
          break
        case 'failed':
          this.emit('job:failed', { ...base, error: outcome.error })
          break
        case 'exception':
          this.emit('job:failed', { ...base, error: new JobExceptionError(outcome.data) })
          break
      }
    },
    jobRetried: (job: Job, handle, cause) => {
      this.emit('job:retried', { handle, functionName: job.fn.name, unique: job.unique, attempts: job.attempts, cause })
    },
  }
}

function storeOption(store: JobStore | undefined): JobStore | null {
  if (store === undefined) return null
  if (!isStore(store)) throw new InvalidArgumentError('store', 'a JobStore (load(), write(), close())', store)
  return store
}

function isStore(store: unknown): store is JobStore {
  const s = store as Partial<JobStore> | null
  return typeof s === 'object' && s !== null && typeof s.load === 'function' && typeof s.write === 'function' && typeof s.close === 'function'
}

function isJobEvent(event: string | symbol): boolean {
  return typeof event === 'string' && event.startsWith('job:')
}
