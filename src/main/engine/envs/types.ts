// Gymnasium-style environment interface shared by every control task.
import type { Rng } from '../rng.ts'

export interface StepResult {
  obs: Float32Array
  reward: number
  /** the episode ended inside the task (e.g. the hopper fell): no bootstrapping past it */
  terminated: boolean
  /** the episode was cut by the time limit */
  truncated: boolean
}

export interface Env {
  readonly task: string
  readonly obsDim: number
  readonly actDim: number
  readonly maxSteps: number
  /** start a new episode; with a seed the episode's randomness restarts from it (Gymnasium
   *  semantics: reset(seed) then reset() continues that stream) */
  reset(seed?: number): Float32Array
  /** actions are clipped to [-1, 1] per dimension */
  step(action: ArrayLike<number>): StepResult
  /** steps taken in the current episode */
  readonly t: number
  close(): void
}

export type { Rng }
