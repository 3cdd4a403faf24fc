/**
 * Runs inside each pool thread (tinypool's `filename`): loads the user's handler module, gives the handler
 * the same `job` shape as in the main thread, and returns the outcome, moving result bytes back without a
 * copy when it can. Never imported by the main thread.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads'
import Tinypool, { workerId as tinypoolWorkerId } from 'tinypool'
import type { Handler } from '../api.js'
import { resolveEncoder } from '../encoders.js'
import { type ErrorCode, GearboxError, HandlerModuleError, WorkerLostError } from '../errors.js'
import {
  ABORT_CODES,
  type AbortMessage,
  type BatchTask,
  type BuiltinEncoderName,
  exactBytes,
  HANDLER_FIELDS,
  JOB_FIELDS,
  type ResultMessage,
  type BatchAnswer,
  type ThreadAnswer,
  type ThreadData,
  type ThreadOutcome,
  TRANSFER_MIN_BYTES,
  type UpdateMessage,
} from './messages.js'
import { ThreadJobContext } from './thread-context.js'
import { ThreadSlots } from './thread-slots.js'
import { isThenable } from '../guards.js'

type AnyHandler = Handler<unknown, unknown, unknown>

const { channel, slots: slotMemory, perThread, ring, slice, progress: progressMemory } = Tinypool.workerData as ThreadData
const progress = new Int32Array(progressMemory)
const slots = new ThreadSlots(slotMemory, perThread, ring)
slots.setThreadId(tinypoolWorkerId, threadId)
// updates go up to the main thread; aborts come down; neither channel may keep an idle thread alive
const up = new BroadcastChannel(`${channel}:up`)
const down = new BroadcastChannel(`${channel}:down`)
up.unref()
down.unref()
const running = new Map<number, ThreadJobContext>()
down.onmessage = (event: unknown) => {
  const message = (event as { data: AbortMessage }).data
  running.get(message.id)?.abort(new GearboxError(message.code as ErrorCode, message.message))
}
const post = (message: UpdateMessage): void => {
  up.postMessage(message)
}

// a handler that calls process.exit() loses its job (retried by the broker), not the thread: the call throws
/* eslint-disable no-restricted-properties -- replaced, not called: this is how the thread survives it */
const exit = process.exit.bind(process)
process.exit = (code?: number | string | null): never => {
  // Node's own handler of an uncaught exception ends the thread with process.exit(): let that through
  if ((process as { _exiting?: boolean })._exiting === true) return exit(code)
  throw new WorkerLostError(`handler called process.exit(${String(code ?? '')})`)
}
/* eslint-enable no-restricted-properties */

const handlers = new Map<string, Promise<AnyHandler>>()
/** Handlers already loaded, for the fast path (no await). */
const loaded = new Map<string, AnyHandler>()

