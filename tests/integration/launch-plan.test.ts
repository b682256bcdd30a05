// launch.plan and python.status (issue 18): the commands of each "Run on" choice, why a config
// cannot go to the Python trainer, and whether the trainer's venv is ready — judged from a venv
// in a temporary cache whose "interpreter" is a script reporting the versions it is told to.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pythonStatus, requirementPins } from '../../src/main/jobs/python-env.ts'
import type { Services } from '../../src/main/services/index.ts'
import { llmConfig, makeLlmProject, services } from './launch-helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-launch-plan-'))
const cache = join(dir, 'cache')
let s: Services
let datasetId = 0
const savedCache = process.env.IWSFT_CACHE_DIR

/** a venv whose bin/python prints these versions for the status probe */
function fakeVenv(versions: Record<string, string>): string {
  const venv = join(cache, 'python-trainer')
  mkdirSync(join(venv, 'bin'), { recursive: true })
  const py = join(venv, 'bin', 'python')
  writeFileSync(py, `#!/bin/sh\necho '${JSON.stringify({ python: '3.11.9', ...versions })}'\n`)
  chmodSync(py, 0o755)
  return venv
}
// the trainer packages at the versions python/trainer/requirements.txt pins
const PINS = new Map(requirementPins(readFileSync(resolve(__dirname, '../../python/trainer/requirements.txt'), 'utf8')))
const ALL = Object.fromEntries(['torch', 'transformers', 'trl', 'accelerate', 'peft'].map((k) => [k, PINS.get(k)!]))

beforeAll(async () => {
  process.env.IWSFT_CACHE_DIR = cache
  ;({ datasetId } = await makeLlmProject(dir))
  s = await services(join(dir, 'p.iwsft'))
})
afterAll(async () => {
  await s?.shutdown()
  if (savedCache === undefined) delete process.env.IWSFT_CACHE_DIR
  else process.env.IWSFT_CACHE_DIR = savedCache
  rmSync(dir, { recursive: true, force: true })
})

describe('python.status', () => {
  it('says there is no venv, and how to make it', async () => {
    rmSync(join(cache, 'python-trainer'), { recursive: true, force: true })
    const st = await s.call('python.status', {})
    expect(st.ready).toBe(false)
    expect(st.venv).toBe(join(cache, 'python-trainer'))
    expect(st.python).toBeNull()
    expect(st.problem).toMatch(/no Python environment at .*python-trainer.*iwsft python install/)
  })
  it('is ready when every trainer package is there, and names the missing ones', async () => {
    fakeVenv(ALL)
    const st = await s.call('python.status', {})
    expect(st).toMatchObject({ ready: true, problem: null, versions: { ...ALL, python: '3.11.9' } })
    fakeVenv({ torch: '2.15.0', transformers: '5.24.0' })
    const part = await s.call('python.status', {})
    expect(part.ready).toBe(false)
    expect(part.problem).toMatch(/^trl, accelerate, peft not installed/)
  })
  it('compares the versions with the pins of the requirements file', () => {
    const venv = fakeVenv({ ...ALL, torch: '2.14.0' })
    const req = join(dir, 'req.txt')
    writeFileSync(req, 'torch==2.15.0 \\\n    --hash=sha256:00\nTRL==1.16.1 --hash=sha256:11\n# peft==9\n')
    expect([...requirementPins('torch==2.15.0 \\\n --hash=sha256:00\nTRL==1.16.1\n# peft==9\nsafe_tensors[x]==0.5')]).toEqual([
      ['torch', '2.15.0'],
      ['trl', '1.16.1'],
      ['safe-tensors', '0.5']
    ])
    const st = pythonStatus(venv, req)
    expect(st.ready).toBe(false)
    expect(st.problem).toMatch(/torch 2\.14\.0 \(pinned 2\.15\.0\)/)
  })
})

describe('launch.plan', () => {
  it('gives the commands of the three choices for a language-model config', async () => {
    fakeVenv(ALL)
    const plan = await s.call('launch.plan', { config: llmConfig(datasetId), source: 'my config.json', numProcesses: 2 })
    const p = join(dir, 'p.iwsft')
    expect(plan.unsupported).toBeNull()
    expect(plan.accelerate).toEqual({ command: `npx iwsft launch 'my config.json' --engine accelerate --num-processes 2 --project ${p}`, available: true, reason: null })
    expect(plan.local.command).toBe(`npx iwsft run 'my config.json' --project ${p}`)
    expect(plan.cluster.dir).toBe(join(dir, 'jobs', 'tiny-llama-iw-sft'))
    expect(plan.cluster.emitCommand).toBe(`npx iwsft launch 'my config.json' --emit ${plan.cluster.dir} --project ${p}`)
    expect(plan.cluster.runCommands[0]).toBe(`cd ${plan.cluster.dir} && sbatch slurm.sh`)
    expect(plan.cluster.followCommand).toBe(`npx iwsft follow ${plan.cluster.dir} --project ${p}`)
    expect(JSON.parse(plan.configJson)).toMatchObject({ method: 'iw-sft', policy: { kind: 'llm', model: 'llama', finetune: 'lora' }, train: { steps: 6 } })
    expect(plan.python.ready).toBe(true)
    const acc = await s.call('launch.plan', { config: llmConfig(datasetId), launcher: 'accelerate', dir: join(dir, 'elsewhere') })
    expect(acc.accelerate.command).toContain('--num-processes 1 --launcher accelerate')
    expect(acc.cluster.dir).toBe(join(dir, 'elsewhere'))
  })
  it('is unavailable with a reason: no venv, a batch the processes cannot share', async () => {
    rmSync(join(cache, 'python-trainer'), { recursive: true, force: true })
    const noPy = await s.call('launch.plan', { config: llmConfig(datasetId) })
    expect(noPy.unsupported).toBeNull()
    expect(noPy.accelerate.available).toBe(false)
    expect(noPy.accelerate.reason).toMatch(/no Python environment.*iwsft python install/)
    fakeVenv(ALL)
    const three = await s.call('launch.plan', { config: llmConfig(datasetId), numProcesses: 3 })
    expect(three.accelerate.available).toBe(false)
    expect(three.accelerate.reason).toMatch(/batch_size 4 is not divisible by 3 processes/)
  })
  it('says why a config cannot go to the Python trainer', async () => {
    fakeVenv(ALL)
    const bandit = await s.call('launch.plan', { config: { dataset: 'bandit', method: 'iw-sft' } })
    expect(bandit.unsupported).toMatch(/policy\.kind "llm".*"categorical"/)
    expect(bandit.accelerate).toMatchObject({ available: false, reason: bandit.unsupported })
    expect(bandit.local.command).toMatch(/^npx iwsft run config\.json --project /)
    const ck = await s.call('launch.plan', { config: llmConfig(datasetId, { reference: { kind: 'checkpoint', run: 1 } }) })
    expect(ck.unsupported).toMatch(/reference\.kind "checkpoint"/)
    const steps = await s.call('launch.plan', { config: llmConfig(datasetId, { train: { steps: 6, batch_size: 4, step_sample: 2 } }) })
    expect(steps.unsupported).toMatch(/train\.step_sample.*set it to null/)
  })
  it('refuses a config that does not validate', async () => {
    await expect(s.call('launch.plan', { config: llmConfig(datasetId, { method: 'nope' }) })).rejects.toMatchObject({ code: 'invalid_config' })
  })
})
