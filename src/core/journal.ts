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
 * Removals alone wait this long for company: nobody waits on them, and one write per worker round trip would
 * cost more than the job. A crash loses at most this much of them (those jobs run again after the restart).
 */
/** After a failed write, removals are tried again this much later. */
const REMOVAL_RETRY_MS = 1_000
const REMOVAL_DELAY_MS = 10

/**
 * Group commit in front of a {@link JobStore}: the adds of one event-loop turn, with every removal gathered
 * since the last write, are written in one call (one transaction, one fsync) at the end of the turn; the
 * submitters waiting on the batch are answered after it. Removals alone are written {@link REMOVAL_DELAY_MS}
 * later. A job added and removed before its write never reaches the store.
 */
export class Journal {
  readonly #store: JobStore
  readonly #owner: JournalOwner
  /** Jobs whose row is in the coming write. */
  #adds = new Set<Job>()
  #removes: number[] = []
  #waiters: { job: Job; done: DurableCallback }[] = []
  #soon = false
  #later: NodeJS.Timeout | null = null
  /** Removals refused by the store are tried again (not counted as busy: a failing store must not hold idle()). */
  #retry: NodeJS.Timeout | null = null
  #closed = false
  readonly #flushSoon = (): void => {
    // a failure has been handed to the submitters it concerns; refused removals wait for the next write
    this.flush()
  }

  constructor(store: JobStore, owner: JournalOwner) {
    this.#store = store
    this.#owner = owner
  }

  /** A write is waiting. */
  get busy(): boolean {
    return this.#soon || this.#later !== null
  }

  /** True while `job`'s row is not written yet. */
  has(job: Job): boolean {
    return this.#adds.has(job)
  }

  add(job: Job): void {
    this.#adds.add(job)
    if (this.#soon) return
    this.#soon = true
    // the end of this event-loop turn (not a microtask): every connection's packets read in this turn share
    // the write (4 TCP clients × 64 in flight: 253 jobs per write, against 63 with queueMicrotask)
    setImmediate(this.#flushSoon)
  }

  remove(job: Job): void {
    if (this.#adds.delete(job)) return
    this.#removes.push(job.id)
    if (!this.#soon) this.#later ??= setTimeout(this.#flushSoon, REMOVAL_DELAY_MS)
  }

  /** Calls `done` once the coming write is over (`job` must be in it, see {@link has}). */
  wait(job: Job, done: DurableCallback): void {
    this.#waiters.push({ job, done })
  }

  /** The last write, before the store closes: nothing is retried after it. Returns the store's error, if any. */
  close(): StoreError | null {
    this.#closed = true
    return this.flush()
  }

  /** Writes what is gathered now; returns the store's error, if any. Removals refused are kept for the next write. */
  flush(): StoreError | null {
    this.#soon = false
    if (this.#later !== null) {
      clearTimeout(this.#later)
      this.#later = null
    }
    if (this.#retry !== null) {
      clearTimeout(this.#retry)
      this.#retry = null
    }
    const batch = this.#adds
    const removes = this.#removes
    const waiters = this.#waiters
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
      // the removals are tried again even if nothing else comes (unref'd: it never keeps the process alive)
      if (this.#removes.length > 0 && !this.#closed) this.#retry ??= setTimeout(this.#flushSoon, REMOVAL_RETRY_MS).unref()
    }
    if (error === null) this.#owner.written(jobs)
    else this.#owner.refused(jobs, error)
    for (const w of waiters) w.done(error !== null && batch.has(w.job) ? error : null)
    return error
  }
}

function toStored(job: Job): StoredJob {
  return { id: job.id, functionName: job.fn.name, unique: job.unique, data: job.data, priority: job.priority, dueAt: job.dueAt, timeout: job.timeout, reducer: job.reducer }
}