function loadHandler(key: string, module: string, exportName: string): Promise<AnyHandler> {
  let found = handlers.get(key)
  if (found === undefined) {
    found = import(module).then(
      (ns: Record<string, unknown>) => {
        const fn = ns[exportName]
        if (typeof fn !== 'function') {
          throw new HandlerModuleError(module, `${module} exports no function named "${exportName}"`)
        }
        loaded.set(key, fn as AnyHandler)
        return fn as AnyHandler
      },
      (cause: unknown) => {
        throw new HandlerModuleError(module, `cannot load ${module}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
      },
    )
    handlers.set(key, found)
  }
  return found
}

/**
 * tinypool calls this for every batch: runs its jobs one after another and answers for them (BatchAnswer).
 * A job's result is posted before the next job starts, so it never waits for another job, nor dies with
 * the thread in one; the last job's result goes with the answer. The thread hands back the jobs it has not
 * started once the batch has run `slice` ms, and after a result to be moved (the answer moves it; a post
 * would copy it). It rejects only if the thread itself breaks.
 */
export default async function runBatch(task: BatchTask): Promise<unknown> {
  const jobs = task.jobs
  const started = performance.now()
  let last = 0
  let answer = await runJob(task, 0)
  for (let at = JOB_FIELDS; at < jobs.length && !movable.has(bytesOf(answer)); at += JOB_FIELDS) {
    if (performance.now() - started >= slice) break
    const id = jobs[at - JOB_FIELDS] as number
    up.postMessage([id, answer] satisfies ResultMessage)
    Atomics.store(progress, task.slot, id)
    last++
    answer = await runJob(task, at)
  }
  const out: BatchAnswer = [last, answer, performance.now() - started]
  const bytes = bytesOf(answer)
  if (!movable.has(bytes)) return out
  return Tinypool.move({ [Tinypool.transferableSymbol]: bytes.buffer, [Tinypool.valueSymbol]: out } as unknown as ArrayBuffer)
}

function bytesOf(answer: ThreadAnswer): Uint8Array {
  return answer instanceof Uint8Array ? answer : answer.kind === 'complete' ? answer.data : EMPTY
}

const EMPTY = new Uint8Array(0)

/** Runs the job at `at` in `task.jobs`. */
async function runJob(task: BatchTask, at: number): Promise<ThreadAnswer> {
  const { jobs, handlers } = task
  const id = jobs[at] as number
  // a job aborted while it waited (in its batch, or for this thread to boot) never runs: its attempt is
  // already over on the main thread, which only waits for this answer to free its slot
  const aborted = slots.abortOf(id, task.aborts)
  if (aborted !== 0) {
    const code = ABORT_CODES[aborted - 1] ?? 'GEARBOX_JOB_CANCELLED'
    return { kind: 'lost', message: `job aborted (${code}) before it started`, updates: 0 }
  }
  const h = (jobs[at + 1] as number) * HANDLER_FIELDS
  const module = handlers[h] as string
  const exportName = handlers[h + 1] as string
  const encoder = resolveEncoder(handlers[h + 2] as BuiltinEncoderName)
  const job = {
    name: jobs[at + 2] as string,
    handle: jobs[at + 3] as string,
    unique: jobs[at + 4] as string,
    attempt: jobs[at + 5] as number,
    data: jobs[at + 6] as Uint8Array,
  }
  const ctx = new ThreadJobContext(id, job, encoder, post)
  running.set(id, ctx)
  const cell = slots.claim(tinypoolWorkerId, id)
  try {
    const key = module + '#' + exportName
    const handler = loaded.get(key) ?? (await loadHandler(key, module, exportName))
    let value = handler(ctx)
    if (isThenable(value)) value = await value
    const data = encoder.encode(value)
    return completed(data, data !== value, ctx.updates)
  } catch (err) {
    return outcomeOf(err, ctx.updates)
  } finally {
    running.delete(id)
    slots.clear(cell)
  }
}

function outcomeOf(err: unknown, updates: number): ThreadOutcome {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined
  const message = err instanceof Error ? err.message : String(err)
  if (code === 'GEARBOX_JOB_FAILED') return { kind: 'fail', message, updates }
  if (code === 'GEARBOX_WORKER_LOST') return { kind: 'lost', message, updates }
  return { kind: 'exception', message, code: typeof code === 'string' ? code : undefined, updates }
}

/** Result bytes made for their answer, which may be moved rather than copied (see `completed`). */
const movable = new WeakSet<Uint8Array>()

/**
 * The answer for a completed attempt: its bytes alone when it sent no updates (the common case, and the
 * smallest message), else an outcome that counts them. `made`: the encoder made these bytes (they are not
 * the handler's own). Large bytes go back by transfer only when made for this answer (by the encoder, or as
 * the exact copy of a view): a handler may keep and reuse a buffer it returns, which a transfer would empty.
 */
function completed(data: Uint8Array, made: boolean, updates: number): ThreadAnswer {
  const bytes = exactBytes(data)
  if (bytes.byteLength >= TRANSFER_MIN_BYTES && !(bytes.buffer instanceof SharedArrayBuffer) && (bytes !== data || made)) movable.add(bytes)
  return updates === 0 ? bytes : { kind: 'complete', data: bytes, updates }
}
