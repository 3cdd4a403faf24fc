import type { GearboxError } from '../errors.js'
import type { FunctionEntry } from './function-entry.js'
import type { Job } from './job.js'

/**
 * A client session receives what happens to the foreground jobs it is attached to. An in-process job
 * request and a TCP connection are both client sessions. Calls arrive in the order the worker sent them.
 */
export interface ClientSession {
  onData(job: Job, data: Uint8Array): void
  onWarning(job: Job, data: Uint8Array): void
  onStatus(job: Job, numerator: number, denominator: number): void
  onComplete(job: Job, data: Uint8Array): void
  /** WORK_FAIL: explicit failure, retries exhausted, cancel or close; `error` says which. */
  onFail(job: Job, error: GearboxError): void
  /** WORK_EXCEPTION: `data` is the exception bytes; `cause` is the thrown value when the worker is in-process. */
  onException(job: Job, data: Uint8Array, cause: unknown): void
}

/**
 * A worker session runs jobs. `push` sessions (in-process handlers, thread slots) are handed a job the moment
 * one is eligible; `pull` sessions (remote workers) are woken and take jobs with {@link Engine.grab}.
 */
export interface WorkerSession {
  readonly mode: 'push' | 'pull'
  /** Push: run `job` under `registration`. Report back through the engine, then call `engine.release`. */
  run(job: Job, registration: Registration): void
  /** Pull: work is waiting (Gearman's NOOP). */
  wake(): void
  /** The engine took a running job away (timeout, cancel, close, last client gone): stop working on it. */
  revoke(job: Job, reason: GearboxError): void
}

/** The engine's record of one worker session. */
export class WorkerRecord {
  readonly session: WorkerSession
  /** Shown by admin `workers` (Gearman's client id). */
  id: string
  /** Jobs this worker may run at once across its functions (Infinity for pull workers). */
  readonly concurrency: number
  /** Attempts handed out and not yet released (push) or finished (pull). */
  active = 0
  /** In registration order. */
  readonly registrations: Registration[] = []
  /** Running jobs, for loss when the worker goes away. */
  readonly jobs = new Set<Job>()
  /** Pull workers: PRE_SLEEP received / NOOP already sent. */
  sleeping = false
  noopSent = false
  /** No new jobs (graceful stop in progress, or gone). */
  closing = false

  constructor(session: WorkerSession, id: string, concurrency: number) {
    this.session = session
    this.id = id
    this.concurrency = concurrency
  }
}

/** One function registered on one worker (Gearman's CAN_DO / CAN_DO_TIMEOUT), with its own slot count. */
export class Registration {
  readonly fn: FunctionEntry
  readonly worker: WorkerRecord
  /** Per-attempt time limit, ms; 0 = none. */
  readonly timeout: number
  readonly concurrency: number
  /** The session's own data for this registration (e.g. the handler). */
  readonly data: unknown
  /** Capacity shared with other registrations (e.g. one thread pool's), or null. */
  readonly group: SlotGroup | null
  active = 0

  constructor(fn: FunctionEntry, worker: WorkerRecord, timeout: number, concurrency: number, data: unknown, group: SlotGroup | null) {
    this.fn = fn
    this.worker = worker
    this.timeout = timeout
    this.concurrency = concurrency
    this.data = data
    this.group = group
  }
}

/**
 * Capacity shared by registrations on any workers: every function served by one thread pool belongs to one
 * group, so the pool is never handed more jobs than it can run and the rest wait in the broker's lanes, in
 * priority order.
 */
export class SlotGroup {
  /** Jobs the group's registrations may run at once; its owner may change it (Engine.setGroupLimit). */
  limit: number
  active = 0
  readonly registrations: Registration[] = []

  constructor(limit: number) {
    this.limit = limit
  }
}
