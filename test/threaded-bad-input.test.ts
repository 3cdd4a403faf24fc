// Bad input to a thread pool: invalid options and modules are refused at once; a module without the handler,
// a module that cannot load, or a result the encoder cannot encode fails that job only; JobFailedError and
// other errors thrown in a thread end the job without retries.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Broker, HandlerModuleError, InvalidArgumentError, JobExceptionError, JobFailedError, ThreadPool, type ThreadHandlerOptions, type ThreadPoolOptions } from '../src/index.js'
import { Gate } from './fixtures/gate.js'
import { fixture, setup } from './threaded-setup.js'

const limits = { timeout: 30_000 }

function isInvalid(argument: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof InvalidArgumentError)
    assert.equal(err.code, 'GEARBOX_INVALID_ARGUMENT')
    assert.equal(err.argument, argument)
    return true
  }
}

test('invalid pool options throw InvalidArgumentError', limits, async () => {
  const cases: [ThreadPoolOptions, string][] = [
    [{ maxThreads: 0 }, 'maxThreads'],
    [{ maxThreads: -1 }, 'maxThreads'],
    [{ maxThreads: 1.5 }, 'maxThreads'],
    [{ maxThreads: '2' as unknown as number }, 'maxThreads'],
    [{ concurrentTasksPerThread: 0 }, 'concurrentTasksPerThread'],
    [{ minThreads: 0 }, 'minThreads'],
    [{ gracePeriod: -1 }, 'gracePeriod'],
    [{ gracePeriod: 0.5 }, 'gracePeriod'],
    [{ terminateTimeout: -1 }, 'terminateTimeout'],
    [{ idleTimeout: -1 }, 'idleTimeout'],
  ]
  for (const [options, argument] of cases) {
    assert.throws(() => new ThreadPool(options), isInvalid(argument), JSON.stringify(options))
  }
})

test('a missing module, a bad module argument, an empty export name or an unknown encoder throw at once', limits, async (t) => {
  const { threads } = setup(t)
  assert.throws(() => threads.handler(new URL('./fixtures/does-not-exist.js', import.meta.url)), isInvalid('module'))
  assert.throws(() => threads.handler('./no/such/module.js'), isInvalid('module'))
  assert.throws(() => threads.handler(''), isInvalid('module'))
  assert.throws(() => threads.handler(42 as unknown as string), isInvalid('module'))
  assert.throws(() => threads.handler(fixture('echo'), { export: '' }), isInvalid('export'))
  assert.throws(() => threads.handler(fixture('echo'), { encoder: 'xml' } as unknown as ThreadHandlerOptions), isInvalid('encoder'))
  await assert.rejects(threads.close({ timeout: -1 }), isInvalid('timeout'))
})

const badModules: { what: string; module: string; options: ThreadHandlerOptions }[] = [
  { what: 'a module without a default export', module: 'outcomes', options: {} },
  { what: 'a module without the named export', module: 'outcomes', options: { export: 'missing' } },
  { what: 'an export that is not a function', module: 'outcomes', options: { export: 'notAFunction' } },
  { what: 'a module that throws while loading', module: 'broken', options: {} },
]

for (const { what, module, options } of badModules) {
  test(`${what}: the job fails with a HandlerModuleError as its cause; the pool keeps serving`, limits, async (t) => {
    const { threads, broker, retried } = setup(t)
    const worker = broker.worker()
    worker.register('bad', threads.handler(fixture(module), options))
    worker.register('echo', threads.handler(fixture('echo')))
    const client = broker.client()

    for (let i = 0; i < 2; i++) {
      await assert.rejects(client.submit('bad', 'x'), (err: unknown) => {
        assert.ok(err instanceof JobExceptionError)
        assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
        assert.ok(err.cause instanceof HandlerModuleError)
        assert.equal(err.cause.code, 'GEARBOX_HANDLER_MODULE')
        assert.equal(err.cause.module, fixture(module).href)
        return true
      })
    }
    assert.deepEqual(retried, [])
    assert.equal((await client.submit('echo', 'fine')).toString('utf8'), 'enif')
  })
}

const unencodable: { what: string; export: string; encoder: ThreadHandlerOptions['encoder'] }[] = [
  { what: 'a number from a raw handler', export: 'number', encoder: 'raw' },
  { what: 'a BigInt from a json handler', export: 'bigint', encoder: 'json' },
]

for (const { what, export: name, encoder } of unencodable) {
  test(`a result its encoder cannot encode (${what}) fails that job with JobExceptionError; the pool keeps serving`, limits, async (t) => {
    const { threads, broker, retried } = setup(t)
    const worker = broker.worker()
    worker.register('bad', threads.handler(fixture('outcomes'), { export: name, encoder }))
    worker.register('echo', threads.handler(fixture('echo')))
    const client = broker.client()

    await assert.rejects(client.submit('bad', encoder === 'json' ? '{}' : 'x'), (err: unknown) => {
      assert.ok(err instanceof JobExceptionError)
      assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
      return true
    })
    assert.deepEqual(retried, [])
    assert.equal((await client.submit('echo', 'fine')).toString('utf8'), 'enif')
  })
}

test('JobFailedError thrown in a thread fails the job at once: final, not retried', limits, async (t) => {
  const { threads, broker, retried } = setup(t)
  broker.worker().register('fail', threads.handler(fixture('outcomes'), { export: 'fail' }))
  const gate = new Gate()

  await assert.rejects(broker.client().submit('fail', gate.payload), (err: unknown) => {
    assert.ok(err instanceof JobFailedError)
    assert.equal(err.code, 'GEARBOX_JOB_FAILED')
    return true
  })
  assert.equal(gate.entered, 1)
  assert.deepEqual(retried, [])
})

test('any other error thrown in a thread fails the job with JobExceptionError: final, not retried', limits, async (t) => {
  const { threads, broker, retried } = setup(t)
  broker.worker().register('explode', threads.handler(fixture('outcomes'), { export: 'explode' }))
  const gate = new Gate()

  await assert.rejects(broker.client().submit('explode', gate.payload), (err: unknown) => {
    assert.ok(err instanceof JobExceptionError)
    assert.equal(err.code, 'GEARBOX_JOB_EXCEPTION')
    assert.ok(err.cause instanceof Error)
    return true
  })
  assert.equal(gate.entered, 1)
  assert.deepEqual(retried, [])
})

test('a pool serves one broker: registering its handler with a second broker throws InvalidArgumentError', limits, async (t) => {
  const { threads, broker } = setup(t)
  const other = new Broker()
  t.after(async () => {
    await other.close()
  })
  broker.worker().register('echo', threads.handler(fixture('echo')))
  // another worker of the same broker shares the pool's slots: fine
  broker.worker().register('echo', threads.handler(fixture('echo')))
  assert.throws(() => {
    other.worker().register('echo', threads.handler(fixture('echo')))
  }, isInvalid('handler'))
  assert.equal((await broker.client().submit('echo', 'ko')).toString('utf8'), 'ok')
})
