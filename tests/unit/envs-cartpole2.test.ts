// Task "cartpole2" (issue 15): cart-pole with a reward that keeps rising with the quality of
// the balance, r = (1 − |x|/2)(1 − |θ|/0.3), and starts off centre. The old "cartpole" keeps
// its reward (1 − θ² − 0.1x² − 0.01a²). Expected values are worked out by hand.
import { describe, expect, it } from 'vitest'
import { CartpoleEnv } from '../../src/main/engine/envs/cartpole.ts'
import { Cartpole2Env, cartpole2Reward } from '../../src/main/engine/envs/cartpole2.ts'
import { getMujoco, loadShippedModel } from '../../src/main/engine/envs/mujoco.ts'
import { getTask, normalizedScore } from '../../src/main/engine/envs/registry.ts'
import type { Env } from '../../src/main/engine/envs/types.ts'

/** puts the cart at x with the pole at θ, at rest (only tests reach into the state) */
function place(env: CartpoleEnv, x: number, theta: number): void {
  const e = env as unknown as { qpos: Float64Array; qvel: Float64Array; mj: { mj_forward(m: unknown, d: unknown): void }; model: unknown; data: unknown }
  e.qpos[0] = x
  e.qpos[1] = theta
  e.qvel.fill(0)
  e.mj.mj_forward(e.model, e.data)
}

describe('cartpole2 reward', () => {
  it('is (1 − |x|/2)(1 − |θ|/0.3): 1 centred and upright, 0 at the termination bounds', () => {
    expect(cartpole2Reward(0, 0)).toBe(1)
    expect(cartpole2Reward(1, 0)).toBeCloseTo(0.5, 12)
    expect(cartpole2Reward(-1, 0)).toBeCloseTo(0.5, 12)
    expect(cartpole2Reward(0, 0.15)).toBeCloseTo(0.5, 12)
    expect(cartpole2Reward(0.5, -0.15)).toBeCloseTo(0.75 * 0.5, 12)
    expect(cartpole2Reward(0.1, 0.01)).toBeCloseTo(0.95 * (1 - 1 / 30), 12)
    expect(cartpole2Reward(2, 0)).toBe(0)
    expect(cartpole2Reward(0, 0.3)).toBe(0)
    // past the bounds (the step that terminates) it stays 0, never negative
    expect(cartpole2Reward(2.5, 0)).toBe(0)
    expect(cartpole2Reward(0, -0.4)).toBe(0)
    expect(cartpole2Reward(-3, 0.5)).toBe(0)
  })
})

describe('cartpole2 environment', () => {
  it('a step at rest off centre pays (1 − 0.5/2)·1 = 0.75; the old cartpole pays 1 − 0.1·0.25 = 0.975 there', async () => {
    const mj = await getMujoco()
    const model = await loadShippedModel('cartpole.xml')
    const v2 = new Cartpole2Env(mj, model)
    const v1 = new CartpoleEnv(mj, model)
    try {
      for (const env of [v2, v1]) {
        env.reset(0)
        place(env, 0.5, 0)
      }
      // upright and at rest with no force the state does not move in one step
      const r2 = v2.step([0])
      expect(r2.obs[0]).toBeCloseTo(0.5, 6)
      expect(r2.obs[1]).toBeCloseTo(0, 6)
      expect(r2.reward).toBeCloseTo(0.75, 6)
      expect(r2.terminated).toBe(false)
      const r1 = v1.step([0])
      expect(r1.reward).toBeCloseTo(0.975, 6)
      expect(v2.task).toBe('cartpole2')
      expect(v1.task).toBe('cartpole')
    } finally {
      v2.close()
      v1.close()
    }
  })

  it('a leaning pole pays less, as the formula says of the state after the step; past the bounds the episode ends', async () => {
    const env = (await getTask('cartpole2').make()) as Cartpole2Env
    try {
      env.reset(0)
      // before the step r = (1 − 1/2)(1 − 0.15/0.3) = 0.25; the pole then falls further
      place(env, -1, 0.15)
      const r = env.step([0])
      expect(r.obs[1]).toBeGreaterThan(0.15)
      expect(r.reward).toBeLessThan(0.25)
      expect(r.reward).toBeGreaterThan(0.2)
      expect(r.reward).toBeCloseTo(cartpole2Reward(r.obs[0], r.obs[1]), 5)
      env.reset(0)
      place(env, 0, 0.29)
      let s = env.step([0])
      while (!s.terminated && !s.truncated) s = env.step([0])
      expect(s.terminated).toBe(true)
      expect(env.t).toBeLessThan(20)
      expect(s.reward).toBe(0)
    } finally {
      env.close()
    }
  })

  it('starts with the cart anywhere in x ∈ [−1, 1] (the old task: ±0.15), the pole within ±0.15 rad', async () => {
    const env = await getTask('cartpole2').make()
    const old = await getTask('cartpole').make()
    try {
      const xs: number[] = []
      for (let s = 0; s < 200; s++) {
        const o = env.reset(s)
        xs.push(o[0])
        expect(Math.abs(o[1])).toBeLessThanOrEqual(0.15)
        expect(Math.abs(old.reset(s)[0])).toBeLessThanOrEqual(0.15)
      }
      expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(1)
      expect(Math.max(...xs)).toBeGreaterThan(0.9)
      expect(Math.min(...xs)).toBeLessThan(-0.9)
    } finally {
      env.close()
      old.close()
    }
  })

  it('between two controllers that both balance for 500 steps, the one that centres the cart earns more (on cartpole the two tie)', async () => {
    // mean return over 5 episodes; both controllers keep the pole up for the whole 500 steps
    const play = async (task: string, gains: number[]): Promise<number> => {
      const env: Env = await getTask(task).make()
      let ret = 0
      try {
        for (let k = 0; k < 5; k++) {
          let o = env.reset(100 + k)
          for (;;) {
            const r = env.step([gains.reduce((a, g, i) => a + g * o[i], 0)])
            ret += r.reward
            o = r.obs
            if (r.terminated || r.truncated) break
          }
          expect(env.t).toBe(500)
        }
        return ret / 5
      } finally {
        env.close()
      }
    }
    const centring = [0.5, 3, 0.5, 0.6]
    const drifting = [0.05, 3, 0.1, 0.6]
    const v2 = [await play('cartpole2', centring), await play('cartpole2', drifting)]
    const v1 = [await play('cartpole', centring), await play('cartpole', drifting)]
    // measured: cartpole2 478.6 vs 449.0; cartpole 499.8 vs 498.7
    expect(v2[0] - v2[1]).toBeGreaterThan(15)
    expect(Math.abs(v1[0] - v1[1])).toBeLessThan(2)
  })

  it('has its own reference returns: normalised 0 at random, 100 at the expert, expert below the 500 ceiling', () => {
    const t = getTask('cartpole2')
    expect(t.mjcf).toBe('cartpole.xml')
    expect(t.refReturns.expert).toBeLessThan(500)
    expect(normalizedScore('cartpole2', t.refReturns.expert)).toBeCloseTo(100, 9)
    expect(normalizedScore('cartpole2', t.refReturns.random)).toBeCloseTo(0, 9)
  })
})
