// The control suite's environments: MuJoCo tasks, the registry and the vectorised env.
export type { Env, StepResult } from './types.ts'
export { MujocoEnv, type GeomInfo } from './base.ts'
export { PendulumEnv, PENDULUM } from './pendulum.ts'
export { CartpoleEnv, CARTPOLE } from './cartpole.ts'
export { HopperEnv, HOPPER } from './hopper.ts'
export { CONTROL_TASKS, episodeSeed, getTask, listTasks, normalizedScore, type RefReturns, type TaskSpec } from './registry.ts'
export { VecEnv, policyActFn, randomActFn, type ActFn, type Episode, type RunOptions } from './vec-env.ts'
export { compileMjcf, getMujoco, loadShippedModel, mjcfDir, MjcfLoadError } from './mujoco.ts'
