import type { JobStore, StoredJob } from '../core/store.js'

/**
 * A job store in this process's memory: it survives closing a Broker and opening a new one on the same store
 * object, not a crash. Useful in tests and for handing jobs from one broker to the next. (A Broker without a
 * store keeps its jobs in memory too, without this bookkeeping.)
 * @example
 * const store = memoryStore()
 * const first = new Broker({ store })
 * await first.client().submitBackground('mail', 'hi')
 * await first.close()
 * const second = new Broker({ store }) // the 'mail' job is queued again
 */
export function memoryStore(): JobStore {
  const rows = new Map<number, StoredJob>()
  let nextId = 0
  return {
    load: () => [...rows.values()].sort((a, b) => a.id - b.id),
    nextId: () => nextId,
    write(added, removed) {
      for (const job of added) {
        rows.set(job.id, job)
        if (job.id >= nextId) nextId = job.id + 1
      }
      for (const id of removed) rows.delete(id)
    },
    close() {
      // nothing to release: the rows stay for the next broker
    },
  }
}
