// Build a policy from the run config and a dataset's shape, or rebuild one from a saved spec.
import type { PolicyConfig } from '../../../shared/config.ts'
import type { TraceDataset } from '../../common/trace.ts'
import type { Rng } from '../rng.ts'
import { CategoricalPolicy, type CategoricalSpec } from './categorical.ts'
import { GaussianMlpPolicy, type GaussianMlpSpec } from './gaussian-mlp.ts'
import type { Policy, PolicySpec } from './policy.ts'
import { TransformerPolicy, type TransformerSpec } from './transformer.ts'

export function createPolicy(cfg: PolicyConfig, ds: Pick<TraceDataset, 'kind' | 'obsDim' | 'actDim'>, rng: Rng): Policy {
  if (cfg.kind === 'llm')
    throw new Error(`policy.kind "llm" (model "${cfg.model}") is built by loading the model: run it through the job layer (executeRun), which passes it as the run's initial policy`)
  if (cfg.kind === 'transformer') {
    if (ds.kind !== 'sequence') throw new Error('policy.kind "transformer" needs a sequence (token) dataset')
    return new TransformerPolicy(
      { vocabSize: ds.actDim, dModel: cfg.d_model, nHeads: cfg.n_heads, nLayers: cfg.n_layers, dFF: cfg.d_ff, maxLen: cfg.max_len, tied: cfg.tied, bos: cfg.bos },
      { rng }
    )
  }
  if (ds.kind === 'sequence') throw new Error(`policy.kind "${cfg.kind}" does not read token prefixes; use "transformer" for sequence datasets`)
  if (cfg.kind === 'categorical') {
    if (ds.kind === 'continuous') throw new Error('policy.kind "categorical" needs discrete actions; this dataset has continuous actions: use "gaussian-mlp"')
    return new CategoricalPolicy({ kind: 'categorical', obsDim: ds.obsDim, actDim: ds.actDim, hidden: cfg.hidden }, rng)
  }
  if (ds.kind !== 'continuous') throw new Error('policy.kind "gaussian-mlp" needs continuous actions; this dataset has discrete actions: use "categorical"')
  return new GaussianMlpPolicy({ kind: 'gaussian-mlp', obsDim: ds.obsDim, actDim: ds.actDim, hidden: cfg.hidden, logStdMin: cfg.log_std_min, logStdMax: cfg.log_std_max }, rng)
}

/** Rebuild from a checkpoint's spec (weights are written afterwards with writeWeights). */
export function policyFromSpec(spec: PolicySpec, rng: Rng): Policy {
  if (spec.kind === 'categorical') return new CategoricalPolicy(spec as CategoricalSpec, rng)
  if (spec.kind === 'gaussian-mlp') return new GaussianMlpPolicy(spec as GaussianMlpSpec, rng)
  if (spec.kind === 'transformer') {
    const t = spec as TransformerSpec
    return new TransformerPolicy({ vocabSize: t.vocabSize, dModel: t.dModel, nHeads: t.nHeads, nLayers: t.nLayers, dFF: t.dFF, maxLen: t.maxLen, tied: t.tied, bos: t.bos }, { rng })
  }
  if (spec.kind === 'llm') throw new Error(`checkpoint of language model "${String(spec.model)}": rebuild it with its model loaded (jobs/llm-policy.ts loadLlmCheckpoint)`)
  throw new Error(`unknown policy kind "${spec.kind}" in checkpoint`)
}
