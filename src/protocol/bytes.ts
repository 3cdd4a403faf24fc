/**
 * Byte helpers for the per-packet paths: plain index loads and stores, no Buffer method calls (a method
 * looked up on Buffers of several origins — socket chunks, pooled slices — costs a generic property lookup
 * per call in V8, more than the few bytes these handle).
 */

/** The big-endian uint32 at `at`. */
export function readUint32(buf: Uint8Array, at: number): number {
  return (buf[at] as number) * 0x1000000 + (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
}

/** Writes `value` (0 … 2³²−1) big-endian at `at`; returns the end. */
export function writeUint32(buf: Uint8Array, at: number, value: number): number {
  buf[at] = value >>> 24
  buf[at + 1] = value >>> 16
  buf[at + 2] = value >>> 8
  buf[at + 3] = value
  return at + 4
}

/** Copies all of `source` (a few bytes: a handle's start, a function name) to `target` at `at`; returns the end. */
export function putBytes(target: Uint8Array, at: number, source: Uint8Array): number {
  const n = source.length
  for (let i = 0; i < n; i++) target[at + i] = source[i] as number
  return at + n
}

/** Whether bytes `start` … `start + b.length` of `a` equal `b`. */
export function bytesAt(a: Uint8Array, start: number, b: Uint8Array): boolean {
  const n = b.length
  if (start + n > a.length) return false
  for (let i = 0; i < n; i++) if (a[start + i] !== b[i]) return false
  return true
}
