// π_ref from a language model of the project (issue 13): which model, whether it can read the
// dataset's token ids, the reference cache's key, and the log-probs themselves (from the cache,
// or scored here and cached). Used by a run whose config names `reference: { kind: model }`
// (execute-run.ts, in the training worker) and by the services' models.scoreDataset (through the
// model worker), so both find each other's log-probs.
import type { ModelInfo } from '../../shared/models.ts'
import type { TraceDataset } from '../common/trace.ts'
import { loadLlm } from '../engine/llm/index.ts'
import type { ProjectStore } from '../store/types.ts'
import { checkModelMemory, modelRefKey, scoreDatasetLogProbs, systemMemory, verifyModelFiles, type ModelRef } from './model-ops.ts'

export class ModelReferenceError extends Error {
  constructor(
    message: string,
    readonly code: 'not_found' | 'invalid_input'
  ) {
    super(message)
    this.name = 'ModelReferenceError'
  }
}

export const modelRefOf = (m: ModelInfo): ModelRef => ({ name: m.name, path: m.path, hash: m.hash, memoryBytes: m.memoryBytes, files: m.details.files })

/** The model `ref` (a name or an id) names, or an error that lists the project's models. */
export function requireModel(store: ProjectStore, ref: string): ModelInfo {
  const m = store.findModel(ref)
  if (m) return m
  const names = store.listModels().map((x) => `${x.id}: ${x.name}`)
  throw new ModelReferenceError(
    `model "${ref}" is not in the project ${store.file}; ${names.length ? `models: ${names.join('; ')}` : 'add one with `iwsft models add PATH` or `iwsft models fetch smollm2-135m-instruct`'}`,
    'not_found'
  )
}

/** The model `ref` names and the cache key of its log-probs over dataset `datasetId`; refused when
 *  the model is not in the project, the dataset is not text, or its tokens came from a tokenizer
 *  that reads ids differently or from one it does not record. */
export function resolveModelReference(store: ProjectStore, ref: string, datasetId: number): { model: ModelInfo; refKey: string } {
  const m = requireModel(store, ref)
  const summary = store.listDatasets().find((d) => d.id === datasetId)
  if (!summary) throw new ModelReferenceError(`dataset ${datasetId} is not in the project ${store.file}`, 'not_found')
  if (summary.kind !== 'sequence')
    throw new ModelReferenceError(`dataset ${datasetId} ("${summary.name}") holds ${summary.kind} actions, not tokens; a language model scores text datasets`, 'invalid_input')
  const tok = store.getDatasetTokenization(datasetId)
  if (!tok) {
    // its ids may come from any tokenizer (bytes, another model): scoring them would be noise
    throw new ModelReferenceError(
      `dataset ${datasetId} ("${summary.name}") does not record which tokenizer made its tokens; import it with --tokenizer-model ${m.name} (text is tokenised as the model reads it; token ids are taken as the model's), or sample a new one from the model with \`iwsft sample ${m.name} --prompts FILE\``,
      'invalid_input'
    )
  }
  if (tok.tokenizerHash !== m.tokenizerHash) {
    throw new ModelReferenceError(
      `dataset ${datasetId} ("${summary.name}") was tokenised with model "${tok.modelName}"'s tokenizer, and model "${m.name}" reads token ids differently; import the text again with --tokenizer-model ${m.name}, or sample a new one from the model with \`iwsft sample ${m.name} --prompts FILE\``,
      'invalid_input'
    )
  }
  return { model: m, refKey: modelRefKey(m.hash, tok.template) }
}

/** The model's log-probs of the dataset: from the reference cache, or loaded, scored (progress as
 *  onPhase('scoring', traces done, traces)) and cached. Null when cancelled. */
export async function modelReferenceLogProbs(
  store: ProjectStore,
  r: { model: ModelInfo; refKey: string },
  ds: TraceDataset,
  dataHash: string,
  opts: { signal?: AbortSignal; onPhase?: (phase: string, done: number, total: number) => void } = {}
): Promise<Float32Array | null> {
  const cached = store.getRefLogProbs(r.refKey, dataHash)
  if (cached) return cached
  const ref = modelRefOf(r.model)
  await verifyModelFiles(ref)
  checkModelMemory(ref.name, ref.memoryBytes, 'load', systemMemory())
  const llm = await loadLlm(ref.path, { onProgress: (d, t) => opts.onPhase?.('loading model', d, t) })
  try {
    const res = await scoreDatasetLogProbs(llm, ref.name, ds, { cancelled: () => opts.signal?.aborted ?? false, onProgress: (d, t) => opts.onPhase?.('scoring', d, t) })
    if (res === 'cancelled') return null
    store.putRefLogProbs(r.refKey, dataHash, res.logp)
    return res.logp
  } finally {
    llm.dispose()
  }
}
