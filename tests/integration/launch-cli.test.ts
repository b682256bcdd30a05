// `iwsft launch`, `iwsft follow`, `iwsft python status` and `iwsft doctor` from the command line
// (issue 18), with the fake trainer standing in for python/trainer (--trainer-command): a launch
// runs to completed with its metrics in the project; Ctrl+C cancels the launched job; an emitted
// folder run "elsewhere" (the fake trainer started by hand) is followed to its end, and a second
// follow finds the same run; doctor reports the Python environment of the cache.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openProject } from '../../src/main/store/index.ts'
import { FAKE_TRAINER, llmConfig, makeLlmProject } from './launch-helpers.ts'

const BIN = resolve('bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-launch-cli-'))
const env = { ...process.env, IWSFT_CACHE_DIR: join(dir, 'cache') }
let file = ''
let datasetId = 0
const cfgFile = join(dir, 'llm.json')

const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120_000 })
const runsOf = (): Array<{ id: number; status: string; versions: Record<string, string>; lastStep: number | null }> => {
  const st = openProject(file, { readonly: true })
  try {
    return st.listRuns()
  } finally {
    st.close()
  }
}

beforeAll(async () => {
  ;({ file, datasetId } = await makeLlmProject(dir))
  writeFileSync(cfgFile, JSON.stringify(llmConfig(datasetId)))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('iwsft launch / follow', () => {
  it('launch --engine accelerate runs the (fake) trainer to completed', () => {
    const r = iwsft(['launch', cfgFile, '--engine', 'accelerate', '--trainer-command', `${process.execPath} ${FAKE_TRAINER} --delay 30`, '--project', file])
    expect(r.stderr).toMatch(/run 1 on the Python trainer \(1 process\)/)
    expect(r.stdout).toMatch(/^run 1: completed\n\s+loss\s+2\.1667/)
    expect(r.status).toBe(0)
    const [run] = runsOf()
    expect(run).toMatchObject({ id: 1, status: 'completed', lastStep: 6, versions: { torch: 'fake-torch', final_model: 'tiny llama iw-sft' } })
  })

  it('Ctrl+C cancels the launched job', async () => {
    const child = spawn(process.execPath, [BIN, 'launch', cfgFile, '--engine', 'accelerate', '--trainer-command', `${process.execPath} ${FAKE_TRAINER} --delay 400`, '--project', file], {
      env
    })
    let err = ''
    let sent = false
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (!sent && /on the Python trainer/.test(err)) sent = child.kill('SIGINT') // once: a second Ctrl+C stops at once
    })
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
    expect(err).toMatch(/SIGINT: cancelling run 2/)
    expect(code).toBe(130)
    expect(err).not.toMatch(/SIGINT again/)
    expect(runsOf().find((r) => r.id === 2)?.status).toBe('cancelled')
  })

  it('an emitted folder, run elsewhere, is followed to its end; a second follow finds the same run', () => {
    const job = join(dir, 'job')
    const e = iwsft(['launch', cfgFile, '--emit', job, '--project', file])
    expect(e.status).toBe(0)
    expect(e.stdout).toContain(`job folder ${job}`)
    expect(e.stdout).toContain(`npx iwsft follow ${job} --project ${file}`)
    expect(runsOf()).toHaveLength(2) // nothing recorded
    // "the cluster": the fake trainer on the folder
    expect(spawnSync(process.execPath, [FAKE_TRAINER, '--delay', '0', job]).status).toBe(0)
    const f = iwsft(['follow', job, '--project', file])
    expect(f.stderr).toMatch(/run 3 \(recorded now\): completed/)
    expect(f.stdout).toMatch(/^run 3: completed/)
    expect(f.stdout).toMatch(/final model: "tiny llama iw-sft \(2\)"/)
    expect(f.status).toBe(0)
    const again = iwsft(['follow', job, '--project', file, '--json'])
    expect(JSON.parse(again.stdout)).toMatchObject({ runId: 3, created: false, status: 'completed' })
    expect(runsOf().filter((r) => r.versions.job_id === JSON.parse(readFileSync(join(job, 'job.json'), 'utf8')).job_id)).toHaveLength(1)
  })

  it('refuses wrong command lines (exit 2)', () => {
    expect(iwsft(['launch', cfgFile, '--project', file]).stderr).toMatch(/give --engine accelerate .* or --emit DIR/)
    const both = iwsft(['launch', cfgFile, '--engine', 'accelerate', '--emit', join(dir, 'x'), '--project', file])
    expect(both.status).toBe(2)
    expect(iwsft(['launch', cfgFile, '--engine', 'native', '--project', file]).stderr).toMatch(/only "accelerate"/)
    expect(iwsft(['follow', '--project', file]).status).toBe(2)
  })
})

describe('the Python environment on the command line', () => {
  it('python status and doctor report the venv of the cache', () => {
    const st = iwsft(['python', 'status', '--json'])
    expect(st.status).toBe(1)
    expect(JSON.parse(st.stdout)).toMatchObject({ ready: false, venv: join(dir, 'cache', 'python-trainer'), python: null })
    const d = iwsft(['doctor'])
    expect(d.status).toBe(0)
    expect(d.stdout).toContain(`Python trainer environment: not ready — ${join(dir, 'cache', 'python-trainer')}`)
    expect(d.stdout).toMatch(/iwsft python install/)
  })
})
