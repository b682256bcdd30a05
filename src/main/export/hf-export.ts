// A fine-tuned language model (issue 14) back in the formats other tools read:
//   hf    a Hugging Face folder: config.json, model.safetensors (the LoRA delta merged into the
//         base weights, W' = W + (alpha/r)·(A·B), or a full fine-tune's weights), and the source
//         folder's tokenizer files (tokenizer.json, tokenizer_config.json with the chat template,
//         special_tokens_map.json, generation_config.json): `iwsft models add DIR` reads it back
//   peft  a PEFT LoRA adapter: adapter_config.json + adapter_model.safetensors with the names and
//         [out, in] layouts PeftModel.from_pretrained expects (engine/llm/peft.ts)
// Llama-family models only (GPT-2 fuses q, k, v). The merged folder takes its config and
// tokenizer files from the model's Hugging Face folder, or makes them from a GGUF file's metadata
// (config.json from the spec, tokenizer.json from the GGUF vocabulary, merges and pre-tokenizer).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { NamedTensor } from '../common/tensors.ts'
import type { LoadedLlm } from '../engine/llm/load.ts'
import { HF_MODULE, peftModuleName } from '../engine/llm/peft.ts'
import type { LlmPolicy } from '../engine/llm/policy.ts'
import type { LoraTarget } from '../engine/llm/lora.ts'
import { readGgufHeader } from '../engine/llm/gguf.ts'
import { hfConfigFromSpec, type LlmSpec } from '../engine/llm/spec.ts'
import { hfTokenizerFilesFromGguf } from '../engine/llm/tokenizer.ts'
import { transpose2d } from '../engine/llm/weights.ts'
import { writeFilesAtomic, type AtomicFile } from './atomic.ts'
import { ExportError } from './checkpoint-export.ts'
import { encodeSafetensors } from './safetensors.ts'

export const LLM_EXPORT_FORMATS = ['hf', 'peft'] as const
export type LlmExportFormat = (typeof LLM_EXPORT_FORMATS)[number]

/** files copied from the source folder into a merged export, when present */
export const HF_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja']

/** The Hugging Face name of a canonical weight (weights.ts) of a Llama-family model, and whether
 *  it is a linear stored [in, out] in the engine ([out, in] in PyTorch). */
export function hfWeightName(canonical: string): { name: string; linear: boolean } {
  if (canonical === 'embed') return { name: 'model.embed_tokens.weight', linear: false }
  if (canonical === 'head.weight') return { name: 'lm_head.weight', linear: true }
  const norm = /^norm\.(weight|bias)$/.exec(canonical)
  if (norm) return { name: `model.norm.${norm[1]}`, linear: false }
  const m = /^layers\.(\d+)\.(\w+)\.(weight|bias)$/.exec(canonical)
  if (m) {
    const [, l, part, kind] = m
    if (part === 'attn_norm') return { name: `model.layers.${l}.input_layernorm.${kind}`, linear: false }
    if (part === 'mlp_norm') return { name: `model.layers.${l}.post_attention_layernorm.${kind}`, linear: false }
    const hf = HF_MODULE[part as LoraTarget]
    if (hf) return { name: `model.layers.${l}.${hf}.${kind}`, linear: kind === 'weight' }
  }
  throw new ExportError(`weight "${canonical}" has no Hugging Face name`)
}

function requireLlamaFamily(spec: LlmSpec): void {
  if (spec.arch === 'gpt2') throw new ExportError('hf and peft exports are written for Llama-family models (llama, mistral, qwen2); GPT-2 fuses q, k and v into one c_attn')
}

/** The merged weights in Hugging Face names and layouts, read from the policy's model (base
 *  weights, or a full fine-tune's variables) plus its LoRA deltas. */
export function mergedHfTensors(policy: LlmPolicy): NamedTensor[] {
  requireLlamaFamily(policy.lm.spec)
  const out: NamedTensor[] = []
  for (const [canonical, w] of policy.lm.weights) {
    const { name, linear } = hfWeightName(canonical)
    const module = canonical.endsWith('.weight') ? canonical.slice(0, -'.weight'.length) : null
    const lora = module !== null && policy.adapters?.modules.has(module) ? module : null
    const merged = lora
      ? tf.tidy(() => {
          const d = policy.adapters!.delta(lora)
          return w.add(d)
        })
      : w
    const data = merged.dataSync() as Float32Array
    if (merged !== w) merged.dispose()
    if (linear) {
      const [inD, outD] = w.shape
      out.push({ name, shape: [outD, inD], data: transpose2d(data, inD, outD) })
    } else out.push({ name, shape: w.shape.slice(), data: Float32Array.from(data) })
  }
  return out
}

