/**
 * The work itself, shared by the thread handler and the demo's inline run: decode an image, scale it down
 * to three thumbnail widths (each from the previous one) and encode each as JPEG. Plus the small framing
 * that carries the three JPEGs back as one result.
 */
import { Jimp, JimpMime } from 'jimp'

/** Thumbnail widths, largest first; heights keep the aspect ratio, and a narrower image keeps its size. */
export const THUMBNAIL_WIDTHS = [800, 320, 120] as const
/** Progress steps of one image: decode, then one per thumbnail. */
export const STEPS = 1 + THUMBNAIL_WIDTHS.length

export interface Thumbnail {
  readonly width: number
  readonly height: number
  readonly jpeg: Uint8Array
}

/**
 * Makes the thumbnails of one image (PNG, JPEG, BMP, GIF or TIFF bytes). Calls `onStep(step, STEPS)` when
 * it starts (step 0) and after each step, and stops between steps once `signal` fires.
 */
export async function makeThumbnails(image: Buffer, onStep?: (step: number, steps: number) => void, signal?: AbortSignal): Promise<Thumbnail[]> {
  onStep?.(0, STEPS)
  const picture = await Jimp.fromBuffer(image)
  onStep?.(1, STEPS)
  const thumbnails: Thumbnail[] = []
  for (const width of THUMBNAIL_WIDTHS) {
    signal?.throwIfAborted()
    if (picture.width > width) picture.resize({ w: width }) // never upscale
    const jpeg = await picture.getBuffer(JimpMime.jpeg, { quality: 80 })
    thumbnails.push({ width: picture.width, height: picture.height, jpeg })
    onStep?.(thumbnails.length + 1, STEPS)
  }
  return thumbnails
}

/** Thumbnails as one byte string: a count, then per thumbnail width (u16), height (u16), length (u32) and the JPEG. */
export function packThumbnails(thumbnails: readonly Thumbnail[]): Uint8Array {
  const size = 4 + thumbnails.reduce((sum, t) => sum + 8 + t.jpeg.byteLength, 0)
  // its own ArrayBuffer (Buffer.alloc never uses the shared pool): the thread can move it back without a copy
  const out = Buffer.alloc(size)
  let at = out.writeUInt32BE(thumbnails.length, 0)
  for (const t of thumbnails) {
    at = out.writeUInt16BE(t.width, at)
    at = out.writeUInt16BE(t.height, at)
    at = out.writeUInt32BE(t.jpeg.byteLength, at)
    out.set(t.jpeg, at)
    at += t.jpeg.byteLength
  }
  return out
}

export function unpackThumbnails(bytes: Uint8Array): Thumbnail[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = buf.readUInt32BE(0)
  const thumbnails: Thumbnail[] = []
  let at = 4
  for (let k = 0; k < count; k++) {
    const width = buf.readUInt16BE(at)
    const height = buf.readUInt16BE(at + 2)
    const length = buf.readUInt32BE(at + 4)
    at += 8
    thumbnails.push({ width, height, jpeg: buf.subarray(at, at + length) })
    at += length
  }
  if (at !== buf.byteLength) throw new Error(`malformed thumbnail pack: ${buf.byteLength - at} bytes left over`)
  return thumbnails
}
