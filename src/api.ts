/**
 * The public interfaces shared by the in-process broker and (later) remote connections: one client, worker
 * and admin API whether the job server lives in this process or across the network. Types only.
 */

/** Gearman's three priority lanes. */
export type Priority = 'high' | 'normal' | 'low'

/** Turns values into payload bytes and back. Applied to payloads, results and data/warning updates only. */
export interface Encoder<TIn, TOut = TIn> {
  encode(value: TIn): Uint8Array
  decode(data: Uint8Array): TOut
}

/** A progress update sent by the worker while a foreground job runs. */
export type JobUpdate<T> =
  | { readonly type: 'data'; readonly data: T }
  | { readonly type: 'warning'; readonly data: T }
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number }

export interface SubmitOptions {
  /** Default `'normal'`. */
  priority?: Priority | undefined
  /**
   * Coalescing key: a submit with the same function and unique as a live job attaches to it. Empty (the
   * default) never coalesces; `'-'` uses the payload bytes as the key. At most 64 bytes.
   */
  unique?: string | undefined
  /** Time limit for each attempt, ms; when it passes, the handler's `signal` fires and the attempt counts as lost. */
  timeout?: number | undefined
  /** Stop waiting: queued with no other waiter → removed; running → detached (the handler's signal fires if nobody else waits). */
  signal?: AbortSignal | undefined
}

export interface BackgroundOptions {
  priority?: Priority | undefined
  unique?: string | undefined
  timeout?: number | undefined
  /** Run at or after this time (a Date or epoch ms). */
  at?: Date | number | undefined
  /** Checked before submitting only: a background job, once accepted, no longer belongs to its submitter. */
  signal?: AbortSignal | undefined
}

/** One entry of {@link ClientApi.submitMany}. */
export interface JobSpec<TPayload> {
  name: string
  payload: TPayload
  options?: SubmitOptions | undefined
}

/** Where a submitted foreground job is, from its submitter's point of view. */
export type RequestState = 'pending' | 'completed' | 'failed'

/**
 * A submitted foreground job: await it (or its `result`) for the outcome, iterate `updates()` for progress.
 * Rejects with a typed error: JobFailedError, JobExceptionError, JobTimeoutError, WorkerLostError,
 * JobCancelledError, BrokerClosedError, QueueFullError, or the signal's reason. It is a Promise of the
 * result (then/catch/finally), with the job's identity and updates on top.
 */
export interface JobRequest<TResult, TUpdate = TResult> extends Promise<TResult> {
  readonly functionName: string
  readonly unique: string
  /** The job's handle once the server accepted it. */
  readonly handle: string | undefined
  readonly state: RequestState
  readonly result: Promise<TResult>
  /** Updates in the order the worker sent them (buffered from submission), ending when the job ends. One consumer. */
  updates(): AsyncIterableIterator<JobUpdate<TUpdate>>
}

/** A job's status, as Gearman's GET_STATUS reports it, plus the outcome when the result cache remembers it. */
export interface JobStatus {
  readonly handle: string
  /** The server knows the job (queued or running). */
  readonly known: boolean
  readonly running: boolean
  readonly numerator: number
  readonly denominator: number
  /** `completed`/`failed` only when the broker's result cache remembers the finished job. */
  readonly state: 'queued' | 'running' | 'completed' | 'failed' | 'unknown'
}

export interface UniqueStatus extends Omit<JobStatus, 'handle'> {
  readonly unique: string
  /** Foreground clients waiting on the job. */
  readonly waiting: number
}

/** A finished job's outcome, from the result cache. */
export type JobResult<T> =
  | { readonly state: 'completed'; readonly value: T }
  | { readonly state: 'failed'; readonly error: Error }

export interface WaitOptions {
  /** ms; on expiry the wait rejects with WaitTimeoutError (the jobs carry on). */
  timeout?: number | undefined
  signal?: AbortSignal | undefined
}

/** Submits jobs and asks about them. */
export interface ClientApi<TPayload, TResult> {
  submit<R = TResult>(name: string, payload: TPayload, options?: SubmitOptions): JobRequest<R, TResult>
  /** Resolves to the handle once the job is accepted. */
  submitBackground(name: string, payload: TPayload, options?: BackgroundOptions): Promise<string>
  /** python-gearman's `submit_multiple_jobs`. */
  submitMany<R = TResult>(jobs: readonly JobSpec<TPayload>[]): JobRequest<R, TResult>[]
  /** python-gearman's `wait_until_jobs_completed`: every outcome, or WaitTimeoutError. */
  waitAll<R>(requests: readonly JobRequest<R, unknown>[], options?: WaitOptions): Promise<PromiseSettledResult<R>[]>
  getStatus(handle: string): Promise<JobStatus>
  getStatusByUnique(unique: string, functionName?: string): Promise<UniqueStatus>
  /** A finished job's outcome while the result cache holds it; undefined otherwise. */
  getResult<R = TResult>(handle: string): Promise<JobResult<R> | undefined>
  close(): Promise<void>
}

