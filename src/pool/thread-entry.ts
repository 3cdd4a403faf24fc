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
  type ThreadData,
  type ThreadAnswer,
  type ThreadOutcome,
  type ThreadTask,
  exactBytes,
  TRANSFER_MIN_BYTES,
  type UpdateMessage,
  type WakeTask,
} from './messages.js'
import { ThreadJobContext } from './thread-context.js'
import { ThreadSlots } from './thread-slots.js'
import { isThenable } from '../guards.js'

type AnyHandler = Handler<unknown, unknown, unknown>

const { channel, slots: slotMemory, perThread, ring } = Tinypool.workerData as ThreadData
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

/** tinypool calls this for every task. It resolves to an outcome; it rejects only if the thread itself breaks. */
export default async function runTask(task: ThreadTask | WakeTask): Promise<unknown> {
  if ('wake' in task) return null
  // a task aborted while it waited for this thread (in the pool's queue, or while the thread booted) never
  // runs: its attempt is already over on the main thread, which only waits for this answer to free its slot
  const aborted = slots.abortOf(task.id, task.aborts)
  if (aborted !== 0) {
    const code = ABORT_CODES[aborted - 1] ?? 'GEARBOX_JOB_CANCELLED'
    return { kind: 'lost', message: `job aborted (${code}) before it started`, updates: 0 } satisfies ThreadOutcome
  }
  const encoder = resolveEncoder(task.encoder)
  const ctx = new ThreadJobContext(task, encoder, post)
  running.set(task.id, ctx)
  const cell = slots.claim(tinypoolWorkerId, task.id)
  try {
    const key = task.module + '#' + task.exportName
    const handler = loaded.get(key) ?? (await loadHandler(key, task.module, task.exportName))
    let value = handler(ctx)
    if (isThenable(value)) value = await value
    const data = encoder.encode(value)
    return completed(data, data !== value, ctx.updates)
  } catch (err) {
    return outcomeOf(err, ctx.updates)
  } finally {
    running.delete(task.id)
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

/**
 * The answer for a completed attempt: its bytes alone when it sent no updates (the common case, and the
 * smallest message), else an outcome that counts them. `made`: the encoder made these bytes (they are not
 * the handler's own). Large bytes go back by transfer only when made for this answer (by the encoder, or as
 * the exact copy of a view): a handler may keep and reuse a buffer it returns, which a transfer would empty.
 */
function completed(data: Uint8Array, made: boolean, updates: number): unknown {
  const bytes = exactBytes(data)
  const answer: ThreadAnswer = updates === 0 ? bytes : { kind: 'complete', data: bytes, updates }
  if (bytes.byteLength < TRANSFER_MIN_BYTES || bytes.buffer instanceof SharedArrayBuffer || (bytes === data && !made)) return answer
  return Tinypool.move({
    [Tinypool.transferableSymbol]: bytes.buffer,
    [Tinypool.valueSymbol]: answer,
  } as unknown as ArrayBuffer)
}
