/**
 * Consistent hashing of keys (job uniques) over servers: each server owns many points on a 32-bit ring, a key
 * goes to the first point at or after its hash whose server is live. Removing a server moves only its keys.
 */

/** Points per server: enough to spread keys evenly over a handful of servers. */
const POINTS_PER_SERVER = 160

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function hash32(text: string | Uint8Array): number {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
  let h = 0x811c9dc5
  for (const byte of bytes) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  // FNV-1a's low bits mix poorly for short keys: one extra avalanche step (murmur3's finaliser)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

export class HashRing<T> {
  readonly #points: { readonly at: number; readonly node: T }[]

  /** `nodes` with the name each is hashed under (its identity: the same name always owns the same points). */
  constructor(nodes: readonly { readonly name: string; readonly node: T }[]) {
    this.#points = nodes
      .flatMap(({ name, node }) => Array.from({ length: POINTS_PER_SERVER }, (_, i) => ({ at: hash32(`${name}#${i}`), node })))
      .sort((a, b) => a.at - b.at)
  }

  /** The node owning `key` among those `live` accepts; undefined when none is live. */
  pick(key: string | Uint8Array, live: (node: T) => boolean): T | undefined {
    const points = this.#points
    const n = points.length
    if (n === 0) return undefined
    const h = hash32(key)
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((points[mid] as { at: number }).at < h) lo = mid + 1
      else hi = mid
    }
    for (let k = 0; k < n; k++) {
      const point = points[(lo + k) % n] as { node: T }
      if (live(point.node)) return point.node
    }
    return undefined
  }
}
