// `iwsft run CONFIG [--seed N] [--backend B] [--project FILE] [--json]`: train one run from a
// JSON or YAML config (validated: an unknown key or a wrong type names the key), and
// `iwsft resume RUN [--force]`: continue a stopped run (--force: one stuck as running, whose
// process is gone, is marked interrupted first). Both go through the services (runs.start,
// runs.resume) as the app does; the run trains in a worker and its events drive the progress bar.
//
// Ctrl+C (SIGINT) or SIGTERM while a run trains cancels it: it stops at its next step, keeps
// what it saved (a run with train.checkpoint_every saves a last checkpoint where it stopped, so
// `iwsft resume` goes on from there) and is marked cancelled; the command exits 130 (SIGINT) or
// 143 (SIGTERM). A second signal stops at once (the run is then found interrupted on the next open).
import { readFileSync } from 'node:fs'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { ConfigError } from '../../../shared/config.ts'
import type { EventPayloads } from '../../../shared/contract.ts'
import type { Services } from '../../services/index.ts'
import { parseArgs, strFlag, UsageError, intFlag } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { discardProject, projectPath, runArg, withServices } from '../project.ts'

/** A JSON or YAML config file as an object of settings (not yet merged or validated: the
 *  services do that against the project's datasets). Errors name the file and the line. */
export function readConfigFile(file: string): Record<string, unknown> {
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
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: expected an object of settings (e.g. {"method": "iw-sft"})`, file)
  return raw as Record<string, unknown>
}

type RunEnd = EventPayloads['run.end']

/** Follow the one run this command started through the services' events until it ends. The
 *  command's services run no other job, so every run event is this run's. */
function followRun(s: Services, bar: ProgressBar, onStart: (e: EventPayloads['run.start']) => void): { ended: Promise<RunEnd>; stop(): void } {
  let done!: (e: RunEnd) => void
  const ended = new Promise<RunEnd>((r) => (done = r))
  const stop = s.subscribe((event, payload) => {
    if (event === 'run.start') onStart(payload as EventPayloads['run.start'])
    else if (event === 'run.progress') {
      const p = payload as EventPayloads['run.progress']
      bar.update(p.phase, p.step, p.total)
    } else if (event === 'run.end') done(payload as RunEnd)
  })
  return { ended, stop }
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

export async function runToEnd(s: Services, bar: ProgressBar, json: boolean, start: () => Promise<unknown>, onStart: (e: EventPayloads['run.start']) => void = () => {}): Promise<number> {
  let runId: number | null = null
  let signalled: NodeJS.Signals | null = null
  const cancel = (): void => {
    if (runId !== null) void s.call('runs.cancel', { runId }).catch(() => {})
  }
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`\n${sig} again: stopping at once${runId !== null ? `; run ${runId} will show as interrupted` : ''}\n`)
      process.exit(SIGNAL_EXIT[sig] ?? 1)
    }
    signalled = sig
    process.stderr.write(
      `\n${sig}: cancelling ${runId !== null ? `run ${runId}` : 'the run'} at its next step, keeping what it saved (${sig === 'SIGINT' ? 'Ctrl+C' : 'the signal'} again stops at once)\n`
    )
    cancel()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const follow = followRun(s, bar, (e) => {
    runId = e.runId
    onStart(e)
    if (signalled) cancel() // the signal came while the run was starting
  })
  try {
    await start()
    const end = await follow.ended
    bar.done()
    printEnd({ type: 'end', ...end }, json)
    if (signalled && end.status === 'cancelled') return SIGNAL_EXIT[signalled] ?? 1
    return end.status === 'completed' ? 0 : 1
  } finally {
    follow.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export const RUN_USAGE = 'usage: iwsft run CONFIG.json|CONFIG.yaml [--seed N] [--backend B] [--project FILE] [--json]'
export const RESUME_USAGE = 'usage: iwsft resume RUN [--force] [--project FILE] [--json]'

export async function cmdRun(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const file = args.positionals[0]
  if (!file) throw new UsageError(RUN_USAGE)
  const json = args.flags.has('json')
  const config = readConfigFile(file)
  if (args.flags.has('seed')) config.seed = intFlag(args, 'seed', 0)
  if (args.flags.has('backend')) config.backend = strFlag(args, 'backend')
  let refused: { error: ConfigError; created: boolean } | null = null
  const code = await withServices(args, async (s, created) => {
    // merged over the defaults of the dataset's domain (a stored dataset's kind), as the app does
    const v = await s.call('config.validate', { config, source: file })
    if (!v.ok) {
      refused = { error: new ConfigError(v.message, file, v.issues), created }
      return 2
    }
    if (!json) {
      // what π_ref costs before training starts: a BC reference cached in the project, or trained now
      const cost = await s.call('runs.referenceCost', { config, source: file })
      if (cost.kind === 'cached') process.stderr.write(`reference: cached (BC, ${cost.steps} steps, trained earlier on this data with these settings)\n`)
      if (cost.kind === 'train')
        process.stderr.write(
          `reference: ${cost.steps} BC steps${cost.estimateMs !== null ? ` ≈ ${Math.max(1, Math.round(cost.estimateMs / 60_000))} min` : ''} first (kept in the project for later runs)\n`
        )
    }
    const bar = new ProgressBar(v.config.name ?? v.config.method)
    return runToEnd(
      s,
      bar,
      json,
      () => s.call('runs.start', { config, seeds: [v.config.seed], source: file }),
      (e) => {
        if (!json) process.stderr.write(`run ${e.runId} on backend ${e.backend}\n`)
      }
    )
  })
  if (refused) {
    const { error, created } = refused as { error: ConfigError; created: boolean }
    // nothing is written for a bad config: not even the project it would have gone into
    if (created) discardProject(projectPath(args))
    throw error
  }
  return code
}

/** `iwsft resume RUN [--force]`: continue an interrupted, cancelled or failed run from its last
 *  checkpoint; --force first marks a run stuck as running interrupted (its process is gone, but
 *  its pid, start time and host could not show it: e.g. a project copied from elsewhere). */
export async function cmdResume(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'force'])
  return withServices(args, async (s) => {
    const id = await runArg(s, args.positionals[0], RESUME_USAGE)
    const run = await s.call('runs.get', { runId: id })
    if (run.status === 'running' || run.status === 'queued') {
      if (!args.flags.has('force')) {
        throw new UsageError(`run ${id} is recorded as ${run.status}; if no process is running it any more (it was killed, or the machine restarted), resume it with --force`)
      }
      await s.call('runs.markInterrupted', { runId: id })
      process.stderr.write(`run ${id} was ${run.status}; marked interrupted (--force)\n`)
    }
    return runToEnd(s, new ProgressBar(`run ${id}`), args.flags.has('json'), () => s.call('runs.resume', { runId: id }))
  })
}

function printEnd(end: RunEnd & { type: 'end' }, json: boolean): void {
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
