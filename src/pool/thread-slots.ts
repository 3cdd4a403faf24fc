/** How far an abort has gone: the signal fired, or the grace period passed too (do not run it at all). */
export const ABORT_SIGNALLED = 1
export const ABORT_KILLED = 2

/** Aborts remembered for threads that have not started the task yet (far more than can be in flight). */
const ABORT_RING = 256

/**
 * Shared memory between a pool and its threads, read and written without messages (a thread stuck in a
 * loop could not answer one, and one that has not started a task has not read its messages yet):
 * - which task each thread is running, so the main thread can find the thread of a task that ignored its
 *   signal. Per tinypool worker id w (1..maxThreads): `[threadId, task, task, …]`, one task cell per
 *   concurrent task; 0 means empty, so task ids start at 1;
 * - a ring of recent aborts `[taskId, level << 8 | code]`, which a thread checks before it starts a task.
 */
export class ThreadSlots {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Int32Array
  readonly #stride: number
  readonly #ringBase: number
  /** Main side: next ring entry to write. */
  #ringNext = 0
  /** Thread side: which of this thread's cells hold a task of its own (what is stored there may be stale). */
  readonly #mine: boolean[]

  constructor(buffer: SharedArrayBuffer, perThread: number) {
    this.buffer = buffer
    this.#cells = new Int32Array(buffer)
    this.#stride = perThread + 1
    this.#ringBase = this.#cells.length - 2 * ABORT_RING
    this.#mine = new Array<boolean>(perThread).fill(false)
  }

  static create(maxThreads: number, perThread: number): ThreadSlots {
    const cells = (maxThreads + 1) * (perThread + 1) + 2 * ABORT_RING
    return new ThreadSlots(new SharedArrayBuffer(cells * Int32Array.BYTES_PER_ELEMENT), perThread)
  }

  /** Main side: remembers that `taskId` was aborted (`code` indexes ABORT_CODES). */
  markAborted(taskId: number, level: number, code: number): void {
    const i = this.#ringBase + 2 * (this.#ringNext++ % ABORT_RING)
    Atomics.store(this.#cells, i + 1, (level << 8) | code)
    Atomics.store(this.#cells, i, taskId)
  }

  /** Thread side: the furthest abort recorded for `taskId` as `level << 8 | code`, or 0. */
  abortOf(taskId: number): number {
    const cells = this.#cells
    let found = 0
    for (let i = this.#ringBase; i < cells.length; i += 2) {
      if (Atomics.load(cells, i) === taskId) found = Math.max(found, Atomics.load(cells, i + 1))
    }
    return found
  }

  /** Thread side, at start-up: takes over worker id `workerId` (its previous thread, if any, is gone). */
  setThreadId(workerId: number, threadId: number): void {
    Atomics.store(this.#cells, workerId * this.#stride, threadId)
  }

  /**
   * Thread side: records that this thread runs `taskId`; returns the cell to clear when it ends. Free cells
   * are tracked locally: a thread that died mid-task (the previous owner of this worker id) may have left
   * its task id behind.
   */
  claim(workerId: number, taskId: number): number {
    const k = this.#mine.indexOf(false)
    if (k === -1) return -1
    this.#mine[k] = true
    const cell = workerId * this.#stride + 1 + k
    Atomics.store(this.#cells, cell, taskId)
    return cell
  }

  clear(cell: number): void {
    if (cell < 0) return
    this.#mine[(cell % this.#stride) - 1] = false
    Atomics.store(this.#cells, cell, 0)
  }

  /** Main side: the thread id running `taskId`, or undefined. */
  threadOf(taskId: number): number | undefined {
    const cells = this.#cells
    for (let base = 0; base < this.#ringBase; base += this.#stride) {
      for (let i = base + 1; i < base + this.#stride; i++) {
        if (Atomics.load(cells, i) === taskId) return Atomics.load(cells, base)
      }
    }
    return undefined
  }
}
