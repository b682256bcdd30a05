// The toy bandit of paper §3.5 (Figure 1): two actions, left (0) and right (1). Pulling left
// pays 1 with probability 0.5, right pays 1 always. The data come from π_ref = uniform, so
// among the successes (D+) right:left ≈ 2:1. SFT on D+ converges to π(right) = 2/3 (expected
// reward 0.5·1/3 + 1·2/3 = 5/6); iw-SFT with q = π_θ converges to π(right) → 1.
import { fromTraces, type TraceDataset } from '../../common/trace.ts'
import { CategoricalPolicy } from '../policies/categorical.ts'
import type { Policy } from '../policies/policy.ts'
import { Rng } from '../rng.ts'

export const BANDIT_PAYOFF = [0.5, 1] as const // P(reward = 1 | action)
export const BANDIT_DEFAULT_PULLS = 10_000

export function makeBanditDataset(pulls = BANDIT_DEFAULT_PULLS, seed = 0): TraceDataset {
  const rng = new Rng(seed)
  const traces = []
  for (let i = 0; i < pulls; i++) {
    const a = rng.next() < 0.5 ? 0 : 1
    const r = rng.next() < BANDIT_PAYOFF[a] ? 1 : 0
    traces.push({ id: `pull-${i}`, actions: [a], rewards: [r], score: r })
  }
  return fromTraces(`bandit (${pulls} pulls, seed ${seed})`, 'discrete', 0, 2, traces)
}

/** Expected reward Σ_a π(a)·P(r=1|a) and π(right), exact from the policy's probabilities. */
export function evaluateBandit(policy: Policy): { expected_reward: number; p_right: number } {
  if (!(policy instanceof CategoricalPolicy) || policy.spec.actDim !== 2) throw new Error('the bandit needs a two-action categorical policy')
  const p = policy.probs(new Float32Array(0), 1)
  return { expected_reward: p[0] * BANDIT_PAYOFF[0] + p[1] * BANDIT_PAYOFF[1], p_right: p[1] }
}
