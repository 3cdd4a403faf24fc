import type { FunctionEntry } from './function-entry.js'
import type { Registration, WorkerRecord } from './sessions.js'

/** The registration may take one more job: below its own, its worker's and its group's limits, worker open. */
export function hasRoom(reg: Registration): boolean {
  const w = reg.worker
  const g = reg.group
  return reg.active < reg.concurrency && w.active < w.concurrency && !w.closing && (g === null || g.active < g.limit)
}

/**
 * Which job next for this worker: among its registrations with room, the one whose lane head has the
 * highest priority, oldest (lowest id) first. The job is that registration's `fn.lanes.peek()`.
 */
export function pickRegistration(worker: WorkerRecord): Registration | undefined {
  if (worker.active >= worker.concurrency) return undefined
  return pickFrom(worker.registrations)
}

/** {@link pickRegistration} over any list of registrations (e.g. a slot group's, across workers). */
export function pickFrom(registrations: readonly Registration[]): Registration | undefined {
  let best: Registration | undefined
  let bestPriority = 3
  let bestId = Infinity
  for (const reg of registrations) {
    if (!hasRoom(reg)) continue
    const head = reg.fn.lanes.peek()
    if (head === undefined) continue
    if (head.priority < bestPriority || (head.priority === bestPriority && head.id < bestId)) {
      best = reg
      bestPriority = head.priority
      bestId = head.id
    }
  }
  return best
}

/**
 * Sends NOOP to sleeping pull workers of `fn` that have not had one yet: at most `limit` (0 = all),
 * starting at the function's cursor and leaving it after the last one woken, as gearmand does.
 */
export function wakeSleepers(fn: FunctionEntry, limit: number): void {
  let woken = 0
  const regs = fn.registrations
  const n = regs.length
  for (let k = 0; k < n; k++) {
    const reg = regs[(fn.cursor + k) % n] as Registration
    const w = reg.worker
    if (w.session.mode !== 'pull' || !w.sleeping || w.noopSent) continue
    w.noopSent = true
    w.session.wake()
    if (limit > 0 && ++woken >= limit) {
      fn.cursor = (fn.cursor + k + 1) % n
      return
    }
  }
}
