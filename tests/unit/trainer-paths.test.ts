// The cheaper full-trajectory paths of the trainer (weights.q_refresh, train.step_sample)
// against the direct computation.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { gatherStepSample, maskedSteps } from '../../src/main/engine/data/batch.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { makeBanditDataset } from '../../src/main/engine/datasets/bandit.ts'
import { runExperiment } from '../../src/main/engine/experiment.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { linearControl } from '../helpers/linear-control.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const lin = (seed: number): TraceDataset => linearControl(seed, { traces: 40, obsDim: 3, actDim: 2, minLen: 6, lenCycle: 15 })

const cfg = (o: Record<string, unknown>): RunConfig =>
  resolveConfig({
    dataset: 'control',
    backend: 'cpu',
    method: 'iw-sft-q',
    reference: { kind: 'bc', steps: 30, lr: 1e-2, batch_size: 16 },
    policy: { kind: 'gaussian-mlp', hidden: [16, 16], log_std_min: -5, log_std_max: 2 },
    curation: { mode: 'quality_bins', cutoffs: [50, 75, 90] },
    optim: { ...defaultConfig('control').optim, lr: 3e-3, warmup_steps: 0 },
    train: { steps: 30, batch_size: 8, log_every: 5, snapshot_every: 1000, eval_every: 1000 },
    ...o
  })

async function losses(config: RunConfig, ds: TraceDataset): Promise<number[]> {
  const out: number[] = []
  const r = await runExperiment(config, ds, { onLog: (_s, m) => m.loss !== undefined && out.push(m.loss) })
  r.policy.dispose()
  return out
}

describe('q log-prob cache (weights.q_refresh)', () => {
  it('is exact for a periodic q refreshed at its own period', async () => {
    const ds = lin(1)
    const q = { kind: 'periodic', every: 10 }
    const direct = await losses(cfg({ weights: { q } }), ds)
    const cached = await losses(cfg({ weights: { q, q_refresh: 10 } }), ds)
    expect(direct.length).toBe(6)
    cached.forEach((v, i) => expect(v).toBeCloseTo(direct[i], 5))
  })
  it('differs (a lag) for EMA q, but stays close early on', async () => {
    const ds = lin(2)
    const q = { kind: 'ema', beta: 0.9 }
    const direct = await losses(cfg({ weights: { q } }), ds)
    const cached = await losses(cfg({ weights: { q, q_refresh: 10 } }), ds)
    expect(cached).not.toEqual(direct)
    expect(Math.abs(cached[0] - direct[0])).toBeLessThan(0.5 * Math.abs(direct[0]) + 0.5)
  })
})

describe('step sampling inside trajectories (train.step_sample)', () => {
  it('draws only masked steps of the sampled traces', () => {
    const ds = fromTraces('m', 'continuous', 1, 1, [
      { obs: [0, 1, 2, 3], actions: [0, 1, 2, 3], mask: [0, 1, 0, 1], score: 0 },
      { obs: [4, 5], actions: [4, 5], mask: [1, 1], score: 0 }
    ])
    const rng = new Rng(3)
    const h = gatherStepSample(ds, [0, 1], 500, maskedSteps(ds), () => rng.next())
    const row0 = new Set(Array.from(h.steps.subarray(0, 500)))
    const row1 = new Set(Array.from(h.steps.subarray(500)))
    expect([...row0].sort()).toEqual([1, 3])
    expect([...row1].sort()).toEqual([4, 5])
    // the action at each entry is the action of its step
    for (let e = 0; e < h.steps.length; e++) expect(h.actions[e]).toBe(h.steps[e])
  })
  it('the mean over sampled steps is an unbiased estimate of the per-trace mean', () => {
    const ds = fromTraces('u', 'continuous', 1, 1, [{ obs: [0, 0, 0, 0, 0], actions: [1, 2, 3, 4, 10], score: 0 }])
    const rng = new Rng(4)
    let sum = 0
    const draws = 4000
    for (let k = 0; k < draws; k++) {
      const h = gatherStepSample(ds, [0], 4, maskedSteps(ds), () => rng.next())
      sum += (h.actions as Float32Array).reduce((a, b) => a + b, 0) / 4
    }
    expect(sum / draws).toBeCloseTo(4, 1) // exact mean (1+2+3+4+10)/5 = 4
  })
  it('trains: the loss falls with whole-trajectory weights and sampled steps', async () => {
    const ds = lin(5)
    const l = await losses(cfg({ train: { steps: 60, batch_size: 8, log_every: 10, snapshot_every: 1000, eval_every: 1000, step_sample: 4 }, weights: { q_refresh: 20 } }), ds)
    expect(l[l.length - 1]).toBeLessThan(l[0])
  })
  it('is refused for token sequences and for the token normalisation', async () => {
    const ds = lin(6)
    await expect(runExperiment(cfg({ train: { step_sample: 4, loss_norm: 'token' } }), ds)).rejects.toThrow(/needs train\.loss_norm "trace"/)
  })
})

