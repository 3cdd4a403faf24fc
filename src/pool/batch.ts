import { type BatchAnswer, type BatchTask, type BuiltinEncoderName, exactBytes, HANDLER_FIELDS, TRANSFER_MIN_BYTES } from './messages.js'
import type { TaskRun } from './task-run.js'

/** A handler of a pool, as batches name it. */
export interface HandlerSpec {
  readonly module: string
  readonly exportName: string
  readonly encoder: BuiltinEncoderName
  /** The batch being built that lists it already (its index there is `index`). */
  batch: Batch | null
  index: number
}

/**
 * Job attempts posted to a thread as one tinypool task, from the main thread's side: builds the task and
 * hands the last job the thread ran its answer (the answers of the jobs before it reach their runs through
 * the pool's channel); runs the thread handed back unstarted go back to the pool's queue; a thread that dies
 * loses the run it was running, and those it never started go back to the pool's queue.
 */
export class Batch {
  readonly runs: readonly TaskRun[]
  readonly task: BatchTask
  /** ArrayBuffers of large payloads, moved to the thread rather than copied. */
  readonly transfer: ArrayBuffer[] | null

  /**
   * `aborts`: ThreadSlots' abort count, read before any of `runs` could be aborted after posting; `slot`:
   * the batch's cell in the pool's progress memory.
   */
  constructor(runs: readonly TaskRun[], aborts: number, slot: number) {
    this.runs = runs
    const handlers: string[] = []
    const jobs: (string | number | Uint8Array)[] = []
    let transfer: ArrayBuffer[] | null = null
    for (const run of runs) {
      run.posted = true
      const spec = run.spec
      if (spec.batch !== this) {
        spec.batch = this
        spec.index = handlers.length / HANDLER_FIELDS
        handlers.push(spec.module, spec.exportName, spec.encoder)
      }
      const job = run.job
      const data = job.data
      // a large payload is moved, not cloned; never the job's own bytes (it keeps them for retries): a copy
      let payload = exactBytes(data)
      if (!(data.buffer instanceof SharedArrayBuffer) && data.byteLength >= TRANSFER_MIN_BYTES) {
        if (payload === data) payload = new Uint8Array(data)
        ;(transfer ??= []).push(payload.buffer as ArrayBuffer)
      }
      jobs.push(run.id, spec.index, job.name, job.handle, job.unique, job.attempt, payload)
    }
    for (const run of runs) run.spec.batch = null
    this.task = { aborts, slot, handlers, jobs }
    this.transfer = transfer
  }

  /**
   * The thread's answer: hands the last run it ran its answer, and returns the runs handed back unstarted
   * (those not aborted meanwhile), in order.
   */
  answered(answer: BatchAnswer): TaskRun[] {
    const runs = this.runs
    const last = answer[0]
    ;(runs[last] as TaskRun).onAnswer(answer[1])
    const back: TaskRun[] = []
    for (let i = last + 1; i < runs.length; i++) {
      const run = runs[i] as TaskRun
      if (run.handedBack()) back.push(run)
    }
    return back
  }

  /**
   * The thread died or was terminated. Its jobs run one after the other, so the runs up to the one with id
   * `posted` (the last result the thread posted, from the progress memory) have finished, and their results
   * are on their way: they get `wait` ms to arrive. The run after it was running: it is lost. Those after
   * that never started: they are returned (those not aborted meanwhile), in order, to go back to the pool's
   * queue without losing an attempt.
   */
  died(cause: unknown, posted: number, wait: number): TaskRun[] {
    const runs = this.runs
    let last = -1
    for (let i = 0; i < runs.length; i++) if ((runs[i] as TaskRun).id === posted) last = i
    const running = runs[last + 1]
    if (running !== undefined) running.onDeath(cause)
    const back: TaskRun[] = []
    for (let i = last + 2; i < runs.length; i++) {
      const run = runs[i] as TaskRun
      if (run.handedBack()) back.push(run)
    }
    if (!runs.slice(0, last + 1).every((run) => run.settled)) {
      // unref'd: while those runs wait, the pool's channel keeps the process alive
      setTimeout(() => {
        for (let i = 0; i <= last; i++) (runs[i] as TaskRun).onDeath(cause)
      }, wait).unref()
    }
    return back
  }
}
