/**
 * gearmand's text admin replies (GEARMAN.md §4) parsed into the admin API's typed results. Pure functions
 * over the reply lines (line endings already removed).
 */
import type { JobInfo, WorkerInfo } from '../api.js'

export interface StatusLine {
  readonly name: string
  readonly total: number
  readonly running: number
  readonly workers: number
}

export interface PriorityLine {
  readonly name: string
  readonly high: number
  readonly normal: number
  readonly low: number
}

function count(text: string | undefined): number {
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= 0 ? n : 0
}

/** `FUNC\tTOTAL\tRUNNING\tWORKERS` lines. */
export function parseStatus(lines: readonly string[]): StatusLine[] {
  return lines.map((line) => {
    const [name = '', total, running, workers] = line.split('\t')
    return { name, total: count(total), running: count(running), workers: count(workers) }
  })
}

/** `FUNC\tHIGH\tNORMAL\tLOW\tWORKERS` lines. */
export function parsePriorityStatus(lines: readonly string[]): PriorityLine[] {
  return lines.map((line) => {
    const [name = '', high, normal, low] = line.split('\t')
    return { name, high: count(high), normal: count(normal), low: count(low) }
  })
}

const WORKER_LINE = /^(\S+) (\S+) (.*) :((?: \S*)*)$/

/**
 * `FD IP CLIENT_ID : FUNC…` lines, one per connection: connections with functions, grouped by client id
 * (a remote worker opens one connection per function and server). Gearman does not report running jobs
 * per worker: `running` is 0.
 */
export function parseWorkers(lines: readonly string[]): WorkerInfo[] {
  const byId = new Map<string, string[]>()
  for (const line of lines) {
    const match = WORKER_LINE.exec(line)
    if (match === null) continue
    const functions = (match[4] ?? '').split(' ').filter((f) => f.length > 0)
    if (functions.length === 0) continue
    const id = match[3] ?? '-'
    const list = byId.get(id) ?? []
    for (const f of functions) if (!list.includes(f)) list.push(f)
    byId.set(id, list)
  }
  return [...byId].map(([id, functions]) => ({ id, functions, running: 0 }))
}

/**
 * `HANDLE\tRETRIES\tIGNORE\tPERSISTED` lines (cancelled and abandoned jobs, IGNORE = 1, are left out).
 * Gearman's `show jobs` says nothing of the function, unique, priority or state: those fields are empty or
 * defaults (`''`, `'normal'`, `'queued'`); `background` is the PERSISTED column.
 */
export function parseShowJobs(lines: readonly string[]): JobInfo[] {
  const jobs: JobInfo[] = []
  for (const line of lines) {
    const [handle = '', retries, ignore, persisted] = line.split('\t')
    if (ignore === '1') continue
    jobs.push({ handle, functionName: '', unique: '', priority: 'normal', background: persisted === '1', state: 'queued', attempts: count(retries), waiting: 0, runAt: 0 })
  }
  return jobs
}
