// The control tasks, in order of rising difficulty, with their reference returns for the
// D4RL normalised score 100 · (R − R_random) / (R_expert − R_random).
//
// Reference returns (REF_RETURNS in ref-returns.ts, generated together with
// the expert policies by datasets/control-train-experts.ts; `npx iwsft datasets refs control`
// re-measures them):
// - random: mean return of the uniform random policy (a ~ U(−1, 1)^actDim every step)
//   over 100 episodes, episode seeds episodeSeed(0, k);
// - expert: mean return of the task's shipped expert behaviour policy (deterministic, i.e.
//   without the exploration noise of the expert dataset) over the same 100 episodes.
import { CARTPOLE, CartpoleEnv } from './cartpole.ts'
import { CARTPOLE2, Cartpole2Env } from './cartpole2.ts'
import { HOPPER, HopperEnv } from './hopper.ts'
import { getMujoco, loadShippedModel } from './mujoco.ts'
import { PENDULUM, PendulumEnv } from './pendulum.ts'
import { REF_RETURNS } from './ref-returns.ts'
import type { MujocoEnv } from './base.ts'

export interface RefReturns {
  random: number
  expert: number
}

export interface TaskSpec {
  name: string
  title: string
  /** one-line summary; the task's module header documents obs, action, reward, termination */
  description: string
  /** 1 = easiest */
  difficulty: number
  obsDim: number
  actDim: number
  maxSteps: number
  /** model file under resources/mjcf */
  mjcf: string
  refReturns: RefReturns
  /** a new environment (its own MjData; the compiled model is shared); close() it after use */
  make(): Promise<MujocoEnv>
}

function refs(task: string): RefReturns {
  const r = REF_RETURNS[task]
  if (!r) throw new Error(`no reference returns for task ${task}; run control-train-experts.ts`)
  return { random: r.random, expert: r.expert }
}

const TASKS: TaskSpec[] = [
  {
    name: PENDULUM.task,
    title: 'Pendulum swing-up',
    description: 'swing a torque-limited pendulum up and hold it upright; obs [cos q, sin q, q̇], 1 torque, 200 steps',
    difficulty: 1,
    obsDim: PENDULUM.obsDim,
    actDim: PENDULUM.actDim,
    maxSteps: PENDULUM.maxSteps,
    mjcf: PENDULUM.mjcf,
    refReturns: refs(PENDULUM.task),
    make: async () => new PendulumEnv(await getMujoco(), await loadShippedModel(PENDULUM.mjcf))
  },
  {
    name: CARTPOLE.task,
    title: 'Cart-pole balance',
    description: 'keep a pole upright on a cart, centred; obs [x, θ, ẋ, θ̇], 1 force, ends when the pole falls, 500 steps',
    difficulty: 2,
    obsDim: CARTPOLE.obsDim,
    actDim: CARTPOLE.actDim,
    maxSteps: CARTPOLE.maxSteps,
    mjcf: CARTPOLE.mjcf,
    refReturns: refs(CARTPOLE.task),
    make: async () => new CartpoleEnv(await getMujoco(), await loadShippedModel(CARTPOLE.mjcf))
  },
  {
    name: CARTPOLE2.task,
    title: 'Cart-pole balance, centred (v2)',
    description: 'cart-pole from off centre; reward (1 − |x|/2)(1 − |θ|/0.3) per step, so better balance earns more; obs [x, θ, ẋ, θ̇], 1 force, 500 steps',
    difficulty: 2,
    obsDim: CARTPOLE2.obsDim,
    actDim: CARTPOLE2.actDim,
    maxSteps: CARTPOLE2.maxSteps,
    mjcf: CARTPOLE2.mjcf,
    refReturns: refs(CARTPOLE2.task),
    make: async () => new Cartpole2Env(await getMujoco(), await loadShippedModel(CARTPOLE2.mjcf))
  },
  {
    name: HOPPER.task,
    title: 'Hopper (planar, one leg)',
    description: 'hop forward without falling; obs 11 (heights, angles, velocities), 3 joint torques, ends on a fall, 500 steps',
    difficulty: 3,
    obsDim: HOPPER.obsDim,
    actDim: HOPPER.actDim,
    maxSteps: HOPPER.maxSteps,
    mjcf: HOPPER.mjcf,
    refReturns: refs(HOPPER.task),
    make: async () => new HopperEnv(await getMujoco(), await loadShippedModel(HOPPER.mjcf))
  }
]

export const CONTROL_TASKS: readonly string[] = TASKS.map((t) => t.name)

export function listTasks(): TaskSpec[] {
  return TASKS.slice()
}

export function getTask(name: string): TaskSpec {
  const t = TASKS.find((x) => x.name === name)
  if (!t) throw new Error(`unknown control task "${name}"; known tasks: ${CONTROL_TASKS.join(', ')}`)
  return t
}

/** D4RL normalised score 100 · (R − R_random) / (R_expert − R_random). */
export function normalizedScore(task: string | TaskSpec, ret: number): number {
  const { random, expert } = (typeof task === 'string' ? getTask(task) : task).refReturns
  return (100 * (ret - random)) / (expert - random)
}

/** Seed of episode k of a run seeded with `seed` (a pure function, so any episode can be
 *  replayed on its own and a vectorised run equals single-env runs). */
export function episodeSeed(seed: number, k: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}
