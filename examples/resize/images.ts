/**
 * Test images for the resize demo and benchmark, made in memory: a diagonal gradient between two colours,
 * a soft disc and some noise, different for every image, encoded as PNG by jimp. Deterministic: the same
 * index always gives the same bytes.
 */
import { Jimp, JimpMime } from 'jimp'

export interface TestImage {
  readonly name: string
  readonly width: number
  readonly height: number
  /** The PNG file's bytes. */
  readonly png: Buffer
}

/** `count` distinct images of `width` × `height`, named img-01, img-02, ... */
export async function makeTestImages(count: number, width = 1600, height = 1200): Promise<TestImage[]> {
  const images: TestImage[] = []
  for (let i = 0; i < count; i++) {
    const image = new Jimp({ width, height })
    paint(image.bitmap.data, width, height, i)
    const png = await image.getBuffer(JimpMime.png)
    images.push({ name: `img-${String(i + 1).padStart(2, '0')}`, width, height, png })
  }
  return images
}

type Rgb = readonly [number, number, number]

/** A saturated colour on the hue circle (0–360). */
function hue(degrees: number): Rgb {
  const h = (((degrees % 360) + 360) % 360) / 60
  const x = Math.round(255 * (1 - Math.abs((h % 2) - 1)))
  const sector = Math.floor(h)
  if (sector === 0) return [255, x, 40]
  if (sector === 1) return [x, 255, 40]
  if (sector === 2) return [40, 255, x]
  if (sector === 3) return [40, x, 255]
  if (sector === 4) return [x, 40, 255]
  return [255, 40, x]
}

/** Fills RGBA `data` with image number `seed`'s picture. */
function paint(data: Buffer, width: number, height: number, seed: number): void {
  const from = hue(seed * 47)
  const to = hue(seed * 47 + 150)
  const angle = (seed * 0.9) % Math.PI
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)]
  const span = Math.abs(dx) * width + Math.abs(dy) * height
  const offset = Math.min(0, dx * width) + Math.min(0, dy * height)
  const cx = width * (0.3 + 0.4 * ((seed * 0.37) % 1))
  const cy = height * (0.3 + 0.4 * ((seed * 0.61) % 1))
  const radius = Math.min(width, height) * 0.3
  let state = (seed + 1) * 0x9e3779b1
  let i = 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x * dx + y * dy - offset) / span
      const d = Math.hypot(x - cx, y - cy) / radius
      const glow = d < 1 ? 90 * (1 - d * d) : 0
      // xorshift32 noise, ±10 per pixel
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      const noise = ((state >>> 24) % 21) - 10
      data[i] = clamp(from[0] + (to[0] - from[0]) * t + glow + noise)
      data[i + 1] = clamp(from[1] + (to[1] - from[1]) * t + glow + noise)
      data[i + 2] = clamp(from[2] + (to[2] - from[2]) * t + glow + noise)
      data[i + 3] = 255
      i += 4
    }
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v | 0
}
