// The TensorFlow.js artifact format: a `model.json` whose `weightsManifest` lists the weights
// (name, shape, dtype) stored back to back in binary shards, little-endian float32, in
// manifest order — the layout `tf.io.decodeWeights` and `tf.io.weightsLoaderFactory` read.
// The workbench's policies are not Keras layers, so `modelTopology` is a small custom object
// describing the policy spec (class "IwsftPolicy"); `tf.loadLayersModel` cannot build it, but
// `loadTfjsExport` here (or any tfjs program with tf.io) gets the named weights back.
import type { NamedTensor } from '../common/tensors.ts'

export const TFJS_FORMAT = 'iwsft-policy'
export const TFJS_WEIGHTS_FILE = 'group1-shard1of1.bin'

export interface TfjsWeightEntry {
  name: string
  shape: number[]
  dtype: 'float32'
}

export interface TfjsModelJson {
  format: string
  generatedBy: string
  convertedBy: null
  /** null, or { class_name: "IwsftPolicy", config: <policy spec> } */
  modelTopology: { class_name: string; config: Record<string, unknown> } | null
  weightsManifest: Array<{ paths: string[]; weights: TfjsWeightEntry[] }>
  /** run config, data hash, backend, versions, step, metrics, tokenizer … */
  userDefinedMetadata?: Record<string, unknown>
}

export class TfjsFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TfjsFormatError'
  }
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

/** model.json and its one weights shard for a list of float32 tensors. */
export function encodeTfjs(
  tensors: NamedTensor[],
  opts: { spec?: Record<string, unknown> | null; generatedBy: string; metadata?: Record<string, unknown>; weightsFile?: string }
): { modelJson: TfjsModelJson; weights: Uint8Array } {
  const names = new Set<string>()
  let total = 0
  for (const t of tensors) {
    if (names.has(t.name)) throw new TfjsFormatError(`two tensors are named "${t.name}"`)
    names.add(t.name)
    if (numel(t.shape) !== t.data.length) throw new TfjsFormatError(`tensor "${t.name}" has shape [${t.shape}] but ${t.data.length} values`)
    total += t.data.length
  }
  const weights = new Uint8Array(total * 4)
  const view = new DataView(weights.buffer)
  let pos = 0
  for (const t of tensors) for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true)
  const modelJson: TfjsModelJson = {
    format: TFJS_FORMAT,
    generatedBy: opts.generatedBy,
    convertedBy: null,
    modelTopology: opts.spec ? { class_name: 'IwsftPolicy', config: opts.spec } : null,
    weightsManifest: [{ paths: [opts.weightsFile ?? TFJS_WEIGHTS_FILE], weights: tensors.map((t) => ({ name: t.name, shape: t.shape.slice(), dtype: 'float32' as const })) }]
  }
  if (opts.metadata) modelJson.userDefinedMetadata = opts.metadata
  return { modelJson, weights }
}

/** Check a parsed model.json enough to read its weights; errors name the file. */
export function checkModelJson(x: unknown, source = 'model.json'): TfjsModelJson {
  const m = x as TfjsModelJson
  if (!m || typeof m !== 'object' || !Array.isArray(m.weightsManifest)) throw new TfjsFormatError(`${source}: no "weightsManifest" list; not a TensorFlow.js model.json`)
  for (const g of m.weightsManifest) {
    if (!g || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new TfjsFormatError(`${source}: every weightsManifest group needs "paths" and "weights"`)
    for (const w of g.weights) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape)) throw new TfjsFormatError(`${source}: a weight entry needs "name" and "shape"`)
      if (w.dtype !== 'float32') throw new TfjsFormatError(`${source}: weight "${w.name}" is ${w.dtype}; the workbench reads float32 weights`)
      if ((w as { quantization?: unknown }).quantization) throw new TfjsFormatError(`${source}: weight "${w.name}" is quantized; export it unquantized`)
    }
  }
  return m
}

/**
 * The tensors of a model.json, in manifest order. `readPath(p)` returns the bytes of a shard
 * path listed in the manifest (relative to model.json); a group's shards are concatenated.
 */
export function decodeTfjs(modelJson: unknown, readPath: (p: string) => Uint8Array, source = 'model.json'): NamedTensor[] {
  const m = checkModelJson(modelJson, source)
  const out: NamedTensor[] = []
  for (const g of m.weightsManifest) {
    const parts = g.paths.map((p) => readPath(p))
    const len = parts.reduce((a, b) => a + b.byteLength, 0)
    const buf = new Uint8Array(len)
    let o = 0
    for (const p of parts) {
      buf.set(p, o)
      o += p.byteLength
    }
    const view = new DataView(buf.buffer)
    let pos = 0
    for (const w of g.weights) {
      const n = numel(w.shape)
      if (pos + 4 * n > len) throw new TfjsFormatError(`${source}: weight "${w.name}" [${w.shape}] runs past the end of ${g.paths.join(' + ')} (${len} bytes)`)
      const data = new Float32Array(n)
      for (let i = 0; i < n; i++, pos += 4) data[i] = view.getFloat32(pos, true)
      out.push({ name: w.name, shape: w.shape.slice(), data })
    }
    if (pos !== len) throw new TfjsFormatError(`${source}: ${g.paths.join(' + ')} holds ${len} bytes, the manifest describes ${pos}`)
  }
  return out
}
