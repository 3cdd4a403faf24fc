/** Module-private symbols shared across folders; never exported from index.ts. */

/** `broker[kEngine]` gives the TCP adapter and thread pool the broker's engine. */
export const kEngine = Symbol('gearbox.engine')
