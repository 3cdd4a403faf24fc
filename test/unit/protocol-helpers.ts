// Shared by the protocol-*.test.ts files: run a decoder over chunks and record what it reports, in order.
import { ProtocolError, type ProtocolErrorKind } from '../../src/errors.js'
import { Decoder, type DecoderOptions, type DecoderSink } from '../../src/protocol/decoder.js'
import type { Packet } from '../../src/protocol/packets.js'

export interface ErrorEvent {
  readonly kind: ProtocolErrorKind
  readonly closeConnection: boolean
  readonly offset: number | undefined
  readonly packetType: number | undefined
}

export type DecodeEvent = { readonly packet: Packet } | { readonly text: string } | { readonly error: ErrorEvent }

/** A sink that records every callback; `errors` keeps the ProtocolError objects themselves. */
export class Recorder implements DecoderSink {
  readonly events: DecodeEvent[] = []
  readonly errors: ProtocolError[] = []
  readonly packets: Packet[] = []
  onPacket(packet: Packet): void {
    this.packets.push(packet)
    this.events.push({ packet })
  }
  onText(line: Buffer): void {
    this.events.push({ text: line.toString('latin1') })
  }
  onError(err: ProtocolError): void {
    if (!(err instanceof ProtocolError)) throw new TypeError('onError got something else than a ProtocolError')
    this.errors.push(err)
    this.events.push({ error: { kind: err.kind, closeConnection: err.closeConnection, offset: err.offset, packetType: err.packetType } })
  }
}

/** Push `chunks` into a fresh decoder (then `end()` unless told not to) and return what it reported. */
export function decodeChunks(chunks: Iterable<Buffer>, options: DecoderOptions = {}, end = true): DecodeEvent[] {
  const recorder = new Recorder()
  const decoder = new Decoder(recorder, options)
  for (const chunk of chunks) decoder.push(chunk)
  if (end) decoder.end()
  return recorder.events
}

/** The two fixed ways of feeding a buffer: whole, and one byte per push. */
export const modes: Readonly<Record<'whole' | 'bytewise', (b: Buffer) => Buffer[]>> = {
  whole: (b) => [b],
  bytewise: (b) => Array.from(b, (_, i) => b.subarray(i, i + 1)),
}

/** Split `b` at the given cut points (any numbers; taken modulo length + 1, sorted, deduplicated). */
export function splitAt(b: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y)
  const out: Buffer[] = []
  let from = 0
  for (const p of points) {
    out.push(b.subarray(from, p))
    from = p
  }
  out.push(b.subarray(from))
  return out
}

/** A 12-byte header with arbitrary fields (for malformed input). */
export function header(magic: number, type: number, size: number): Buffer {
  const h = Buffer.alloc(12)
  h.writeUInt32BE(magic, 0)
  h.writeUInt32BE(type, 4)
  h.writeUInt32BE(size, 8)
  return h
}

/** A header plus a payload given as a latin1 string (for hand-built packets). */
export function raw(magic: number, type: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1')
  return Buffer.concat([header(magic, type, body.length), body])
}

export const REQ = 0x00524551
export const RES = 0x00524553
export const limits = { timeout: 30_000 }
