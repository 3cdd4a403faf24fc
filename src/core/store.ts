import type { PriorityLevel } from './job.js'

/** A background job as a store keeps it: enough to replay it after a restart with the same handle. */
export interface StoredJob {
  /** The job's id (the number at the end of its handle); unique, increasing in submission order. */
  readonly id: number
  readonly functionName: string
  /** As submitted (may be `''` or `-`): rows are keyed by `id`, so equal uniques never overwrite each other. */
  readonly unique: string
  readonly data: Uint8Array
  readonly priority: PriorityLevel
  /** Epoch ms before which the job is not handed out; 0 = now. */
  readonly dueAt: number
  /** Per-attempt limit, ms; 0 = none. */
  readonly timeout: number
  /** The reducer of a SUBMIT_REDUCE_JOB_BACKGROUND job ('' for none). */
  readonly reducer: string
}

/**
 * Where background jobs survive a restart. The broker calls it synchronously: one {@link JobStore.write} per
 * event-loop turn carries every job added and removed in that turn (group commit), and a submitter hears that
 * its job was accepted only after that write returned. Foreground jobs are never stored.
 */
export interface JobStore {
  /** Every stored job, in id order (the broker replays them in that order). Throws a StoreError if unreadable. */
  load(): StoredJob[]
  /**
   * Optional: one more than the highest id ever written (also of jobs since removed), so that after a restart
   * a new job never gets the handle of one that finished before it. Without it, new ids start above the
   * highest stored one.
   */
  nextId?(): number
  /**
   * Adds `added` and deletes the jobs with ids `removed`, atomically: when it throws (a StoreError), none of it
   * happened; when it returns, a crash keeps all of it. A write that only removes may skip its own fsync (no
   * submitter waits on it; a removal lost to a power cut means the job runs again, never that one is lost).
   */
  write(added: readonly StoredJob[], removed: readonly number[]): void
  /** Releases the store (after the broker's last write). */
  close(): void
}
