// The Python trainer's venv for the trl-* tests (issue 18): `<cache>/python-trainer/bin/python`,
// made by `npx iwsft python install` from python/trainer/requirements.txt. Without it a test is
// SKIPPED with the reason, except on CI (process.env.CI set), where it FAILS: CI must test the bridge.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pythonVenvDir, trainerSourceDir } from '../../src/main/jobs/python-env.ts'

export const TRAINER_SOURCE = trainerSourceDir()
export const venvDir = pythonVenvDir
export const venvBin = (name: string): string => join(venvDir(), 'bin', name)

/** The venv's python, or null (with the reason) when it is not installed. Throws on CI. */
export function pythonTrainer(): { python: string | null; reason: string } {
  const python = venvBin('python')
  if (existsSync(python)) return { python, reason: '' }
  const reason = `the Python trainer's venv is not installed (${python}): run \`npx iwsft python install\``
  if (process.env.CI) throw new Error(reason)
  return { python: null, reason }
}

export interface Launched {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Run a command of the venv with OMP_NUM_THREADS=1 (the machine's cores are shared); resolves
 *  when it exits, with its output. */
export function launch(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; onSpawn?: (pid: number) => void } = {}): Promise<Launched> {
  const t0 = performance.now()
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    p.on('error', fail)
    if (p.pid !== undefined) opts.onSpawn?.(p.pid)
    p.on('close', (code, signal) => done({ code, signal, stdout, stderr, ms: performance.now() - t0 }))
  })
}
