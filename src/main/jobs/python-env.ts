// The Python environment the TRL trainer runs in (issue 18, JOB_SPEC "The Python environment"):
// a venv in the cache, `<cacheRoot()>/python-trainer`, with the packages of
// python/trainer/requirements.txt installed by pip in hash-checking mode.
//
// status(): is its interpreter there, and which versions of the trainer's packages does it hold
// (read with importlib.metadata and located with importlib.util.find_spec in one `python -c`:
// importing torch itself takes seconds, and launch.plan asks often; the install imports them once).
// installPythonEnv(): `python3 -m venv <venv>.partial`, then `pip install --require-hashes --no-deps
// -r requirements.txt` into it, then the status check and an import of each package; only a venv that passed is renamed into
// place, so a failed or cancelled install leaves no half venv that looks ready. A venv's scripts
// (bin/pip, bin/torchrun, bin/accelerate, bin/activate) name its folder in their first line, so
// the rename rewrites `<venv>.partial` to `<venv>` in them.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PythonInstallProgress, PythonStatus } from '../../shared/launch.ts'
import { cacheRoot } from '../engine/backend/paths.ts'

/** The packages the trainer imports; all must be installed for the venv to be ready. */
export const TRAINER_PACKAGES = ['torch', 'transformers', 'trl', 'accelerate', 'peft'] as const

export const INSTALL_COMMAND = 'npx iwsft python install'

export const pythonVenvDir = (): string => join(cacheRoot(), 'python-trainer')
export const venvPython = (venv: string): string => join(venv, 'bin', 'python')

/** The repository's trainer folder (python/trainer) and its pinned requirements. */
export const trainerSourceDir = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '../../../python/trainer')
export const trainerRequirements = (): string => join(trainerSourceDir(), 'requirements.txt')

/** `name==version` pins of a requirements file (lower-case names, `-`/`_` folded to `-`). */
export function requirementPins(text: string): Map<string, string> {
  const pins = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw
      .replace(/#.*/, '')
      .replace(/\\\s*$/, '')
      .trim()
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)/.exec(line)
    if (m) pins.set(m[1].toLowerCase().replace(/[._]/g, '-'), m[2])
  }
  return pins
}

const PROBE = `
import importlib.metadata as md, importlib.util as u, json, sys
out = {"python": sys.version.split()[0]}
for n in sys.argv[1:]:
    try:
        v = md.version(n)
        out[n] = v if u.find_spec(n) is not None else None
    except Exception:
        out[n] = None
print(json.dumps(out))
`

/** What the venv at `venv` holds; `requirements`: the pins its versions are compared with. */
export function pythonStatus(venv = pythonVenvDir(), requirements = trainerRequirements(), packages: readonly string[] = TRAINER_PACKAGES): PythonStatus {
  const python = venvPython(venv)
  const base = { venv, installCommand: INSTALL_COMMAND }
  if (!existsSync(python)) return { ...base, ready: false, python: null, versions: {}, problem: `no Python environment at ${venv}; make it with \`${INSTALL_COMMAND}\`` }
  const r = spawnSync(python, ['-c', PROBE, ...packages], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()
    return { ...base, ready: false, python, versions: {}, problem: `the interpreter ${python} does not run (${why}); make the environment again with \`${INSTALL_COMMAND} --force\`` }
  }
  const found = JSON.parse(r.stdout) as Record<string, string | null>
  const versions: Record<string, string> = {}
  for (const [k, v] of Object.entries(found)) if (v) versions[k] = v
  const missing = packages.filter((p) => !versions[p])
  if (missing.length) return { ...base, ready: false, python, versions, problem: `${missing.join(', ')} not installed in ${venv}; run \`${INSTALL_COMMAND} --force\`` }
  let pins = new Map<string, string>()
  try {
    pins = requirementPins(readFileSync(requirements, 'utf8'))
  } catch {
    // no requirements file here (a branch without python/trainer): nothing to compare with
  }
  const differ = packages.filter((p) => pins.has(p) && pins.get(p) !== versions[p])
  if (differ.length) {
    const what = differ.map((p) => `${p} ${versions[p]} (pinned ${pins.get(p)})`).join(', ')
    return { ...base, ready: false, python, versions, problem: `${what} in ${venv}; make it again with \`${INSTALL_COMMAND} --force\`` }
  }
  return { ...base, ready: true, python, versions, problem: null }
}

export interface InstallOptions {
  force?: boolean
  /** the venv to make (default pythonVenvDir()) */
  venv?: string
  /** the hashed requirements (default python/trainer/requirements.txt) */
  requirements?: string
  /** the interpreter that makes the venv (default python3) */
  basePython?: string
  /** the packages that must be there (default TRAINER_PACKAGES) */
  packages?: readonly string[]
  signal?: AbortSignal
  onProgress?: (p: PythonInstallProgress) => void
}

const STEPS = ['make the venv', 'pip install (hash-checked)', 'check the packages', 'move into place'] as const

