// A run cancelled mid-way and resumed from its checkpoint (the one saved where it stopped) ends
// with exactly the metrics of an unbroken run of the same seed on the same backend; a checkpoint
// can serve as π_ref.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultConfig, type RunConfig } from '../../src/shared/config.ts'
import { executeRun, resumeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-resume-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const config: RunConfig = {
  ...defaultConfig('bandit'),
  backend: 'cpu',
  seed: 11,
  dataset_options: { pulls: 500 },
  weights: { ...defaultConfig('bandit').weights, q: { kind: 'ema', beta: 0.9 } },
  train: { ...defaultConfig('bandit').train, steps: 80, batch_size: 32, log_every: 5, snapshot_every: 40, eval_every: 10, checkpoint_every: 20 }
}

describe('resume from a checkpoint', () => {
  it('ends with the same metrics as an unbroken run', async () => {
    const store = openProject(join(dir, 'r.iwsft'))
    const unbroken = await executeRun(store, config)
    const abort = new AbortController()
    const broken = await executeRun(store, config, {
      signal: abort.signal,
      onEvent: (e) => e.type === 'metrics' && e.step >= 45 && abort.abort()
    })
    expect(broken.status).toBe('cancelled')
    // the periodic checkpoints, and one where the cancel stopped it (resume goes on from step 45)
    expect(store.listCheckpoints(broken.runId).map((c) => c.step)).toEqual([20, 40, 45])
    const resumed = await resumeRun(store, broken.runId)
    expect(resumed.status).toBe('completed')
    expect(store.getRun(broken.runId)!.status).toBe('completed')
    const a = store.getMetrics(unbroken.runId)
    const b = store.getMetrics(broken.runId)
    expect(b.length).toBe(a.length)
    expect(b).toEqual(a)
    store.close()
  })

  it('a completed run does not resume; a run without checkpoints says what to do', async () => {
    const store = openProject(join(dir, 's.iwsft'))
    const done = await executeRun(store, { ...config, train: { ...config.train, steps: 10 } })
    await expect(resumeRun(store, done.runId)).rejects.toThrow(/is completed/)
    store.close()
  })

  it('a checkpoint serves as π_ref of a new run (weights start at 1)', async () => {
    const store = openProject(join(dir, 't.iwsft'))
    const first = await executeRun(store, { ...config, method: 'sft' })
    const second = await executeRun(store, {
      ...config,
      reference: { kind: 'checkpoint', run: first.runId },
      train: { ...config.train, steps: 5, log_every: 1 }
    })
    expect(second.status).toBe('completed')
    // at step 1, θ = θ_q ≈ π_ref (one small update), so every log weight is ≈ 0
    const m = store.getMetrics(second.runId, ['logw_raw_max', 'logw_raw_min']).filter((p) => p.step === 1)
    for (const p of m) expect(Math.abs(p.value)).toBeLessThan(0.2)
    // and the run started where the first ended: expected reward near SFT's 5/6, not 0.75
    expect(store.getMetrics(second.runId, ['expected_reward']).find((p) => p.step === 0)!.value).toBeCloseTo(first.final.expected_reward, 6)
    store.close()
  })
})
