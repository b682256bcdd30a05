// Export a run's checkpoint as safetensors (for PyTorch and Hugging Face tools) or as a
// TensorFlow.js model.json + weights shard, with everything needed to know what the weights
// are: the policy architecture, the tokenizer (if any), the run config, the data hash, the
// backend and the versions. And the way back: load an exported folder or file into tensors and
// a policy whose log-probabilities equal the original's.
import { readFileSync, statSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { policyFromSpec } from '../engine/policies/index.ts'
import { writeWeights, type Policy, type PolicySpec } from '../engine/policies/policy.ts'
import { TransformerPolicy } from '../engine/policies/transformer.ts'
import { Rng } from '../engine/rng.ts'
import type { NamedTensor } from '../common/tensors.ts'
import type { CheckpointRow, ProjectStore } from '../store/types.ts'
import { writeFilesAtomic, type AtomicFile } from './atomic.ts'
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts'
import { checkModelJson, decodeTfjs, encodeTfjs, TFJS_WEIGHTS_FILE } from './tfjs-format.ts'

export const EXPORT_FORMATS = ['tfjs', 'safetensors'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export const SAFETENSORS_FILE = 'model.safetensors'
export const TFJS_MODEL_FILE = 'model.json'
export const TOKENIZER_FILE = 'tokenizer.json'

export class ExportError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ExportError'
  }
}

export interface ExportOptions {
  /** checkpoint step; default the run's last checkpoint */
  step?: number
  format: ExportFormat
  /** the folder the user chose; created if missing */
  outDir: string
  /** replace existing files (default: refuse) */
  overwrite?: boolean
  /** the run's tokenizer, for sequence models: a tokenizer.json object (written beside the
   *  weights and recorded in the metadata) or a short description such as {"kind": "char"} */
  tokenizer?: Record<string, unknown> | null
}

export interface ExportResult {
  runId: number
  checkpointId: number
  step: number
  format: ExportFormat
  /** absolute paths of the files written */
  files: string[]
}

/** What the export records besides the tensors (JSON values; safetensors stores each as a string). */
export interface ExportMetadata {
  generated_by: string
  exported_at: string
  run_id: number
  run_name: string
  method: string
  seed: number
  step: number
  policy_kind: string
  architecture: PolicySpec
  layout: string
  tensor_order: string[]
  /** the tensors' names in the project store (tfjs variable names) */
  source_names: string[]
  tokenizer: unknown
  run_config: unknown
  dataset: { id: number | null; name: string | null; source: string | null; hash: string | null }
  data_hash: string | null
  backend: string | null
  versions: Record<string, string>
  metrics: Record<string, number>
}

export function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

export const GENERATED_BY = (): string => `IW-SFT Workbench ${appVersion()}`

const LAYOUT =
  'float32, little-endian, row-major. Dense layers: <prefix>/W<l> has shape [in, out] and <prefix>/b<l> [out], y = x·W + b, ' +
  'ReLU between hidden layers (transpose W for torch.nn.Linear.weight). categorical: log π(a|s) = log_softmax(MLP(s))[a] ' +
  '(obsDim 0: one logits vector). gaussian-mlp: mean = tanh(MLP(s)), log_std clipped to [logStdMin, logStdMax]. ' +
  "tensor_order lists the tensors in the policy's parameter order."

/** Export names: the store's tfjs variable names without their uniqueness counter ("categorical/W0_12" → "categorical/W0"). */
export function exportNames(tensors: NamedTensor[]): string[] {
  const stripped = tensors.map((t) => t.name.replace(/_\d+$/, ''))
  return new Set(stripped).size === stripped.length ? stripped : tensors.map((t) => t.name)
}

function buildPolicy(spec: PolicySpec, trainable: boolean): Policy {
  return spec.kind === 'transformer' ? TransformerPolicy.fromSpec(spec, { seed: 0, trainable }) : policyFromSpec(spec, new Rng(0))
}

/**
 * The model part of a stored checkpoint. Resumable checkpoints (jobs/checkpoints.ts) hold
 * {policy, refKey, train} and tensors policy/0…, adam_m/…, adam_v/…, q/…: only θ (policy/i)
 * is exported. Older checkpoints hold the policy spec itself and only θ. Tensors are named
 * after the policy's parameters ("gaussian/W0", …) so that a reader knows what each one is.
 */
