/** Aborts remembered for tasks that threads have not started yet: at least this many, more for large pools. */
const MIN_ABORT_RING = 256

/**
 * Shared memory between a pool and its threads, read and written without messages (a thread stuck in a
 * loop could not answer one, and one that has not started a task has not read its messages yet):
 * - which task each thread is running, so the main thread can find the thread of a task that ignored its
 *   signal. Per tinypool worker id w (1..maxThreads): `[threadId, task, task, …]`, one task cell per
 *   concurrent task; 0 means empty, so task ids start at 1;
 * - a ring of recent aborts `[taskId, code]` and the count of aborts ever written, which a thread checks
 *   before it starts a task: a task aborted while it waited (in its batch, or for its thread to boot)
 *   is skipped, never run.
 */
export class ThreadSlots {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Int32Array
  readonly #stride: number
  /** Index of the abort count; the ring follows it. */
  readonly #countAt: number
  readonly #ring: number
  /** Thread side: which of this thread's cells hold a task of its own (what is stored there may be stale). */
  readonly #mine: boolean[]

  constructor(buffer: SharedArrayBuffer, perThread: number, ring: number) {
    this.buffer = buffer
    this.#cells = new Int32Array(buffer)
    this.#stride = perThread + 1
    this.#ring = ring
    this.#countAt = this.#cells.length - 1 - 2 * ring
    this.#mine = new Array<boolean>(perThread).fill(false)
  }

  /** `ring`: the abort ring's size, from {@link abortRingSize}. */
  static create(maxThreads: number, perThread: number, ring: number): ThreadSlots {
    const cells = (maxThreads + 1) * (perThread + 1) + 1 + 2 * ring
    return new ThreadSlots(new SharedArrayBuffer(cells * Int32Array.BYTES_PER_ELEMENT), perThread, ring)
  }

  /** Aborts written so far (wraps at 2^32). A task carries the count from when it was posted. */
  get aborts(): number {
    return Atomics.load(this.#cells, this.#countAt)
  }

  /** Main side: remembers that `taskId` was aborted (`code` indexes ABORT_CODES, plus one). */
  markAborted(taskId: number, code: number): void {
    const cells = this.#cells
    const n = Atomics.load(cells, this.#countAt)
    const i = this.#countAt + 1 + 2 * ((n >>> 0) % this.#ring)
    Atomics.store(cells, i + 1, code + 1)
    Atomics.store(cells, i, taskId)
    // the count last: a thread that sees it sees the entry
    Atomics.store(cells, this.#countAt, (n + 1) | 0)
  }

  /**
   * Thread side: the abort code recorded for `taskId` plus one, or 0. `since` is the abort count when the
   * task was posted: only entries written after it can concern the task, so usually none is read. If the
   * ring went round since, every entry is read (an abort overwritten by then is missed).
   */
  abortOf(taskId: number, since: number): number {
    const cells = this.#cells
    const written = (Atomics.load(cells, this.#countAt) - since) >>> 0
    if (written === 0) return 0
    const count = Math.min(written, this.#ring)
    for (let k = 0; k < count; k++) {
      const i = this.#countAt + 1 + 2 * (((since >>> 0) + k) % this.#ring)
      if (Atomics.load(cells, i) === taskId) return Atomics.load(cells, i + 1)
    }
    return 0
  }

  /** Thread side, at start-up: takes over worker id `workerId` (its previous thread, if any, is gone). */
  setThreadId(workerId: number, threadId: number): void {
    Atomics.store(this.#cells, workerId * this.#stride, threadId)
  }

  /**
   * Thread side: records that this thread runs `taskId`; returns the cell to clear when it ends. Free cells
   * are tracked locally: a thread that died mid-task (the previous owner of this worker id) may have left
   * its task id behind. tinypool gives a thread at most `perThread` tasks at once, so a cell is always free.
   */
  claim(workerId: number, taskId: number): number {
    const k = this.#mine.indexOf(false)
    this.#mine[k] = true
    const cell = workerId * this.#stride + 1 + k
    Atomics.store(this.#cells, cell, taskId)
    return cell
  }

  clear(cell: number): void {
    this.#mine[(cell % this.#stride) - 1] = false
    Atomics.store(this.#cells, cell, 0)
  }

  /** Main side: the thread id running `taskId`, or undefined. */
  threadOf(taskId: number): number | undefined {
    const cells = this.#cells
    for (let base = 0; base < this.#countAt; base += this.#stride) {
      for (let i = base + 1; i < base + this.#stride; i++) {
        if (Atomics.load(cells, i) === taskId) return Atomics.load(cells, base)
      }
    }
    return undefined
  }
}

/** The ring's size for a pool that holds at most `inFlight` tasks at once: a power of two (so the count may wrap). */
export function abortRingSize(inFlight: number): number {
  let size = MIN_ABORT_RING
  while (size < 4 * inFlight) size *= 2
  return size
}
