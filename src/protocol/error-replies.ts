/**
 * The ERROR packets gearmand 1.1.20 sends (GEARMAN.md §3.14): payload `CODE\0TEXT`, CODE being libgearman's
 * return-code name without `GEARMAN_`, TEXT plain English. Every one of them keeps the connection open.
 */
import type { ProtocolError } from '../errors.js'
import { PACKET } from './packets.js'

/** One ERROR reply: the CODE and TEXT arguments. */
export interface WireError {
  readonly code: string
  readonly text: string
}

/** gearmand's ERROR replies, by situation. */
export const WIRE_ERRORS = {
  /** A request arrived with `\0RES` magic. */
  INVALID_MAGIC: { code: 'INVALID_MAGIC', text: 'Request magic expected' },
  /** A server-only or unsupported type arrived as a request (5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42). */
  INVALID_COMMAND: { code: 'INVALID_COMMAND', text: 'Command not expected' },
  /** SUBMIT_* with a unique over 64 bytes (reduce: reducer over 64 bytes). */
  UNIQUE_TOO_LARGE: { code: 'ARGUMENT_TOO_LARGE', text: 'Unique value too large' },
  /** WORK_FAIL with a handle of 64 bytes or more. */
  HANDLE_TOO_LARGE: { code: 'ARGUMENT_TOO_LARGE', text: 'Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf' },
  /** The function's maxqueue limit is reached. */
  QUEUE_FULL: { code: 'QUEUE_ERROR', text: 'Job queue is full' },
  /** OPTION_REQ other than `exceptions`. */
  UNKNOWN_OPTION: { code: 'UNKNOWN_OPTION', text: 'Server does not recognize given option' },
  /** WORK_DATA / WORK_WARNING for a job this connection does not hold. */
  JOB_NOT_FOUND_DATA: { code: 'JOB_NOT_FOUND', text: 'Job does not exist on server' },
  /** WORK_STATUS / WORK_COMPLETE / WORK_FAIL for a job this connection does not hold. */
  JOB_NOT_FOUND_RESULT: { code: 'JOB_NOT_FOUND', text: 'Job given in work result not found' },
  /** WORK_EXCEPTION for a job this connection does not hold. */
  JOB_NOT_FOUND_EXCEPTION: { code: 'JOB_NOT_FOUND', text: 'An exception was received for a job that does not exist' },
} as const satisfies Record<string, WireError>

export type WireErrorName = keyof typeof WIRE_ERRORS

/**
 * What gearmand answers to a decoder error: the ERROR to send (then keep the connection) for
 * `unexpected-magic` / `unexpected-command`, or `null` for every fatal kind (close without a reply).
 * @example
 * onError(err) { const reply = errorReplyFor(err); if (reply) send(encodeError(reply.code, reply.text)); else socket.destroy() }
 */
export function errorReplyFor(err: ProtocolError): WireError | null {
  switch (err.kind) {
    case 'unexpected-magic':
      return WIRE_ERRORS.INVALID_MAGIC
    case 'unexpected-command':
      return WIRE_ERRORS.INVALID_COMMAND
    case 'bad-magic':
    case 'unknown-type':
    case 'too-large':
    case 'bad-arguments':
    case 'truncated':
    case 'line-too-long':
      return null
  }
}

/**
 * The JOB_NOT_FOUND reply for a WORK_* packet whose handle is not held by the sending connection, or `null`
 * if `type` is not a WORK_* type. gearmand words it differently per packet type.
 */
export function jobNotFoundFor(type: number): WireError | null {
  switch (type) {
    case PACKET.WORK_DATA:
    case PACKET.WORK_WARNING:
      return WIRE_ERRORS.JOB_NOT_FOUND_DATA
    case PACKET.WORK_STATUS:
    case PACKET.WORK_COMPLETE:
    case PACKET.WORK_FAIL:
      return WIRE_ERRORS.JOB_NOT_FOUND_RESULT
    case PACKET.WORK_EXCEPTION:
      return WIRE_ERRORS.JOB_NOT_FOUND_EXCEPTION
    default:
      return null
  }
}
