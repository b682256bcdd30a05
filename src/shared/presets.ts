// The paper's per-task settings (Qin & Springenberg 2025, Appendix F and Table 4) as named
// presets of a control run. A preset fills the keys it names; a config's own keys still win
// (`preset: hopper-medium-replay` then `weights: { temp: 3 }` is the hopper row at temp 3).
// The name is recorded in the run's config (`preset`), so a stored run says which row it
// started from. (config.ts applyPreset applies a row; this file holds only the data.)
//
// Table 4 (iw-SFT(Q) on D4RL; every row: warm-up 300 steps, percentile cutoffs [90, 95, 98]):
//
//   dataset                   lr     steps  α (EMA)  k/|τ| (temp)  normalised
//   halfcheetah-medium-replay 4e-5   4500   0.995    1             no
//   hopper-medium-replay      1e-4   4500   0.99     1             yes
//   walker2d-medium-replay    4e-5   2000   0.9      10            yes
//   halfcheetah-expert        4e-5   4500   0.995    0.8           no
//   hopper-expert             4e-4   4500   0.995    0.8           no
//   walker2d-expert           4e-5   4500   0.995    0.8           no
//
// Appendix F: the BC reference is trained for 10,000 steps with lr 1e-3 and batch 32 (the
// authors' code: 128 trajectories a batch, science.md); fine-tuning uses batch 256 whole
// trajectories and SFT(Q) lr 4e-5, warm-up 300, 4500 steps.

export interface Table4Row {
  /** "<d4rl task>-<dataset kind>", the preset's name */
  name: string
  lr: number
  warmupSteps: number
  steps: number
  /** α of Table 4: θ_q ← α θ_q + (1−α) θ */
  emaBeta: number
  /** k·|τ| of Table 4 (log w = temp · mean_t ρ_t) */
  temp: number
  normalize: boolean
  cutoffs: number[]
}

const CUTOFFS = [90, 95, 98]
export const TABLE4: readonly Table4Row[] = [
  { name: 'halfcheetah-medium-replay', lr: 4e-5, warmupSteps: 300, steps: 4500, emaBeta: 0.995, temp: 1, normalize: false, cutoffs: CUTOFFS },
  { name: 'hopper-medium-replay', lr: 1e-4, warmupSteps: 300, steps: 4500, emaBeta: 0.99, temp: 1, normalize: true, cutoffs: CUTOFFS },
  { name: 'walker2d-medium-replay', lr: 4e-5, warmupSteps: 300, steps: 2000, emaBeta: 0.9, temp: 10, normalize: true, cutoffs: CUTOFFS },
  { name: 'halfcheetah-expert', lr: 4e-5, warmupSteps: 300, steps: 4500, emaBeta: 0.995, temp: 0.8, normalize: false, cutoffs: CUTOFFS },
  { name: 'hopper-expert', lr: 4e-4, warmupSteps: 300, steps: 4500, emaBeta: 0.995, temp: 0.8, normalize: false, cutoffs: CUTOFFS },
  { name: 'walker2d-expert', lr: 4e-5, warmupSteps: 300, steps: 4500, emaBeta: 0.995, temp: 0.8, normalize: false, cutoffs: CUTOFFS }
]

/** The BC reference of Appendix F ("10000 steps with learning rate 1e-3 and batch size 32"). */
export const PAPER_BC_REFERENCE = { kind: 'bc', steps: 10_000, lr: 1e-3, batch_size: 32 } as const
/** Fine-tuning batch of Appendix D/F: 256 whole trajectories. */
export const PAPER_FT_BATCH = 256

/** The preset names a config may give (`preset: NAME`). */
export const PRESET_NAMES: readonly string[] = TABLE4.map((r) => r.name)

export function table4Row(name: string): Table4Row | undefined {
  return TABLE4.find((r) => r.name === name)
}

/** Our control tasks mapped to the nearest Table 4 row (README, "Presets"). The D4RL tasks are
 *  not ours, so the rule is by what shapes the weights — episode length and termination:
 *  - pendulum never terminates (200 steps, always full length), as halfcheetah (1000 steps, no
 *    termination): the halfcheetah rows (temp 1 / 0.8, EMA 0.995, not normalised);
 *  - cartpole (and cartpole2, its v2 reward) terminates when it falls, so episode lengths vary with quality, as hopper's: the
 *    hopper rows (replay: temp 1, EMA 0.99, normalised, lr 1e-4; expert: lr 4e-4);
 *  - hopper is hopper (our planar hopper; D4RL's is the same body in MuJoCo's Gym).
 *  Our "replay" sets (an improvement run's whole history, poor to good) are the medium-replay
 *  rows; our "expert" sets the expert rows. walker2d's rows have no task of ours. */
export const TASK_PRESETS: Record<string, { replay: string; expert: string }> = {
  pendulum: { replay: 'halfcheetah-medium-replay', expert: 'halfcheetah-expert' },
  cartpole: { replay: 'hopper-medium-replay', expert: 'hopper-expert' },
  cartpole2: { replay: 'hopper-medium-replay', expert: 'hopper-expert' },
  hopper: { replay: 'hopper-medium-replay', expert: 'hopper-expert' }
}

/** The preset of a built-in control dataset ("<task>-<kind>", a versioned name may follow), or
 *  undefined for anything else. */
export function presetForDataset(dataset: string): string | undefined {
  const m = /^([a-z0-9]+)-(replay|expert)\b/.exec(dataset)
  if (!m) return undefined
  return TASK_PRESETS[m[1]]?.[m[2] as 'replay' | 'expert']
}
