// The consistent-hash ring of the remote client (src/remote/ring.ts) and the admin reply parsers.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseShowJobs, parseStatus, parseWorkers } from '../../src/remote/admin-replies.js'
import { HashRing } from '../../src/remote/ring.js'

const servers = ['a:4730', 'b:4730', 'c:4730']
const keys = Array.from({ length: 3000 }, (_, i) => `job-${i}`)

test('every server owns a fair share of keys, and a key always maps to the same server', () => {
  const ring = new HashRing(servers.map((name) => ({ name, node: name })))
  const counts = new Map<string, number>()
  for (const key of keys) {
    const owner = ring.pick(key, () => true)
    assert.ok(owner !== undefined)
    assert.equal(ring.pick(key, () => true), owner)
    counts.set(owner, (counts.get(owner) ?? 0) + 1)
  }
  for (const name of servers) {
    const share = (counts.get(name) ?? 0) / keys.length
    assert.ok(share > 0.2 && share < 0.47, `${name} owns ${share}`)
  }
})

test('when a server is down only its keys move, and they come back when it is live again', () => {
  const ring = new HashRing(servers.map((name) => ({ name, node: name })))
  const before = keys.map((k) => ring.pick(k, () => true))
  const during = keys.map((k) => ring.pick(k, (s) => s !== 'b:4730'))
  keys.forEach((_, i) => {
    if (before[i] !== 'b:4730') assert.equal(during[i], before[i])
    else assert.notEqual(during[i], 'b:4730')
  })
  assert.deepEqual(keys.map((k) => ring.pick(k, () => true)), before)
  assert.equal(ring.pick('x', () => false), undefined)
})

test('admin replies: status, workers (grouped by client id, connections without functions left out) and show jobs', () => {
  assert.deepEqual(parseStatus(['rev\t3\t1\t2', '\t0\t0\t0']), [
    { name: 'rev', total: 3, running: 1, workers: 2 },
    { name: '', total: 0, running: 0, workers: 0 },
  ])
  assert.deepEqual(parseWorkers(['30 127.0.0.1 w1 : rev', '31 127.0.0.1 w1 : up rev', '32 127.0.0.1 - :', '33 ::1 my worker id : r3']), [
    { id: 'w1', functions: ['rev', 'up'], running: 0 },
    { id: 'my worker id', functions: ['r3'], running: 0 },
  ])
  assert.deepEqual(
    parseShowJobs(['H:x:1\t2\t0\t1', 'H:x:2\t0\t1\t0']).map((j) => [j.handle, j.attempts, j.background]),
    [['H:x:1', 2, true]],
  )
})