/** Make the venv (nothing is done when one is ready, unless `force`); resolves with its status.
 *  Throws with what failed (the partial folder removed) or 'cancelled' on the signal. */
export async function installPythonEnv(opts: InstallOptions = {}): Promise<PythonStatus> {
  const venv = opts.venv ?? pythonVenvDir()
  const requirements = opts.requirements ?? trainerRequirements()
  const packages = opts.packages ?? TRAINER_PACKAGES
  const total = STEPS.length
  const report = (step: number, status: PythonInstallProgress['status'], message?: string, error?: string): void =>
    opts.onProgress?.({ step, total, label: STEPS[step - 1], status, ...(message ? { message } : {}), ...(error ? { error } : {}) })
  if (!opts.force) {
    const now = pythonStatus(venv, requirements, packages)
    if (now.ready) {
      report(total, 'completed', `already made: ${venv}`)
      return now
    }
  }
  if (!existsSync(requirements)) throw new Error(`the trainer's requirements file ${requirements} is missing; it comes with python/trainer`)
  const partial = `${venv}.partial`
  rmSync(partial, { recursive: true, force: true })
  let step = 1
  try {
    report(1, 'running', `${opts.basePython ?? 'python3'} -m venv ${partial}`)
    await runLogged(opts.basePython ?? 'python3', ['-m', 'venv', partial], opts.signal, () => {})
    step = 2
    report(2, 'running', `pip install --require-hashes --no-deps -r ${requirements}`)
    // every distribution is listed with its hashes (JOB_SPEC): pip installs exactly those
    const pipArgs = ['-m', 'pip', 'install', '--require-hashes', '--no-deps', '--no-input', '--disable-pip-version-check', '-r', requirements]
    await runLogged(venvPython(partial), pipArgs, opts.signal, (line) => {
      if (/^\s*(Collecting|Downloading|Installing|Successfully installed)/.test(line)) report(2, 'running', line.trim())
    })
    step = 3
    report(3, 'running')
    const checked = pythonStatus(partial, requirements, packages)
    if (!checked.ready) {
      throw new Error(checked.problem ?? 'the installed packages could not be read')
    }
    // and they import (a dependency missing from the list shows here, not in the first job)
    await runLogged(venvPython(partial), ['-c', packages.map((p) => `import ${p.replace(/-/g, '_')}`).join('; ')], opts.signal, () => {})
    step = 4
    report(4, 'running', `${partial} → ${venv}`)
    relocateScripts(partial, venv)
    const old = `${venv}.old`
    rmSync(old, { recursive: true, force: true })
    if (existsSync(venv)) renameSync(venv, old)
    renameSync(partial, venv)
    rmSync(old, { recursive: true, force: true })
  } catch (e) {
    rmSync(partial, { recursive: true, force: true })
    const message = opts.signal?.aborted ? 'cancelled' : e instanceof Error ? e.message : String(e)
    report(step, 'failed', undefined, message)
    throw new Error(message === 'cancelled' ? 'python install cancelled; nothing was kept' : `python install failed at "${STEPS[step - 1]}": ${message}`, { cause: e })
  }
  const done = pythonStatus(venv, requirements, packages)
  report(total, done.ready ? 'completed' : 'failed', done.ready ? venv : undefined, done.problem ?? undefined)
  return done
}

/** Rewrite the venv's folder name in its bin/ scripts (shebangs, activate) before it moves. */
function relocateScripts(from: string, to: string): void {
  const bin = join(from, 'bin')
  for (const name of readdirSync(bin)) {
    const f = join(bin, name)
    const st = statSync(f, { throwIfNoEntry: false })
    if (!st?.isFile() || st.size > 1_000_000) continue
    const buf = readFileSync(f)
    if (buf.includes(0)) continue // a binary
    const text = buf.toString('utf8')
    if (text.includes(from)) writeFileSync(f, text.split(from).join(to), { mode: st.mode })
  }
}

/** Run a command, handing each line of its output to onLine; rejects with its last lines. */
function runLogged(cmd: string, args: string[], signal: AbortSignal | undefined, onLine: (line: string) => void): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted) return rej(new Error('cancelled'))
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_NO_INPUT: '1' } })
    const tail: string[] = []
    const take = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue
        tail.push(line)
        if (tail.length > 8) tail.shift()
        onLine(line)
      }
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    const abort = (): void => void child.kill('SIGTERM')
    signal?.addEventListener('abort', abort, { once: true })
    child.on('error', (e) => {
      signal?.removeEventListener('abort', abort)
      rej(new Error(`${cmd}: ${e.message}`))
    })
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', abort)
      if (signal?.aborted) rej(new Error('cancelled'))
      else if (code === 0) res()
      else rej(new Error(`${cmd} ${args.slice(0, 3).join(' ')} exited with ${code ?? sig}: ${tail.slice(-4).join(' | ')}`))
    })
  })
}
