import type { JobContext } from 'gearbox'

/** The job's payload and result, as your app defines them. */
export interface SlugifyRequest {
  titles: string[]
}
export interface SlugifyResult {
  slugs: string[]
}

/**
 * An example handler: turns titles into URL slugs, one at a time, reporting progress and stopping
 * early when the job is cancelled or times out. Register it with
 * `broker.worker({ encoder: 'json' }).register('slugify', slugify, { timeout: 5_000 })`.
 */
export async function slugify(job: JobContext<SlugifyRequest, unknown>): Promise<SlugifyResult> {
  const { titles } = job.payload
  const slugs: string[] = []
  for (const [i, title] of titles.entries()) {
    job.signal.throwIfAborted()
    if (title.trim() === '') job.sendWarning(`title ${i} is empty`)
    slugs.push(
      title
        .toLowerCase()
        .normalize('NFKD')
        .replace(/[\u0300-\u036f]/g, '')
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, ''),
    )
    job.sendStatus(i + 1, titles.length)
    await lookupDelay(job.signal)
  }
  return { slugs }
}

/** Stands in for real async work (a database lookup, say); resolves on the next turn or on abort. */
function lookupDelay(signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error)
      return
    }
    setImmediate(resolve)
  })
}