export function policyPart(stored: NamedTensor[], rawSpec: unknown): { spec: PolicySpec; tensors: NamedTensor[]; sourceNames: string[] } {
  const wrapped = rawSpec as { policy?: PolicySpec } | null
  let spec: PolicySpec
  let tensors: NamedTensor[]
  if (wrapped?.policy && typeof wrapped.policy === 'object' && typeof wrapped.policy.kind === 'string') {
    spec = wrapped.policy
    const idx = (n: string): number => Number(n.slice('policy/'.length))
    tensors = stored.filter((t) => /^policy\/\d+$/.test(t.name)).sort((a, b) => idx(a.name) - idx(b.name))
  } else {
    spec = rawSpec as PolicySpec
    tensors = stored
  }
  if (!spec || typeof spec.kind !== 'string') throw new ExportError('the checkpoint has no policy spec; it was not written by this workbench')
  let names = exportNames(tensors)
  try {
    const p = buildPolicy(spec, false)
    try {
      const canonical = exportNames(p.variables.map((v) => ({ name: v.name, shape: v.shape, data: new Float32Array(0) })))
      const fits = p.variables.length === tensors.length && p.variables.every((v, i) => v.shape.join('x') === tensors[i].shape.join('x'))
      if (fits && new Set(canonical).size === canonical.length) names = canonical
    } finally {
      p.dispose()
    }
  } catch {
    /* an unknown kind keeps the stored names */
  }
  return { spec, tensors: tensors.map((t, i) => ({ name: names[i], shape: t.shape.slice(), data: t.data })), sourceNames: tensors.map((t) => t.name) }
}

function pickCheckpoint(store: ProjectStore, runId: number, step?: number): CheckpointRow {
  const run = store.getRun(runId)
  if (!run) throw new ExportError(`no run ${runId} in ${store.file}`)
  const cps = store.listCheckpoints(runId)
  if (cps.length === 0) {
    throw new ExportError(`run ${runId} (${run.status}) has no checkpoints; a run saves one when it completes`)
  }
  if (step === undefined) return cps.reduce((a, b) => (b.step > a.step ? b : a))
  const cp = cps.find((c) => c.step === step)
  if (!cp) throw new ExportError(`run ${runId} has no checkpoint at step ${step}; saved steps: ${cps.map((c) => c.step).join(', ')}`)
  return cp
}

/** Gather the checkpoint and its metadata (no files written). */
export function checkpointForExport(
  store: ProjectStore,
  runId: number,
  step?: number,
  tokenizer?: Record<string, unknown> | null
): { tensors: NamedTensor[]; meta: ExportMetadata; checkpointId: number } {
  const cpRow = pickCheckpoint(store, runId, step)
  const { row, tensors: stored, spec: rawSpec } = store.getCheckpoint(cpRow.id)
  const run = store.getRun(runId)!
  const { spec: s, tensors, sourceNames } = policyPart(stored, rawSpec)
  const names = tensors.map((t) => t.name)
  const ds = run.datasetId !== null ? store.findDataset(String(run.datasetId)) : null
  const meta: ExportMetadata = {
    generated_by: GENERATED_BY(),
    exported_at: new Date().toISOString(),
    run_id: run.id,
    run_name: run.name,
    method: run.method,
    seed: run.seed,
    step: row.step,
    policy_kind: String(s?.kind ?? 'unknown'),
    architecture: s,
    layout: LAYOUT,
    tensor_order: names,
    source_names: sourceNames,
    tokenizer: tokenizer ?? (s as { tokenizer?: unknown })?.tokenizer ?? null,
    run_config: run.config,
    dataset: { id: run.datasetId, name: ds?.name ?? null, source: ds?.source ?? null, hash: ds?.hash ?? run.dataHash },
    data_hash: run.dataHash,
    backend: run.backend,
    versions: { ...run.versions, app: appVersion() },
    metrics: row.metrics
  }
  return { tensors, meta, checkpointId: row.id }
}

/** safetensors metadata is a string→string map: strings stay, everything else is JSON. */
export function metadataToStrings(meta: ExportMetadata): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(meta)) out[k] = typeof v === 'string' ? v : JSON.stringify(v)
  // Hugging Face tools look for "format"; the weights are plain tensors, usable from any framework
  out.format = 'pt'
  return out
}

const JSON_KEYS = new Set(['run_id', 'seed', 'step', 'architecture', 'tensor_order', 'source_names', 'tokenizer', 'run_config', 'dataset', 'versions', 'metrics'])

export function metadataFromStrings(m: Record<string, string>): Partial<ExportMetadata> & Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(m)) {
    if ((k === 'data_hash' || k === 'backend') && v === 'null') {
      out[k] = null
      continue
    }
    if (JSON_KEYS.has(k)) {
      try {
        out[k] = JSON.parse(v)
        continue
      } catch {
        /* keep the string */
      }
    }
    out[k] = v
  }
  return out as Partial<ExportMetadata> & Record<string, unknown>
}

