// Shared by the store tests: every JobStore implementation, opened fresh and reopened on the same data, in a
// temporary folder removed when the test ends.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type JobStore, memoryStore, sqliteStore } from '../src/index.js'

export interface StoreKind {
  readonly name: string
  /**
   * A fresh store for this test; `reopen()` gives a store on the same data (the same object for memory, a new
   * connection to the same file for SQLite) once the previous one is closed.
   */
  open(t: TestContext): { store: JobStore; reopen: () => JobStore }
}

/** A temporary folder, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-store-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

export const STORE_KINDS: readonly StoreKind[] = [
  {
    name: 'memory',
    open() {
      const store = memoryStore()
      return { store, reopen: () => store }
    },
  },
  {
    name: 'sqlite',
    open(t) {
      const path = join(tempDir(t), 'jobs.db')
      const opened: JobStore[] = []
      const open = (): JobStore => {
        const store = sqliteStore(path)
        opened.push(store)
        return store
      }
      t.after(() => {
        for (const s of opened) s.close()
      })
      return { store: open(), reopen: open }
    },
  },
]