/** What a handler receives: the job, its payload and its update channel. */
export interface JobContext<TPayload, TUpdate> {
  readonly handle: string
  readonly name: string
  readonly unique: string
  /** The payload bytes as submitted. */
  readonly data: Buffer
  /** The payload decoded by the worker's encoder. */
  readonly payload: TPayload
  /** 1 on the first attempt; more after worker loss or timeouts. */
  readonly attempt: number
  /** Fires on timeout, cancel, close, worker close, or when every waiting client left. */
  readonly signal: AbortSignal
  /** Streams data to every waiting client (WORK_DATA). Returns false once the attempt is no longer current. */
  sendData(data: TUpdate): boolean
  sendWarning(data: TUpdate): boolean
  sendStatus(numerator: number, denominator: number): boolean
}

/** Runs one job. Return the result; throw JobFailedError to fail, WorkerLostError to have it retried, anything else for an exception. */
export type Handler<TPayload, TResult, TUpdate = TResult> = (job: JobContext<TPayload, TUpdate>) => TResult | PromiseLike<TResult>

export interface RegisterOptions {
  /** Per-attempt time limit, ms (Gearman's CAN_DO_TIMEOUT); 0 = none. */
  timeout?: number | undefined
  /** Jobs of this function run at once on this worker. Default 1. */
  concurrency?: number | undefined
}

export interface CloseOptions {
  /** Default true: stop taking jobs and let running ones finish (within `timeout`). False: drop them now. */
  graceful?: boolean | undefined
  /** Deadline for a graceful close, ms. */
  timeout?: number | undefined
}

/** Registers handlers for functions and runs their jobs. */
export interface WorkerApi<TPayload, TResult> {
  readonly id: string
  register<P = TPayload, R = TResult>(name: string, handler: Handler<P, R, TResult>, options?: RegisterOptions): void
  unregister(name: string): boolean
  /** Graceful by default: running jobs finish; with `graceful: false` they are lost and retried elsewhere. */
  close(options?: CloseOptions): Promise<void>
}

/** Admin `status`: one row per function. */
export interface FunctionStatus {
  readonly name: string
  /** Queued (including scheduled) plus running: gearmand's TOTAL, what maxQueue limits. */
  readonly total: number
  /** Waiting to run (including scheduled). */
  readonly queued: number
  readonly running: number
  /** Registered workers. */
  readonly workers: number
  /** Registered workers running nothing. */
  readonly availableWorkers: number
  /** Waiting per priority (gearmand's `prioritystatus`). */
  readonly byPriority: { readonly high: number; readonly normal: number; readonly low: number }
  /** 0 = unlimited. */
  readonly maxQueue: { readonly high: number; readonly normal: number; readonly low: number }
}

export interface WorkerInfo {
  readonly id: string
  readonly functions: readonly string[]
  readonly running: number
}

export interface JobInfo {
  readonly handle: string
  readonly functionName: string
  readonly unique: string
  readonly priority: Priority
  readonly background: boolean
  readonly state: 'scheduled' | 'queued' | 'running'
  readonly attempts: number
  /** Foreground clients waiting. */
  readonly waiting: number
  /** Epoch ms for scheduled jobs, else 0. */
  readonly runAt: number
}

export type MaxQueueLimits = number | { high?: number | undefined; normal?: number | undefined; low?: number | undefined }

/** Gearman's administrative commands. */
export interface AdminApi {
  status(): Promise<FunctionStatus[]>
  workers(): Promise<WorkerInfo[]>
  /** Sets per-priority limits (0 = unlimited); false when the function does not exist. */
  maxQueue(name: string, limits: MaxQueueLimits): Promise<boolean>
  /** Cancels a live job; false for an unknown handle. */
  cancelJob(handle: string): Promise<boolean>
  createFunction(name: string): Promise<void>
  /** Removes a function with no workers and no running jobs (FunctionInUseError otherwise); false when unknown. */
  dropFunction(name: string): Promise<boolean>
  showJobs(): Promise<JobInfo[]>
  showUniqueJobs(): Promise<{ readonly functionName: string; readonly unique: string; readonly handle: string }[]>
  version(): Promise<string>
  /** Round-trip time in ms. */
  ping(): Promise<number>
}
