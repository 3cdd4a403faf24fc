import { InvalidArgumentError } from './errors.js'

/** Checks shared by the in-process and the in-thread job APIs. */

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/** A status update's numbers travel as Gearman's uint32 ASCII fields. */
export function checkStatus(numerator: unknown, denominator: unknown): void {
  if (!isUint32(numerator) || !isUint32(denominator)) {
    throw new InvalidArgumentError('status', 'integers between 0 and 2^32-1', isUint32(numerator) ? denominator : numerator)
  }
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff
}

/** What a handler threw, as the text of a WORK_EXCEPTION. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof err === 'string') return err
  try {
    // undefined for undefined or a function
    const json = JSON.stringify(err) as string | undefined
    return json ?? String(err)
  } catch {
    return String(err)
  }
}
