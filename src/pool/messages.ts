/**
 * What travels between a ThreadPool and its threads. Batches of job attempts and their answers go through
 * tinypool (one tinypool task per batch); updates and the results of a batch's jobs but the last (thread →
 * main) and abort requests (main → threads) go through one BroadcastChannel per pool.
 */

/** Payloads and results at least this large move between threads by transfer; smaller ones are cheaper to copy. */
export const TRANSFER_MIN_BYTES = 64 * 1024

/**
 * `data` itself when it spans its whole buffer or lives in a SharedArrayBuffer (shared, never copied), else
 * an exact copy: a clone or a transfer of a view would take its whole buffer (e.g. an 8 KiB Buffer pool slab).
 */
export function exactBytes(data: Uint8Array): Uint8Array {
  if (data.buffer instanceof SharedArrayBuffer) return data
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : new Uint8Array(data)
}

/**
 * Job attempts handed to a thread as one tinypool task, run one after another. Flat arrays, so that a batch
 * costs few objects to clone: `handlers` holds {@link HANDLER_FIELDS} strings per handler the batch uses,
 * `jobs` {@link JOB_FIELDS} values per job.
 */
export interface BatchTask {
  /** ThreadSlots' abort count when the batch was posted (the thread reads only later aborts). */
  readonly aborts: number
  /** The batch's cell in the pool's progress memory (see ThreadData). */
  readonly slot: number
  /** Per handler: its module's URL, its export's name, its encoder's name. */
  readonly handlers: readonly string[]
  /**
   * Per job: its pool-wide task id (updates and aborts refer to it), its handler's index in `handlers`, the
   * function's name, the job's handle, unique and attempt, and the payload (the job's own bytes, cloned,
   * when small and spanning their buffer; else an exact copy, moved when large; or a view on shared memory).
   */
  readonly jobs: readonly (string | number | Uint8Array)[]
}

export const HANDLER_FIELDS = 3
export const JOB_FIELDS = 7

/**
 * A thread's answer to a batch: `[last, answer, ms]`, the answer of the batch's job at index `last`, the last
 * one it ran, and the ms the jobs it ran took. The jobs before it had their answers posted as they ended (a
 * {@link ResultMessage}); the jobs after it were handed back unstarted (the batch ran long enough that they
 * may do better on another thread).
 */
export type BatchAnswer = readonly [last: number, answer: ThreadAnswer, ms: number]

export type BuiltinEncoderName = 'raw' | 'utf8' | 'json'

/** How an attempt ended inside the thread. A thread that dies produces no outcome: tinypool rejects instead. */
export type ThreadOutcome =
  | { readonly kind: 'complete'; readonly data: Uint8Array; readonly updates: number }
  | { readonly kind: 'fail'; readonly message: string; readonly updates: number }
  | { readonly kind: 'exception'; readonly message: string; readonly code: string | undefined; readonly updates: number }
  | { readonly kind: 'lost'; readonly message: string; readonly updates: number }

/** One job's answer: the result bytes of an attempt that completed without updates, or an outcome. */
export type ThreadAnswer = Uint8Array | ThreadOutcome

/** Thread → main: an update from a running handler. */
export type UpdateMessage =
  | { readonly id: number; readonly type: 'data' | 'warning'; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'status'; readonly numerator: number; readonly denominator: number }

/** Thread → main: the answer of a job of a batch, posted before the thread starts the next one: `[id, answer]`. */
export type ResultMessage = readonly [id: number, answer: ThreadAnswer]

/** The error codes an abort can carry, by index (shared memory stores the index plus one). */
export const ABORT_CODES = ['GEARBOX_JOB_CANCELLED', 'GEARBOX_JOB_TIMEOUT', 'GEARBOX_BROKER_CLOSED', 'GEARBOX_WORKER_LOST'] as const

/** Main → threads: stop the task with this id (its handler's signal fires with an error of this code). */
export interface AbortMessage {
  readonly type: 'abort'
  readonly id: number
  readonly code: string
  readonly message: string
}

/** What the pool passes to every thread (tinypool's workerData). */
export interface ThreadData {
  readonly channel: string
  /** ThreadSlots' shared memory. */
  readonly slots: SharedArrayBuffer
  readonly perThread: number
  /** Size of ThreadSlots' abort ring. */
  readonly ring: number
  /** ms a batch runs before the thread hands back the jobs it has not started. */
  readonly slice: number
  /**
   * Int32 cells, one per batch in flight: the id of the last job whose result the thread posted, stored
   * after the post. If the thread dies, the pool knows which results are still on their way to it.
   */
  readonly progress: SharedArrayBuffer
}
