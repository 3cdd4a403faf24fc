/**
 * gearbox's main use case end to end: a broker resizes a batch of images on worker threads. Mixed
 * priorities, two duplicate requests that coalesce on their unique key, progress as it goes, the admin
 * status table mid-run, then the same work inline on the main thread for comparison. No server, no network.
 *
 *   npm run demo        (builds dist/, compiles examples/ to .build/, runs .build/examples/resize/demo.js)
 */
import { Broker, type FunctionStatus, type JobRequest, type Priority, ThreadPool } from 'gearbox'
import { makeTestImages, type TestImage } from './images.js'
import { Progress } from './progress.js'
import { makeThumbnails, packThumbnails, unpackThumbnails } from './resize.js'

const IMAGES = 16
/** Images (by index) that are urgent and that can wait; the others are normal. */
const HIGH = new Set([5, 10, 13])
const LOW = new Set([1, 7, 12])
/** Images a second client asks for again with the same unique key: they attach to the first job. */
const DUPLICATES = [2, 9]

function priorityOf(i: number): Priority {
  return HIGH.has(i) ? 'high' : LOW.has(i) ? 'low' : 'normal'
}

interface Run {
  readonly ms: number
  /** Packed thumbnails per image, in image order. */
  readonly results: readonly Uint8Array[]
}

async function main(): Promise<void> {
  console.log('gearbox demo: a broker resizes a batch of images on worker threads\n')
  const t = performance.now()
  const images = await makeTestImages(IMAGES)
  const bytes = images.reduce((sum, img) => sum + img.png.byteLength, 0)
  console.log(`Generated ${IMAGES} test images (1600×1200 PNG, ${mb(bytes)} in all) in ${seconds(performance.now() - t)}.`)

  // both runs below first warm up on a few of the images (two per thread), so that they time warm code
  const warmUpImages = images.slice(0, 4)
  const threads = new ThreadPool()
  const broker = new Broker()
  let threaded: Run
  let warmUpThreads: number
  try {
    broker.worker().register('resize', threads.handler(new URL('./resize-handler.js', import.meta.url)))
    console.log(`\n1. On a ThreadPool of ${threads.capacity} threads: each image → 800, 320 and 120 px wide JPEGs`)
    const client = broker.client()
    warmUpThreads = await timed(() => Promise.all(warmUpImages.map((img) => client.submit('resize', img.png))))
    console.log(`   warm-up: ${warmUpImages.length} of the images in ${seconds(warmUpThreads)} (starts the threads, loads jimp in each)`)
    console.log(`   submitted in this order: ${images.map((_, i) => priorityOf(i)).join(' ')}`)
    console.log(`   plus ${DUPLICATES.map((i) => at(images, i).name).join(' and ')} again from a second client, with the same unique key`)
    threaded = await resizeOnThreads(broker, threads.capacity, images)
  } finally {
    await broker.close()
    await threads.close()
  }

  console.log(`\n2. The same ${IMAGES} images inline on the main thread (the same resize code, one after the other)`)
  const warmUpInline = await timed(async () => {
    for (const img of warmUpImages) await makeThumbnails(img.png)
  })
  const inline = await resizeInline(images)
  const same = inline.results.every((r, i) => Buffer.compare(r, at(threaded.results, i)) === 0)
  if (!same) throw new Error('the inline thumbnails differ from the threaded ones')
  console.log(`   every thumbnail is byte-for-byte identical to the threaded run's`)

  const withWarmUp = (inline.ms + warmUpInline) / (threaded.ms + warmUpThreads)
  const flags = process.execArgv.filter((arg) => arg.startsWith('--') && !arg.startsWith('--expose'))
  console.log(`\nWall time for ${IMAGES} images: on ${threads.capacity} threads ${seconds(threaded.ms)}, inline ${seconds(inline.ms)}${flags.length === 0 ? '' : ` (node ${flags.join(' ')})`}`)
  console.log(`→ speedup ${(inline.ms / threaded.ms).toFixed(2)}×; ${withWarmUp.toFixed(2)}× counting the warm-ups (${seconds(warmUpThreads)} on threads, ${seconds(warmUpInline)} inline)`)
  console.log('Broker and thread pool closed.')
}

