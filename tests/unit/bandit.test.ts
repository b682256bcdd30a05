// The toy bandit of paper §3.5 must reach its known answers: SFT → π(right) = 2/3 and expected
// reward 5/6; iw-SFT with q = π_θ → reward ≥ 0.98. Three seeds each, data shared per seed.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, type Method, type RunConfig } from '../../src/shared/config.ts'
import { evaluateBandit, makeBanditDataset } from '../../src/main/engine/datasets/bandit.ts'
import { runExperiment } from '../../src/main/engine/experiment.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

async function finalFor(method: Method, seed: number): Promise<{ expected_reward: number; p_right: number }> {
  const config: RunConfig = { ...defaultConfig('bandit'), method, seed }
  const ds = makeBanditDataset(10_000, seed)
  const res = await runExperiment(config, ds, { evaluate: (p) => evaluateBandit(p) })
  const out = evaluateBandit(res.policy)
  res.policy.dispose()
  return out
}

describe('toy bandit (paper §3.5)', () => {
  it('the data hold right:left ≈ 2:1 among successes', () => {
    const ds = makeBanditDataset(10_000, 0)
    let left = 0
    let right = 0
    for (let i = 0; i < ds.scores.length; i++) if (ds.scores[i] > 0.5) ds.actions[i] === 1 ? right++ : left++
    expect(right / (right + left)).toBeGreaterThan(0.64)
    expect(right / (right + left)).toBeLessThan(0.69)
  })
  for (const seed of [0, 1, 2]) {
    it(`seed ${seed}: SFT converges to π(right) = 2/3, reward 5/6`, async () => {
      const r = await finalFor('sft', seed)
      expect(Math.abs(r.p_right - 2 / 3)).toBeLessThanOrEqual(0.02)
      expect(Math.abs(r.expected_reward - 5 / 6)).toBeLessThanOrEqual(0.02)
    })
    it(`seed ${seed}: iw-SFT with q = π_θ converges to π(right) → 1`, async () => {
      const r = await finalFor('iw-sft', seed)
      expect(r.expected_reward).toBeGreaterThanOrEqual(0.98)
    })
  }
})
