/**
 * What travels between a ThreadPool and its threads. Tasks and outcomes go through tinypool; updates
 * (thread → main) and abort requests (main → threads) go through one BroadcastChannel per pool.
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

/** A job attempt handed to a thread. */
export interface ThreadTask {
  /** Pool-wide task id; updates and aborts refer to it. */
  readonly id: number
  /** URL of the user's module. */
  readonly module: string
  /** Name of the exported handler ('default' for the default export). */
  readonly exportName: string
  readonly encoder: BuiltinEncoderName
  readonly handle: string
  readonly name: string
  readonly unique: string
  readonly attempt: number
  /** ThreadSlots' abort count when the task was posted (the thread reads only later aborts). */
  readonly aborts: number
  /** The payload: the job's own bytes (cloned) when small and spanning their buffer, else an exact copy (moved when large), or a view on a SharedArrayBuffer. */
  readonly data: Uint8Array
}

/** A task that runs no handler: posted only so that tinypool starts a thread (see ThreadPool's #replaceLost). */
export interface WakeTask {
  readonly wake: true
}

export type BuiltinEncoderName = 'raw' | 'utf8' | 'json'

/** How the attempt ended inside the thread. A thread that dies produces no outcome: tinypool rejects instead. */
export type ThreadOutcome =
  | { readonly kind: 'complete'; readonly data: Uint8Array; readonly updates: number }
  | { readonly kind: 'fail'; readonly message: string; readonly updates: number }
  | { readonly kind: 'exception'; readonly message: string; readonly code: string | undefined; readonly updates: number }
  | { readonly kind: 'lost'; readonly message: string; readonly updates: number }

/** What a thread answers for a task: the result bytes of an attempt that completed without updates, or an outcome. */
export type ThreadAnswer = Uint8Array | ThreadOutcome

/** Thread → main: an update from a running handler. */
export type UpdateMessage =
  | { readonly id: number; readonly type: 'data' | 'warning'; readonly data: Uint8Array }
  | { readonly id: number; readonly type: 'status'; readonly numerator: number; readonly denominator: number }

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
}
