// From a model file's tensors to the engine's weights: one canonical name and layout per
// parameter, whatever the source (GGUF or a Hugging Face folder).
//
// Canonical names (l = layer index) and shapes, row-major:
//   embed                      [V, d]        token embedding
//   pos_embed                  [ctx, d]      GPT-2's learned positions
//   layers.l.attn_norm.weight  [d]   (.bias for LayerNorm)
//   layers.l.{q,k,v,o,gate,up,down}.weight  [in, out]   every linear pre-transposed, so the
//                                            forward pass is x·W with no transposes
//   layers.l.{q,k,v,o,gate,up,down}.bias    [out]
//   layers.l.mlp_norm.weight   [d]   (.bias)
//   norm.weight                [d]   (.bias)   final norm
//   head.weight                [d, V]        untied output head only
// GGUF's Llama q/k rows are un-permuted here (llama.cpp's converter interleaves each head's rows
// for its adjacent-pair RoPE; the engine uses Hugging Face's rotate-half RoPE): a GGUF row
// h·dh + 2i + j is Hugging Face row h·dh + j·dh/2 + i (transformers' _reverse_permute_weights).
import { dequantize } from './dequant.ts'
import { LlmError } from './errors.ts'
import { GgufFile } from './gguf.ts'
import { SafetensorsFile } from './safetensors-file.ts'
import type { LlmSpec } from './spec.ts'

/** Tensors of a model file, row-major float32 in the source's own (PyTorch) layout. */
export interface TensorSource {
  /** the file or folder, for error messages */
  readonly where: string
  has(name: string): boolean
  /** row-major shape (PyTorch order: a linear is [out, in]) */
  shape(name: string): number[]
  read(name: string): Promise<Float32Array>
  close(): Promise<void>
}

export function ggufSource(g: GgufFile): TensorSource {
  return {
    where: `GGUF file "${g.file}"`,
    has: (n) => g.tensor(n) !== undefined,
    shape: (n) => {
      const t = g.tensor(n)
      if (!t) throw new LlmError(`GGUF file "${g.file}": has no tensor "${n}"`)
      return t.dims.slice().reverse()
    },
    read: async (n) => {
      const { info, bytes } = await g.readRaw(n)
      return dequantize(info.type, bytes, info.count, `GGUF file "${g.file}", tensor "${n}"`)
    },
    close: () => g.close()
  }
}

/** The tensors of one or more safetensors files (a sharded checkpoint). */
export function safetensorsSource(files: SafetensorsFile[], where: string): TensorSource {
  const owner = new Map<string, SafetensorsFile>()
  for (const f of files) for (const n of f.entries.keys()) owner.set(n, f)
  const get = (n: string): SafetensorsFile => {
    const f = owner.get(n)
    if (!f) throw new LlmError(`${where}: missing tensor "${n}" (in none of ${files.map((x) => x.file).join(', ')})`)
    return f
  }
  return {
    where,
    has: (n) => owner.has(n),
    shape: (n) => get(n).entries.get(n)!.shape.slice(),
    read: async (n) => (await get(n).read(n)).data,
    close: async () => {
      for (const f of files) await f.close()
    }
  }
}

export interface CanonicalTensor {
  name: string
  shape: number[]
  data: Float32Array
}

/** [rows, cols] row-major → [cols, rows], in cache-friendly tiles */
export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  const T = 32
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T)
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T)
      for (let r = r0; r < r1; r++) {
        const base = r * cols
        for (let c = c0; c < c1; c++) out[c * rows + r] = a[base + c]
      }
    }
  }
  return out
}

/** Undo llama.cpp's q/k row permutation: rows of `rowLen` values in nHeads groups. */
export function unpermuteRows(a: Float32Array, nHeads: number, rowLen: number): Float32Array {
  const rows = a.length / rowLen
  const dh = rows / nHeads
  const half = dh / 2
  const out = new Float32Array(a.length)
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = h * dh + 2 * i + j
        const dst = h * dh + j * half + i
        out.set(a.subarray(src * rowLen, (src + 1) * rowLen), dst * rowLen)
      }
    }
  }
  return out
}

interface Entry {
  /** source tensor name */
  src: string
  /** expected source shape (PyTorch order) */
  shape: number[]
  optional?: boolean
  /** what to do with the data: transpose a linear, un-permute q/k rows first */
  linear?: boolean
  unpermute?: number
  /** take columns [from, from + n) of a fused [in, 3·d] Conv1D weight (GPT-2 c_attn) or
   *  elements [from, from + n) of its bias */
  split?: { from: number; n: number; conv1d: boolean }
}

