// Task "cartpole": balance a pole on a cart (resources/mjcf/cartpole.xml).
//
// - Physics: cart 1 kg on a rail, pole 0.5 kg × 1 m hinged on the cart; RK4, 10 ms physics
//   step, 2 physics steps per environment step (dt = 0.02 s).
// - Observation (4): [x, θ, ẋ, θ̇] — cart position (m), pole angle from upright (rad), and
//   their velocities.
// - Action (1): force command in [-1, 1] → 20·a N on the cart (clipped).
// - Reward per step: 1 − θ² − 0.1·x² − 0.01·a² while the pole is up (so a steadier, more
//   central balance scores more than merely surviving).
// - Initial state: x, θ ~ U(−0.15, 0.15), ẋ, θ̇ ~ U(−0.1, 0.1).
// - Termination: |θ| > 0.3 rad or |x| > 2 m. Time limit: 500 steps (10 s).
import type { Rng } from '../rng.ts'
import { MujocoEnv, uniform, type MujocoEnvConfig } from './base.ts'
import type { MainModule, MjModel } from './mujoco.ts'

export const CARTPOLE = { task: 'cartpole', mjcf: 'cartpole.xml', obsDim: 4, actDim: 1, maxSteps: 500, frameSkip: 2 } as const

export class CartpoleEnv extends MujocoEnv {
  /** cfg: a versioned variant's own name and limits (cartpole2.ts); default this task's */
  constructor(mj: MainModule, model: MjModel, cfg: MujocoEnvConfig = CARTPOLE) {
    super(mj, model, cfg)
  }
  protected initState(qpos: Float64Array, qvel: Float64Array, rng: Rng): void {
    qpos[0] = uniform(rng, -0.15, 0.15)
    qpos[1] = uniform(rng, -0.15, 0.15)
    qvel[0] = uniform(rng, -0.1, 0.1)
    qvel[1] = uniform(rng, -0.1, 0.1)
  }
  protected observe(out: Float32Array): void {
    const qp = this.qpos
    const qv = this.qvel
    out[0] = qp[0]
    out[1] = qp[1]
    out[2] = qv[0]
    out[3] = qv[1]
  }
  protected reward(a: Float64Array): number {
    const qp = this.qpos
    return 1 - qp[1] * qp[1] - 0.1 * qp[0] * qp[0] - 0.01 * a[0] * a[0]
  }
  protected isTerminated(obs: Float32Array): boolean {
    return !(Math.abs(obs[1]) <= 0.3 && Math.abs(obs[0]) <= 2)
  }
}
