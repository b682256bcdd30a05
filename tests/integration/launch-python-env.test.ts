// The Python trainer's environment (issue 18): `installPythonEnv` makes a venv in a TEMPORARY
// cache (IWSFT_CACHE_DIR; never the real ~/.cache/iwsft/python-trainer) from a tiny
// hash-checked requirements file — one pure-Python wheel made here, installed from its file so
// no package index is needed — and reports each step; the venv moves into place only once its
// packages check out (its scripts then name the final folder); a ready venv is kept; a failed
// (wrong hash) or cancelled install keeps no half-made venv and leaves a ready one as it was.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PythonInstallProgress } from '../../src/shared/launch.ts'
import { installPythonEnv, pythonStatus, pythonVenvDir } from '../../src/main/jobs/python-env.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-python-env-'))
const savedCache = process.env.IWSFT_CACHE_DIR
const hasVenv = spawnSync('python3', ['-c', 'import venv, ensurepip'], { encoding: 'utf8' }).status === 0
const WHEEL = join(dir, 'tinypkg-0.1.0-py3-none-any.whl')
const req = join(dir, 'requirements.txt')
const badReq = join(dir, 'bad-requirements.txt')

/** a wheel of one module (tinypkg 0.1.0), built by zipfile as a wheel builder would */
const MAKE_WHEEL = `
import base64, hashlib, sys, zipfile
files = {
  'tinypkg/__init__.py': b'__version__ = "0.1.0"\\n',
  'tinypkg-0.1.0.dist-info/METADATA': b'Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 0.1.0\\n',
  'tinypkg-0.1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\\nGenerator: iwsft-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
rec = [n + ',sha256=' + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode() + ',' + str(len(d)) for n, d in files.items()]
files['tinypkg-0.1.0.dist-info/RECORD'] = ('\\n'.join(rec + ['tinypkg-0.1.0.dist-info/RECORD,,']) + '\\n').encode()
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for n, d in files.items(): z.writestr(n, d)
`

beforeAll(() => {
  process.env.IWSFT_CACHE_DIR = join(dir, 'cache')
  if (!hasVenv) return
  expect(spawnSync('python3', ['-c', MAKE_WHEEL, WHEEL]).status).toBe(0)
  const sha = createHash('sha256').update(readFileSync(WHEEL)).digest('hex')
  writeFileSync(req, `tinypkg @ file://${WHEEL} --hash=sha256:${sha}\n`)
  writeFileSync(badReq, `tinypkg @ file://${WHEEL} --hash=sha256:${'0'.repeat(64)}\n`)
})
afterAll(() => {
  if (savedCache === undefined) delete process.env.IWSFT_CACHE_DIR
  else process.env.IWSFT_CACHE_DIR = savedCache
  rmSync(dir, { recursive: true, force: true })
})

const leftovers = (): string[] => readdirSync(join(dir, 'cache')).filter((f) => f !== 'python-trainer')

describe.skipIf(!hasVenv)('installPythonEnv (skipped where python3 has no venv/ensurepip module)', () => {
  it('makes the venv aside, checks it, and moves it into place', async () => {
    const venv = pythonVenvDir()
    expect(venv).toBe(join(dir, 'cache', 'python-trainer'))
    const progress: PythonInstallProgress[] = []
    const st = await installPythonEnv({ requirements: req, packages: ['tinypkg'], onProgress: (p) => progress.push(p) })
    expect(st).toMatchObject({ ready: true, venv, python: join(venv, 'bin', 'python'), problem: null, versions: { tinypkg: '0.1.0' } })
    expect(progress.map((p) => p.step)).toEqual([...progress.map((p) => p.step)].sort())
    expect(new Set(progress.map((p) => p.label))).toEqual(new Set(['make the venv', 'pip install (hash-checked)', 'check the packages', 'move into place']))
    expect(progress.some((p) => p.step === 2 && /^(Installing collected packages|Successfully installed).*tinypkg/.test(p.message ?? ''))).toBe(true)
    expect(progress.at(-1)).toMatchObject({ step: 4, total: 4, status: 'completed' })
    expect(leftovers()).toEqual([])
    // the scripts name the final folder, and run
    const pip = readFileSync(join(venv, 'bin', 'pip'), 'utf8').split('\n')[0]
    expect(pip.startsWith(`#!${join(venv, 'bin', 'python')}`)).toBe(true)
    expect(pip).not.toContain('.partial')
    expect(spawnSync(join(venv, 'bin', 'pip'), ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^pip /)
    // the trainer's own packages are not there: not ready for the trainer
    expect(pythonStatus(venv, req).problem).toMatch(/^torch, transformers, trl, accelerate, peft not installed/)
  })

  it('keeps a ready venv; a failed or cancelled install leaves it as it was and nothing half-made', async () => {
    const venv = pythonVenvDir()
    const made = statSync(join(venv, 'bin', 'python'), { bigint: true }).birthtimeNs
    const again: PythonInstallProgress[] = []
    await installPythonEnv({ requirements: req, packages: ['tinypkg'], onProgress: (p) => again.push(p) })
    expect(again).toEqual([{ step: 4, total: 4, label: 'move into place', status: 'completed', message: `already made: ${venv}` }])
    // a wrong hash: pip refuses, the ready venv stays
    const failed: PythonInstallProgress[] = []
    await expect(installPythonEnv({ force: true, requirements: badReq, packages: ['tinypkg'], onProgress: (p) => failed.push(p) })).rejects.toThrow(
      /python install failed at "pip install \(hash-checked\)".*(HASHES|hash)/s
    )
    expect(failed.at(-1)).toMatchObject({ step: 2, status: 'failed' })
    expect(leftovers()).toEqual([])
    expect(pythonStatus(venv, req, ['tinypkg']).ready).toBe(true)
    expect(statSync(join(venv, 'bin', 'python'), { bigint: true }).birthtimeNs).toBe(made)
    // cancelled while the venv is being made
    const abort = new AbortController()
    await expect(installPythonEnv({ force: true, requirements: req, packages: ['tinypkg'], signal: abort.signal, onProgress: (p) => p.step === 1 && abort.abort() })).rejects.toThrow(
      /cancelled; nothing was kept/
    )
    expect(leftovers()).toEqual([])
    expect(pythonStatus(venv, req, ['tinypkg']).ready).toBe(true)
  })
})
