/**
 * Runs every benchmark with its default settings, each in its own process (they start further child
 * processes themselves), and prints their result lines.
 *
 *   npx tsc -p tsconfig.json && node --expose-gc .build/bench/run.js
 */
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'

// tcp.js, store.js and remote.js need dist/ (npm run build, which `npm run bench` does) and /usr/sbin/gearmand
// threads.js twice: the resize again with V8's GC on each thread alone (README, "Garbage collection on busy cores")
const BENCHES = [
  ['dispatch.js'],
  ['heap-per-job.js'],
  ['threads.js'],
  ['threads.js', '--part=resize', '--node-arg=--single-threaded-gc'],
  ['tcp.js'],
  ['store.js'],
  ['remote.js'],
] as const

console.log(`# gearbox bench, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`)
for (const [bench, ...args] of BENCHES) {
  const script = fileURLToPath(new URL(bench, import.meta.url))
  execFileSync(process.execPath, ['--expose-gc', script, ...args], { stdio: 'inherit' })
}
