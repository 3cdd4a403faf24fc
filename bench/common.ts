/** Small helpers shared by the benchmarks: statistics, number formatting and child processes. */
import { execFile } from 'node:child_process'

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread() needs at least one value')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 }
}

/** Unit for a rate: M from 100k up (0.74M reads better next to 1.21M), k from 100 up. */
function unitOf(n: number): [number, string] {
  return n >= 1e5 ? [1e6, 'M'] : n >= 100 ? [1e3, 'k'] : [1, '']
}

/** Three significant digits, at most two decimals: 1.21, 41.2, 912. */
function digits(x: number): string {
  return x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)
}

/** 1_210_000 → '1.21M', 1_000_000 → '1M', 41_200 → '41.2k', 912 → '912'. */
export function si(n: number): string {
  const [unit, suffix] = n >= 1e6 ? [1e6, 'M'] : n >= 1e3 ? [1e3, 'k'] : [1, '']
  return String(Number((n / unit).toPrecision(3))) + suffix
}

/** `1.21M [1.17–1.25]` (or `1.21M jobs/s [1.17–1.25]` with a label), one unit for all three numbers. */
export function siSpread(s: Spread, label = ''): string {
  const [unit, suffix] = unitOf(s.median)
  return `${digits(s.median / unit)}${suffix}${label} [${digits(s.min / unit)}–${digits(s.max / unit)}]`
}

export function now(): number {
  return performance.now()
}

export function gc(): void {
  if (typeof globalThis.gc !== 'function') throw new Error('run with `node --expose-gc`')
  globalThis.gc()
  globalThis.gc()
}

/**
 * Runs `node --expose-gc <script> ...args` and returns its stdout; rejects on a non-zero exit, or after
 * two minutes (a job that never completes would otherwise hang the run).
 */
export function runNode(script: string, args: readonly string[], nodeArgs: readonly string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { maxBuffer: 1 << 20, timeout: 120_000 }
    execFile(process.execPath, ['--expose-gc', ...nodeArgs, script, ...args], options, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${script} ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`)
}

/** The integer value of command-line flag `--flag` (given as `text`), at least `min`; anything else fails the run. */
export function intFlag(flag: string, text: string, min: number): number {
  const n = Number(text)
  check(Number.isSafeInteger(n) && n >= min, `--${flag}=${text}: expected an integer ≥ ${min}`)
  return n
}
