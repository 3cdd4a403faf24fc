import { type GearboxError, StoreError } from '../errors.js'
import type { Job } from './job.js'
import type { JobStore, StoredJob } from './store.js'

/** Told when a batch was written (`error` null) or refused; the journal has already forgotten it. */
export type DurableCallback = (error: GearboxError | null) => void

/** What the engine does with the jobs of a batch once the store has answered. */
export interface JournalOwner {
  written(jobs: readonly Job[]): void
  refused(jobs: readonly Job[], error: StoreError): void
}

/**
 * Group commit in front of a {@link JobStore}: the adds and removals of one event-loop turn are gathered and
 * written in one call (one transaction, one fsync) at the end of the turn; the submitters waiting on the
 * batch are answered after it. A job added and removed in the same turn never reaches the store.
 */
export class Journal {
  readonly #store: JobStore
  readonly #owner: JournalOwner
  /** Jobs whose row is in the coming write. */
  #adds = new Set<Job>()
  #removes: number[] = []
  #waiters: { job: Job; done: DurableCallback }[] = []
  #scheduled = false
  readonly #flushSoon = (): void => {
    this.flush()
  }

  constructor(store: JobStore, owner: JournalOwner) {
    this.#store = store
    this.#owner = owner
  }

  /** A write is waiting for the end of the turn. */
  get busy(): boolean {
    return this.#scheduled
  }

  /** True while `job`'s row is not written yet. */
  has(job: Job): boolean {
    return this.#adds.has(job)
  }

  add(job: Job): void {
    this.#adds.add(job)
    this.#schedule()
  }

  remove(job: Job): void {
    if (!this.#adds.delete(job)) this.#removes.push(job.id)
    this.#schedule()
  }

  /** Calls `done` once the coming write is over (`job` must be in it, see {@link has}). */
  wait(job: Job, done: DurableCallback): void {
    this.#waiters.push({ job, done })
  }

  /** Writes what is gathered now. Removals refused by the store are kept for the next write. */
  flush(): void {
    this.#scheduled = false
    const batch = this.#adds
    const removes = this.#removes
    const waiters = this.#waiters
    if (batch.size === 0 && removes.length === 0 && waiters.length === 0) return
    const jobs = [...batch]
    this.#adds = new Set()
    this.#removes = []
    this.#waiters = []
    let error: StoreError | null = null
    try {
      if (jobs.length > 0 || removes.length > 0) this.#store.write(jobs.map(toStored), removes)
    } catch (err) {
      error = err instanceof StoreError ? err : new StoreError('write', `job store write failed: ${String(err)}`, { cause: err })
      this.#removes = removes.concat(this.#removes)
    }
    if (error === null) this.#owner.written(jobs)
    else this.#owner.refused(jobs, error)
    for (const w of waiters) w.done(error !== null && batch.has(w.job) ? error : null)
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // the end of this event-loop turn: every connection's packets read in it share the write
    setImmediate(this.#flushSoon)
  }
}

function toStored(job: Job): StoredJob {
  return { id: job.id, functionName: job.fn.name, unique: job.unique, data: job.data, priority: job.priority, dueAt: job.dueAt, timeout: job.timeout }
}
