import {
  BrokerClosedError,
  FunctionInUseError,
  type GearboxError,
  JobCancelledError,
  JobFailedError,
  JobTimeoutError,
  QueueFullError,
  type StoreError,
  WorkerLostError,
} from '../errors.js'
import type { Clock } from './clock.js'
import { FunctionEntry } from './function-entry.js'
import { Job, type PriorityLevel } from './job.js'
import type { JobOutcome, ResultCache } from './result-cache.js'
import { hasRoom, pickFrom, pickRegistration, wakeSleepers } from './dispatch.js'
import { type DurableCallback, Journal } from './journal.js'
import { checkFunctionName, checkUnique, uniqueKeyOf } from './limits.js'
import { Schedule } from './schedule.js'
import { type ClientSession, Registration, SlotGroup, WorkerRecord, type WorkerSession } from './sessions.js'
import type { JobStore, StoredJob } from './store.js'

export interface EngineOptions {
  /** Handles are `${handlePrefix}:${n}`. */
  readonly handlePrefix: string
  /** Attempts before a lost job fails; 0 = unlimited. */
  readonly jobRetries: number
  readonly roundRobin: boolean
  /** Sleeping pull workers woken per queued job; 0 = all. */
  readonly workerWakeup: number
  /** Default per-priority limit for new functions; 0 = unlimited. */
  readonly maxQueue: number
  readonly clock: Clock
  readonly resultCache: ResultCache | null
  /** Where background jobs are kept across restarts; none = memory only. */
  readonly store?: JobStore | null
}

/** Hooks for observation (events, metrics); never on the job ⇄ result path. */
export interface EngineObserver {
  jobFinished(job: Job, handle: string, outcome: JobOutcome): void
  jobRetried(job: Job, handle: string, cause: GearboxError): void
}

/** What a submission asks for beyond function, unique and data. */
export interface SubmitSpec {
  readonly priority: PriorityLevel
  readonly background: boolean
  /** Epoch ms; 0 or past = now. */
  readonly dueAt: number
  /** Per-attempt limit, ms; 0 = none. */
  readonly timeout: number
  readonly reducer: string
}

/** Live counts of one function (admin `status` / `prioritystatus`). */
export interface FunctionCounts {
  readonly name: string
  readonly total: number
  readonly running: number
  readonly queued: readonly [number, number, number]
  readonly workers: number
  readonly idleWorkers: number
  readonly maxQueue: readonly [number, number, number]
}

/**
 * The broker's core: functions, lanes, the unique index, the job table, dispatch, retries and timers.
 * Synchronous and I/O-free; edges (in-process API, threads, TCP) talk to it through sessions.
 */
