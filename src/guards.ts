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
