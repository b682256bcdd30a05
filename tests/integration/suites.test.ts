// The reproduction suites end to end (their --quick sizes, seed 0) and what they must learn:
// the bandit's known answers (paper §3.5), BC on expert data swinging the pendulum up, and
// fine-tuning beating the model it starts from, on control (BC → SFT, SFT(Q), iw-SFT(Q)) and
// on arithmetic (the reference → SFT, iw-SFT, per-step iw-SFT). Each margin sits below what
// the suite reaches here (native CPU backend; the numbers are in the comments) and above what
// a trainer that does not move θ would reach: its fine-tuned runs would score exactly what
// they start from.
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
// a whole quick suite takes 15 s (bandit) to 2 min (sequence) alone on 2 cores; on busy cores several times that
const SUITE_TIMEOUT = 600_000

async function runSuite(name: string, file: string): Promise<{ results: SuiteResult[]; ctx: SuiteContext }> {
  const store = openProject(join(dir, file))
  const ctx: SuiteContext = { store, seeds: 1, quick: true, group: `test ${name}`, progress: () => silent }
  const results = await getSuite(name)!.run(ctx)
  return { results, ctx }
}

describe('bandit', () => {
  it(
    'reproduce bandit: SFT → π(right) = 2/3 (reward 5/6), iw-SFT → reward 1, runs stored in the group',
    async () => {
      const { results, ctx } = await runSuite('bandit', 'bandit.iwsft')
      const get = (method: string, metric: string): number => results.find((r) => r.method === method && r.metric === metric)!.mean
      // measured: SFT 0.831 / 0.662, iw-SFT 0.9997
      expect(Math.abs(get('sft', 'p_right') - 2 / 3)).toBeLessThanOrEqual(0.02)
      expect(Math.abs(get('sft', 'expected_reward') - 5 / 6)).toBeLessThanOrEqual(0.02)
      expect(get('iw-sft', 'expected_reward')).toBeGreaterThanOrEqual(0.98)
      // weight diagnostics on the headline rows: iw-SFT's q has moved to "right", so its weights
      // are uneven (ESS/N < 1) and follow no score (every success scores 1: Spearman undefined)
      const iw = results.find((r) => r.method === 'iw-sft' && r.metric === 'expected_reward')!
      expect(iw.diagnostics!.ess_n_final).toBeGreaterThan(0)
      expect(iw.diagnostics!.ess_n_final).toBeLessThan(0.98)
      expect(iw.diagnostics!.spearman_w_score).toBeUndefined()
      expect(Array.isArray(iw.warnings)).toBe(true)
      expect(results.find((r) => r.method === 'iw-sft' && r.metric === 'p_right')!.diagnostics).toBeUndefined()
      const runs = ctx.store.listRuns()
      expect(runs.map((r) => r.method).sort()).toEqual(['iw-sft', 'sft'])
      expect(runs.every((r) => r.status === 'completed' && r.group === 'test bandit')).toBe(true)
      ctx.store.close()
    },
    SUITE_TIMEOUT
  )
})

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

  it(
    'reproduce control --quick: every method on every quick task, fine-tuning beats BC, runs stored in the group',
    async () => {
      const { results, ctx } = await runSuite('control', 'control.iwsft')
      const rows = results.filter((r) => r.metric === 'normalized_score')
      expect(rows.map((r) => `${r.task}/${r.method}`).sort()).toEqual(['bc', 'bc-10%', 'iw-sft-q', 'sft', 'sft-q'].flatMap((m) => ['cartpole', 'pendulum'].map((t) => `${t}/${m}`)).sort())
      for (const r of rows) expect(r.seeds).toBe(1)
      const score = (task: string, method: string): number => rows.find((r) => r.task === task && r.method === method)!.mean
      // measured (pendulum, cartpole): BC 41.0, 0.7; BC-10% 53.6, 8.6; SFT 50.7, 8.2; SFT(Q) 52.0, 8.8; iw-SFT(Q) 53.2, 8.8
      expect(score('pendulum', 'bc')).toBeGreaterThan(20) // BC on the replay data beats the random policy
      for (const task of ['pendulum', 'cartpole']) {
        // cloning the best 10% beats cloning everything, and so does fine-tuning BC on the best
        expect(score(task, 'bc-10%')).toBeGreaterThan(score(task, 'bc') + 4)
        for (const m of ['sft', 'sft-q', 'iw-sft-q']) expect(score(task, m), `${task} ${m}`).toBeGreaterThan(score(task, 'bc') + 4)
      }
      const runs = ctx.store.listRuns()
      expect(runs).toHaveLength(10)
      expect(runs.every((r) => r.status === 'completed' && r.group === 'test control')).toBe(true)
      // iw-SFT(Q) keeps weight snapshots for the inspector
      const iw = runs.find((r) => r.method === 'iw-sft-q')!
      expect(ctx.store.listSnapshotSteps(iw.id).length).toBeGreaterThan(0)
      // iw-SFT(Q) ran at the task's Table 4 row, with diagnostics and π_ref's σ (one action dimension)
      const iwRow = (task: string): SuiteResult => rows.find((r) => r.task === task && r.method === 'iw-sft-q')!
      expect(iwRow('pendulum').preset).toBe('halfcheetah-medium-replay')
      expect(iwRow('cartpole').preset).toBe('hopper-medium-replay')
      expect(iwRow('pendulum').diagnostics!.ref_action_std).toHaveLength(1)
      expect(iwRow('pendulum').diagnostics!.ess_n_final).toBeGreaterThan(0)
      expect(rows.find((r) => r.task === 'pendulum' && r.method === 'bc')!.diagnostics).toBeUndefined()
      ctx.store.close()
    },
    SUITE_TIMEOUT
  )
})

