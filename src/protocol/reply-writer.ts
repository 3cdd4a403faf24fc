/**
 * A server's replies to one peer, encoded straight into one growable buffer: the hot packets (JOB_CREATED,
 * JOB_ASSIGN_UNIQ, WORK_COMPLETE, NOOP, NO_JOB) are written field by field, with the job handle written from
 * its start bytes (`H:host:`) and the job's id, so no per-packet Buffer or handle string is made. Anything
 * else arrives already encoded and is appended. Pure: no sockets.
 *
 * `take()` hands out what was written since the last take, as views of the buffer (a large payload as its own
 * chunk, not copied). The caller then says whether those views may still be referenced (`abandon()`: the
 * writer moves on to a fresh buffer) or not (`recycle()`: the buffer goes back to its source for reuse).
 */
import { putBytes, writeUint32 } from './bytes.js'
import { HEADER_SIZE, MAGIC_CODE, PACKET } from './packets.js'

/** Where a writer gets its buffers and returns them (a pool shared by a server's connections). */
export interface ReplySource {
  /** Bytes of the buffers `get` returns. */
  readonly size: number
  get(): Buffer
  /** Takes back a buffer no view of which is referenced any more (buffers of another size may be dropped). */
  put(buf: Buffer): void
}

/** A payload at least this large is passed on as its own chunk rather than copied (64 KiB). */
export const LARGE_PAYLOAD = 64 * 1024

export class ReplyWriter {
  readonly #source: ReplySource
  #buf: Buffer | null = null
  /** First byte not yet taken. */
  #start = 0
  /** First free byte. */
  #end = 0
  /** Taken pieces and large payloads, in order, before the bytes in [#start, #end). */
  #chunks: Buffer[] = []

  constructor(source: ReplySource) {
    this.#source = source
  }

  /** Whether anything waits to be taken. */
  get pending(): boolean {
    return this.#end > this.#start || this.#chunks.length > 0
  }

  /** Bytes in the current buffer not yet taken (large payloads kept as chunks count as a full buffer). */
  get pendingBytes(): number {
    return this.#chunks.length > 0 ? Infinity : this.#end - this.#start
  }

  /** Appends bytes as they are (an encoded packet, an admin reply). */
  bytes(bytes: Uint8Array): void {
    if (bytes.byteLength >= LARGE_PAYLOAD) {
      this.#chunk(bytes)
      return
    }
    const buf = this.#reserve(bytes.byteLength)
    buf.set(bytes, this.#end)
    this.#end += bytes.byteLength
  }

  /** JOB_CREATED: the handle `start` + `id`. */
  jobCreated(start: Buffer, id: number): void {
    const handle = start.length + digitCount(id)
    const buf = this.#reserve(HEADER_SIZE + handle)
    let at = header(buf, this.#end, PACKET.JOB_CREATED, handle)
    at = writeHandle(buf, at, start, id, handle)
    this.#end = at
  }

  /** JOB_ASSIGN_UNIQ: handle, function name (bytes), unique, data. */
  jobAssignUniq(start: Buffer, id: number, functionName: Buffer, unique: string, data: Uint8Array): void {
    const handle = start.length + digitCount(id)
    const uniqueBytes = unique === '' ? 0 : Buffer.byteLength(unique, 'utf8')
    const size = handle + 1 + functionName.length + 1 + uniqueBytes + 1 + data.byteLength
    const large = data.byteLength >= LARGE_PAYLOAD
    const buf = this.#reserve(HEADER_SIZE + size - (large ? data.byteLength : 0))
    let at = header(buf, this.#end, PACKET.JOB_ASSIGN_UNIQ, size)
    at = writeHandle(buf, at, start, id, handle)
    buf[at++] = 0
    at = putBytes(buf, at, functionName)
    buf[at++] = 0
    if (uniqueBytes > 0) at += buf.write(unique, at, 'utf8')
    buf[at++] = 0
    this.#end = at
    this.#data(data, large)
  }

  /** WORK_COMPLETE to a client: handle, result. */
  workComplete(start: Buffer, id: number, data: Uint8Array): void {
    const handle = start.length + digitCount(id)
    const size = handle + 1 + data.byteLength
    const large = data.byteLength >= LARGE_PAYLOAD
    const buf = this.#reserve(HEADER_SIZE + size - (large ? data.byteLength : 0))
    let at = header(buf, this.#end, PACKET.WORK_COMPLETE, size)
    at = writeHandle(buf, at, start, id, handle)
    buf[at++] = 0
    this.#end = at
    this.#data(data, large)
  }

  /** An argument-less packet (NOOP, NO_JOB). */
  empty(type: typeof PACKET.NOOP | typeof PACKET.NO_JOB): void {
    const buf = this.#reserve(HEADER_SIZE)
    this.#end = header(buf, this.#end, type, 0)
  }

  /** What was written since the last take, in order; usually one view. */
  take(): Buffer[] {
    const out = this.#chunks
    this.#chunks = []
    if (this.#end > this.#start) out.push((this.#buf as Buffer).subarray(this.#start, this.#end))
    this.#start = this.#end
    return out
  }

  /** Every view taken so far is no longer referenced: the buffer goes back to the source. */
  recycle(): void {
    if (this.#buf !== null) this.#source.put(this.#buf)
    this.#forget()
  }

  /** Views taken so far may still be referenced (a write in progress): write on in a fresh buffer. */
  abandon(): void {
    this.#forget()
  }

  #forget(): void {
    this.#buf = null
    this.#start = 0
    this.#end = 0
    this.#chunks = []
  }

  /** The data argument: copied after the fields, or, when large, passed on as its own chunk. */
  #data(data: Uint8Array, large: boolean): void {
    if (large) {
      this.#chunk(data)
      return
    }
    ;(this.#buf as Buffer).set(data, this.#end)
    this.#end += data.byteLength
  }

  #chunk(bytes: Uint8Array): void {
    if (this.#end > this.#start) this.#chunks.push((this.#buf as Buffer).subarray(this.#start, this.#end))
    this.#start = this.#end
    this.#chunks.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }

  /** A buffer with `n` free bytes at `#end`. Bytes not yet taken move along to a larger one. */
  #reserve(n: number): Buffer {
    const buf = this.#buf
    if (buf !== null && buf.length - this.#end >= n) return buf
    const untaken = this.#end - this.#start
    const next = untaken + n <= this.#source.size ? this.#source.get() : Buffer.allocUnsafeSlow(Math.max(2 * (untaken + n), this.#source.size))
    if (buf !== null && untaken > 0) buf.copy(next, 0, this.#start, this.#end)
    // the old buffer is dropped: views of it may be in flight
    this.#buf = next
    this.#start = 0
    this.#end = untaken
    return next
  }
}

function header(buf: Buffer, at: number, type: number, size: number): number {
  writeUint32(buf, at, MAGIC_CODE.RES)
  writeUint32(buf, at + 4, type)
  return writeUint32(buf, at + 8, size)
}

/** Writes the `length` bytes of the handle: `start`, then the decimal digits of `id` (a safe integer ≥ 0); returns the end. */
function writeHandle(buf: Buffer, at: number, start: Buffer, id: number, length: number): number {
  putBytes(buf, at, start)
  const stop = at + length
  let end = stop
  let n = id
  do {
    const digit = n % 10
    buf[--end] = 0x30 + digit
    n = (n - digit) / 10
  } while (n > 0)
  return stop
}

function digitCount(n: number): number {
  let digits = 1
  for (let limit = 10; n >= limit; limit *= 10) digits++
  return digits
}
