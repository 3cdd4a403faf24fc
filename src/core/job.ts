import type { FunctionEntry } from './function-entry.js'
import type { ClientSession, Registration } from './sessions.js'

/** Gearman's priority numbers: what durable queues store and what lanes are indexed by. */
export const PRIORITY_HIGH = 0
export const PRIORITY_NORMAL = 1
export const PRIORITY_LOW = 2
export type PriorityLevel = 0 | 1 | 2

/**
 * Where a job is in its life: `pending` (a background job waiting for its store write), `scheduled` (waiting
 * for `dueAt`), `queued` (in a lane), `running` (assigned to a worker) or `done` (gone from every index). A job
 * that ends while still in a lane or the schedule stays there as a tombstone, skipped when it reaches the head,
 * so removal is O(1).
 */
export type JobState = 'pending' | 'scheduled' | 'queued' | 'running' | 'done'

/**
 * One job. Every field is set in the constructor, in the same order, so all jobs share one hidden class.
 * Owned by the engine; sessions read it and hand it back, never mutate it.
 */
export class Job {
  /** Server-wide counter; also the creation order used for "oldest first". */
  readonly id: number
  readonly fn: FunctionEntry
  readonly unique: string
  readonly data: Uint8Array
  readonly priority: PriorityLevel
  /** No client needs to wait for it to be worth running (a background submission created or joined it). */
  background: boolean
  /** Epoch ms before which the job is not handed out; 0 = now. */
  readonly dueAt: number
  /** Per-job time limit for each attempt, ms; 0 = none (the function's timeout may still apply). */
  readonly timeout: number
  /** Reducer name of a SUBMIT_REDUCE_JOB ('' for ordinary jobs). */
  readonly reducer: string
  state: JobState = 'queued'
  /** Attempts handed out so far (counted at hand-out). */
  attempts = 0
  numerator = 0
  denominator = 0
  /** True once a status update arrived in the current attempt (late joiners get it at once). */
  hasStatus = false
  /** Attached foreground clients; null for none. */
  clients: ClientSession[] | null
  /** The registration (worker + function) the current attempt runs under. */
  assignment: Registration | null = null
  /** The running attempt's timeout timer. */
  timer: unknown = null
  /** The push session's state for the running attempt (e.g. the handler's context). */
  runner: unknown = null
  /** Key in the function's unique index, or null if the job does not coalesce. */
  uniqueKey: string | null
  /** The job store holds (or is about to write) its row. */
  stored = false

  constructor(
    id: number,
    fn: FunctionEntry,
    unique: string,
    uniqueKey: string | null,
    data: Uint8Array,
    priority: PriorityLevel,
    background: boolean,
    dueAt: number,
    timeout: number,
    reducer: string,
    client: ClientSession | null,
  ) {
    this.id = id
    this.fn = fn
    this.unique = unique
    this.data = data
    this.priority = priority
    this.background = background
    this.dueAt = dueAt
    this.timeout = timeout
    this.reducer = reducer
    this.clients = client === null ? null : [client]
    this.uniqueKey = uniqueKey
  }
}
