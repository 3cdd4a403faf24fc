import { existsSync } from 'node:fs'
import { debuglog } from 'node:util'
import { availableParallelism } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BroadcastChannel, type ResourceLimits } from 'node:worker_threads'
import Tinypool from 'tinypool'
import type { Handler, JobContext } from '../api.js'
import { BrokerClosedError, InvalidArgumentError, JobFailedError } from '../errors.js'
import { kThreaded, type ThreadedTraits } from '../symbols.js'
import { type BuiltinEncoderName, exactBytes, type ThreadAnswer, type ThreadTask, TRANSFER_MIN_BYTES, type UpdateMessage, type WakeTask } from './messages.js'
import { type PoolSide, TaskRun } from './task-run.js'
import { abortRingSize, ThreadSlots } from './thread-slots.js'

export interface ThreadPoolOptions {
  /** Threads at most. Default: the machine's available parallelism. */
  maxThreads?: number | undefined
  /** Threads kept alive when idle. Default: tinypool's (half the cores, at least 1). */
  minThreads?: number | undefined
  /** Jobs one thread runs at once (for handlers that await I/O). Default 1. */
  concurrentTasksPerThread?: number | undefined
  /**
   * Jobs the pool takes beyond `capacity`, waiting in arrival order inside the pool so that a thread that
   * finishes a job starts the next one at once, without a round trip through the broker. A job of higher
   * priority submitted later may start after at most this many jobs handed over before it, and a job's
   * timeout counts its wait here (a job with a timeout shorter than the run time of the job ahead of it may
   * time out on every attempt without running: use 0 for such functions). Default: `maxThreads` (one waiting
   * job per thread); 0 hands the pool only what it can start; at most 4096. The bound holds per broker: one
   * pool serves one broker.
   */
  prefetch?: number | undefined
  /** ms an idle thread above `minThreads` lives. */
  idleTimeout?: number | undefined
  /** V8 limits per thread; a thread that exceeds them dies and loses only its job (retried). */
  resourceLimits?: ResourceLimits | undefined
  /** ms between a job's signal firing (timeout, cancel, close) and terminating its thread if it has not returned. Default 1000. */
  gracePeriod?: number | undefined
  /** ms to wait for a thread to terminate before giving up on it. Default 5000. */
  terminateTimeout?: number | undefined
}

export interface ThreadHandlerOptions {
  /** The handler's export name. Default `'default'`. */
  export?: string | undefined
  /** How the thread decodes `job.payload` and encodes the result and updates. Default `'raw'`. */
  encoder?: BuiltinEncoderName | undefined
}

const debug = debuglog('gearbox')

/** More jobs waiting inside the pool buys nothing: one per thread already keeps every thread busy. */
const MAX_PREFETCH = 4096

let poolCount = 0

const WAKE: WakeTask = { wake: true }

/**
 * A tinypool of worker threads for CPU-heavy handlers. `pool.handler(moduleUrl)` gives an ordinary handler
 * to register on any worker; every function served by one pool shares its capacity, so the pool is fed at
 * most `capacity + prefetch` jobs and the rest wait in the broker's lanes in priority order.
 * @example
 * const threads = new ThreadPool({ maxThreads: 2 })
 * broker.worker().register('resize', threads.handler(new URL('./resize.js', import.meta.url)))
 * // … later
 * await broker.close()
 * await threads.close()
 */
export class ThreadPool {
  /** Jobs the pool runs at once: maxThreads × concurrentTasksPerThread. */
  readonly capacity: number
  /** Jobs the pool holds beyond `capacity`, waiting for a thread (the broker hands it `capacity + prefetch`). */
  readonly prefetch: number
  readonly #pool: Tinypool
  readonly #up: BroadcastChannel
  readonly #down: BroadcastChannel
  readonly #tasks = new Map<number, TaskRun>()
  readonly #traits: ThreadedTraits
  readonly #side: PoolSide
  readonly #slots: ThreadSlots
  readonly #maxThreads: number
  /** The engine of the broker this pool serves (set by the first registration of one of its handlers). */
  #engine: object | null = null
  #nextId = 1
  #closing: Promise<void> | null = null
  #drained: (() => void) | null = null

