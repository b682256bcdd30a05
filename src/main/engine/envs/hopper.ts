// Task "hopper": planar one-legged locomotion (resources/mjcf/hopper.xml).
//
// - Physics: torso, thigh, leg and foot in the x–z plane with ground contact; RK4, 2 ms
//   physics step, 4 physics steps per environment step (dt = 0.008 s).
// - Observation (11): [z, pitch, thigh, leg, foot angles] = qpos[1..5] (torso height in m,
//   angles in rad), then the 6 generalised velocities qvel[0..5] clipped to [−10, 10].
//   The x position is left out, so the policy cannot see where it is.
// - Action (3): thigh, leg and foot motor commands in [-1, 1] (torque 200·a N·m; clipped).
// - Reward per step: forward velocity (Δx / dt, m/s) + 1 for staying healthy − 0.001·‖a‖².
// - Initial state: the standing pose plus U(−0.005, 0.005) on every qpos and qvel entry.
// - Termination ("unhealthy"): torso height z < 0.7 m, |pitch| > 0.2 rad, or any
//   non-finite or > 100 state value. Time limit: 500 steps (4 s).
import type { Rng } from '../rng.ts'
import { MujocoEnv, uniform } from './base.ts'
import type { MainModule, MjModel } from './mujoco.ts'

export const HOPPER = { task: 'hopper', mjcf: 'hopper.xml', obsDim: 11, actDim: 3, maxSteps: 500, frameSkip: 4 } as const

export class HopperEnv extends MujocoEnv {
  constructor(mj: MainModule, model: MjModel) {
    super(mj, model, HOPPER)
  }
  protected initState(qpos: Float64Array, qvel: Float64Array, rng: Rng): void {
    for (let i = 0; i < 6; i++) qpos[i] += uniform(rng, -0.005, 0.005)
    for (let i = 0; i < 6; i++) qvel[i] += uniform(rng, -0.005, 0.005)
  }
  protected observe(out: Float32Array): void {
    const qp = this.qpos
    const qv = this.qvel
    for (let i = 0; i < 5; i++) out[i] = qp[i + 1]
    for (let i = 0; i < 6; i++) {
      const v = qv[i]
      out[5 + i] = v > 10 ? 10 : v < -10 ? -10 : v
    }
  }
  protected override preStep(): number {
    return this.qpos[0]
  }
  protected reward(a: Float64Array, xBefore: number): number {
    const vx = (this.qpos[0] - xBefore) / this.dt
    let c = 0
    for (let i = 0; i < a.length; i++) c += a[i] * a[i]
    return vx + 1 - 0.001 * c
  }
  protected isTerminated(obs: Float32Array): boolean {
    const z = obs[0]
    const pitch = obs[1]
    if (!(z >= 0.7) || !(Math.abs(pitch) <= 0.2)) return true
    const qp = this.qpos
    const qv = this.qvel
    for (let i = 2; i < 6; i++) if (!(Math.abs(qp[i]) <= 100)) return true
    for (let i = 0; i < 6; i++) if (!(Math.abs(qv[i]) <= 100)) return true
    return false
  }
}
