/**
 * The thread module behind the 'resize' function: a ThreadPool loads it in each of its threads and calls
 * the default export once per job. The payload is the image's bytes; the result is the packed thumbnails.
 *
 *   broker.worker().register('resize', threads.handler(new URL('./resize-handler.js', import.meta.url)))
 */
import type { JobContext } from 'gearbox'
import { makeThumbnails, packThumbnails } from './resize.js'

export default async function resize(job: JobContext<Buffer, Uint8Array>): Promise<Uint8Array> {
  const thumbnails = await makeThumbnails(job.data, (step, steps) => job.sendStatus(step, steps), job.signal)
  return packThumbnails(thumbnails)
}
