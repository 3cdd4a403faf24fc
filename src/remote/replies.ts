/** Option checks and reply readers of the remote client. */
import type { JobStatus, Priority } from '../api.js'
import { type GearboxError, InvalidArgumentError, QueueFullError, ServerError } from '../errors.js'
import type { Frame } from '../protocol/frame.js'

export function priorityOption(value: unknown): Priority {
  if (value === undefined) return 'normal'
  if (value === 'high' || value === 'normal' || value === 'low') return value
  throw new InvalidArgumentError('priority', "'high', 'normal' or 'low'", value)
}

export function flag(arg: Buffer | undefined): boolean {
  return arg?.toString('latin1') === '1'
}

/** KNOWN, RUNNING, NUM, DEN of a STATUS_RES or STATUS_RES_UNIQUE. */
export function statusOf(args: readonly Buffer[]): Omit<JobStatus, 'handle'> {
  const known = flag(args[1])
  const running = flag(args[2])
  const numerator = Number(args[3]?.toString('latin1') ?? 0) || 0
  const denominator = Number(args[4]?.toString('latin1') ?? 0) || 0
  return { known, running, numerator, denominator, state: known ? (running ? 'running' : 'queued') : 'unknown' }
}

/** Argument `k` of a frame as text (handles and numbers are ASCII: latin1 is the cheapest exact decoding). */
export function argText(frame: Frame, k: number, encoding: 'latin1' | 'utf8' = 'latin1'): string {
  return frame.buf.toString(encoding, frame.start(k), frame.end(k))
}

/** An ERROR reply as a typed error: gearmand's "queue full" is QueueFullError, anything else ServerError. */
export function serverError(server: string, frame: Frame, functionName: string): GearboxError {
  const code = argText(frame, 0, 'utf8')
  const text = argText(frame, 1, 'utf8')
  if (code === 'QUEUE_ERROR' && /full/i.test(text)) return new QueueFullError(functionName, 0)
  return new ServerError(server, code, text)
}
