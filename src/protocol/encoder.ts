/**
 * Packet encoder: (magic, type, args) → bytes. Pure; no sockets.
 *
 * `encodePacket` builds one Buffer with a single `Buffer.allocUnsafe`. `encodePacketChunks` returns a chunk
 * list in which a large last argument (a job's data or result) is its own chunk, referenced rather than copied,
 * so a socket can `writev` it (node-redis's chunk list).
 *
 * The encoder does not check that the magic suits the type (tests and proxies need to send odd packets);
 * it does check the argument count, NUL-free leading arguments and the 32-bit payload size.
 */
import { InvalidArgumentError } from '../errors.js'
import { HEADER_SIZE, MAGIC_CODE, packetInfo, type ArgCount, type Magic, type PacketType, type Tuple } from './packets.js'

/** One argument: bytes as they are, or a string written as UTF-8. */
export type Arg = Uint8Array | string

/** The argument tuple of packet type `T` (for a union of types, a union of tuples). */
export type ArgsOf<T extends PacketType> = T extends PacketType ? Tuple<ArgCount<T>, Arg> : never

/** A last argument at least this large is kept as its own chunk by `encodePacketChunks` (64 KiB). */
export const DEFAULT_CHUNK_THRESHOLD = 64 * 1024

/** The largest payload the 32-bit size field can declare. */
const MAX_WIRE_PAYLOAD = 0xffff_ffff

/**
 * Encode one packet into a single Buffer.
 * @example
 * socket.write(encodePacket('RES', PACKET.JOB_CREATED, ['H:host:1']))
 */
export function encodePacket<T extends PacketType>(magic: Magic, type: T, args: ArgsOf<T>): Buffer {
  const list = args as readonly Arg[]
  const size = payloadSize(type, list)
  const out = Buffer.allocUnsafe(HEADER_SIZE + size)
  writeHeader(out, magic, type, size)
  writeArgs(out, HEADER_SIZE, list, list.length)
  return out
}

/**
 * `encodePacket` without the checks, for the hot replies a server builds from values it already holds (a job's
 * handle, function, unique and data): the caller guarantees the argument count and that only the last
 * argument may hold NULs.
 */
export function encodeTrusted(magic: Magic, type: PacketType, args: readonly Arg[]): Buffer {
  const size = trustedPayloadSize(args)
  const out = Buffer.allocUnsafe(HEADER_SIZE + size)
  writeTrusted(out, 0, magic, type, args, size)
  return out
}

/** The payload bytes (header excluded) of `encodeTrusted`'s packet for `args`. */
export function trustedPayloadSize(args: readonly Arg[]): number {
  let size = args.length - 1
  for (const arg of args) size += typeof arg === 'string' ? Buffer.byteLength(arg, 'utf8') : arg.byteLength
  return size
}

/**
 * `encodeTrusted` into `out` at `at`, for a writer that batches packets in one buffer: `size` is
 * `trustedPayloadSize(args)`, and `out` has room for the header and it. Returns the end.
 */
export function writeTrusted(out: Buffer, at: number, magic: Magic, type: PacketType, args: readonly Arg[], size: number): number {
  writeHeader(out, magic, type, size, at)
  writeArgs(out, at + HEADER_SIZE, args, args.length)
  return at + HEADER_SIZE + size
}

/**
 * Encode one packet as a list of chunks to be written in order. When the last argument is a byte array of at
 * least `threshold` bytes it is returned as the final chunk (a Buffer view over the same memory, not a copy);
 * otherwise the list holds one Buffer, as `encodePacket` would build. The caller must not modify that byte
 * array until the chunks are written.
 * @example
 * for (const chunk of encodePacketChunks('RES', PACKET.WORK_COMPLETE, [handle, bigResult])) socket.write(chunk)
 */
export function encodePacketChunks<T extends PacketType>(magic: Magic, type: T, args: ArgsOf<T>, threshold = DEFAULT_CHUNK_THRESHOLD): Buffer[] {
  const list = args as readonly Arg[]
  const size = payloadSize(type, list)
  const last = list[list.length - 1]
  if (last === undefined || typeof last === 'string' || last.byteLength < threshold) {
    const out = Buffer.allocUnsafe(HEADER_SIZE + size)
    writeHeader(out, magic, type, size)
    writeArgs(out, HEADER_SIZE, list, list.length)
    return [out]
  }
  const head = Buffer.allocUnsafe(HEADER_SIZE + size - last.byteLength)
  writeHeader(head, magic, type, size)
  writeArgs(head, HEADER_SIZE, list, list.length - 1)
  return [head, asBuffer(last)]
}

/** Total payload bytes of `args` for `type`, after checking count, NULs and size. */
function payloadSize(type: number, args: readonly Arg[]): number {
  const info = packetInfo(type)
  if (info === undefined) throw new InvalidArgumentError('type', 'a Gearman packet type from 1 to 42', type)
  if (args.length !== info.args) throw new InvalidArgumentError('args', `${info.args} argument(s) for ${info.name}`, args.length)
  let size = args.length > 0 ? args.length - 1 : 0
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as Arg
    const last = i === args.length - 1
    if (typeof arg === 'string') {
      if (!last && arg.includes('\0')) throw new InvalidArgumentError(`args[${i}]`, `a ${info.name} argument without NUL (only the last may hold NULs)`, arg)
      size += Buffer.byteLength(arg, 'utf8')
    } else {
      if (!last && arg.indexOf(0) !== -1) throw new InvalidArgumentError(`args[${i}]`, `a ${info.name} argument without NUL (only the last may hold NULs)`, arg)
      size += arg.byteLength
    }
  }
  if (size > MAX_WIRE_PAYLOAD) throw new InvalidArgumentError('args', `a payload of at most ${MAX_WIRE_PAYLOAD} bytes`, size)
  return size
}

function writeHeader(out: Buffer, magic: Magic, type: number, size: number, at = 0): void {
  out.writeUInt32BE(MAGIC_CODE[magic], at)
  out.writeUInt32BE(type, at + 4)
  out.writeUInt32BE(size, at + 8)
}

/** Write the first `count` of `args` from `offset`, each but the packet's last followed by a NUL. */
function writeArgs(out: Buffer, offset: number, args: readonly Arg[], count: number): void {
  let at = offset
  for (let i = 0; i < count; i++) {
    const arg = args[i] as Arg
    if (typeof arg === 'string') at = writeString(out, at, arg)
    else {
      out.set(arg, at)
      at += arg.byteLength
    }
    if (i < args.length - 1) out[at++] = 0
  }
}

/** A string of at most this many characters is tried as ASCII, byte by byte (a function name, a unique, a number). */
const SHORT_STRING = 64

/** Writes `text` as UTF-8 at `at`; returns the end. Short ASCII text costs no Buffer.write call. */
function writeString(out: Buffer, at: number, text: string): number {
  const n = text.length
  if (n <= SHORT_STRING) {
    let i = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) break
      out[at + i] = c
    }
    if (i === n) return at + n
  }
  return at + out.write(text, at, 'utf8')
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