describe('per-step clip fraction (step_clip_fraction)', () => {
  // At the first update q = π_θ = π_ref (θ starts as π_ref, q = current), so every ρ_t is 0 and
  // every ratio exp(ρ_t) is 1. A step counts as clipped only when the clip changed its ratio.
  const firstStep = async (step_clip: [number, number]): Promise<Record<string, number>> => {
    const config: RunConfig = {
      ...defaultConfig('bandit'),
      method: 'iw-sft-step',
      weights: { ...defaultConfig('bandit').weights, step_clip },
      train: { ...defaultConfig('bandit').train, steps: 1, batch_size: 16, log_every: 1 }
    }
    let m: Record<string, number> = {}
    const r = await runExperiment(config, makeBanditDataset(200, 0), { onLog: (_s, x) => (m = x) })
    r.policy.dispose()
    return m
  }
  it('a ratio exactly at a bound is not clipped', async () => {
    // ratio 1 at the lower bound of [1, 2] and at the upper bound of [0.5, 1]: unchanged, w_t = 1
    for (const clip of [
      [1, 2],
      [0.5, 1]
    ] as Array<[number, number]>) {
      const m = await firstStep(clip)
      expect(m.step_clip_fraction).toBe(0)
      expect(m.step_w_mean).toBeCloseTo(1, 6)
    }
  })
  it('a ratio outside the clip is clipped', async () => {
    // ratio 1 below [2, 3]: every step raised to w_t = 2
    const m = await firstStep([2, 3])
    expect(m.step_clip_fraction).toBe(1)
    expect(m.step_w_mean).toBeCloseTo(2, 5)
  })
})

describe('tensors a step leaves behind', () => {
  // every weight path of the trainer (the weights of q = current are made off the tape,
  // weights.ts untaped, and kept for logging), the BC reference and the policy's own
  // initialisation: after a run only the policy's variables remain, and nothing after those
  const paths: Array<[string, Record<string, unknown>]> = [
    ['SFT', { method: 'sft' }],
    ['iw-SFT(Q), q current', { weights: { q: { kind: 'current' }, normalize: false } }],
    ['iw-SFT(Q), q current, normalised', { weights: { q: { kind: 'current' }, normalize: true } }],
    ['iw-SFT per step, q current', { method: 'iw-sft-step', weights: { q: { kind: 'current' } } }],
    [
      'iw-SFT(Q), q EMA, micro-batches',
      { weights: { q: { kind: 'ema', beta: 0.9 }, normalize: false }, train: { steps: 30, batch_size: 8, micro_batch: 3, log_every: 5, snapshot_every: 1000, eval_every: 1000 } }
    ]
  ]
  for (const [name, o] of paths) {
    it(name, async () => {
      const config = cfg(o)
      const ds = lin(3)
      const before = tf.memory().numTensors
      const r = await runExperiment(config, ds, {})
      expect(tf.memory().numTensors - before).toBe(r.policy.variables.length)
      r.policy.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })
  }
})
