#!/usr/bin/env node
// The `iwsft` command line. Runs the TypeScript sources through tsx so that the CLI, the
// tests and the app share one engine without a separate build step.
import { register } from 'tsx/esm/api'

// `iwsft weights 3 | head`: a closed pipe ends the command quietly
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0)
  throw e
})
register()
const { main } = await import('../src/main/cli/index.ts')
const code = await main(process.argv.slice(2))
process.exitCode = code
