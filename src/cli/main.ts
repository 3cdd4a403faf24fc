#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { VERSION } from '../index.js'
import { runTour } from './tour.js'
import { serve } from './serve.js'

const USAGE = `usage: gearbox <command> [options]

commands:
  serve       run a gearmand-compatible job server (gearbox serve --help)
  tour        run an end-to-end tour of the in-process broker (no server, no network)

options:
  -h, --help     show this help
  -V, --version  print the version
`

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') {
    try {
      return await serve(argv.slice(1), (text) => process.stdout.write(text))
    } catch (err) {
      process.stderr.write(`gearbox serve: ${(err as Error).message}\n`)
      return 2
    }
  }
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
    })
  } catch (err) {
    process.stderr.write(`gearbox: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.version === true) {
    process.stdout.write(`gearbox ${VERSION}\n`)
    return 0
  }
  const [command] = positionals
  if (values.help === true || command === undefined) {
    process.stdout.write(USAGE)
    return values.help === true ? 0 : 2
  }
  switch (command) {
    case 'tour':
      await runTour((line) => process.stdout.write(line + '\n'))
      return 0
    default:
      process.stderr.write(`gearbox: unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

process.exitCode = await main(process.argv.slice(2))
