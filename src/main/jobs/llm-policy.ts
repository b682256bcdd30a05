// θ as a language model of the project (issue 14): a run whose config has
// `policy: { kind: "llm", model, finetune, lora }` loads the model here (checked against the
// dataset's tokenizer as a model reference is, its files verified, its memory estimated) and
// starts from an LlmPolicy with fresh LoRA adapters (B = 0: the start is the model itself) or
// with every weight trainable. The engine's trainer then trains it like any other policy.
// Checkpoints of such a run hold the adapters only (LoRA) or every weight (full); rebuilding one
// loads the model again (loadLlmCheckpoint).
import type { PolicyConfig } from '../../shared/config.ts'
import { loadLlm, LlmPolicy, type LoadedLlm, type LlmPolicySpec } from '../engine/llm/index.ts'
import type { LlmTraining } from '../engine/llm/policy.ts'
import type { ProjectStore } from '../store/types.ts'
import { findCheckpoint, loadCheckpoint, type LoadedCheckpoint } from './checkpoints.ts'
import { modelRefOf, requireModel, resolveModelReference } from './model-reference.ts'
import { checkModelMemory, systemMemory, verifyModelFiles } from './model-ops.ts'

export type LlmPolicyConfig = Extract<PolicyConfig, { kind: 'llm' }>

export function llmTraining(cfg: LlmPolicyConfig): LlmTraining {
  return cfg.finetune === 'full' ? { mode: 'full' } : { mode: 'lora', ...cfg.lora }
}

/** A loaded model and the run's starting policy on it; dispose the policy, then the model. */
export interface RunModel {
  llm: LoadedLlm
  policy: LlmPolicy
  dispose(): void
}

async function loadModel(store: ProjectStore, ref: string, onPhase?: (phase: string, done: number, total: number) => void): Promise<LoadedLlm> {
  const m = modelRefOf(requireModel(store, ref))
  await verifyModelFiles(m)
  checkModelMemory(m.name, m.memoryBytes, 'load', systemMemory())
  return loadLlm(m.path, { onProgress: (d, t) => onPhase?.('loading model', d, t) })
}

/** Check that the model can read the dataset (as for a model reference: same tokenizer) before
 *  anything is written; throws ModelReferenceError otherwise. */
export function checkRunModel(store: ProjectStore, cfg: LlmPolicyConfig, datasetId: number): void {
  resolveModelReference(store, cfg.model, datasetId)
}

/** Load the run's model and build θ's starting point (adapters seeded by the run seed). */
export async function loadRunModel(store: ProjectStore, cfg: LlmPolicyConfig, seed: number, onPhase?: (phase: string, done: number, total: number) => void): Promise<RunModel> {
  const llm = await loadModel(store, cfg.model, onPhase)
  try {
    const policy = new LlmPolicy(llm.model, { model: cfg.model, prependBos: false, training: llmTraining(cfg), seed })
    return { llm, policy, dispose: () => (policy.dispose(), llm.dispose()) }
  } catch (e) {
    llm.dispose()
    throw e
  }
}

/** A checkpoint of a language-model run, with its model loaded: the policy is built on the model
 *  with the checkpoint's adapters (or weights). Dispose the policy, then `llm`. */
export async function loadLlmCheckpoint(
  store: ProjectStore,
  runId: number,
  step?: number,
  onPhase?: (phase: string, done: number, total: number) => void
): Promise<LoadedCheckpoint & { llm: LoadedLlm }> {
  const id = findCheckpoint(store, runId, step)
  const run = store.getRun(runId)
  const cfg = run?.config.policy
  if (!cfg || cfg.kind !== 'llm') throw new Error(`run ${runId} does not fine-tune a language model (policy.kind is ${cfg?.kind ?? 'unknown'})`)
  const llm = await loadModel(store, cfg.model, onPhase)
  try {
    const ck = loadCheckpoint(store, id, (spec) => {
      const s = spec as LlmPolicySpec
      return new LlmPolicy(llm.model, { model: s.model, prependBos: s.prependBos, bos: s.bos, training: s.training, seed: s.seed })
    })
    return { ...ck, llm }
  } catch (e) {
    llm.dispose()
    throw e
  }
}
