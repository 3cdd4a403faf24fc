import type { JobContext } from '../api.js'
import { GearboxError, HandlerModuleError, JobFailedError, WorkerLostError } from '../errors.js'
import { ABORT_CODES, type AbortMessage, type ThreadAnswer, type ThreadOutcome, type UpdateMessage } from './messages.js'
import type { HandlerSpec } from './batch.js'
import { kOnAbort, type OnAbortHook } from '../symbols.js'

/** What a task run needs from its pool. */
export interface PoolSide {
  readonly gracePeriod: number
  readonly terminateTimeout: number
  /** Registers a live run (the pool routes updates to it) or removes it. */
  track(id: number, run: TaskRun | null): void
  postDown(message: AbortMessage): void
  /** Records an abort in shared memory, for a thread that has not started the task yet (it skips it). */
  markAborted(id: number, code: number): void
  /** Terminates the thread running task `id` (tinypool then fails the task and replaces the thread). */
  kill(id: number, reason: Error): boolean
  /** Whether the pool has a thread that will reach a task still waiting in its batch. */
  hasThreads(): boolean
}

const NOT_ABORTED = Symbol('not aborted')

/** ms between looks for the thread of an aborted task that had not started (in its batch) when its grace period ended. */
const RECHECK_MS = 50

/**
 * One job attempt on the pool, from the main thread's side: waits in the pool's queue, then runs in a batch
 * (see Batch); forwards the thread's updates to the job, settles once the outcome and every update it counts
 * have arrived, and escalates a fired signal from a cooperative abort to terminating the thread after the
 * grace period. Its promise always settles, even if a thread never terminates.
 */
export class TaskRun {
  readonly id: number
  readonly job: JobContext<Buffer, Uint8Array>
  readonly spec: HandlerSpec
  readonly #pool: PoolSide
  readonly #resolve: (data: Uint8Array) => void
  readonly #reject: (err: unknown) => void
  /** The job's listener slot (kOnAbort), called with the job as `this`; null: the job's signal is watched. */
  readonly #hook: OnAbortHook | null
  #received = 0
  #killed = false
  #outcome: ThreadOutcome | null = null
  #timer: NodeJS.Timeout | null = null
  #settled = false
  /** Posted to a thread in a batch (until then it waits in the pool's queue, and an abort settles it at once). */
  posted = false
  /** The reason of the abort, once the job's signal fired. */
  #abortReason: unknown = NOT_ABORTED