describe('sequence', () => {
  it(
    'reproduce sequence --quick: the reference learns the task, three methods fine-tune from it and beat it',
    async () => {
      const { results, ctx } = await runSuite('sequence', 'sequence.iwsft')
      const acc = results.filter((r) => r.metric === 'accuracy')
      expect(acc.map((r) => r.method)).toEqual(['reference', 'sft', 'iw-sft', 'iw-sft-step'])
      const get = (method: string, metric: string): number => results.find((r) => r.method === method && r.metric === metric)!.mean
      // measured (greedy accuracy, pass@4 on 60 held-out problems): reference 0.100, 0.198; SFT 0.133,
      // 0.270; iw-SFT 0.133, 0.176; per-step iw-SFT 0.117, 0.247. The weights are ≈ 1 here (ESS/N ≥
      // 0.999: the samples come from π_ref itself, issue 15), so the three methods train alike and
      // their pass@4 spread (0.18–0.27; 0.25–0.27 before the engine's float32 sums changed order) is
      // the noise of 4 samples on 60 problems, not a difference of method: pass@4 is judged on their mean.
      // greedy accuracy of an untrained model on multi-step arithmetic is ~0
      expect(get('reference', 'accuracy')).toBeGreaterThan(0.03)
      expect(get('reference', 'pass_at_4')).toBeGreaterThan(0.1)
      // fine-tuning on π_ref's verified samples improves on π_ref: each method's greedy accuracy
      // (one problem is 1/60), and pass@4 on average
      const methods = ['sft', 'iw-sft', 'iw-sft-step']
      for (const m of methods) expect(get(m, 'accuracy'), m).toBeGreaterThan(get('reference', 'accuracy'))
      const meanPass = methods.reduce((a, m) => a + get(m, 'pass_at_4'), 0) / methods.length
      expect(meanPass).toBeGreaterThan(get('reference', 'pass_at_4') + 0.02)
      const runs = ctx.store.listRuns()
      expect(runs.map((r) => r.method).sort()).toEqual(['bc', 'iw-sft', 'iw-sft-step', 'sft'])
      ctx.store.close()
    },
    SUITE_TIMEOUT
  )
})
