import type { Job } from './job.js'
import { Lanes } from './lanes.js'
import type { Registration } from './sessions.js'

/**
 * A function: its lanes, its workers (in registration order), its live unique index and its counters.
 * Created on first registration, submission or admin `create function`; removed only by `drop function`.
 */
export class FunctionEntry {
  readonly name: string
  readonly lanes = new Lanes()
  /** Jobs waiting for their due time, per priority. */
  readonly scheduled: [number, number, number] = [0, 0, 0]
  /** Background jobs waiting for their store write before they are queued. */
  pending = 0
  running = 0
  readonly registrations: Registration[] = []
  /** Round-robin position in `registrations`. */
  cursor = 0
  /** Pull registrations, so push-only functions skip the wake-up walk. */
  pullWorkers = 0
  /** Live jobs by unique key (never a cache: an entry leaves when its job ends). */
  readonly uniques = new Map<string, Job>()
  /** Per-priority limits on `total`; 0 = unlimited. */
  readonly maxQueue: [number, number, number]
  /** Queued for the next dispatch pass. */
  dirty = false

  constructor(name: string, maxQueue: number) {
    this.name = name
    this.maxQueue = [maxQueue, maxQueue, maxQueue]
  }

  /** Queued (runnable or scheduled) plus running jobs: gearmand's TOTAL, what `maxQueue` limits. */
  get total(): number {
    return this.lanes.size + this.pending + this.scheduled[0] + this.scheduled[1] + this.scheduled[2] + this.running
  }
}
