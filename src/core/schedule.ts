import type { Clock } from './clock.js'
import type { Job } from './job.js'

/**
 * Jobs waiting for their `dueAt`: a binary min-heap ordered by (dueAt, id), with one clock timer for the
 * earliest. Due jobs are handed to `onDue` in due order. Jobs that ended meanwhile are tombstones, dropped
 * when they surface.
 */
export class Schedule {
  readonly #heap: Job[] = []
  readonly #clock: Clock
  readonly #onDue: (job: Job) => void
  #timer: unknown = null
  #timerAt = Infinity

  constructor(clock: Clock, onDue: (job: Job) => void) {
    this.#clock = clock
    this.#onDue = onDue
  }

  /** Adds a job (state `scheduled`) and re-arms the timer if it is now the earliest. */
  add(job: Job): void {
    this.push(job)
    this.#arm()
  }

  /** Cancels the timer; jobs stay where they are. */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    this.#timerAt = Infinity
  }

  #arm(): void {
    const next = this.peek()
    if (next === undefined || next.dueAt >= this.#timerAt) return
    this.stop()
    this.#timerAt = next.dueAt
    // a background timer: a broker holding only future jobs does not keep the process alive
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = null
        this.#timerAt = Infinity
        this.#promoteDue()
      },
      Math.max(0, next.dueAt - this.#clock.now()),
      true,
    )
  }

  #promoteDue(): void {
    const now = this.#clock.now()
    for (;;) {
      const job = this.peek()
      if (job === undefined || job.dueAt > now) break
      this.pop()
      this.#onDue(job)
    }
    this.#arm()
  }

  get length(): number {
    return this.#heap.length
  }

  push(job: Job): void {
    const heap = this.#heap
    heap.push(job)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as Job
      if (!before(job, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = job
  }

  /** The earliest live job, dropping tombstones on the way. */
  peek(): Job | undefined {
    let top = this.#heap[0]
    while (top !== undefined && top.state !== 'scheduled') {
      this.pop()
      top = this.#heap[0]
    }
    return top
  }

  pop(): Job | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(heap[r] as Job, heap[l] as Job) ? r : l
      const c = heap[child] as Job
      if (!before(c, last)) break
      heap[i] = c
      i = child
    }
    heap[i] = last
    return top
  }

  /** Live jobs in due order (admin listings; O(n log n)). */
  jobs(): Job[] {
    return this.#heap.filter((j) => j.state === 'scheduled').sort((a, b) => (before(a, b) ? -1 : 1))
  }
}

function before(a: Job, b: Job): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id)
}