/** PEFT's adapter tensors: lora_A.weight [r, in] = Aᵀ, lora_B.weight [out, r] = Bᵀ */
export function peftTensors(policy: LlmPolicy): NamedTensor[] {
  requireLlamaFamily(policy.lm.spec)
  if (!policy.adapters) throw new ExportError('only a LoRA run exports a PEFT adapter; this run fine-tuned every weight: export it with --format hf')
  const out: NamedTensor[] = []
  for (const [name, { A, B }] of policy.adapters.modules) {
    const base = peftModuleName(policy.lm.spec, name)
    const [inD, r] = A.shape as [number, number]
    const outD = B.shape[1] as number
    out.push({ name: `${base}.lora_A.weight`, shape: [r, inD], data: transpose2d(A.dataSync() as Float32Array, inD, r) })
    out.push({ name: `${base}.lora_B.weight`, shape: [outD, r], data: transpose2d(B.dataSync() as Float32Array, r, outD) })
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** adapter_config.json as PeftModel.from_pretrained reads it */
export function peftConfig(policy: LlmPolicy, baseModel: string): Record<string, unknown> {
  const s = policy.adapters!.settings
  return {
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: s.rank,
    target_modules: [...new Set(s.targets.map((t) => HF_MODULE[t].split('.')[1]))].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: Boolean(s.rslora)
  }
}

const json = (name: string, value: unknown): AtomicFile => ({ name, content: JSON.stringify(value, null, 2) + '\n' })

/** config.json and the tokenizer files of a Hugging Face source folder */
function hfSourceFiles(dir: string): AtomicFile[] {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
  // the weights are written in float32; quantisation settings of the source do not apply
  config.torch_dtype = 'float32'
  if ('dtype' in config) config.dtype = 'float32'
  delete config.quantization_config
  const files = [json('config.json', config)]
  for (const f of HF_TOKENIZER_FILES) if (existsSync(join(dir, f))) files.push({ name: f, content: readFileSync(join(dir, f)) })
  return files
}

/** config.json and tokenizer files made from a GGUF file's metadata (spec.ts hfConfigFromSpec,
 *  tokenizer.ts hfTokenizerFilesFromGguf) */
async function ggufSourceFiles(file: string, spec: LlmSpec): Promise<AtomicFile[]> {
  let config: Record<string, unknown>
  let tok: ReturnType<typeof hfTokenizerFilesFromGguf>
  try {
    config = hfConfigFromSpec(spec)
    tok = hfTokenizerFilesFromGguf(await readGgufHeader(file), spec.contextLength)
  } catch (e) {
    throw new ExportError(`cannot write a Hugging Face folder for the GGUF model ${file}: ${e instanceof Error ? e.message : String(e)}; export the adapter with --format peft instead`)
  }
  const generation: Record<string, unknown> = { bos_token_id: spec.bos, eos_token_id: config.eos_token_id }
  return [
    json('config.json', config),
    json('generation_config.json', generation),
    json('tokenizer.json', tok.tokenizer),
    json('tokenizer_config.json', tok.tokenizerConfig),
    json('special_tokens_map.json', tok.specialTokensMap)
  ]
}

export interface LlmExportInfo {
  /** written into the metadata of the safetensors files */
  metadata: Record<string, string>
}

/** Write `policy` (on the loaded model `llm`) as `format` into `outDir`; returns the files. */
export async function writeLlmExport(
  policy: LlmPolicy,
  llm: LoadedLlm,
  format: LlmExportFormat,
  outDir: string,
  opts: { overwrite?: boolean; /** PEFT's base_model_name_or_path (default the model's path) */ baseModel?: string } & LlmExportInfo
): Promise<string[]> {
  const meta = { format: 'pt', ...opts.metadata }
  const src = llm.description
  const files: AtomicFile[] = []
  if (format === 'peft') {
    files.push({ name: 'adapter_model.safetensors', content: encodeSafetensors(peftTensors(policy), meta) })
    files.push({ name: 'adapter_config.json', content: JSON.stringify(peftConfig(policy, opts.baseModel ?? src.path), null, 2) + '\n' })
  } else {
    const tensors = mergedHfTensors(policy)
    files.push({ name: 'model.safetensors', content: encodeSafetensors(tensors, meta) })
    files.push(...(src.format === 'hf' ? hfSourceFiles(src.path) : await ggufSourceFiles(src.path, policy.lm.spec)))
  }
  return writeFilesAtomic(outDir, files, { overwrite: opts.overwrite })
}
