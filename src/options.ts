import { InvalidArgumentError } from './errors.js'

/** Option checks shared by the in-process and the remote APIs. */

/** Checks a non-negative integer option; `undefined` gives `fallback`. */
export function intOption(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(name, `an integer >= ${min}`, value)
  }
  return value
}

/** Like {@link intOption}, but `Infinity` is allowed (e.g. "no limit"). */
export function limitOption(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === Infinity) return Infinity
  return intOption(name, value, fallback, min)
}

export function stringArg(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(name, 'a string', value)
  return value
}

export function signalOption(value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value
  throw new InvalidArgumentError('signal', 'an AbortSignal', value)
}

/** `at` as epoch ms (0 = now). */
export function epochOption(value: unknown): number {
  if (value === undefined) return 0
  const ms = value instanceof Date ? value.getTime() : value
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError('at', 'a Date or epoch milliseconds', value)
  return ms
}