export class Engine {
  readonly #options: EngineOptions
  readonly #handlePrefix: string
  readonly #functions = new Map<string, FunctionEntry>()
  readonly #jobs = new Map<number, Job>()
  readonly #workers = new Set<WorkerRecord>()
  readonly #groups = new WeakMap<object, SlotGroup>()
  readonly #schedule: Schedule
  #nextId = 1
  #running = 0
  /** Push slots busy (a revoked handler still holds its slot until it settles). */
  #busySlots = 0
  readonly #dirty: FunctionEntry[] = []
  #flushQueued = false
  #closed = false
  #idleWaiters: (() => void)[] = []
  readonly #journal: Journal | null
  /** Set while close() ends jobs that must stay in the store (they are replayed at the next start). */
  #keepRows = false
  /** Set while someone listens; null keeps the finish path free of event work. */
  observer: EngineObserver | null = null
  readonly #flush = (): void => {
    this.#flushDirty()
  }

  constructor(options: EngineOptions) {
    this.#options = options
    this.#handlePrefix = options.handlePrefix + ':'
    this.#schedule = new Schedule(options.clock, (job) => {
      job.fn.scheduled[job.priority]--
      this.#enqueue(job, false)
    })
    const store = options.store ?? null
    this.#journal =
      store === null
        ? null
        : new Journal(store, {
            written: (jobs) => {
              this.#written(jobs)
            },
            refused: (jobs, error) => {
              this.#refused(jobs, error)
            },
          })
  }

  get closed(): boolean {
    return this.#closed
  }

  get clock(): Clock {
    return this.#options.clock
  }

  get resultCache(): ResultCache | null {
    return this.#options.resultCache
  }

  /** Live jobs (queued, scheduled or running). */
  get size(): number {
    return this.#jobs.size
  }

  get runningCount(): number {
    return this.#running
  }

  handleOf(job: Job): string {
    return this.handleFor(job.id)
  }

  handleFor(jobId: number): string {
    // toFixed, not String(): V8's number-to-string cache keeps String()'s results alive into the old
    // generation, which doubled GC work per job in the benchmark
    return this.#handlePrefix + jobId.toFixed(0)
  }

  /** Handles start with this (the prefix and its `:`). */
  get handleStart(): string {
    return this.#handlePrefix
  }

  /** The live job with this id (the number at the end of its handle). */
  jobById(id: number): Job | undefined {
    return this.#jobs.get(id)
  }

  jobByHandle(handle: string): Job | undefined {
    if (!handle.startsWith(this.#handlePrefix)) return undefined
    const digits = handle.slice(this.#handlePrefix.length)
    const id = Number(digits)
    if (!Number.isSafeInteger(id) || String(id) !== digits) return undefined
    return this.#jobs.get(id)
  }

  // ---------------------------------------------------------------- submission

  /**
   * Creates a job, or attaches `client` to the live job with the same function and unique.
   * Throws (nothing queued) when closed, over `maxQueue`, or when a name or unique breaks Gearman's limits.
   * A late joiner should be sent the latest status by its caller once it has acknowledged the submission.
   */
  submit(name: string, unique: string, data: Uint8Array, spec: SubmitSpec, client: ClientSession | null): Job {
    if (this.#closed) throw new BrokerClosedError()
    checkUnique(unique)
    const fn = this.#functions.get(name) ?? this.#createFunction(name)
    const key = uniqueKeyOf(unique, data)
    if (key !== null) {
      const live = fn.uniques.get(key)
      if (live !== undefined) {
        if (client !== null) {
          if (live.clients === null) live.clients = [client]
          else live.clients.push(client)
        } else {
          live.background = true
          // a background submitter was promised this job: keep it in the store from now on
          if (this.#journal !== null && !live.stored) {
            live.stored = true
            this.#journal.add(live)
          }
        }
        return live
      }
    }
    const limit = fn.maxQueue[spec.priority]
    if (limit > 0 && fn.total >= limit) throw new QueueFullError(name, limit)
    const job = new Job(
      this.#nextId++,
      fn,
      unique,
      key,
      data,
      spec.priority,
      spec.background,
      spec.dueAt,
      spec.timeout,
      spec.reducer,
      client,
    )
    this.#jobs.set(job.id, job)
    if (key !== null) fn.uniques.set(key, job)
    if (spec.background && this.#journal !== null) {
      // not handed out before its row is written: a refused write then withdraws a job nobody has seen
      job.state = 'pending'
      job.stored = true
      fn.pending++
      this.#journal.add(job)
    } else {
      this.#release(job)
    }
    return job
  }

  /** True when `job`'s acknowledgement must wait for its store write ({@link whenDurable}). */
  awaitsDurability(job: Job): boolean {
    return this.#journal?.has(job) ?? false
  }

  /**
   * For a job that {@link awaitsDurability}: calls `done` after the write that holds it (with a StoreError if
   * that write failed: the job is gone, do not acknowledge it).
   */
  whenDurable(job: Job, done: DurableCallback): void {
    this.#journal?.wait(job, done)
  }

  /**
   * Replays jobs loaded from the store (before anything else is submitted), with their ids, so handles survive
   * a restart and new jobs do not collide with them. Queued in the order given: FIFO within each priority.
   */
  restore(jobs: readonly StoredJob[]): void {
    for (const s of jobs) {
      const fn = this.#functions.get(s.functionName) ?? this.#createFunction(s.functionName)
      const key = uniqueKeyOf(s.unique, s.data)
      const job = new Job(s.id, fn, s.unique, key, s.data, s.priority, true, s.dueAt, s.timeout, s.reducer, null)
      job.stored = true
      this.#jobs.set(job.id, job)
      if (key !== null && !fn.uniques.has(key)) fn.uniques.set(key, job)
      if (s.id >= this.#nextId) this.#nextId = s.id + 1
      this.#release(job)
    }
  }

  /** New jobs get ids from `id` on (a store's high-water mark after a restart), if that is above the next one. */
  reserveIds(id: number): void {
    if (id > this.#nextId) this.#nextId = id
  }

  /**
   * Writes what the store is waiting for now, and closes it (the last step of closing the broker). Throws the
   * StoreError if that last write failed (its removals are lost: those jobs run again at the next start).
   */
  closeStore(): void {
    const error = this.#journal?.close() ?? null
    this.#options.store?.close()
    if (error !== null) throw error
  }

  /**
   * A client stops waiting on `job` (abort, disconnect). A queued foreground job nobody waits for any more is
   * dropped; a running one is abandoned, as in gearmand: its worker is asked to stop (an in-process handler's
   * signal fires) but may still report, and what it reports is absorbed; it is not retried if lost.
   */
  detach(job: Job, client: ClientSession): void {
    const clients = job.clients
    if (clients === null) return
    const i = clients.indexOf(client)
    if (i === -1) return
    clients.splice(i, 1)
    if (clients.length > 0 || job.background) return
    job.clients = null
    if (job.state === 'running') job.assignment?.worker.session.revoke(job, new JobCancelledError('every waiting client left'))
    else this.#drop(job, new JobCancelledError('every waiting client left'))
  }

  // ---------------------------------------------------------------- workers

  addWorker(session: WorkerSession, id: string, concurrency: number): WorkerRecord {
    const worker = new WorkerRecord(session, id, concurrency)
    this.#workers.add(worker)
    return worker
  }

  /** Registers `name` on `worker` (CAN_DO / CAN_DO_TIMEOUT). Duplicates add another registration, as in gearmand. */
  register(
    worker: WorkerRecord,
    name: string,
    timeout: number,
    concurrency: number,
    data: unknown = null,
    group: SlotGroup | null = null,
  ): Registration {
    if (this.#closed) throw new BrokerClosedError()
    const fn = this.#functions.get(name) ?? this.#createFunction(name)
    const reg = new Registration(fn, worker, timeout, concurrency, data, group)
    worker.registrations.push(reg)
    fn.registrations.push(reg)
    group?.registrations.push(reg)
    if (worker.session.mode === 'pull') fn.pullWorkers++
    else this.#markDirty(fn)
    return reg
  }

  /**
   * Removes every registration of `name` from `worker` (CANT_DO). With `loseRunning` its running jobs of that
   * function go back to the queue (gearmand's behaviour); otherwise they may still finish.
   */
  unregister(worker: WorkerRecord, name: string, loseRunning: boolean): boolean {
    let found = false
    for (let i = worker.registrations.length - 1; i >= 0; i--) {
      const reg = worker.registrations[i] as Registration
      if (reg.fn.name !== name) continue
      found = true
      this.#unlink(reg)
      worker.registrations.splice(i, 1)
    }
    if (found && loseRunning) {
      for (const job of [...worker.jobs]) {
        if (job.fn.name === name) this.#revokeAndLose(job, new WorkerLostError('function unregistered while running'))
      }
    }
    return found
  }

  /** Stops handing jobs to `worker`; its running jobs continue (graceful stop). */
  pauseWorker(worker: WorkerRecord): void {
    worker.closing = true
  }

  /**
   * Removes `worker`. Jobs it still runs are lost: back to the head of their lane, or failed when out of
   * attempts. The session's `revoke` is called for each.
   */
  removeWorker(worker: WorkerRecord): void {
    if (!this.#workers.delete(worker)) return
    worker.closing = true
    // handlers of a removed worker no longer count as busy: whatever they do now is ignored
    if (worker.session.mode === 'push') this.#busySlots -= worker.active
    for (const reg of worker.registrations) this.#unlink(reg)
    worker.registrations.length = 0
    for (const job of [...worker.jobs]) this.#revokeAndLose(job, new WorkerLostError('worker closed while running the job'))
    this.#checkIdle()
  }

  /** The slot group for `key` (one per thread pool, say), created with `limit` on first use. */
  slotGroup(key: object, limit: number): SlotGroup {
    let group = this.#groups.get(key)
    if (group === undefined) {
      group = new SlotGroup(limit)
      this.#groups.set(key, group)
    }
    return group
  }

  /** Changes what a slot group may run at once (a thread pool adapting to its jobs); a rise hands out more now. */
  setGroupLimit(group: SlotGroup, limit: number): void {
    group.limit = limit
    this.#fillGroup(group)
  }

  /** Pull: the next job for `worker` (GRAB_JOB), or undefined (NO_JOB). */
  grab(worker: WorkerRecord): Job | undefined {
    worker.sleeping = false
    worker.noopSent = false
    if (worker.closing || !this.#workers.has(worker)) return undefined
    return this.#assignNext(worker)
  }

  /** Pull: PRE_SLEEP. Returns true when work is waiting (send NOOP now); otherwise the worker sleeps. */
  sleep(worker: WorkerRecord): boolean {
    for (const reg of worker.registrations) {
      if (reg.fn.lanes.peek() !== undefined) return true
    }
    worker.sleeping = true
    worker.noopSent = false
    return false
  }

  /** A push slot finished with its job (after reporting or being revoked): frees it and hands out the next job. */
  release(reg: Registration): void {
    const worker = reg.worker
    const group = reg.group
    reg.active--
    worker.active--
    if (group !== null) group.active--
    if (!this.#workers.has(worker)) {
      if (group !== null) this.#fillGroup(group)
      return
    }
    this.#busySlots--
    if (group !== null) this.#fillGroup(group)
    if (!worker.closing) this.#fill(worker)
    this.#checkIdle()
  }

  // ---------------------------------------------------------------- reports from the worker running a job

  /** True when `worker` runs the current attempt `attempt` of `job` (-1: any attempt). */
  owns(job: Job, worker: WorkerRecord, attempt: number): boolean {
    return job.state === 'running' && job.assignment?.worker === worker && (attempt < 0 || job.attempts === attempt)
  }

  workData(job: Job, worker: WorkerRecord, attempt: number, data: Uint8Array): boolean {
    if (!this.owns(job, worker, attempt)) return false
    const clients = job.clients
    if (clients !== null) for (const c of clients) c.onData(job, data)
    return true
  }

  workWarning(job: Job, worker: WorkerRecord, attempt: number, data: Uint8Array): boolean {
    if (!this.owns(job, worker, attempt)) return false
    const clients = job.clients
    if (clients !== null) for (const c of clients) c.onWarning(job, data)
    return true
  }

  workStatus(job: Job, worker: WorkerRecord, attempt: number, numerator: number, denominator: number): boolean {
    if (!this.owns(job, worker, attempt)) return false
    job.numerator = numerator
    job.denominator = denominator
    job.hasStatus = true
    const clients = job.clients
    if (clients !== null) for (const c of clients) c.onStatus(job, numerator, denominator)
    return true
  }

  workComplete(job: Job, worker: WorkerRecord, attempt: number, data: Uint8Array): boolean {
    if (!this.owns(job, worker, attempt)) return false
    const clients = this.#finish(job)
    if (clients !== null) for (const c of clients) c.onComplete(job, data)
    this.#finished(job, { state: 'completed', data })
    return true
  }

  /** WORK_FAIL: final, never retried. */
  workFail(job: Job, worker: WorkerRecord, attempt: number, error: GearboxError = new JobFailedError()): boolean {
    if (!this.owns(job, worker, attempt)) return false
    this.#failJob(job, error)
    return true
  }

  /** WORK_EXCEPTION: final, never retried. */
  workException(job: Job, worker: WorkerRecord, attempt: number, data: Uint8Array, cause: unknown): boolean {
    if (!this.owns(job, worker, attempt)) return false
    const clients = this.#finish(job)
    if (clients !== null) for (const c of clients) c.onException(job, data, cause)
    this.#finished(job, { state: 'exception', data })
    return true
  }

  /** The worker says it lost the attempt (crash, thread death): retry rules apply. */
  workLost(job: Job, worker: WorkerRecord, attempt: number, cause: GearboxError): boolean {
    if (!this.owns(job, worker, attempt)) return false
    this.#lose(job, cause)
    return true
  }

  // ---------------------------------------------------------------- admin

  /** Cancels a live job: its clients get a JobCancelledError; a running job's worker is told to stop. */
  cancel(handle: string): boolean {
    const job = this.jobByHandle(handle)
    if (job === undefined) return false
    this.#drop(job, new JobCancelledError())
    return true
  }

  createFunction(name: string): void {
    if (!this.#functions.has(name)) this.#createFunction(name)
  }

  /** Removes a function that has no workers and no running jobs; its queued jobs are cancelled. */
  dropFunction(name: string): boolean {
    const fn = this.#functions.get(name)
    if (fn === undefined) return false
    if (fn.registrations.length > 0 || fn.running > 0) throw new FunctionInUseError(name)
    // jobs still waiting for their store write are cancelled too: they leave the coming write without reaching the store
    const pending = fn.pending > 0 ? [...this.#jobs.values()].filter((j) => j.fn === fn && j.state === 'pending') : []
    for (const job of [...pending, ...fn.lanes.jobs(), ...this.#schedule.jobs().filter((j) => j.fn === fn)]) {
      this.#drop(job, new JobCancelledError('function dropped'))
    }
    this.#functions.delete(name)
    return true
  }

  setMaxQueue(name: string, limits: readonly [number, number, number]): boolean {
    const fn = this.#functions.get(name)
    if (fn === undefined) return false
    fn.maxQueue[0] = limits[0]
    fn.maxQueue[1] = limits[1]
    fn.maxQueue[2] = limits[2]
    return true
  }

  functionCounts(): FunctionCounts[] {
    const out: FunctionCounts[] = []
    for (const fn of this.#functions.values()) {
      let idle = 0
      for (const reg of fn.registrations) if (reg.worker.active === 0 && !reg.worker.closing) idle++
      const c = fn.lanes.counts
      out.push({
        name: fn.name,
        total: fn.total,
        running: fn.running,
        queued: [c[0] + fn.scheduled[0], c[1] + fn.scheduled[1], c[2] + fn.scheduled[2]],
        workers: fn.registrations.length,
        idleWorkers: idle,
        maxQueue: [...fn.maxQueue],
      })
    }
    return out
  }

  workers(): WorkerRecord[] {
    return [...this.#workers]
  }

  /** Every live job: running, then queued by function (high lane first), then scheduled. */
  liveJobs(): Job[] {
    const out: Job[] = []
    for (const job of this.#jobs.values()) if (job.state === 'running' || job.state === 'pending') out.push(job)
    for (const fn of this.#functions.values()) for (const job of fn.lanes.jobs()) out.push(job)
    out.push(...this.#schedule.jobs())
    return out
  }

  /** The first live job with this unique (in `name` if given; otherwise any function, as GET_STATUS_UNIQUE). */
  jobByUnique(unique: string, name?: string): Job | undefined {
    if (unique === '' || unique === '-') return undefined
    if (name !== undefined) return this.#functions.get(name)?.uniques.get(unique)
    for (const fn of this.#functions.values()) {
      const job = fn.uniques.get(unique)
      if (job !== undefined) return job
    }
    return undefined
  }

  // ---------------------------------------------------------------- shutdown and idleness

  /** Stops intake. Queued and scheduled jobs fail with `error`; running ones continue until {@link failRunning}. */
  close(error: GearboxError): void {
    this.#closed = true
    // what was accepted this turn is written (and acknowledged) first; then it stays stored for the next start
    this.#journal?.flush()
    this.#schedule.stop()
    this.#keepRows = true
    for (const job of [...this.#jobs.values()]) if (job.state !== 'running') this.#drop(job, error)
    this.#keepRows = false
    this.#checkIdle()
  }

  /** Fails every running job with `error`, telling its worker to stop. */
  failRunning(error: GearboxError): void {
    this.#keepRows = true
    for (const job of [...this.#jobs.values()]) if (job.state === 'running') this.#drop(job, error)
    this.#keepRows = false
    this.#checkIdle()
  }

  /** Nothing running, no handler still settling, no dispatch pending: queued jobs (if any) have no free worker. */
  get idle(): boolean {
    return this.#running === 0 && this.#busySlots === 0 && !this.#flushQueued && this.#journal?.busy !== true
  }

  /** Calls `fn` once the engine is idle (at once if it already is). */
  onIdle(fn: () => void): void {
    if (this.idle) fn()
    else this.#idleWaiters.push(fn)
  }

  /** Removes a callback registered with {@link onIdle} that is no longer wanted. */
  offIdle(fn: () => void): void {
    const i = this.#idleWaiters.indexOf(fn)
    if (i !== -1) this.#idleWaiters.splice(i, 1)
  }

  // ---------------------------------------------------------------- internals

  #createFunction(name: string): FunctionEntry {
    checkFunctionName(name)
    const fn = new FunctionEntry(name, this.#options.maxQueue)
    this.#functions.set(name, fn)
    return fn
  }

  #unlink(reg: Registration): void {
    const regs = reg.fn.registrations
    const i = regs.indexOf(reg)
    if (i !== -1) regs.splice(i, 1)
    const grouped = reg.group?.registrations
    const j = grouped?.indexOf(reg) ?? -1
    if (grouped !== undefined && j !== -1) grouped.splice(j, 1)
    if (reg.worker.session.mode === 'pull') reg.fn.pullWorkers--
  }

  /** A new (or replayed, or just written) job: into the schedule if it is due later, else into its lane. */
  #release(job: Job): void {
    if (job.dueAt !== 0 && job.dueAt > this.#options.clock.now()) {
      job.state = 'scheduled'
      job.fn.scheduled[job.priority]++
      this.#schedule.add(job)
    } else {
      this.#enqueue(job, false)
    }
  }

  /** A store write went through: its pending jobs may run now. */
  #written(jobs: readonly Job[]): void {
    for (const job of jobs) {
      if (job.state !== 'pending') continue
      job.fn.pending--
      this.#release(job)
    }
    this.#checkIdle()
  }

  /** A store write failed: its jobs are not durable. Pending ones are withdrawn (never handed out). */
  #refused(jobs: readonly Job[], error: StoreError): void {
    for (const job of jobs) {
      job.stored = false
      if (job.state === 'pending') this.#failJob(job, error)
      else {
        // a live foreground job that a background submit joined (new background jobs are all pending): the
        // background submitter is refused, so the job is foreground again, and dropped if its clients left
        job.background = false
        if (job.clients === null || job.clients.length === 0) this.#drop(job, error)
      }
    }
    this.#checkIdle()
  }

  /** Puts a runnable job in its lane (head for a retry) and wakes workers. */
  #enqueue(job: Job, head: boolean): void {
    job.state = 'queued'
    const fn = job.fn
    if (head) fn.lanes.unshift(job)
    else fn.lanes.push(job)
    if (fn.pullWorkers > 0) wakeSleepers(fn, this.#options.workerWakeup)
    // a dispatch pass only hands jobs to push workers: skip it (one microtask per TCP read) when all pull
    if (fn.registrations.length > fn.pullWorkers) this.#markDirty(fn)
  }

  #markDirty(fn: FunctionEntry): void {
    if (!fn.dirty) {
      fn.dirty = true
      this.#dirty.push(fn)
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  #flushDirty(): void {
    const dirty = this.#dirty
    for (let i = 0; i < dirty.length; i++) {
      const fn = dirty[i] as FunctionEntry
      fn.dirty = false
      this.#dispatch(fn)
    }
    dirty.length = 0
    this.#flushQueued = false
    this.#checkIdle()
  }

  /** Hands `fn`'s queued jobs to its free push workers: registration order, or one each in turn (round-robin). */
  #dispatch(fn: FunctionEntry): void {
    const regs = fn.registrations
    if (this.#options.roundRobin) {
      let progress = true
      while (progress && fn.lanes.size > 0) {
        progress = false
        const n = regs.length
        for (let k = 0; k < n && fn.lanes.size > 0; k++) {
          const i = (fn.cursor + k) % n
          const reg = regs[i] as Registration
          if (reg.worker.session.mode === 'pull' || !hasRoom(reg)) continue
          if (this.#assignNext(reg.worker) !== undefined) {
            progress = true
            fn.cursor = (i + 1) % n
            break
          }
        }
      }
      return
    }
    for (let i = 0; i < regs.length && fn.lanes.size > 0; i++) {
      const reg = regs[i] as Registration
      if (reg.worker.session.mode === 'pull') continue
      while (hasRoom(reg) && fn.lanes.size > 0) {
        if (this.#assignNext(reg.worker) === undefined) break
      }
    }
  }

  /** Gives a group's free slots to the best queued jobs across all its registrations. */
  #fillGroup(group: SlotGroup): void {
    while (group.active < group.limit) {
      const reg = pickFrom(group.registrations)
      if (reg === undefined) return
      const job = reg.fn.lanes.peek() as Job
      reg.fn.lanes.take(job)
      this.#assign(job, reg)
    }
  }

  /** Gives a push worker jobs until it is full or nothing it can do is queued. */
  #fill(worker: WorkerRecord): void {
    while (worker.active < worker.concurrency && !worker.closing) {
      if (this.#assignNext(worker) === undefined) return
    }
  }

  /**
   * Which job next for this worker: the highest priority across its functions that have room, oldest first.
   * Assigns it (and runs it, for push workers).
   */
  #assignNext(worker: WorkerRecord): Job | undefined {
    const reg = pickRegistration(worker)
    if (reg === undefined) return undefined
    const job = reg.fn.lanes.peek() as Job
    reg.fn.lanes.take(job)
    this.#assign(job, reg)
    return job
  }

  #assign(job: Job, reg: Registration): void {
    const worker = reg.worker
    job.state = 'running'
    job.attempts++
    job.assignment = reg
    reg.active++
    worker.active++
    if (reg.group !== null) reg.group.active++
    worker.jobs.add(job)
    job.fn.running++
    this.#running++
    const limit = minPositive(reg.timeout, job.timeout)
    if (limit > 0) {
      const attempt = job.attempts
      job.timer = this.#options.clock.setTimeout(() => {
        this.#onTimeout(job, attempt, limit)
      }, limit)
    }
    if (worker.session.mode === 'push') {
      this.#busySlots++
      worker.session.run(job, reg)
    }
  }

  #onTimeout(job: Job, attempt: number, limit: number): void {
    job.timer = null
    if (job.state !== 'running' || job.attempts !== attempt) return
    this.#revokeAndLose(job, new JobTimeoutError(limit, attempt))
  }

  #revokeAndLose(job: Job, cause: GearboxError): void {
    const reg = job.assignment
    if (reg !== null) reg.worker.session.revoke(job, cause)
    // revoke may have reported the job itself; only lose it if it is still out
    if (job.state === 'running') this.#lose(job, cause)
  }

  /** Takes a running job off its worker; clears its timer. Pull slots are freed here, push slots on release. */
  #unassign(job: Job): void {
    if (job.timer !== null) {
      this.#options.clock.clearTimeout(job.timer)
      job.timer = null
    }
    const reg = job.assignment
    job.assignment = null
    job.runner = null
    if (reg === null) return
    reg.worker.jobs.delete(job)
    job.fn.running--
    this.#running--
    if (reg.worker.session.mode === 'pull') {
      reg.active--
      reg.worker.active--
    }
  }

  /** Retry rules: back to the head of its lane, or failed for every client once out of attempts. */
  #lose(job: Job, cause: GearboxError): void {
    this.#unassign(job)
    const retries = this.#options.jobRetries
    // an abandoned foreground job (every client left while it ran) is not worth another attempt
    const abandoned = !job.background && job.clients === null
    if (abandoned || (retries > 0 && job.attempts >= retries)) {
      const error =
        cause instanceof JobTimeoutError
          ? cause
          : new WorkerLostError(`worker lost on attempt ${job.attempts} of ${retries}`, job.attempts, { cause })
      this.#failJob(job, error)
      return
    }
    job.numerator = 0
    job.denominator = 0
    job.hasStatus = false
    this.observer?.jobRetried(job, this.handleOf(job), cause)
    if (this.#closed) {
      // not a final outcome: a stored job keeps its row and runs again after the next start
      this.#keepRows = true
      try {
        this.#failJob(job, new BrokerClosedError('broker closed before the job could be retried'))
      } finally {
        this.#keepRows = false
      }
      return
    }
    this.#enqueue(job, true)
  }

  /** Ends a job with an error (whatever state it is in) and tells its clients. */
  #drop(job: Job, error: GearboxError): void {
    if (job.state === 'running') {
      const reg = job.assignment
      if (reg !== null) reg.worker.session.revoke(job, error)
    }
    this.#failJob(job, error)
  }

  #failJob(job: Job, error: GearboxError): void {
    const clients = this.#finish(job)
    if (clients !== null) for (const c of clients) c.onFail(job, error)
    this.#finished(job, { state: 'failed', error })
  }

  /** Removes a job from every index; returns the clients to notify. */
  #finish(job: Job): ClientSession[] | null {
    const fn = job.fn
    switch (job.state) {
      case 'running':
        this.#unassign(job)
        break
      case 'queued':
        fn.lanes.forget(job)
        break
      case 'scheduled':
        fn.scheduled[job.priority]--
        break
      case 'pending':
        fn.pending--
        break
      case 'done':
        return null
    }
    job.state = 'done'
    if (job.stored) {
      job.stored = false
      if (!this.#keepRows) this.#journal?.remove(job)
    }
    this.#jobs.delete(job.id)
    if (job.uniqueKey !== null && fn.uniques.get(job.uniqueKey) === job) fn.uniques.delete(job.uniqueKey)
    const clients = job.clients
    job.clients = null
    return clients
  }

  #finished(job: Job, outcome: JobOutcome): void {
    const cache = this.#options.resultCache
    const observer = this.observer
    if (cache === null && observer === null) return
    const handle = this.handleOf(job)
    cache?.add({ handle, functionName: job.fn.name, unique: job.unique, outcome, finishedAt: this.#options.clock.now() })
    observer?.jobFinished(job, handle, outcome)
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.idle) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }
}

function minPositive(a: number, b: number): number {
  if (a <= 0) return b > 0 ? b : 0
  if (b <= 0) return a
  return Math.min(a, b)
}

