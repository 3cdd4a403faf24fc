import { execFileSync } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Broker, ThreadPool, type ThreadPoolOptions } from '../src/index.js'

/** A compiled thread fixture's URL (test/fixtures/NAME.ts → .build/test/fixtures/NAME.js). */
export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}.js`, import.meta.url)
}

/**
 * A one-thread pool (short grace period) and a broker allowing 3 attempts, both closed when the test ends;
 * `retried` collects the broker's job:retried events.
 */
export function setup(t: TestContext, options: ThreadPoolOptions = {}) {
  const threads = new ThreadPool({ maxThreads: 1, gracePeriod: 50, terminateTimeout: 2000, ...options })
  const broker = new Broker({ jobRetries: 3 })
  t.after(async () => {
    await broker.close({ graceful: false })
    await threads.close()
  })
  const retried: { attempts: number; code: string }[] = []
  broker.on('job:retried', (e) => {
    retried.push({ attempts: e.attempts, code: e.cause.code })
  })
  return { threads, broker, retried }
}

/**
 * A FIFO for the `stuck` fixture's `inSyscall` export, whose thread blocks opening it (and then cannot even be
 * terminated) until someone opens it for writing. Call before setup(): this after hook runs first and lets a
 * still-blocked thread go, so the pool can close.
 */
export function fifo(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-fifo-'))
  const path = join(dir, 'fifo')
  execFileSync('mkfifo', [path])
  t.after(() => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
    } catch {
      // ENXIO: no thread is blocked on it
    }
    rmSync(dir, { recursive: true })
  })
  return path
}
