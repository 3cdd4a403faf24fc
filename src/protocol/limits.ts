/**
 * Size limits of the Gearman protocol as gearmand 1.1.20 enforces them (GEARMAN.md §1.2, §3.3, §3.7, §3.8,
 * §3.14), and the per-request check a server runs on a decoded packet before acting on it.
 *
 * These are not framing errors: the decoder delivers such packets normally, and the server answers them with
 * an ERROR packet (or, where gearmand hits an internal error, with nothing) and keeps the connection.
 */
import { WIRE_ERRORS, type WireError } from './error-replies.js'
import { MAX_PACKET_TYPE, PACKET, type Packet } from './packets.js'

/** A unique (and a reduce job's reducer) may have at most 64 bytes; 65 → `ARGUMENT_TOO_LARGE`. */
export const MAX_UNIQUE_BYTES = 64
/** Job handles are shorter than 64 bytes (63 + the C terminator). */
export const MAX_HANDLE_BYTES = 63
/** SET_CLIENT_ID is truncated to this many bytes by gearmand. */
export const MAX_CLIENT_ID_BYTES = 127
/** CAN_DO_TIMEOUT's number longer than this is refused silently by gearmand. */
export const MAX_TIMEOUT_DIGITS = 20
/** Default `maxPacketSize` of the decoder: payload bytes of one packet (64 MiB). */
export const DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024
/** Default `maxLineLength` of the decoder: bytes of one text line before its `\n` (8 KiB). */
export const DEFAULT_MAX_LINE_LENGTH = 8 * 1024

/**
 * A request that breaks a size limit. `reply` is the ERROR gearmand sends (the connection stays open), or
 * `null` where gearmand answers nothing at all (an internal error on its side); `reason` is for logs.
 * For a silent case a server may choose a friendlier answer (e.g. "unknown" STATUS_RES for an over-long
 * handle, since no such job can exist).
 */
export interface LimitViolation {
  readonly reply: WireError | null
  readonly reason: string
}

/** One limit: argument `arg` of the packet may have at most `max` bytes. */
interface Rule {
  readonly arg: number
  readonly max: number
  readonly reply: WireError | null
  readonly what: string
}

const unique: Rule = { arg: 1, max: MAX_UNIQUE_BYTES, reply: WIRE_ERRORS.UNIQUE_TOO_LARGE, what: 'unique' }
const byType = new Map<number, readonly Rule[]>([
  [PACKET.SUBMIT_JOB, [unique]],
  [PACKET.SUBMIT_JOB_BG, [unique]],
  [PACKET.SUBMIT_JOB_HIGH, [unique]],
  [PACKET.SUBMIT_JOB_HIGH_BG, [unique]],
  [PACKET.SUBMIT_JOB_LOW, [unique]],
  [PACKET.SUBMIT_JOB_LOW_BG, [unique]],
  [PACKET.SUBMIT_JOB_EPOCH, [unique]],
  [PACKET.SUBMIT_REDUCE_JOB, [{ arg: 2, max: MAX_UNIQUE_BYTES, reply: WIRE_ERRORS.UNIQUE_TOO_LARGE, what: 'reducer' }, unique]],
  [PACKET.SUBMIT_REDUCE_JOB_BACKGROUND, [{ arg: 2, max: MAX_UNIQUE_BYTES, reply: WIRE_ERRORS.UNIQUE_TOO_LARGE, what: 'reducer' }, unique]],
  [PACKET.WORK_FAIL, [{ arg: 0, max: MAX_HANDLE_BYTES, reply: WIRE_ERRORS.HANDLE_TOO_LARGE, what: 'handle' }]],
  [PACKET.GET_STATUS, [{ arg: 0, max: MAX_HANDLE_BYTES, reply: null, what: 'handle' }]],
  [PACKET.GET_STATUS_UNIQUE, [{ arg: 0, max: MAX_UNIQUE_BYTES - 1, reply: null, what: 'unique' }]],
  [PACKET.CAN_DO_TIMEOUT, [{ arg: 1, max: MAX_TIMEOUT_DIGITS, reply: null, what: 'timeout' }]],
])
/** The rules indexed by packet type (this runs for every request). */
const rules: readonly (readonly Rule[] | undefined)[] = Array.from({ length: MAX_PACKET_TYPE + 1 }, (_, type) => byType.get(type))

/**
 * Check a decoded request against gearmand's size limits; `null` when it passes.
 *
 * - SUBMIT_JOB* (7, 18, 21, 32, 33, 34, 36): unique over 64 bytes → `ARGUMENT_TOO_LARGE`.
 * - SUBMIT_REDUCE_JOB* (37, 38): reducer over 64 bytes → the same (gearmand's check); the unique is checked as
 *   well (gearmand does not, but an over-long unique cannot be stored and is refused like the others).
 * - WORK_FAIL (14): handle of 64 bytes or more → `ARGUMENT_TOO_LARGE` (handle text).
 * - GET_STATUS (15) handle ≥ 64 bytes, GET_STATUS_UNIQUE (41) unique ≥ 64 bytes, CAN_DO_TIMEOUT (23) number of
 *   more than 20 characters → no reply.
 * @example
 * const bad = checkRequestLimits(packet)
 * if (bad) { if (bad.reply) send(encodeError(bad.reply.code, bad.reply.text)); return }
 */
export function checkRequestLimits(packet: Packet): LimitViolation | null {
  const list = rules[packet.type]
  if (list === undefined) return null
  const args: readonly Buffer[] = packet.args
  for (const rule of list) {
    const bytes = args[rule.arg]?.byteLength ?? 0
    if (bytes > rule.max) return { reply: rule.reply, reason: `${rule.what} of ${bytes} bytes (at most ${rule.max})` }
  }
  return null
}