  constructor(
    id: number,
    job: JobContext<Buffer, Uint8Array>,
    spec: HandlerSpec,
    pool: PoolSide,
    resolve: (data: Uint8Array) => void,
    reject: (err: unknown) => void,
  ) {
    this.id = id
    this.job = job
    this.spec = spec
    this.#pool = pool
    this.#resolve = resolve
    this.#reject = reject
    pool.track(id, this)
    // in-process jobs offer a listener slot that costs no AbortController per job; others, the signal
    this.#hook = (job as { [kOnAbort]?: OnAbortHook })[kOnAbort] ?? null
    if (this.#hook !== null) this.#hook.call(job, this.#onAbort)
    else job.signal.addEventListener('abort', this, { once: true })
  }

  /** The job's signal fired (jobs without a listener slot): the run is its own listener, so no closure is made. */
  handleEvent(): void {
    this.#onAbort(this.job.signal.reason)
  }

  get settled(): boolean {
    return this.#settled
  }

  /** The thread's answer for this attempt. */
  onAnswer(answer: ThreadAnswer): void {
    // bare bytes: completed without updates
    if (answer instanceof Uint8Array || this.#received >= answer.updates) this.#settle(answer, null)
    else this.#outcome = answer // the rest of its updates are on their way
  }

  /**
   * The thread handed this attempt back unstarted: true if it goes back to the pool's queue, false if it was
   * aborted meanwhile (it is over: settled as lost).
   */
  handedBack(): boolean {
    if (this.#settled) return false
    if (this.#abortReason !== NOT_ABORTED) {
      this.#settleUnstarted(this.#abortReason)
      return false
    }
    this.posted = false
    return true
  }

  /** The thread running this attempt's batch died or was terminated before answering for it. */
  onDeath(cause: unknown): void {
    const message = this.#killed ? 'thread terminated after the grace period' : 'thread died while running the job or its batch'
    this.#settle(null, new WorkerLostError(message, 0, { cause }))
  }

  /** The pool closed: it gave up on the threads it could not stop, or the run was never posted. No answer will come for it. */
  onClosed(): void {
    this.#settle(null, new WorkerLostError(this.posted ? 'thread pool closed before the job\'s thread ended' : 'thread pool closed before a thread took the job'))
  }

  /** An update the thread posted; updates arrive in the order they were sent. */
  onUpdate(message: UpdateMessage): void {
    const job = this.job
    switch (message.type) {
      case 'data':
        job.sendData(message.data)
        break
      case 'warning':
        job.sendWarning(message.data)
        break
      case 'status':
        job.sendStatus(message.numerator, message.denominator)
        break
    }
    this.#received++
    const outcome = this.#outcome
    if (outcome !== null && this.#received >= outcome.updates) this.#settle(outcome, null)
  }

  /** Asks the thread to stop: a message for a running handler, a mark for a thread yet to start the task. */
  abortInThread(reason: unknown): void {
    const code = reason instanceof GearboxError ? reason.code : 'GEARBOX_JOB_CANCELLED'
    const message = reason instanceof Error ? reason.message : 'job aborted'
    this.#pool.markAborted(this.id, Math.max(0, (ABORT_CODES as readonly string[]).indexOf(code)))
    this.#pool.postDown({ type: 'abort', id: this.id, code, message })
  }

  readonly #onAbort = (reason: unknown): void => {
    this.#abortReason = reason
    if (!this.posted) {
      // still in the pool's queue: it will never reach a thread
      this.#settleUnstarted(reason)
      return
    }
    this.abortInThread(reason)
    // tier two: terminate the thread if the handler has not returned after the grace period
    this.#timer = setTimeout(() => {
      this.#terminate()
    }, this.#pool.gracePeriod)
  }

  #settleUnstarted(reason: unknown): void {
    const code = reason instanceof GearboxError ? reason.code : 'GEARBOX_JOB_CANCELLED'
    this.#settle(null, new WorkerLostError(`job aborted (${code}) before it started`))
  }

  #terminate(): void {
    this.#killed = this.#pool.kill(this.id, new WorkerLostError('handler ignored its signal for the grace period'))
    if (!this.#killed && this.#pool.hasThreads()) {
      // not started yet (waiting in its batch): its thread will skip it or hand it back, which settles the run.
      // Until then the run keeps its slot, or the broker would hand the pool more than capacity + prefetch.
      // Look again later, in case a thread started it just before the abort was recorded.
      this.#timer = setTimeout(() => {
        this.#terminate()
      }, RECHECK_MS)
      return
    }
    // tinypool's terminate can hang: stop waiting for it after terminateTimeout
    this.#timer = setTimeout(() => {
      this.#settle(null, new WorkerLostError(`thread did not terminate within ${this.#pool.terminateTimeout} ms`))
    }, this.#pool.terminateTimeout)
  }

  #settle(outcome: ThreadAnswer | null, error: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#hook !== null) this.#hook.call(this.job, null)
    else this.job.signal.removeEventListener('abort', this)
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#pool.track(this.id, null)
    if (outcome === null) {
      this.#reject(error)
      return
    }
    if (outcome instanceof Uint8Array) {
      this.#resolve(outcome)
      return
    }
    switch (outcome.kind) {
      case 'complete':
        this.#resolve(outcome.data)
        break
      case 'fail':
        this.#reject(new JobFailedError(outcome.message))
        break
      case 'lost':
        this.#reject(new WorkerLostError(outcome.message))
        break
      case 'exception':
        this.#reject(
          outcome.code === 'GEARBOX_HANDLER_MODULE' ? new HandlerModuleError(this.spec.module, outcome.message) : new ThreadError(outcome.message, outcome.code),
        )
        break
    }
  }
}

/** An error a handler threw inside a thread, rebuilt in the main thread (its `code`, if it had one, is kept). */
export class ThreadError extends Error {
  readonly threadCode: string | undefined
  constructor(message: string, threadCode: string | undefined) {
    super(message)
    this.name = 'ThreadError'
    this.threadCode = threadCode
  }
}
