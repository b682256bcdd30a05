// Task "cartpole2": cart-pole balance whose return keeps rising with the quality of the
// balance (issue 15). On "cartpole" every good policy's return sits at the 500 ceiling
// (1 − θ² − 0.1·x² is ≈ 1 once the pole is up), so curated returns carry no signal. Same
// physics, observation, action, termination and time limit as "cartpole"
// (resources/mjcf/cartpole.xml, cartpole.ts); what differs:
//
// - Reward per step, in [0, 1] (Gymnasium's suggestion of a reward from |x| and |θ|):
//     r = (1 − |x| / X_LIMIT) · (1 − |θ| / THETA_LIMIT)
//   1 only with the cart centred and the pole exactly upright, falling linearly to 0 at the
//   termination bounds (|x| = 2 m, |θ| = 0.3 rad). Linear rather than quadratic, so small
//   offsets still cost: a pole wobbling by 0.01 rad or a cart 0.1 m off centre loses ~3–5%
//   a step.
// - Initial state: x ~ U(−1, 1) (the cart starts off centre and must be brought back),
//   θ ~ U(−0.15, 0.15), ẋ, θ̇ ~ U(−0.1, 0.1).
//
// A new task name, so "cartpole" and its datasets stay reproducible byte for byte.
import type { Rng } from '../rng.ts'
import { uniform } from './base.ts'
import { CartpoleEnv } from './cartpole.ts'
import type { MainModule, MjModel } from './mujoco.ts'

export const CARTPOLE2 = { task: 'cartpole2', mjcf: 'cartpole.xml', obsDim: 4, actDim: 1, maxSteps: 500, frameSkip: 2 } as const

/** termination bounds of cart-pole (cartpole.ts isTerminated), where the reward reaches 0 */
export const X_LIMIT = 2
export const THETA_LIMIT = 0.3
/** half-width of the initial cart position */
export const X0_RANGE = 1

/** Reward of one step of "cartpole2" at cart position x (m) and pole angle θ (rad). */
export function cartpole2Reward(x: number, theta: number): number {
  const ux = 1 - Math.abs(x) / X_LIMIT
  const ut = 1 - Math.abs(theta) / THETA_LIMIT
  return ux > 0 && ut > 0 ? ux * ut : 0
}

export class Cartpole2Env extends CartpoleEnv {
  constructor(mj: MainModule, model: MjModel) {
    super(mj, model, CARTPOLE2)
  }
  protected override initState(qpos: Float64Array, qvel: Float64Array, rng: Rng): void {
    qpos[0] = uniform(rng, -X0_RANGE, X0_RANGE)
    qpos[1] = uniform(rng, -0.15, 0.15)
    qvel[0] = uniform(rng, -0.1, 0.1)
    qvel[1] = uniform(rng, -0.1, 0.1)
  }
  protected override reward(): number {
    const qp = this.qpos
    return cartpole2Reward(qp[0], qp[1])
  }
}
