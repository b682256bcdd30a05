// PEFT's LoRA adapter format (adapter_config.json + adapter_model.safetensors), read into the
// engine's adapters (lora.ts); src/main/export/hf-export.ts writes it. Tensor names as
// PeftModel.save_pretrained writes them for a Llama-family model:
//   base_model.model.model.layers.{l}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
//   base_model.model.model.layers.{l}.mlp.{gate,up,down}_proj.lora_{A,B}.weight
// lora_A.weight is [r, in], lora_B.weight [out, r]: the transposes of the engine's A [in, r], B [r, out].
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { LlmError } from './errors.ts'
import { LORA_TARGETS, type LoraAdapters, type LoraSettings, type LoraTarget } from './lora.ts'
import { SafetensorsFile } from './safetensors-file.ts'
import type { LlmSpec } from './spec.ts'
import { transpose2d } from './weights.ts'

/** the Hugging Face module of each target (Llama family) */
export const HF_MODULE: Record<LoraTarget, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj'
}

/** canonical `layers.N.t` → PEFT's tensor name prefix (without .lora_A.weight) */
export function peftModuleName(spec: LlmSpec, canonical: string): string {
  if (spec.arch === 'gpt2') throw new LlmError('PEFT adapters are read and written for Llama-family models only (GPT-2 fuses q, k and v into one c_attn)')
  const m = /^layers\.(\d+)\.(\w+)$/.exec(canonical)
  if (!m || !(LORA_TARGETS as readonly string[]).includes(m[2])) throw new LlmError(`LoRA module "${canonical}" has no PEFT name`)
  return `base_model.model.model.layers.${m[1]}.${HF_MODULE[m[2] as LoraTarget]}`
}

/** PEFT's target_modules → the engine's targets */
export function targetsFromPeft(modules: string[], where: string): LoraTarget[] {
  const byHf = new Map(Object.entries(HF_MODULE).map(([t, hf]) => [hf.split('.')[1], t as LoraTarget]))
  return modules.map((m) => {
    const t = byHf.get(m)
    if (!t) throw new LlmError(`${where}: target module "${m}" is not one of ${[...byHf.keys()].join(', ')}`)
    return t
  })
}

/** LoRA settings of a PEFT adapter folder's adapter_config.json */
export async function readPeftConfig(dir: string): Promise<LoraSettings> {
  const file = join(dir, 'adapter_config.json')
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(await readFile(file, 'utf8'))
  } catch (e) {
    throw new LlmError(`PEFT adapter "${file}": cannot be read as JSON (${(e as Error).message})`)
  }
  if (raw.peft_type !== 'LORA') throw new LlmError(`PEFT adapter "${file}": peft_type is ${String(raw.peft_type)}, only LORA is read`)
  if (raw.use_dora) throw new LlmError(`PEFT adapter "${file}": DoRA adapters are not supported`)
  if (raw.fan_in_fan_out) throw new LlmError(`PEFT adapter "${file}": fan_in_fan_out adapters (GPT-2 Conv1D) are not supported`)
  const targets = raw.target_modules
  if (!Array.isArray(targets)) throw new LlmError(`PEFT adapter "${file}": target_modules must be a list of module names`)
  return {
    rank: Number(raw.r),
    alpha: Number(raw.lora_alpha),
    dropout: Number(raw.lora_dropout ?? 0),
    targets: targetsFromPeft(targets as string[], file),
    rslora: Boolean(raw.use_rslora)
  }
}

/** Write a PEFT adapter's A and B into `adapters` (same rank and targets). */
export async function loadPeftWeights(spec: LlmSpec, adapters: LoraAdapters, dir: string): Promise<void> {
  const file = join(dir, 'adapter_model.safetensors')
  const st = await SafetensorsFile.open(file)
  try {
    for (const [name, { A, B }] of adapters.modules) {
      const base = peftModuleName(spec, name)
      for (const [which, v] of [
        ['lora_A', A],
        ['lora_B', B]
      ] as const) {
        const key = `${base}.${which}.weight`
        const e = st.entries.get(key)
        if (!e) throw new LlmError(`PEFT adapter "${file}": missing tensor "${key}"`)
        const [rows, cols] = e.shape
        // A [in, r] ← lora_A [r, in]; B [r, out] ← lora_B [out, r]
        if (e.shape.length !== 2 || rows !== v.shape[1] || cols !== v.shape[0]) {
          throw new LlmError(`PEFT adapter "${file}": tensor "${key}" has shape [${e.shape}], expected [${v.shape[1]}, ${v.shape[0]}] (rank or model differ)`)
        }
        const data = (await st.read(key)).data
        v.assign(tf.tensor2d(transpose2d(data, rows, cols), [cols, rows]))
      }
    }
  } finally {
    await st.close()
  }
}
