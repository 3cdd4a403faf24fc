/**
 * One-line encoders for the packets a server sends (all with `\0RES` magic). Numbers are written as ASCII
 * decimal, flags as `1`/`0`, as gearmand does. Handles, function names and uniques may be strings (UTF-8) or
 * bytes; data arguments are usually bytes.
 *
 * JOB_CREATED, JOB_ASSIGN_UNIQ and WORK_COMPLETE, the server's hot replies, skip the argument checks
 * (`encodeTrusted`): pass them values the broker already holds.
 *
 * A server forwarding a worker's WORK_* packet to clients can also re-encode it verbatim:
 * `encodePacket('RES', packet.type, packet.args)`.
 */
import { type Arg, encodePacket, encodeTrusted } from './encoder.js'
import { PACKET } from './packets.js'

const NOOP = encodePacket('RES', PACKET.NOOP, [])
const NO_JOB = encodePacket('RES', PACKET.NO_JOB, [])

/** Wake a sleeping worker. The buffer is shared: do not modify it. */
export function encodeNoop(): Buffer {
  return NOOP
}

/** Answer to a GRAB_* when nothing is runnable. The buffer is shared: do not modify it. */
export function encodeNoJob(): Buffer {
  return NO_JOB
}

/** Answer to an accepted SUBMIT_*: the (new or coalesced) job's handle. */
export function encodeJobCreated(handle: Arg): Buffer {
  return encodeTrusted('RES', PACKET.JOB_CREATED, [handle])
}

/** Answer to GRAB_JOB. */
export function encodeJobAssign(handle: Arg, functionName: Arg, data: Arg): Buffer {
  return encodePacket('RES', PACKET.JOB_ASSIGN, [handle, functionName, data])
}

/** Answer to GRAB_JOB_UNIQ (and to GRAB_JOB_ALL for a job without a reducer). */
export function encodeJobAssignUniq(handle: Arg, functionName: Arg, unique: Arg, data: Arg): Buffer {
  return encodeTrusted('RES', PACKET.JOB_ASSIGN_UNIQ, [handle, functionName, unique, data])
}

/** Answer to GRAB_JOB_ALL for a job with a reducer. */
export function encodeJobAssignAll(handle: Arg, functionName: Arg, unique: Arg, reducer: Arg, data: Arg): Buffer {
  return encodePacket('RES', PACKET.JOB_ASSIGN_ALL, [handle, functionName, unique, reducer, data])
}

/** Progress forwarded to a client. */
export function encodeWorkStatus(handle: Arg, numerator: number | Arg, denominator: number | Arg): Buffer {
  return encodePacket('RES', PACKET.WORK_STATUS, [handle, decimal(numerator), decimal(denominator)])
}

/** The job's result, forwarded to a client. */
export function encodeWorkComplete(handle: Arg, data: Arg): Buffer {
  return encodeTrusted('RES', PACKET.WORK_COMPLETE, [handle, data])
}

/** The job failed (bare handle: no trailing NUL, unlike gearmand's WORK_EXCEPTION conversion, §3.6). */
export function encodeWorkFail(handle: Arg): Buffer {
  return encodePacket('RES', PACKET.WORK_FAIL, [handle])
}

/** The job threw; for clients that set the `exceptions` option. */
export function encodeWorkException(handle: Arg, data: Arg): Buffer {
  return encodePacket('RES', PACKET.WORK_EXCEPTION, [handle, data])
}

/** Intermediate data forwarded to a client. */
export function encodeWorkData(handle: Arg, data: Arg): Buffer {
  return encodePacket('RES', PACKET.WORK_DATA, [handle, data])
}

/** A warning forwarded to a client. */
export function encodeWorkWarning(handle: Arg, data: Arg): Buffer {
  return encodePacket('RES', PACKET.WORK_WARNING, [handle, data])
}

/** Answer to GET_STATUS; an unknown job is `known = false, running = false, 0, 0`. */
export function encodeStatusRes(handle: Arg, known: boolean, running: boolean, numerator: number, denominator: number): Buffer {
  return encodePacket('RES', PACKET.STATUS_RES, [handle, flag(known), flag(running), decimal(numerator), decimal(denominator)])
}

/** Answer to GET_STATUS_UNIQUE; `waitingClients` = attached foreground clients. */
export function encodeStatusResUnique(
  unique: Arg,
  known: boolean,
  running: boolean,
  numerator: number,
  denominator: number,
  waitingClients: number,
): Buffer {
  return encodePacket('RES', PACKET.STATUS_RES_UNIQUE, [unique, flag(known), flag(running), decimal(numerator), decimal(denominator), decimal(waitingClients)])
}

/** Answer to ECHO_REQ: the same payload. */
export function encodeEchoRes(data: Arg): Buffer {
  return encodePacket('RES', PACKET.ECHO_RES, [data])
}

/** Answer to an accepted OPTION_REQ: the option name exactly as the client sent it. */
export function encodeOptionRes(option: Arg): Buffer {
  return encodePacket('RES', PACKET.OPTION_RES, [option])
}

/**
 * An ERROR packet, e.g. `encodeError(WIRE_ERRORS.QUEUE_FULL.code, WIRE_ERRORS.QUEUE_FULL.text)`.
 * @example
 * socket.write(encodeError('INVALID_MAGIC', 'Request magic expected'))
 */
export function encodeError(code: Arg, text: Arg): Buffer {
  return encodePacket('RES', PACKET.ERROR, [code, text])
}

function flag(value: boolean): string {
  return value ? '1' : '0'
}

function decimal(value: number | Arg): Arg {
  return typeof value === 'number' ? String(value) : value
}
