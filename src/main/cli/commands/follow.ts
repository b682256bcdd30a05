// `iwsft follow DIR`: record (the first time) and follow the run of a job folder run elsewhere
// and synced back (`iwsft launch CONFIG --emit DIR`), through launch.follow as the app does:
// its stream so far goes into the project, then the command follows it with a progress bar and
// exits at the stream's end (0 completed, 1 otherwise). Ctrl+C stops following: the run becomes
// interrupted until `iwsft follow DIR` is run again, which continues the same run.
import type { EventPayloads } from '../../../shared/contract.ts'
import { parseArgs, UsageError } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { withServices } from '../project.ts'
import { fmtNum } from './run.ts'

export const USAGE = `usage: iwsft follow DIR [--project FILE] [--json]

DIR is a job folder (iwsft launch CONFIG --emit DIR) with the stream.jsonl its trainer writes;
the first follow records the run in the project, a later one continues the same run.`

type RunEnd = EventPayloads['run.end']

export async function cmdFollow(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  for (const k of args.flags.keys()) if (k !== 'json' && k !== 'project') throw new UsageError(`unknown option --${k}\n${USAGE}`)
  const dir = args.positionals[0]
  if (!dir || args.positionals.length > 1) throw new UsageError(USAGE)
  const json = args.flags.has('json')
  return withServices(args, async (s) => {
    const bar = new ProgressBar('follow')
    let runId: number | null = null
    let end: RunEnd | null = null
    let done!: () => void
    const ended = new Promise<void>((r) => (done = r))
    const off = s.subscribe((event, payload) => {
      if (event === 'run.progress') {
        const p = payload as EventPayloads['run.progress']
        if (!json) bar.update(p.phase, p.step, p.total)
      } else if (event === 'run.end') {
        end = payload as RunEnd
        done()
      }
    })
    let signalled: NodeJS.Signals | null = null
    const onSignal = (sig: NodeJS.Signals): void => {
      signalled = sig
      process.stderr.write(`\n${sig}: no longer following; \`iwsft follow ${dir}\` continues\n`)
      if (runId !== null) void s.call('runs.cancel', { runId }).catch(() => done())
      else done()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      const f = await s.call('launch.follow', { dir })
      runId = f.runId
      if (!json) process.stderr.write(`run ${f.runId} (${f.created ? 'recorded now' : 'recorded before'}): ${f.status}\n`)
      if (f.status === 'running') await ended
      bar.done()
      const run = await s.call('runs.get', { runId: f.runId })
      const e = end as RunEnd | null
      if (json) process.stdout.write(JSON.stringify({ runId: f.runId, created: f.created, status: run.status, error: run.error, final: e?.final ?? {} }) + '\n')
      else {
        process.stdout.write(`run ${f.runId}: ${run.status}${run.error ? ` — ${run.error}` : ''}\n`)
        for (const [k, v] of Object.entries(e?.final ?? {})) process.stdout.write(`  ${k.padEnd(18)} ${fmtNum(v)}\n`)
        if (run.versions.final_model) process.stdout.write(`final model: "${run.versions.final_model}" (iwsft models show)\n`)
      }
      if (signalled) return signalled === 'SIGINT' ? 130 : 143
      return run.status === 'completed' ? 0 : 1
    } finally {
      off()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  })
}