/** The canonical tensors of `spec`, read one at a time from `src`; `format` picks the naming. */
export async function* canonicalWeights(spec: LlmSpec, src: TensorSource, format: 'gguf' | 'hf'): AsyncGenerator<CanonicalTensor> {
  const plan = weightPlan(spec, src, format)
  const cache = new Map<string, Float32Array>() // a fused source tensor read once for q, k, v
  for (const [name, e] of plan) {
    if (!src.has(e.src)) {
      if (e.optional) continue
      throw new LlmError(`${src.where}: missing tensor "${e.src}" (needed for ${name})`)
    }
    const shape = src.shape(e.src)
    if (shape.join('x') !== e.shape.join('x')) {
      throw new LlmError(`${src.where}: tensor "${e.src}" has shape [${shape}], the config implies [${e.shape}]; does the config belong to these weights?`)
    }
    let data = cache.get(e.src) ?? (await src.read(e.src))
    if (e.split) {
      cache.set(e.src, data)
      const { from, n, conv1d } = e.split
      if (conv1d && shape.length === 2) {
        const [rows, cols] = shape
        const part = new Float32Array(rows * n)
        for (let r = 0; r < rows; r++) part.set(data.subarray(r * cols + from, r * cols + from + n), r * n)
        yield { name, shape: [rows, n], data: part }
      } else if (shape.length === 2) {
        // fused [3d, in] (GGUF attn_qkv, PyTorch order): rows [from, from + n) then transpose
        const cols = shape[1]
        const part = data.slice(from * cols, (from + n) * cols)
        yield { name, shape: [cols, n], data: transpose2d(part, n, cols) }
      } else {
        yield { name, shape: [n], data: data.slice(from, from + n) }
      }
      if (from + n === shape[conv1d && shape.length === 2 ? 1 : 0]) cache.delete(e.src)
      continue
    }
    if (e.unpermute) data = unpermuteRows(data, e.unpermute, shape.length === 2 ? shape[1] : 1)
    if (e.linear) yield { name, shape: [shape[1], shape[0]], data: transpose2d(data, shape[0], shape[1]) }
    else yield { name, shape, data }
  }
}

