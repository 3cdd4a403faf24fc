import Denque from 'denque'
import type { Job, PriorityLevel } from './job.js'

/**
 * A function's three priority lanes (high, normal, low), FIFO within a lane, on Denque.
 * Removal is lazy: a cancelled job stays in its lane as a tombstone (state `cancelled`) and is skipped
 * when it reaches the head, so cancel is O(1). `size` counts live jobs only.
 */
export class Lanes {
  readonly #lanes: [Denque<Job>, Denque<Job>, Denque<Job>] = [new Denque(), new Denque(), new Denque()]
  /** Live (non-tombstone) jobs per lane. */
  readonly counts: [number, number, number] = [0, 0, 0]
  size = 0

  push(job: Job): void {
    this.#lanes[job.priority].push(job)
    this.counts[job.priority]++
    this.size++
  }

  /** Puts a job back at the head of its lane (a retried job keeps its place in line). */
  unshift(job: Job): void {
    this.#lanes[job.priority].unshift(job)
    this.counts[job.priority]++
    this.size++
  }

  /** Marks one queued job as gone; the caller has already set its state to a non-queued value. */
  forget(job: Job): void {
    // the lane now holds only tombstones: drop them so they do not pin their payloads
    if (--this.counts[job.priority] === 0) this.#lanes[job.priority].clear()
    this.size--
  }

  /** The head of the highest non-empty lane, without removing it. */
  peek(): Job | undefined {
    if (this.size === 0) return undefined
    for (let p = 0; p < 3; p++) {
      if (this.counts[p as PriorityLevel] === 0) continue
      const lane = this.#lanes[p as PriorityLevel]
      let head = lane.peekFront()
      while (head !== undefined && head.state !== 'queued') {
        lane.shift()
        head = lane.peekFront()
      }
      if (head !== undefined) return head
    }
    return undefined
  }

  /** Removes and returns the head found by {@link peek} (which must be called first). */
  take(job: Job): void {
    this.#lanes[job.priority].shift()
    this.counts[job.priority]--
    this.size--
  }

  /** Every live job, high lane first, FIFO within a lane (admin listings; O(n)). */
  *jobs(): Generator<Job> {
    for (const lane of this.#lanes) {
      for (let i = 0; i < lane.length; i++) {
        const job = lane.peekAt(i)
        if (job !== undefined && job.state === 'queued') yield job
      }
    }
  }
}
