// `iwsft python install [--force]` makes the Python trainer's environment (a venv in the cache
// with the hash-pinned packages of python/trainer/requirements.txt; jobs/python-env.ts);
// `iwsft python status [--json]` says what it holds. Both through the services (python.install,
// python.status) on a scratch project: the environment is the machine's, not a project's. Ctrl+C
// cancels an install: nothing half-made is kept.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PythonInstallProgress, PythonStatus } from '../../../shared/launch.ts'
import { createServices, type Services } from '../../services/index.ts'
import { parseArgs, UsageError } from '../args.ts'

export const USAGE = `usage: iwsft python install [--force]
       iwsft python status [--json]

install  makes <cache>/python-trainer (~/.cache/iwsft; IWSFT_CACHE_DIR moves it): python3 -m venv, then
         pip install --require-hashes --no-deps -r python/trainer/requirements.txt (torch, transformers, trl,
         accelerate, peft, pinned and hash-checked); an environment that is ready is kept
         (--force: make it again)
status   whether it is ready, and the versions it holds`

export function printPythonStatus(s: PythonStatus, indent = ''): string[] {
  const out = [`${indent}Python trainer environment: ${s.ready ? 'ready' : 'not ready'} — ${s.venv}`]
  if (Object.keys(s.versions).length)
    out.push(
      `${indent}  ${Object.entries(s.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`
    )
  if (s.problem) out.push(`${indent}  ${s.problem}`)
  return out
}

/** Run `f` with the services on a scratch project (removed afterwards): the Python environment
 *  belongs to the machine, not to a project, so these commands leave no project file behind.
 *  `f` gets a `stop` that shuts the services down early (once), e.g. on Ctrl+C. */
export async function withScratchServices<T>(f: (s: Services, stop: () => Promise<void>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-python-'))
  const s = await createServices({ projectFile: join(dir, 'scratch.iwsft'), transport: 'cli' })
  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => (stopped ??= s.shutdown())
  try {
    return await f(s, stop)
  } finally {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function cmdPython(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'status') {
    const args = parseArgs(rest, ['json'])
    for (const k of args.flags.keys()) if (k !== 'json') throw new UsageError(`unknown option --${k}\n${USAGE}`)
    if (args.positionals.length) throw new UsageError(`unexpected ${args.positionals[0]}\n${USAGE}`)
    const st = await withScratchServices((s) => s.call('python.status', {}))
    process.stdout.write(args.flags.has('json') ? JSON.stringify(st, null, 2) + '\n' : printPythonStatus(st).join('\n') + '\n')
    return st.ready ? 0 : 1
  }
  if (sub !== 'install') throw new UsageError(USAGE)
  const args = parseArgs(rest, ['force'])
  for (const k of args.flags.keys()) if (k !== 'force') throw new UsageError(`unknown option --${k}\n${USAGE}`)
  if (args.positionals.length) throw new UsageError(`unexpected ${args.positionals[0]}\n${USAGE}`)
  return withScratchServices(async (s, stop) => {
    let signalled = false
    const onSignal = (sig: NodeJS.Signals): void => {
      process.stderr.write(`\n${sig}: cancelling the install; nothing half-made is kept\n`)
      signalled = true
      void stop() // the services' shutdown cancels the install
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let last = ''
    const off = s.subscribe((event, payload) => {
      if (event !== 'python.install') return
      const p = payload as PythonInstallProgress
      const head = `[${p.step}/${p.total}] ${p.label}`
      if (head !== last) process.stderr.write(`${head}…\n`)
      last = head
      if (p.message) process.stderr.write(`      ${p.message}\n`)
    })
    try {
      const st = await s.call('python.install', { force: args.flags.has('force') })
      process.stdout.write(printPythonStatus(st).join('\n') + '\n')
      return st.ready ? 0 : 1
    } catch (e) {
      process.stderr.write(`iwsft python install: ${(e as Error).message}\n`)
      return signalled ? 130 : 1
    } finally {
      off()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  })
}