/** canonical name → where it comes from, in load order */
function weightPlan(spec: LlmSpec, src: TensorSource, format: 'gguf' | 'hf'): Map<string, Entry> {
  const { dModel: d, vocabSize: V, nHeads: H, nKvHeads: KV, headDim: dh, dFF: f } = spec
  const plan = new Map<string, Entry>()
  const qOut = H * dh
  const kvOut = KV * dh
  const layerNorm = spec.norm === 'layer'
  const norm = (canon: string, srcName: string, withBias: boolean): void => {
    plan.set(`${canon}.weight`, { src: `${srcName}.weight`, shape: [d] })
    if (withBias) plan.set(`${canon}.bias`, { src: `${srcName}.bias`, shape: [d] })
  }
  const linear = (canon: string, srcName: string, inDim: number, outDim: number, bias: boolean, unpermute?: number): void => {
    plan.set(`${canon}.weight`, { src: `${srcName}.weight`, shape: [outDim, inDim], linear: true, unpermute })
    if (bias) plan.set(`${canon}.bias`, { src: `${srcName}.bias`, shape: [outDim], unpermute })
  }
  if (spec.arch === 'gpt2') {
    const p = format === 'gguf' ? '' : src.has('transformer.wte.weight') ? 'transformer.' : ''
    const g = format === 'gguf'
    plan.set('embed', { src: g ? 'token_embd.weight' : `${p}wte.weight`, shape: [V, d] })
    plan.set('pos_embed', { src: g ? 'position_embd.weight' : `${p}wpe.weight`, shape: [spec.contextLength, d] })
    for (let l = 0; l < spec.nLayers; l++) {
      const L = `layers.${l}`
      if (g) {
        const b = `blk.${l}`
        norm(`${L}.attn_norm`, `${b}.attn_norm`, true)
        ;(['q', 'k', 'v'] as const).forEach((name, i) => {
          plan.set(`${L}.${name}.weight`, { src: `${b}.attn_qkv.weight`, shape: [3 * d, d], split: { from: i * d, n: d, conv1d: false } })
          plan.set(`${L}.${name}.bias`, { src: `${b}.attn_qkv.bias`, shape: [3 * d], split: { from: i * d, n: d, conv1d: false } })
        })
        linear(`${L}.o`, `${b}.attn_output`, d, d, true)
        norm(`${L}.mlp_norm`, `${b}.ffn_norm`, true)
        linear(`${L}.up`, `${b}.ffn_up`, d, f, true)
        linear(`${L}.down`, `${b}.ffn_down`, f, d, true)
      } else {
        const b = `${p}h.${l}`
        norm(`${L}.attn_norm`, `${b}.ln_1`, true)
        // Conv1D weights are stored [in, out] already
        ;(['q', 'k', 'v'] as const).forEach((name, i) => {
          plan.set(`${L}.${name}.weight`, { src: `${b}.attn.c_attn.weight`, shape: [d, 3 * d], split: { from: i * d, n: d, conv1d: true } })
          plan.set(`${L}.${name}.bias`, { src: `${b}.attn.c_attn.bias`, shape: [3 * d], split: { from: i * d, n: d, conv1d: true } })
        })
        plan.set(`${L}.o.weight`, { src: `${b}.attn.c_proj.weight`, shape: [d, d] })
        plan.set(`${L}.o.bias`, { src: `${b}.attn.c_proj.bias`, shape: [d] })
        norm(`${L}.mlp_norm`, `${b}.ln_2`, true)
        plan.set(`${L}.up.weight`, { src: `${b}.mlp.c_fc.weight`, shape: [d, f] })
        plan.set(`${L}.up.bias`, { src: `${b}.mlp.c_fc.bias`, shape: [f] })
        plan.set(`${L}.down.weight`, { src: `${b}.mlp.c_proj.weight`, shape: [f, d] })
        plan.set(`${L}.down.bias`, { src: `${b}.mlp.c_proj.bias`, shape: [d] })
      }
    }
    norm('norm', g ? 'output_norm' : `${p}ln_f`, true)
    if (!spec.tiedHead) plan.set('head.weight', { src: g ? 'output.weight' : 'lm_head.weight', shape: [V, d], linear: true })
    return plan
  }
  // Llama family
  const g = format === 'gguf'
  const permuted = g && spec.arch === 'llama'
  plan.set('embed', { src: g ? 'token_embd.weight' : 'model.embed_tokens.weight', shape: [V, d] })
  for (let l = 0; l < spec.nLayers; l++) {
    const L = `layers.${l}`
    const b = g ? `blk.${l}` : `model.layers.${l}`
    const n = g
      ? { attnNorm: 'attn_norm', q: 'attn_q', k: 'attn_k', v: 'attn_v', o: 'attn_output', mlpNorm: 'ffn_norm', gate: 'ffn_gate', up: 'ffn_up', down: 'ffn_down' }
      : {
          attnNorm: 'input_layernorm',
          q: 'self_attn.q_proj',
          k: 'self_attn.k_proj',
          v: 'self_attn.v_proj',
          o: 'self_attn.o_proj',
          mlpNorm: 'post_attention_layernorm',
          gate: 'mlp.gate_proj',
          up: 'mlp.up_proj',
          down: 'mlp.down_proj'
        }
    norm(`${L}.attn_norm`, `${b}.${n.attnNorm}`, layerNorm)
    linear(`${L}.q`, `${b}.${n.q}`, d, qOut, spec.bias.qkv, permuted ? H : undefined)
    linear(`${L}.k`, `${b}.${n.k}`, d, kvOut, spec.bias.qkv, permuted ? KV : undefined)
    linear(`${L}.v`, `${b}.${n.v}`, d, kvOut, spec.bias.qkv)
    linear(`${L}.o`, `${b}.${n.o}`, qOut, d, spec.bias.o)
    norm(`${L}.mlp_norm`, `${b}.${n.mlpNorm}`, layerNorm)
    linear(`${L}.gate`, `${b}.${n.gate}`, d, f, spec.bias.mlp)
    linear(`${L}.up`, `${b}.${n.up}`, d, f, spec.bias.mlp)
    linear(`${L}.down`, `${b}.${n.down}`, f, d, spec.bias.mlp)
  }
  norm('norm', g ? 'output_norm' : 'model.norm', layerNorm)
  if (!spec.tiedHead) plan.set('head.weight', { src: g ? 'output.weight' : 'lm_head.weight', shape: [V, d], linear: true })
  return plan
}
