// Shared machinery of the MuJoCo tasks: reset with seeded initial-state noise, clipped
// controls, frame skipping, time limit. A task subclass supplies the initial state, the
// observation, the reward and the termination rule.
import { Rng } from '../rng.ts'
import type { MainModule, MjData, MjModel } from './mujoco.ts'
import type { Env, StepResult } from './types.ts'

export interface GeomInfo {
  name: string
  type: number
  size: number[]
  rgba: number[]
}

export interface MujocoEnvConfig {
  task: string
  obsDim: number
  actDim: number
  maxSteps: number
  /** physics steps per environment step */
  frameSkip: number
}

export abstract class MujocoEnv implements Env {
  readonly task: string
  readonly obsDim: number
  readonly actDim: number
  readonly maxSteps: number
  readonly frameSkip: number
  /** seconds of simulated time per environment step */
  readonly dt: number
  protected readonly data: MjData
  protected rng = new Rng(0)
  private steps = 0
  private done = true
  private closed = false

  constructor(
    protected readonly mj: MainModule,
    protected readonly model: MjModel,
    cfg: MujocoEnvConfig
  ) {
    this.task = cfg.task
    this.obsDim = cfg.obsDim
    this.actDim = cfg.actDim
    this.maxSteps = cfg.maxSteps
    this.frameSkip = cfg.frameSkip
    this.dt = model.opt.timestep * cfg.frameSkip
    if (model.nu !== cfg.actDim) throw new Error(`task ${cfg.task}: the model has ${model.nu} actuators, the task expects ${cfg.actDim}`)
    this.data = new mj.MjData(model)
  }

  get t(): number {
    return this.steps
  }

  /** set qpos / qvel of the freshly reset data from the seeded rng */
  protected abstract initState(qpos: Float64Array, qvel: Float64Array, rng: Rng): void
  protected abstract observe(out: Float32Array): void
  /** called before the physics steps of env step; returns whatever reward() needs (e.g. x) */
  protected preStep(): number {
    return 0
  }
  protected abstract reward(action: Float64Array, pre: number): number
  protected abstract isTerminated(obs: Float32Array): boolean

  /** live views into the module memory; fetch anew after anything that may allocate */
  protected get qpos(): Float64Array {
    return this.data.qpos as Float64Array
  }
  protected get qvel(): Float64Array {
    return this.data.qvel as Float64Array
  }

  reset(seed?: number): Float32Array {
    if (this.closed) throw new Error(`environment ${this.task} is closed`)
    if (seed !== undefined) this.rng = new Rng(seed)
    this.mj.mj_resetData(this.model, this.data)
    this.initState(this.qpos, this.qvel, this.rng)
    this.mj.mj_forward(this.model, this.data)
    this.steps = 0
    this.done = false
    const obs = new Float32Array(this.obsDim)
    this.observe(obs)
    return obs
  }

  private readonly act64 = new Float64Array(16)

  step(action: ArrayLike<number>): StepResult {
    if (this.done) throw new Error(`environment ${this.task}: step() after the episode ended; call reset() first`)
    if (action.length !== this.actDim) throw new Error(`environment ${this.task}: action has ${action.length} values, expected ${this.actDim}`)
    const a = this.act64.subarray(0, this.actDim)
    for (let i = 0; i < this.actDim; i++) {
      const v = Number(action[i])
      if (Number.isNaN(v)) throw new Error(`environment ${this.task}: action ${i} is NaN at step ${this.steps}`)
      a[i] = v > 1 ? 1 : v < -1 ? -1 : v
    }
    const ctrl = this.data.ctrl as Float64Array
    ctrl.set(a)
    const pre = this.preStep()
    for (let k = 0; k < this.frameSkip; k++) this.mj.mj_step(this.model, this.data)
    this.steps++
    const obs = new Float32Array(this.obsDim)
    this.observe(obs)
    const reward = this.reward(a, pre)
    const terminated = this.isTerminated(obs)
    const truncated = !terminated && this.steps >= this.maxSteps
    if (terminated || truncated) this.done = true
    return { obs, reward, terminated, truncated }
  }

  /** the model's geoms, for drawing an episode (type: MuJoCo mjtGeom, 0 plane, 2 sphere,
   *  3 capsule, 5 cylinder, 6 box; size: MuJoCo's geom_size) */
  geomInfo(): GeomInfo[] {
    const out: GeomInfo[] = []
    const type = this.model.geom_type as Int32Array
    const size = this.model.geom_size as Float64Array
    const rgba = this.model.geom_rgba as Float32Array
    for (let g = 0; g < this.model.ngeom; g++) {
      out.push({
        name: this.mj.mj_id2name(this.model, 5 /* mjOBJ_GEOM */, g) || `geom${g}`,
        type: type[g],
        size: Array.from(size.subarray(3 * g, 3 * g + 3)),
        rgba: Array.from(rgba.subarray(4 * g, 4 * g + 4))
      })
    }
    return out
  }

  /** world poses of every geom now: ngeom × 12 values (position xyz, then the 3×3 rotation
   *  matrix row-major) */
  geomPoses(): Float32Array {
    const n = this.model.ngeom
    const out = new Float32Array(n * 12)
    const xpos = this.data.geom_xpos as Float64Array
    const xmat = this.data.geom_xmat as Float64Array
    for (let g = 0; g < n; g++) {
      for (let k = 0; k < 3; k++) out[g * 12 + k] = xpos[g * 3 + k]
      for (let k = 0; k < 9; k++) out[g * 12 + 3 + k] = xmat[g * 9 + k]
    }
    return out
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.data.delete()
  }
}

/** uniform in [lo, hi) */
export const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.next()
