// The reproduction suites end to end (their --quick sizes) and the control pipeline's learning:
// BC on expert data must reach a high normalised score in the task's MuJoCo environment.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/shared/config.ts'
import { executeRun } from '../../src/main/jobs/execute-run.ts'
import { openProject } from '../../src/main/store/index.ts'
import { getSuite, type SuiteResult } from '../../src/main/suites/index.ts'
import type { SuiteContext } from '../../src/main/suites/suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-suites-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const silent = { update() {}, done() {} }

async function runSuite(name: string, file: string): Promise<{ results: SuiteResult[]; ctx: SuiteContext }> {
  const store = openProject(join(dir, file))
  const ctx: SuiteContext = { store, seeds: 1, quick: true, group: `test ${name}`, progress: () => silent }
  const results = await getSuite(name)!.run(ctx)
  return { results, ctx }
}

describe('control', () => {
  it('BC on the pendulum expert set learns to swing up (normalised score > 60)', async () => {
    const store = openProject(join(dir, 'bc.iwsft'))
    const config = resolveConfig({
      dataset: 'pendulum-expert',
      dataset_options: { quick: true, eval_episodes: 10 },
      method: 'bc',
      policy: { kind: 'gaussian-mlp', hidden: [64, 64], log_std_min: -5, log_std_max: 2 },
      optim: { lr: 1e-3, warmup_steps: 0, schedule: 'constant' },
      train: { steps: 400, batch_size: 32, step_sample: 8, log_every: 50, eval_every: 200, snapshot_every: 1000 }
    })
    const end = await executeRun(store, config)
    expect(end.status).toBe('completed')
    const scores = store.getMetrics(end.runId, ['normalized_score'])
    expect(scores[0].step).toBe(0)
    expect(scores[0].value).toBeLessThan(40) // the untrained policy
    expect(end.final.normalized_score).toBeGreaterThan(60)
    store.close()
  })

  it('reproduce control --quick: every method on every quick task, runs stored in the group', async () => {
    const { results, ctx } = await runSuite('control', 'control.iwsft')
    const rows = results.filter((r) => r.metric === 'normalized_score')
    expect(rows.map((r) => `${r.task}/${r.method}`).sort()).toEqual(
      ['bc', 'bc-10%', 'iw-sft-q', 'sft', 'sft-q'].flatMap((m) => ['cartpole', 'pendulum'].map((t) => `${t}/${m}`)).sort()
    )
    for (const r of rows) {
      expect(Number.isFinite(r.mean)).toBe(true)
      expect(r.seeds).toBe(1)
    }
    // fine-tuning from BC on the pendulum's best trajectories beats the random policy clearly
    expect(rows.find((r) => r.task === 'pendulum' && r.method === 'sft-q')!.mean).toBeGreaterThan(20)
    const runs = ctx.store.listRuns()
    expect(runs).toHaveLength(10)
    expect(runs.every((r) => r.status === 'completed' && r.group === 'test control')).toBe(true)
    // iw-SFT(Q) keeps weight snapshots for the inspector
    const iw = runs.find((r) => r.method === 'iw-sft-q')!
    expect(ctx.store.listSnapshotSteps(iw.id).length).toBeGreaterThan(0)
    ctx.store.close()
  })
})

describe('sequence', () => {
  it('reproduce sequence --quick: the reference learns the task, three methods fine-tune from it', async () => {
    const { results, ctx } = await runSuite('sequence', 'sequence.iwsft')
    const acc = results.filter((r) => r.metric === 'accuracy')
    expect(acc.map((r) => r.method)).toEqual(['reference', 'sft', 'iw-sft', 'iw-sft-step'])
    // greedy accuracy of an untrained model on multi-step arithmetic is ~0
    expect(acc[0].mean).toBeGreaterThan(0.03)
    for (const r of acc) expect(r.mean).toBeLessThanOrEqual(1)
    const runs = ctx.store.listRuns()
    expect(runs.map((r) => r.method).sort()).toEqual(['bc', 'iw-sft', 'iw-sft-step', 'sft'])
    ctx.store.close()
  })
})
