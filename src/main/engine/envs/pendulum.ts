// Task "pendulum": swing-up of a torque-limited pendulum (resources/mjcf/pendulum.xml).
//
// - Physics: one hinge, point-like mass 1 kg at 0.5 m, no damping; RK4, 10 ms physics step,
//   5 physics steps per environment step (dt = 0.05 s).
// - Observation (3): [cos q, sin q, q̇] with q = 0 upright (q̇ in rad/s).
// - Action (1): motor command in [-1, 1] → torque 2·a N·m (below m·g·l = 4.9 N·m, so the
//   pole must be swung up by pumping energy). Out-of-range actions are clipped.
// - Reward per step: (1 + cos q)/2 − 0.001·a², i.e. 1 upright, 0 hanging down.
// - Initial state: q ~ U(−π, π), q̇ ~ U(−1, 1).
// - Termination: none. Time limit: 200 steps (10 s), reported as truncated.
import type { Rng } from '../rng.ts'
import { MujocoEnv, uniform } from './base.ts'
import type { MainModule, MjModel } from './mujoco.ts'

export const PENDULUM = { task: 'pendulum', mjcf: 'pendulum.xml', obsDim: 3, actDim: 1, maxSteps: 200, frameSkip: 5 } as const

export class PendulumEnv extends MujocoEnv {
  constructor(mj: MainModule, model: MjModel) {
    super(mj, model, PENDULUM)
  }
  protected initState(qpos: Float64Array, qvel: Float64Array, rng: Rng): void {
    qpos[0] = uniform(rng, -Math.PI, Math.PI)
    qvel[0] = uniform(rng, -1, 1)
  }
  protected observe(out: Float32Array): void {
    const q = this.qpos[0]
    out[0] = Math.cos(q)
    out[1] = Math.sin(q)
    out[2] = this.qvel[0]
  }
  protected reward(a: Float64Array): number {
    return (1 + Math.cos(this.qpos[0])) / 2 - 0.001 * a[0] * a[0]
  }
  protected isTerminated(): boolean {
    return false
  }
}
