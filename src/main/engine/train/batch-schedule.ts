// Which traces each training step draws. The trainer draws its batches here, and a job handed to
// the Python trainer (issue 18) gets the same list written out, so an engine run and a TRL run of
// one config and seed train on the same traces in the same order.
import { METHOD_TABLE, type RunConfig } from '../../../shared/config.ts'
import { Rng, WeightedSampler } from '../rng.ts'

/** Which traces a method samples, and with what probability mass: uniform over the traces it
 *  keeps (D for BC, whose curation is "all"; D+), or ∝ multiplicity m(τ) over D_Q+ (paper
 *  Algorithm 2). Held-out traces have multiplicity 0. */
export function samplingMass(method: RunConfig['method'], multiplicity: Uint8Array): Float64Array {
  const byBins = METHOD_TABLE[method].data === 'D_Q+'
  return Float64Array.from(multiplicity, (m) => (byBins ? m : m > 0 ? 1 : 0))
}

/** The trainer's generator for a run started by runExperiment (experiment.ts): the run's Rng(seed)
 *  after θ's initialisation fork (1), the BC reference's fork (2) when a BC reference is fitted
 *  (not for a language model: its π_ref is the start model), then fork (3). */
export function trainerRng(seed: number, fitsBcReference: boolean): Rng {
  const rng = new Rng(seed)
  rng.fork(1)
  if (fitsBcReference) rng.fork(2)
  return rng.fork(3)
}

/** The global batches of `steps` steps (trace indices, with repeats), as the trainer draws them
 *  from `rng` when nothing else draws from it between steps (no train.step_sample). */
export function batchSchedule(method: RunConfig['method'], multiplicity: Uint8Array, rng: Rng, steps: number, batchSize: number): Int32Array[] {
  const sampler = new WeightedSampler(samplingMass(method, multiplicity))
  return Array.from({ length: steps }, () => sampler.sampleMany(rng, batchSize))
}
