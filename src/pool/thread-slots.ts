/**
 * Which task each pool thread is running, kept in shared memory. The main thread reads it to find the
 * thread of a task that ignored its signal, without asking the thread (a thread stuck in a loop could not
 * answer). Layout, per tinypool worker id w (1..maxThreads): `[threadId, task, task, …]` with one task cell
 * per concurrent task; 0 means empty, so task ids start at 1.
 */
export class ThreadSlots {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Int32Array
  readonly #stride: number
  /** Thread side: which of this thread's cells hold a task of its own (what is stored there may be stale). */
  readonly #mine: boolean[]

  constructor(buffer: SharedArrayBuffer, perThread: number) {
    this.buffer = buffer
    this.#cells = new Int32Array(buffer)
    this.#stride = perThread + 1
    this.#mine = new Array<boolean>(perThread).fill(false)
  }

  static create(maxThreads: number, perThread: number): ThreadSlots {
    return new ThreadSlots(new SharedArrayBuffer((maxThreads + 1) * (perThread + 1) * Int32Array.BYTES_PER_ELEMENT), perThread)
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
    for (let base = 0; base < cells.length; base += this.#stride) {
      for (let i = base + 1; i < base + this.#stride; i++) {
        if (Atomics.load(cells, i) === taskId) return Atomics.load(cells, base)
      }
    }
    return undefined
  }
}
