import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import * as gearbox from 'gearbox'

test('the package resolves through its own exports map and runs a job', async (t) => {
  const broker = new gearbox.Broker()
  t.after(() => broker.close({ graceful: false }))
  broker.worker().register('echo', (job) => job.data)
  const out = await broker.client({ encoder: 'utf8' }).submit('echo', 'hi')
  assert.equal(out, 'hi')
})

test('the documented names are exported', () => {
  for (const name of ['Broker', 'FakeClock', 'GearboxError', 'QueueFullError', 'JobFailedError', 'WorkerLostError', 'VERSION']) {
    assert.ok(name in gearbox, `${name} is exported`)
  }
})

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  assert.equal(gearbox.VERSION, pkg.version)
})