  constructor(options: ThreadPoolOptions = {}) {
    const maxThreads = positiveInt('maxThreads', options.maxThreads, availableParallelism())
    const perThread = positiveInt('concurrentTasksPerThread', options.concurrentTasksPerThread, 1)
    const minThreads = options.minThreads === undefined ? undefined : positiveInt('minThreads', options.minThreads, 1)
    const gracePeriod = nonNegativeInt('gracePeriod', options.gracePeriod, 1000)
    const terminateTimeout = nonNegativeInt('terminateTimeout', options.terminateTimeout, 5000)
    const idleTimeout = options.idleTimeout === undefined ? undefined : nonNegativeInt('idleTimeout', options.idleTimeout, 0)
    this.#maxThreads = maxThreads
    this.capacity = maxThreads * perThread
    this.prefetch = nonNegativeInt('prefetch', options.prefetch, maxThreads)
    if (this.prefetch > MAX_PREFETCH) throw new InvalidArgumentError('prefetch', `an integer from 0 to ${MAX_PREFETCH}`, this.prefetch)
    const ring = abortRingSize(this.capacity + this.prefetch)
    this.#slots = ThreadSlots.create(maxThreads, perThread, ring)
    const channel = `gearbox:pool:${process.pid}:${++poolCount}:${Math.random().toString(36).slice(2)}`
    this.#up = new BroadcastChannel(`${channel}:up`)
    this.#down = new BroadcastChannel(`${channel}:down`)
    this.#up.unref()
    this.#down.unref()
    this.#up.onmessage = (event: unknown) => {
      const message = (event as { data: UpdateMessage }).data
      this.#tasks.get(message.id)?.onUpdate(message)
    }
    this.#side = {
      gracePeriod,
      terminateTimeout,
      track: (id, run) => {
        this.#track(id, run)
      },
      postDown: (message) => {
        this.#down.postMessage(message)
      },
      markAborted: (id, code) => {
        this.#slots.markAborted(id, code)
      },
      kill: (id, reason) => this.#kill(id, reason),
      hasThreads: () => this.#pool.threads.length > 0,
      threadLost: () => {
        this.#replaceLost()
      },
    }
    this.#pool = new Tinypool({
      filename: new URL('./thread-entry.js', import.meta.url).href,
      maxThreads,
      ...(minThreads === undefined ? {} : { minThreads: Math.min(minThreads, maxThreads) }),
      concurrentTasksPerWorker: perThread,
      ...(idleTimeout === undefined ? {} : { idleTimeout }),
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      // no terminateTimeout: tinypool would reject a hung termination where nothing catches it (an unhandled
      // rejection); gearbox gives up on a thread after terminateTimeout itself (TaskRun, close)
      workerData: { channel, slots: this.#slots.buffer, perThread, ring },
    })
    // tinypool reports a thread that fails with no task on it (e.g. while starting) as an 'error' event:
    // the jobs it would have run are not lost (they fail or wait in the broker), so it must not crash the app
    this.#pool.on('error', (err: unknown) => {
      debug('thread failed outside any job: %o', err)
    })
    this.#traits = {
      key: this,
      capacity: this.capacity + this.prefetch,
      // each broker would hand the pool capacity + prefetch jobs of its own: the bounds would not hold
      bind: (engine) => {
        this.#engine ??= engine
        if (this.#engine !== engine) throw new InvalidArgumentError('handler', 'a handler of a ThreadPool that serves no other broker', 'a handler of a pool serving another broker')
      },
    }
  }

  /** Jobs the pool holds now: running on its threads, or (at most `prefetch`) waiting for one. */
  get running(): number {
    return this.#tasks.size
  }

  /**
   * A handler that runs `module`'s export in a thread. The module must exist (checked now for file URLs);
   * an export that is missing or not a function fails each job with a HandlerModuleError.
   */
  handler(module: URL | string, options: ThreadHandlerOptions = {}): Handler<Buffer, Uint8Array> {
    const href = moduleHref(module)
    const exportName = options.export ?? 'default'
    if (typeof exportName !== 'string' || exportName === '') throw new InvalidArgumentError('export', 'a non-empty string', exportName)
    const encoder: unknown = options.encoder ?? 'raw'
    if (encoder !== 'raw' && encoder !== 'utf8' && encoder !== 'json') {
      throw new InvalidArgumentError('encoder', "'raw', 'utf8' or 'json' (the thread encodes)", encoder)
    }
    const run = (job: JobContext<Buffer, Uint8Array>): Promise<Uint8Array> => this.#run(job, href, exportName, encoder)
    return Object.assign(run, { [kThreaded]: this.#traits })
  }

  #track(id: number, run: TaskRun | null): void {
    if (run !== null) {
      // updates may still be in flight when tinypool reports the outcome: keep the process alive for them
      if (this.#tasks.size === 0) this.#up.ref()
      this.#tasks.set(id, run)
      return
    }
    this.#tasks.delete(id)
    if (this.#tasks.size === 0) {
      this.#up.unref()
      this.#drained?.()
    }
  }

  /**
   * Terminates the thread running task `id`. The thread is reported to tinypool as failed ('error'), which is
   * how tinypool itself handles a crashed thread: it rejects the thread's tasks, terminates it within
   * `terminateTimeout` and starts a replacement.
   */
  #kill(id: number, reason: Error): boolean {
    const threadId = this.#slots.threadOf(id)
    if (threadId === undefined) return false
    const thread = this.#pool.threads.find((t) => t.threadId === threadId)
    if (thread === undefined) return false
    thread.emit('error', reason)
    return true
  }

  /**
   * After a thread died: tinypool replaces it only up to `minThreads`, and otherwise starts a thread only on
   * its next run(). With jobs waiting in its queue and the broker holding the rest back (the pool is full),
   * that run would not come until a busy thread finished: post a task that runs nothing, so it starts one.
   */
  #replaceLost(): void {
    if (this.#closing !== null || this.#pool.queueSize === 0 || this.#pool.threads.length >= this.#maxThreads) return
    this.#pool.run(WAKE).catch((err: unknown) => {
      debug('wake task failed: %o', err)
    })
  }

  /**
   * Stops the pool: new jobs are refused, running ones may finish within `timeout` ms (close the broker
   * first so nothing new arrives), then the threads are terminated. After `terminateTimeout` ms it stops
   * waiting for threads that have not ended: their jobs' attempts are lost (WorkerLostError).
   */
  async close(options: { timeout?: number | undefined } = {}): Promise<void> {
    const timeout = nonNegativeInt('timeout', options.timeout, 30_000)
    this.#closing ??= this.#close(timeout)
    return this.#closing
  }

  async #close(timeout: number): Promise<void> {
    if (this.#tasks.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeout)
        function done(): void {
          clearTimeout(timer)
          resolve()
        }
        this.#drained = done
      })
      this.#drained = null
    }
    for (const run of this.#tasks.values()) run.abortInThread(new BrokerClosedError('thread pool closed'))
    await withDeadline(this.#pool.destroy(), this.#side.terminateTimeout)
    // a thread that could not be terminated in time answers nothing: its runs settle now, not never
    for (const run of [...this.#tasks.values()]) run.onClosed()
    this.#up.close()
    this.#down.close()
  }

  #run(job: JobContext<Buffer, Uint8Array>, module: string, exportName: string, encoder: BuiltinEncoderName): Promise<Uint8Array> {
    if (this.#closing !== null) return Promise.reject(new JobFailedError('thread pool is closed'))
    const id = this.#nextId
    // ids live in an Int32Array cell (0 = empty): wrap before 2^31
    this.#nextId = id === 0x7fffffff ? 1 : id + 1
    // read before the run exists: an abort from here on concerns this task and is after this count
    const aborts = this.#slots.aborts
    return new Promise<Uint8Array>((resolve, reject) => {
      const run = new TaskRun(id, job, module, this.#side, resolve, reject)
      const data = job.data
      // a large payload is moved, not cloned; never the job's own bytes (it keeps them for retries): a copy
      let payload = exactBytes(data)
      const move = !(data.buffer instanceof SharedArrayBuffer) && data.byteLength >= TRANSFER_MIN_BYTES
      if (move && payload === data) payload = new Uint8Array(data)
      const task: ThreadTask = {
        id,
        module,
        exportName,
        encoder,
        handle: job.handle,
        name: job.name,
        unique: job.unique,
        attempt: job.attempt,
        aborts,
        data: payload,
      }
      // no per-task AbortSignal: tinypool places a task that has one only on a thread with nothing running,
      // which costs a third of the throughput; a stuck thread is found through ThreadSlots instead
      const running = move ? this.#pool.run(task, { transferList: [payload.buffer as ArrayBuffer] }) : this.#pool.run(task)
      ;(running as Promise<ThreadAnswer>).then(run.onOutcome, run.onDeath)
    })
  }
}

function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    promise.then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      () => {
        clearTimeout(timer)
        resolve()
      },
    )
  })
}

function moduleHref(module: URL | string): string {
  let url: URL
  if (module instanceof URL) url = module
  else if (typeof module === 'string' && module !== '') url = /^[a-z][a-z0-9+.-]*:/i.test(module) ? new URL(module) : pathToFileURL(module)
  else throw new InvalidArgumentError('module', 'a URL or a path', module)
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new InvalidArgumentError('module', 'the path of an existing module', url.href)
  }
  return url.href
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(name, 'an integer >= 1', value)
  return value
}

function nonNegativeInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(name, 'an integer >= 0', value)
  return value
}
