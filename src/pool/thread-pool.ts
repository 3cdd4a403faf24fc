import { existsSync } from 'node:fs'
import { debuglog } from 'node:util'
import { availableParallelism } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BroadcastChannel, type ResourceLimits } from 'node:worker_threads'
import Tinypool from 'tinypool'
import type { Handler, JobContext } from '../api.js'
import { BrokerClosedError, InvalidArgumentError, JobFailedError } from '../errors.js'
import { kThreaded, type ThreadedTraits } from '../symbols.js'
import { Batch, type HandlerSpec } from './batch.js'
import type { BatchAnswer, BuiltinEncoderName, ResultMessage, UpdateMessage } from './messages.js'
import { type PoolSide, TaskRun } from './task-run.js'
import { abortRingSize, ThreadSlots } from './thread-slots.js'

export interface ThreadPoolOptions {
  /** Threads at most. Default: the machine's available parallelism. */
  maxThreads?: number | undefined
  /** Threads kept alive when idle. Default: tinypool's (half the cores, at least 1). */
  minThreads?: number | undefined
  /** Jobs (batches, see `batch`) one thread runs at once (for handlers that await I/O). Default 1. */
  concurrentTasksPerThread?: number | undefined
  /**
   * Jobs a thread may be handed at once, as one batch (one tinypool task), so that tinypool's cost per task
   * is paid once per batch. A batch is never larger than a fair share of the waiting jobs for each free
   * thread, so a lone job goes alone, and once the jobs are known to take 0.25 ms or more each, each goes
   * alone. The thread posts each job's result before it starts the next; once a batch has run for 1 ms it
   * hands back the jobs it has not started when its current job ends (a job behind an unexpectedly long one
   * in a batch waits for it, even if another thread is free). A thread that dies loses the job it was
   * running (retried per `jobRetries`); those of its batch it never started go back to the pool's queue.
   * Default 8; 1 hands every job over alone; at most 256.
   */
  batch?: number | undefined
  /**
   * Jobs the pool takes beyond `capacity`, waiting in arrival order inside the pool (in its queue, or in a
   * thread's batch) so that threads find work, and batches can form, without a round trip through the
   * broker. A job of higher priority submitted later may start after at most `capacity + prefetch - 1` jobs
   * handed over before it, and a job's timeout counts its wait here (a job with a timeout shorter than the
   * run time of the jobs ahead of it may time out on every attempt without running: use `prefetch: 0` and
   * `batch: 1` for such functions). Default: adaptive, `maxThreads` (one job waiting per thread) while the
   * pool's jobs take 0.25 ms or more each, as CPU-heavy jobs do, and `capacity × (batch - 1) + maxThreads`
   * (room for a full batch per thread) while they are quicker, which is when batches pay; the pool starts
   * with the former. 0 hands the pool only what it can start; at most 4096. The bound holds per broker: one
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

/** More jobs waiting inside the pool buys nothing: a batch per thread already keeps every thread busy. */
const MAX_PREFETCH = 4096
const MAX_BATCH = 256
/** ms a batch runs before its thread hands back the jobs it has not started. */
const BATCH_SLICE_MS = 1
/** ms per job under which the pool's jobs count as quick, and the default `prefetch` makes room for batches. */
const QUICK_JOB_MS = 0.25

let poolCount = 0

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
  /**
   * Jobs the pool holds beyond `capacity`, waiting for a thread (the broker hands it `capacity + prefetch`);
   * by default at most this many, and `maxThreads` while its jobs are not quick.
   */
  readonly prefetch: number
  /** Jobs handed to a thread at once at most. */
  readonly batch: number
  readonly #pool: Tinypool
  readonly #up: BroadcastChannel
  readonly #down: BroadcastChannel
  readonly #tasks = new Map<number, TaskRun>()
  readonly #traits: ThreadedTraits
  readonly #side: PoolSide
  readonly #slots: ThreadSlots
  /** Runs not yet posted, in arrival order (handed-back ones first), from `#head` on; settled ones are skipped. */
  #queue: TaskRun[] = []
  #head = 0
  /** Live runs in `#queue`. */
  #queued = 0
  /** Batches posted and not answered (at most `capacity`: tinypool's own queue stays empty). */
  #busy = 0
  /** See ThreadData.progress; a cell per batch in flight, the free ones in `#freeCells`. */
  readonly #progress: Int32Array
  readonly #freeCells: number[]
  #flushQueued = false
  /** A post waits for the next event-loop turn (after an answer): the microtask flush leaves it to that. */
  #postDeferred = false
  /** Set when the pool stops posting (closing, after the drain). */
  #stopped = false
  readonly #flush = (): void => {
    this.#flushQueued = false
    if (!this.#postDeferred) this.#post()
  }
  readonly #deferredPost = (): void => {
    this.#postDeferred = false
    this.#post()
  }
  /** The default prefetch: adapts to the jobs' length (see ThreadPoolOptions.prefetch); else fixed. */
  readonly #adaptive: boolean
  /** Jobs the pool is handed at once while its jobs are not quick (adaptive only). */
  readonly #slowHold: number
  /** Whether the pool's jobs are quick, from the last answer; null before the first. */
  #quick: boolean | null = null
  /** Sets the broker's slot group's limit (from the first worker that registered a handler of the pool). */
  #setLimit: ((limit: number) => void) | null = null
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
    this.capacity = maxThreads * perThread
    this.batch = positiveInt('batch', options.batch, 8)
    if (this.batch > MAX_BATCH) throw new InvalidArgumentError('batch', `an integer from 1 to ${MAX_BATCH}`, this.batch)
    this.prefetch = nonNegativeInt('prefetch', options.prefetch, Math.min(MAX_PREFETCH, this.capacity * (this.batch - 1) + maxThreads))
    this.#adaptive = options.prefetch === undefined
    this.#slowHold = this.capacity + Math.min(maxThreads, this.prefetch)
    if (this.prefetch > MAX_PREFETCH) throw new InvalidArgumentError('prefetch', `an integer from 0 to ${MAX_PREFETCH}`, this.prefetch)
    this.#progress = new Int32Array(new SharedArrayBuffer(this.capacity * Int32Array.BYTES_PER_ELEMENT))
    this.#freeCells = Array.from({ length: this.capacity }, (_, i) => i)
    const ring = abortRingSize(this.capacity + this.prefetch)
    this.#slots = ThreadSlots.create(maxThreads, perThread, ring)
    const channel = `gearbox:pool:${process.pid}:${++poolCount}:${Math.random().toString(36).slice(2)}`
    this.#up = new BroadcastChannel(`${channel}:up`)
    this.#down = new BroadcastChannel(`${channel}:down`)
    this.#up.unref()
    this.#down.unref()
    this.#up.onmessage = (event: unknown) => {
      const message = (event as { data: UpdateMessage | ResultMessage }).data
      if (isResult(message)) this.#tasks.get(message[0])?.onAnswer(message[1])
      else this.#tasks.get(message.id)?.onUpdate(message)
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
      workerData: { channel, slots: this.#slots.buffer, perThread, ring, slice: BATCH_SLICE_MS, progress: this.#progress.buffer },
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
      attach: (setLimit) => {
        if (!this.#adaptive || this.#setLimit !== null) return
        this.#setLimit = setLimit
        setLimit(this.#hold())
      },
    }
  }

  /** Jobs the pool holds now: running on its threads, or waiting for one. */
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
    const spec: HandlerSpec = { module: href, exportName, encoder, batch: null, index: 0 }
    const run = (job: JobContext<Buffer, Uint8Array>): Promise<Uint8Array> => this.#run(job, spec)
    return Object.assign(run, { [kThreaded]: this.#traits })
  }

  #track(id: number, run: TaskRun | null): void {
    if (run !== null) {
      // updates may still be in flight when tinypool reports the outcome: keep the process alive for them
      if (this.#tasks.size === 0) this.#up.ref()
      this.#tasks.set(id, run)
      return
    }
    // a run settled while queued (aborted before it was posted) leaves a tombstone there
    if (this.#tasks.get(id)?.posted === false) this.#queued--
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
    this.#stopped = true
    // runs never posted settle now (no thread will take them); posted ones are told to stop
    for (const run of [...this.#tasks.values()]) {
      if (run.posted) run.abortInThread(new BrokerClosedError('thread pool closed'))
      else run.onClosed()
    }
    await withDeadline(this.#pool.destroy(), this.#side.terminateTimeout)
    // a thread that could not be terminated in time answers nothing: its runs settle now, not never
    for (const run of [...this.#tasks.values()]) run.onClosed()
    this.#up.close()
    this.#down.close()
  }

  #run(job: JobContext<Buffer, Uint8Array>, spec: HandlerSpec): Promise<Uint8Array> {
    if (this.#closing !== null) return Promise.reject(new JobFailedError('thread pool is closed'))
    const id = this.#nextId
    // ids live in an Int32Array cell (0 = empty): wrap before 2^31
    this.#nextId = id === 0x7fffffff ? 1 : id + 1
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#queue.push(new TaskRun(id, job, spec, this.#side, resolve, reject))
      this.#queued++
      // the broker hands jobs over one by one, often several in one go: post them together, a microtask later
      if (!this.#flushQueued && this.#busy < this.capacity) {
        this.#flushQueued = true
        queueMicrotask(this.#flush)
      }
    })
  }

  /**
   * Posts the queued runs as batches while a thread is free: unless the jobs are known to be slow, no more
   * per batch than `batch`, nor than a fair share of them for each free thread; else one job per task (a
   * batch buys nothing then, and its jobs could wait behind one thread's job while another thread is free).
   * tinypool's own queue stays empty, so a thread that dies frees its place here and the next batch posted
   * makes tinypool start a new thread.
   */
  #post(): void {
    const queue = this.#queue
    while (this.#busy < this.capacity && this.#queued > 0 && !this.#stopped) {
      const size = this.#quick !== false ? Math.min(this.batch, Math.ceil(this.#queued / (this.capacity - this.#busy))) : 1
      const runs: TaskRun[] = []
      while (runs.length < size && this.#head < queue.length) {
        const run = queue[this.#head++] as TaskRun
        if (!run.settled) runs.push(run)
      }
      this.#queued -= runs.length
      if (runs.length === 0) break
      // one free at least: at most `capacity` batches are in flight
      const cell = this.#freeCells.pop() as number
      Atomics.store(this.#progress, cell, 0)
      // read before posting: an abort from here on concerns these runs and is after this count
      const batch = new Batch(runs, this.#slots.aborts, cell)
      this.#busy++
      const task = batch.transfer === null ? this.#pool.run(batch.task) : this.#pool.run(batch.task, { transferList: batch.transfer })
      ;(task as Promise<BatchAnswer>).then(
        (answer) => {
          this.#handBack(batch.answered(answer))
          this.#adapt(answer)
          // the thread is free now (counting it busy any longer would make the next post see one free
          // thread too few, and pack every queued job onto this one). But the results it posted before this
          // answer are mostly still in the channel's queue, and the broker hands over a job for each as it
          // arrives: post a turn later, after them, so that those jobs join the next batch
          this.#release(cell)
          if (!this.#postDeferred) {
            this.#postDeferred = true
            setImmediate(this.#deferredPost)
          }
        },
        (cause: unknown) => {
          // results the thread posted before it died may still be on their way (a channel does not keep
          // order with tinypool's port): the progress cell says up to which job; those it never started go
          // back to the queue
          this.#handBack(batch.died(cause, Atomics.load(this.#progress, cell), this.#side.terminateTimeout))
          this.#release(cell)
          this.#post()
        },
      )
    }
    if (this.#head === queue.length) {
      queue.length = 0
      this.#head = 0
    }
  }

  /** Runs a thread handed back unstarted go to the front of the queue, in their order. */
  #handBack(runs: TaskRun[]): void {
    if (runs.length === 0) return
    const queue = this.#queue
    if (this.#head >= runs.length) {
      this.#head -= runs.length
      for (let k = 0; k < runs.length; k++) queue[this.#head + k] = runs[k] as TaskRun
    } else {
      this.#queue = runs.concat(queue.slice(this.#head))
      this.#head = 0
    }
    this.#queued += runs.length
  }

  /**
   * Whether the jobs are quick (ms per job in the batch's thread): batches are posted unless they are not, and
   * the default prefetch makes room for them only once they are (else one job per thread).
   */
  #adapt(answer: BatchAnswer): void {
    const quick = answer[2] / (answer[0] + 1) < QUICK_JOB_MS
    if (quick === this.#quick) return
    this.#quick = quick
    this.#setLimit?.(this.#hold())
  }

  /** Jobs the broker may hand the pool at once now. */
  #hold(): number {
    return this.#quick === true ? this.capacity + this.prefetch : this.#slowHold
  }

  #release(cell: number): void {
    this.#freeCells.push(cell)
    this.#busy--
  }
}

function isResult(message: UpdateMessage | ResultMessage): message is ResultMessage {
  return Array.isArray(message)
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
