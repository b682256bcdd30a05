#!/usr/bin/env node
// The `iwsft` command line. Runs the TypeScript sources through tsx so that the CLI, the
// tests and the app share one engine without a separate build step.
import { register } from 'tsx/esm/api'
register()
const { main } = await import('../src/main/cli/index.ts')
const code = await main(process.argv.slice(2))
process.exitCode = code
