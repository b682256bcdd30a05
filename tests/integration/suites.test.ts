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
      expect(rows.map((r) => `${r.task}/${r.method}`).sort()).toEqual(
        ['bc', 'bc-10%', 'iw-sft-q', 'iw-sft-q T=10', 'sft', 'sft-q'].flatMap((m) => ['cartpole2', 'pendulum'].map((t) => `${t}/${m}`)).sort()
      )
      for (const r of rows) expect(r.seeds).toBe(1)
      const score = (task: string, method: string): number => rows.find((r) => r.task === task && r.method === method)!.mean
      // measured (pendulum, cartpole2): BC 41.0, 2.0; BC-10% 53.6, 84.7; SFT 50.7, 11.9; SFT(Q) 52.0, 8.4; iw-SFT(Q) 53.2, 8.4
      expect(score('pendulum', 'bc')).toBeGreaterThan(20) // BC on the replay data beats the random policy
      for (const task of ['pendulum', 'cartpole2']) {
        // cloning the best 10% beats cloning everything, and so does fine-tuning BC on the best
        expect(score(task, 'bc-10%')).toBeGreaterThan(score(task, 'bc') + 4)
        for (const m of ['sft', 'sft-q', 'iw-sft-q']) expect(score(task, m), `${task} ${m}`).toBeGreaterThan(score(task, 'bc') + 4)
      }
      const runs = ctx.store.listRuns()
      expect(runs).toHaveLength(12)
      expect(runs.every((r) => r.status === 'completed' && r.group === 'test control')).toBe(true)
      // iw-SFT(Q) keeps weight snapshots for the inspector
      const iw = runs.find((r) => r.method === 'iw-sft-q')!
      expect(ctx.store.listSnapshotSteps(iw.id).length).toBeGreaterThan(0)
      // iw-SFT(Q) ran at the task's Table 4 row, with diagnostics and π_ref's σ (one action dimension)
      const iwRow = (task: string): SuiteResult => rows.find((r) => r.task === task && r.method === 'iw-sft-q')!
      expect(iwRow('pendulum').preset).toBe('halfcheetah-medium-replay')
      expect(iwRow('cartpole2').preset).toBe('hopper-medium-replay')
      expect(iwRow('pendulum').diagnostics!.ref_action_std).toHaveLength(1)
      expect(iwRow('pendulum').diagnostics!.ess_n_final).toBeGreaterThan(0)
      // the temperature sweep: at 10 (the authors' control code) the weights spread more than at
      // the Table 4 rows' temperature 1, on both tasks
      for (const task of ['pendulum', 'cartpole2']) {
        const hot = rows.find((r) => r.task === task && r.method === 'iw-sft-q T=10')!
        expect(hot.diagnostics!.ess_n_final!, task).toBeLessThan(iwRow(task).diagnostics!.ess_n_final!)
      }
      expect(rows.find((r) => r.task === 'pendulum' && r.method === 'bc')!.diagnostics).toBeUndefined()
      ctx.store.close()
    },
    SUITE_TIMEOUT
  )
})

describe('sequence', () => {
  it(
    'reproduce sequence --quick: traces from a stronger teacher move the weights off 1; fine-tuning from π_ref on them beats π_ref',
    async () => {
      const { results, ctx } = await runSuite('sequence', 'sequence.iwsft')
      const acc = results.filter((r) => r.metric === 'accuracy')
      expect(acc.map((r) => r.method)).toEqual(['reference', 'teacher', 'sft', 'iw-sft T=0.3', 'iw-sft', 'iw-sft T=3', 'iw-sft-step'])
      const get = (method: string, metric: string): number => results.find((r) => r.method === method && r.metric === metric)!.mean
      // measured (greedy accuracy on 60 held-out problems, native-cpu): reference 0.117, teacher 0.283;
      // SFT 0.167, iw-SFT at temperature 0.3 / 1 / 3: 0.150 / 0.133 / 0.133, per-step 0.117
      // greedy accuracy of an untrained model on multi-step arithmetic is ~0
      expect(get('reference', 'accuracy')).toBeGreaterThan(0.03)
      // the teacher (clean, longer data; more steps) is the stronger model
      expect(get('teacher', 'accuracy')).toBeGreaterThan(get('reference', 'accuracy') + 0.08)
      // fine-tuning π_ref on the teacher's verified samples helps on average over the five fine-tunes
      const fts = ['sft', 'iw-sft T=0.3', 'iw-sft', 'iw-sft T=3', 'iw-sft-step']
      expect(fts.reduce((a, m) => a + get(m, 'accuracy'), 0) / fts.length).toBeGreaterThan(get('reference', 'accuracy'))
      // the data are not π_ref's own samples, so the weights move (measured ESS/N 0.996 / 0.923 /
      // 0.307), the more the higher the temperature; with π_ref's own samples they stayed ≥ 0.999
      const ess = (m: string): number => acc.find((r) => r.method === m)!.diagnostics!.ess_n_final!
      expect(ess('iw-sft')).toBeLessThan(0.98)
      expect(ess('iw-sft T=3')).toBeLessThan(ess('iw-sft'))
      expect(ess('iw-sft')).toBeLessThan(ess('iw-sft T=0.3'))
      const runs = ctx.store.listRuns()
      expect(runs.map((r) => r.method).sort()).toEqual(['bc', 'bc', 'iw-sft', 'iw-sft', 'iw-sft', 'iw-sft-step', 'sft'])
      // the stored datasets name their split: `iwsft eval` on any of these runs scores held-out accuracy
      expect(
        ctx.store
          .listDatasets()
          .filter((d) => d.source.startsWith('generated:arithmetic/suite-quick/seed0/'))
          .map((d) => d.source.split('/').pop())
          .sort()
      ).toEqual(['noisy', 'teacher-data', 'teacher-samples'])
      ctx.store.close()
    },
    SUITE_TIMEOUT
  )
})
