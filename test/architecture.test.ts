// The layering rules of docs/DESIGN.md, checked on the source: each folder may import only what it is allowed.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const forbidden: Record<string, string[]> = {
  'src/core/': ['src/remote/', 'src/broker', 'src/local/', 'src/pool/', 'src/net/', 'src/protocol/', 'src/store/', 'src/cli/', 'node:net'],
  'src/protocol/': ['src/remote/', 'src/core/', 'src/broker', 'src/net/', 'src/local/', 'src/pool/', 'src/store/'],
  'src/pool/': ['src/remote/', 'src/core/', 'src/local/', 'src/net/'],
  'src/local/': ['src/remote/', 'src/net/', 'src/pool/', 'src/broker'],
  'src/net/': ['src/remote/', 'src/local/', 'src/pool/', 'src/cli/'],
  'src/store/': ['src/remote/', 'src/broker', 'src/local/', 'src/pool/', 'src/net/', 'src/protocol/', 'src/cli/'],
  'src/remote/': ['src/core/', 'src/local/', 'src/net/', 'src/pool/', 'src/cli/', 'src/store/', 'src/broker'],
  'src/cli/': ['src/core/', 'src/local/', 'src/net/', 'src/pool/', 'src/protocol/', 'src/store/', 'src/broker'],
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? '')
  return specs.map((s) => (s.startsWith('.') ? relative(root, resolve(dirname(file), s)) : s))
}

test('every src folder imports only the layers it may', () => {
  const violations: string[] = []
  for (const file of sources(join(root, 'src'))) {
    const rel = relative(root, file)
    const rules = Object.entries(forbidden).find(([prefix]) => rel.startsWith(prefix))?.[1] ?? []
    for (const target of imports(file)) {
      if (rules.some((bad) => target.startsWith(bad))) violations.push(`${rel} → ${target}`)
    }
  }
  assert.deepEqual(violations, [])
})

test('examples use only the public entry', () => {
  const violations = sources(join(root, 'examples')).flatMap((file) =>
    imports(file)
      .filter((t) => t.startsWith('src/'))
      .map((t) => `${relative(root, file)} → ${t}`),
  )
  assert.deepEqual(violations, [])
})
