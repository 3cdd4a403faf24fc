import type { AdminApi, FunctionStatus, JobInfo, MaxQueueLimits, WorkerInfo } from '../api.js'
import type { Engine } from '../core/engine.js'
import { InvalidArgumentError } from '../errors.js'
import { VERSION } from '../version.js'
import { intOption, PRIORITY_NAMES, stringArg } from './validate.js'

/**
 * The in-process admin API: Gearman's administrative commands as typed results.
 * @example
 * for (const f of await broker.admin.status()) console.log(f.name, f.queued, f.running, f.workers)
 */
export class LocalAdmin implements AdminApi {
  readonly #engine: Engine

  constructor(engine: Engine) {
    this.#engine = engine
  }

  async status(): Promise<FunctionStatus[]> {
    return this.#engine.functionCounts().map((f) => ({
        name: f.name,
        total: f.total,
        queued: f.queued[0] + f.queued[1] + f.queued[2],
        running: f.running,
        workers: f.workers,
        availableWorkers: f.idleWorkers,
        byPriority: { high: f.queued[0], normal: f.queued[1], low: f.queued[2] },
        maxQueue: { high: f.maxQueue[0], normal: f.maxQueue[1], low: f.maxQueue[2] },
      }))
  }

  async workers(): Promise<WorkerInfo[]> {
    return this.#engine.workers().map((w) => ({ id: w.id, functions: w.registrations.map((r) => r.fn.name), running: w.active }))
  }

  async maxQueue(name: string, limits: MaxQueueLimits): Promise<boolean> {
    stringArg('name', name)
    let parsed: [number, number, number]
    if (typeof limits === 'number') {
      const n = intOption('limits', limits, 0)
      parsed = [n, n, n]
    } else if (typeof limits === 'object' && (limits as unknown) !== null) {
      parsed = [
        intOption('limits.high', limits.high, 0),
        intOption('limits.normal', limits.normal, 0),
        intOption('limits.low', limits.low, 0),
      ]
    } else {
      throw new InvalidArgumentError('limits', 'an integer >= 0 or { high, normal, low }', limits)
    }
    return this.#engine.setMaxQueue(name, parsed)
  }

  async cancelJob(handle: string): Promise<boolean> {
    stringArg('handle', handle)
    return this.#engine.cancel(handle)
  }

  async createFunction(name: string): Promise<void> {
    stringArg('name', name)
    this.#engine.createFunction(name)
  }

  async dropFunction(name: string): Promise<boolean> {
    stringArg('name', name)
    return this.#engine.dropFunction(name)
  }

  async showJobs(): Promise<JobInfo[]> {
    const engine = this.#engine
    return engine.liveJobs().map((j) => ({
        handle: engine.handleOf(j),
        functionName: j.fn.name,
        unique: j.unique,
        priority: PRIORITY_NAMES[j.priority] ?? 'normal',
        background: j.background,
        state: j.state === 'done' || j.state === 'pending' ? 'queued' : j.state,
        attempts: j.attempts,
        waiting: j.clients?.length ?? 0,
        runAt: j.state === 'scheduled' ? j.dueAt : 0,
      }))
  }

  async showUniqueJobs(): Promise<{ functionName: string; unique: string; handle: string }[]> {
    const engine = this.#engine
    return engine
        .liveJobs()
        .filter((j) => j.unique !== '')
        .map((j) => ({ functionName: j.fn.name, unique: j.unique, handle: engine.handleOf(j) }))
  }

  async version(): Promise<string> {
    return VERSION
  }

  async ping(): Promise<number> {
    const start = performance.now()
    await Promise.resolve()
    return performance.now() - start
  }
}