async function resizeOnThreads(broker: Broker, capacity: number, images: readonly TestImage[]): Promise<Run> {
  const client = broker.client()
  const progress = new Progress('threads', images.length)
  const priorityByName = new Map(images.map((img, i) => [img.name, priorityOf(i)]))
  const started: Priority[] = []
  const finished: Priority[] = []
  broker.on('job:completed', (e) => finished.push(priorityByName.get(e.unique) ?? 'normal'))
  let statusShown: Promise<void> | undefined

  const t0 = performance.now()
  // submitted in one tick: the broker orders them by priority before the first one starts
  const requests = images.map((img, i) => client.submit('resize', img.png, { priority: priorityOf(i), unique: img.name }))
  const again = broker.client()
  const duplicates = DUPLICATES.map((i) => [i, again.submit('resize', at(images, i).png, { unique: at(images, i).name })] as const)

  const follow = async (request: JobRequest<Buffer>, img: TestImage, i: number): Promise<Buffer> => {
    for await (const update of request.updates()) {
      if (update.type !== 'status') continue
      if (update.numerator === 0) started.push(priorityOf(i))
      progress.step(img.name, update.numerator, update.denominator)
      // once the first image reports progress, show what the broker holds
      statusShown ??= showStatus(broker, progress, images)
    }
    const result = await request
    progress.done(img.name, `${img.name}  ${priorityOf(i).padEnd(6)}  done at ${seconds(performance.now() - t0)}  ${describe(result)}`)
    return result
  }
  const results = await Promise.all(requests.map((request, i) => follow(request, at(images, i), i)))
  const ms = performance.now() - t0
  progress.finish()
  await statusShown

  console.log(`   started in this order:   ${runLengths(started)}`)
  console.log(`   completed in this order: ${runLengths(finished)}  (${capacity} run at a time, so neighbours may swap)`)
  for (const [i, request] of duplicates) {
    const result = await request
    const sameJob = request.handle === at(requests, i).handle && result.equals(at(results, i))
    console.log(`   ${at(images, i).name} asked twice: ${sameJob ? `one job (${request.handle ?? '?'}), both clients got the same thumbnails` : 'NOT coalesced'}`)
  }
  console.log(`   ${requests.length + duplicates.length} submits → ${finished.length} jobs run`)
  return { ms, results }
}

/** The admin status table (one row per function), printed above the progress bar, and who waits on the duplicates. */
async function showStatus(broker: Broker, progress: Progress, images: readonly TestImage[]): Promise<void> {
  const rows = await broker.admin.status()
  const waiting = await Promise.all(DUPLICATES.map((i) => broker.client().getStatusByUnique(at(images, i).name, 'resize')))
  progress.above(() => {
    console.log('\n   broker.admin.status() while the first images run:')
    console.table(Object.fromEntries(rows.map((s) => [s.name, statusRow(s)])))
    for (const w of waiting) console.log(`   unique ${w.unique}: ${w.state}, ${w.waiting} clients waiting on one job`)
    console.log()
  })
}

function statusRow(s: FunctionStatus): Record<string, number> {
  const q = s.byPriority
  return { total: s.total, running: s.running, queued: s.queued, 'queued high': q.high, 'queued normal': q.normal, 'queued low': q.low, workers: s.workers }
}

async function resizeInline(images: readonly TestImage[]): Promise<Run> {
  const progress = new Progress('inline ', images.length)
  const results: Uint8Array[] = []
  const started = performance.now()
  for (const img of images) {
    const thumbnails = await makeThumbnails(img.png, (step, steps) => {
      progress.step(img.name, step, steps)
    })
    const result = packThumbnails(thumbnails)
    results.push(result)
    progress.done(img.name, `${img.name}  done at ${seconds(performance.now() - started)}  ${describe(result)}`)
  }
  const ms = performance.now() - started
  progress.finish()
  return { ms, results }
}

/** `800×600 96 KB · 320×240 16 KB · 120×90 3 KB` */
function describe(packed: Uint8Array): string {
  return unpackThumbnails(packed)
    .map((t) => `${t.width}×${t.height} ${Math.round(t.jpeg.byteLength / 1024)} KB`)
    .join(' · ')
}

/** `high ×3 → normal → high` */
function runLengths(list: readonly string[]): string {
  const runs: [string, number][] = []
  for (const item of list) {
    const last = runs[runs.length - 1]
    if (last?.[0] === item) last[1]++
    else runs.push([item, 1])
  }
  return runs.map(([item, n]) => (n > 1 ? `${item} ×${n}` : item)).join(' → ')
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await work()
  return performance.now() - t
}

function at<T>(list: readonly T[], i: number): T {
  const item = list[i]
  if (item === undefined) throw new RangeError(`no item ${i}`)
  return item
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`
}

await main()