/** Build the files of one export in memory (no disk access). */
export function exportFiles(tensors: NamedTensor[], meta: ExportMetadata, format: ExportFormat): AtomicFile[] {
  const files: AtomicFile[] = []
  if (format === 'safetensors') {
    files.push({ name: SAFETENSORS_FILE, content: encodeSafetensors(tensors, metadataToStrings(meta)) })
  } else if (format === 'tfjs') {
    const { modelJson, weights } = encodeTfjs(tensors, {
      spec: meta.architecture as Record<string, unknown>,
      generatedBy: meta.generated_by,
      metadata: meta as unknown as Record<string, unknown>
    })
    files.push({ name: TFJS_MODEL_FILE, content: JSON.stringify(modelJson, null, 2) + '\n' }, { name: TFJS_WEIGHTS_FILE, content: weights })
  } else {
    throw new ExportError(`unknown export format "${format as string}"; use ${EXPORT_FORMATS.join(' or ')}`)
  }
  const tok = meta.tokenizer as Record<string, unknown> | null
  // a full Hugging Face tokenizer.json travels beside the weights
  if (tok && typeof tok === 'object' && 'model' in tok) files.push({ name: TOKENIZER_FILE, content: JSON.stringify(tok) + '\n' })
  return files
}

/** Export one checkpoint of a run into `outDir`. All files appear together or not at all. */
export async function exportCheckpoint(store: ProjectStore, runId: number, opts: ExportOptions): Promise<ExportResult> {
  if (!EXPORT_FORMATS.includes(opts.format)) throw new ExportError(`unknown export format "${opts.format as string}"; use ${EXPORT_FORMATS.join(' or ')}`)
  const { tensors, meta, checkpointId } = checkpointForExport(store, runId, opts.step, opts.tokenizer)
  const files = await writeFilesAtomic(opts.outDir, exportFiles(tensors, meta, opts.format), { overwrite: opts.overwrite })
  return { runId, checkpointId, step: meta.step, format: opts.format, files }
}

export interface LoadedExport {
  format: ExportFormat
  spec: PolicySpec
  /** in the policy's parameter order */
  tensors: NamedTensor[]
  metadata: Partial<ExportMetadata> & Record<string, unknown>
}

function orderTensors(tensors: NamedTensor[], order: unknown, source: string): NamedTensor[] {
  if (!Array.isArray(order)) return tensors
  const byName = new Map(tensors.map((t) => [t.name, t]))
  return order.map((n) => {
    const t = byName.get(String(n))
    if (!t) throw new ExportError(`${source}: tensor_order names "${n}", which the file does not hold`)
    return t
  })
}

/** Load an export: a folder (model.safetensors or model.json inside), a .safetensors file or a model.json. */
export function loadExport(path: string): LoadedExport {
  let p = resolve(path)
  if (!existsSync(p)) throw new ExportError(`${p} does not exist`)
  if (statSync(p).isDirectory()) {
    if (existsSync(join(p, SAFETENSORS_FILE))) p = join(p, SAFETENSORS_FILE)
    else if (existsSync(join(p, TFJS_MODEL_FILE))) p = join(p, TFJS_MODEL_FILE)
    else throw new ExportError(`${p} holds neither ${SAFETENSORS_FILE} nor ${TFJS_MODEL_FILE}`)
  }
  if (p.endsWith('.json')) {
    let json: unknown
    try {
      json = JSON.parse(readFileSync(p, 'utf8'))
    } catch (e) {
      throw new ExportError(`${p}: not valid JSON (${(e as Error).message})`)
    }
    const m = checkModelJson(json, p)
    const dir = dirname(p)
    const tensors = decodeTfjs(
      m,
      (rel) => {
        const f = resolve(dir, rel)
        if (dirname(f) !== dir) throw new ExportError(`${p}: weights path "${rel}" is outside the model's folder`)
        return readFileSync(f)
      },
      p
    )
    const metadata = (m.userDefinedMetadata ?? {}) as LoadedExport['metadata']
    const spec = (m.modelTopology?.config ?? metadata.architecture) as PolicySpec | undefined
    if (!spec) throw new ExportError(`${p}: no policy spec (modelTopology.config) to rebuild the policy from`)
    return { format: 'tfjs', spec, tensors: orderTensors(tensors, metadata.tensor_order, p), metadata }
  }
  const dec = decodeSafetensors(readFileSync(p), p)
  const metadata = metadataFromStrings(dec.metadata)
  const spec = metadata.architecture as PolicySpec | undefined
  if (!spec || typeof spec !== 'object') throw new ExportError(`${p}: no "architecture" in __metadata__; was it exported by the workbench?`)
  return { format: 'safetensors', spec, tensors: orderTensors(dec.tensors, metadata.tensor_order, p), metadata }
}

/** Rebuild a policy (evaluation, a reference model, a warm start) from a loaded export. */
export function policyFromExport(loaded: Pick<LoadedExport, 'spec' | 'tensors'>, trainable = false): Policy {
  const policy = buildPolicy(loaded.spec, trainable)
  writeWeights(policy, loaded.tensors)
  return policy
}
