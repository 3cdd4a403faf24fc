/**
 * The Gearman packet catalogue of gearmand 1.1.20 (types 1–42; GEARMAN.md §2), as one `as const` table.
 *
 * Every row gives the type code, the magic it travels with, who sends it, its number of arguments and
 * whether its last argument is an opaque blob (arbitrary bytes, NULs included). Whatever the flag says, the
 * last argument always runs to the end of the payload; the flag tells readers what the bytes mean.
 *
 * `request` is whether a server accepts the type from a peer; `response` whether a client accepts it from a
 * server. They follow gearmand 1.1.20: ALL_YOURS (24) and SUBMIT_JOB_SCHED (35) are well-formed requests that
 * gearmand nevertheless answers with `ERROR INVALID_COMMAND`, so their `request` is `false` (§1.4).
 */

/** `\0REQ` travels to a server, `\0RES` from it. */
export type Magic = 'REQ' | 'RES'

/** Magic as the big-endian uint32 of the 4 header bytes. */
export const MAGIC_CODE = { REQ: 0x00524551, RES: 0x00524553 } as const

/** Bytes of the fixed packet header: magic, type, payload size (each a big-endian uint32). */
export const HEADER_SIZE = 12

export const PACKETS = {
  CAN_DO: { code: 1, magic: 'REQ', dir: 'W->S', args: 1, blob: false, request: true, response: false },
  CANT_DO: { code: 2, magic: 'REQ', dir: 'W->S', args: 1, blob: false, request: true, response: false },
  RESET_ABILITIES: { code: 3, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: true, response: false },
  PRE_SLEEP: { code: 4, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: true, response: false },
  UNUSED: { code: 5, magic: 'none', dir: 'none', args: 0, blob: false, request: false, response: false },
  NOOP: { code: 6, magic: 'RES', dir: 'S->W', args: 0, blob: false, request: false, response: true },
  SUBMIT_JOB: { code: 7, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  JOB_CREATED: { code: 8, magic: 'RES', dir: 'S->C', args: 1, blob: false, request: false, response: true },
  GRAB_JOB: { code: 9, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: true, response: false },
  NO_JOB: { code: 10, magic: 'RES', dir: 'S->W', args: 0, blob: false, request: false, response: true },
  JOB_ASSIGN: { code: 11, magic: 'RES', dir: 'S->W', args: 3, blob: true, request: false, response: true },
  WORK_STATUS: { code: 12, magic: 'REQ/RES', dir: 'W->S, S->C', args: 3, blob: false, request: true, response: true },
  WORK_COMPLETE: { code: 13, magic: 'REQ/RES', dir: 'W->S, S->C', args: 2, blob: true, request: true, response: true },
  WORK_FAIL: { code: 14, magic: 'REQ/RES', dir: 'W->S, S->C', args: 1, blob: false, request: true, response: true },
  GET_STATUS: { code: 15, magic: 'REQ', dir: 'C->S', args: 1, blob: false, request: true, response: false },
  ECHO_REQ: { code: 16, magic: 'REQ', dir: '*->S', args: 1, blob: true, request: true, response: false },
  ECHO_RES: { code: 17, magic: 'RES', dir: 'S->*', args: 1, blob: true, request: false, response: true },
  SUBMIT_JOB_BG: { code: 18, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  ERROR: { code: 19, magic: 'RES', dir: 'S->*', args: 2, blob: false, request: false, response: true },
  STATUS_RES: { code: 20, magic: 'RES', dir: 'S->C', args: 5, blob: false, request: false, response: true },
  SUBMIT_JOB_HIGH: { code: 21, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  SET_CLIENT_ID: { code: 22, magic: 'REQ', dir: '*->S', args: 1, blob: false, request: true, response: false },
  CAN_DO_TIMEOUT: { code: 23, magic: 'REQ', dir: 'W->S', args: 2, blob: false, request: true, response: false },
  ALL_YOURS: { code: 24, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: false, response: false },
  WORK_EXCEPTION: { code: 25, magic: 'REQ/RES', dir: 'W->S, S->C', args: 2, blob: true, request: true, response: true },
  OPTION_REQ: { code: 26, magic: 'REQ', dir: '*->S', args: 1, blob: false, request: true, response: false },
  OPTION_RES: { code: 27, magic: 'RES', dir: 'S->*', args: 1, blob: false, request: false, response: true },
  WORK_DATA: { code: 28, magic: 'REQ/RES', dir: 'W->S, S->C', args: 2, blob: true, request: true, response: true },
  WORK_WARNING: { code: 29, magic: 'REQ/RES', dir: 'W->S, S->C', args: 2, blob: true, request: true, response: true },
  GRAB_JOB_UNIQ: { code: 30, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: true, response: false },
  JOB_ASSIGN_UNIQ: { code: 31, magic: 'RES', dir: 'S->W', args: 4, blob: true, request: false, response: true },
  SUBMIT_JOB_HIGH_BG: { code: 32, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  SUBMIT_JOB_LOW: { code: 33, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  SUBMIT_JOB_LOW_BG: { code: 34, magic: 'REQ', dir: 'C->S', args: 3, blob: true, request: true, response: false },
  SUBMIT_JOB_SCHED: { code: 35, magic: 'REQ', dir: 'C->S', args: 8, blob: true, request: false, response: false },
  SUBMIT_JOB_EPOCH: { code: 36, magic: 'REQ', dir: 'C->S', args: 4, blob: true, request: true, response: false },
  SUBMIT_REDUCE_JOB: { code: 37, magic: 'REQ', dir: 'C->S', args: 5, blob: true, request: true, response: false },
  SUBMIT_REDUCE_JOB_BACKGROUND: { code: 38, magic: 'REQ', dir: 'C->S', args: 5, blob: true, request: true, response: false },
  GRAB_JOB_ALL: { code: 39, magic: 'REQ', dir: 'W->S', args: 0, blob: false, request: true, response: false },
  JOB_ASSIGN_ALL: { code: 40, magic: 'RES', dir: 'S->W', args: 5, blob: true, request: false, response: true },
  GET_STATUS_UNIQUE: { code: 41, magic: 'REQ', dir: 'C->S', args: 1, blob: false, request: true, response: false },
  STATUS_RES_UNIQUE: { code: 42, magic: 'RES', dir: 'S->C', args: 6, blob: false, request: false, response: true },
} as const

type Table = typeof PACKETS

/** A packet name, e.g. `'SUBMIT_JOB'`. */
export type PacketName = keyof Table
/** A packet type code, 1–42. */
export type PacketType = Table[PacketName]['code']
/** One row of the table. */
export type PacketInfo = Table[PacketName] & { readonly name: PacketName }

/** The highest valid type; gearmand treats 0 and anything above as fatal (§1.4). */
export const MAX_PACKET_TYPE = 42

type NameOf<T extends PacketType> = { [K in PacketName]: Table[K]['code'] extends T ? K : never }[PacketName]
/** Number of arguments of packet type `T`. */
export type ArgCount<T extends PacketType> = Table[NameOf<T>]['args']
/** A tuple of `N` elements of `E`. */
export type Tuple<N extends number, E, A extends readonly E[] = []> = A['length'] extends N ? A : Tuple<N, E, readonly [...A, E]>

/**
 * A decoded (or to-be-encoded) binary packet. The union is discriminated by `type`, so `args` is a tuple of
 * exactly the right length: `if (p.type === PACKET.SUBMIT_JOB) p.args[2]` is a `Buffer`.
 */
export type Packet = { [K in PacketName]: { readonly magic: Magic; readonly type: Table[K]['code']; readonly args: Tuple<Table[K]['args'], Buffer> } }[PacketName]

/** Name → type code, for readable switches: `case PACKET.GRAB_JOB:`. */
export const PACKET = Object.fromEntries(Object.entries(PACKETS).map(([name, row]) => [name, row.code])) as unknown as {
  readonly [K in PacketName]: Table[K]['code']
}

const byCode: readonly (PacketInfo | undefined)[] = (() => {
  const rows: (PacketInfo | undefined)[] = new Array<PacketInfo | undefined>(MAX_PACKET_TYPE + 1).fill(undefined)
  for (const [name, row] of Object.entries(PACKETS)) rows[row.code] = { ...row, name: name as PacketName }
  return rows
})()

/** The table row of a type code, or `undefined` for 0, anything above 42, or a non-integer. */
export function packetInfo(type: number): PacketInfo | undefined {
  return byCode[type]
}

/** The row of a packet name, or `undefined` if `name` is not one (exact, upper-case match). */
export function packetByName(name: string): PacketInfo | undefined {
  return Object.hasOwn(PACKETS, name) ? byCode[PACKETS[name as PacketName].code] : undefined
}

/** Whether `type` is a defined packet type (1–42). */
export function isPacketType(type: number): type is PacketType {
  return byCode[type] !== undefined
}

/** The name of a type code, or `UNKNOWN(<n>)` (for messages and logs). */
export function packetName(type: number): string {
  return byCode[type]?.name ?? `UNKNOWN(${type})`
}
