// `iwsft run CONFIG [--seed N] [--backend B] [--project FILE] [--json]`: train one run from a
// JSON or YAML config (validated: an unknown key or a wrong type names the key).
import { readFileSync } from 'node:fs'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { ConfigError, resolveConfig, type RunConfig } from '../../../shared/config.ts'
import { executeRun, resumeRun } from '../../jobs/execute-run.ts'
import type { RunEndEvent } from '../../jobs/types.ts'
import { parseArgs, strFlag, UsageError, intFlag } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { openProjectFor } from '../project.ts'

export function readConfigFile(file: string): RunConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? e}); check the path`, file)
  }
  let raw: unknown
  if (/\.ya?ml$/i.test(file)) {
    try {
      raw = parseYaml(text)
    } catch (e) {
      const pos = e instanceof YAMLParseError && e.linePos ? ` line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ''
      throw new ConfigError(`${file}:${pos} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, file)
    }
  } else {
    try {
      raw = JSON.parse(text)
    } catch (e) {
      throw new ConfigError(`${file}: is not valid JSON: ${(e as Error).message}`, file)
    }
  }
  return resolveConfig(raw, file)
}

export async function cmdRun(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const file = args.positionals[0]
  if (!file) throw new UsageError('usage: iwsft run CONFIG.json|CONFIG.yaml [--seed N] [--backend B] [--project FILE] [--json]')
  let config = readConfigFile(file)
  const overrides: Record<string, unknown> = {}
  if (args.flags.has('seed')) overrides.seed = intFlag(args, 'seed', 0)
  if (args.flags.has('backend')) overrides.backend = strFlag(args, 'backend')
  if (Object.keys(overrides).length) config = resolveConfig({ ...config, ...overrides }, file)
  const store = await openProjectFor(args)
  const bar = new ProgressBar(config.name ?? config.method)
  try {
    const end = await executeRun(store, config, {
      onEvent: (e) => {
        if (e.type === 'progress') bar.update(e.phase, e.step, e.total)
        if (e.type === 'start' && !args.flags.has('json')) process.stderr.write(`run ${e.runId} on backend ${e.backend}\n`)
      }
    })
    bar.done()
    printEnd(end, args.flags.has('json'))
    return end.status === 'completed' ? 0 : 1
  } finally {
    store.close()
  }
}

/** `iwsft resume RUN`: continue an interrupted, cancelled or failed run from its last checkpoint. */
export async function cmdResume(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const id = Number(args.positionals[0])
  if (!Number.isInteger(id)) throw new UsageError('usage: iwsft resume RUN [--project FILE] [--json]')
  const store = await openProjectFor(args)
  const bar = new ProgressBar(`run ${id}`)
  try {
    const end = await resumeRun(store, id, { onEvent: (e) => e.type === 'progress' && bar.update(e.phase, e.step, e.total) })
    bar.done()
    printEnd(end, args.flags.has('json'))
    return end.status === 'completed' ? 0 : 1
  } finally {
    store.close()
  }
}

function printEnd(end: RunEndEvent, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(end) + '\n')
  else {
    process.stdout.write(`run ${end.runId}: ${end.status}${end.error ? ` — ${end.error}` : ''}\n`)
    for (const [k, v] of Object.entries(end.final)) process.stdout.write(`  ${k.padEnd(18)} ${fmtNum(v)}\n`)
  }
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4)
}
