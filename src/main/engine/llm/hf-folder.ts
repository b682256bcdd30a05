// Hugging Face model folders: config.json (+ generation_config.json), the weights as
// model.safetensors or shards listed in model.safetensors.index.json, and the tokenizer
// (tokenizer.json + tokenizer_config.json, whose chat_template is the chat template).
// Every missing or malformed file is an error that names it.
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LlmError } from './errors.ts'
import { SafetensorsFile } from './safetensors-file.ts'
import { specFromHfConfig, type LlmSpec } from './spec.ts'
import { readTokenizerConfig, tokenizerFromJson, type LlmTokenizer } from './tokenizer.ts'
import { safetensorsSource, type TensorSource } from './weights.ts'

export interface HfFolder {
  dir: string
  spec: LlmSpec
  /** the weight files (one, or the shards) */
  weightFiles: string[]
  tokenizerFile: string
  /** tokenizer_config.json parsed, or {} */
  tokenizerConfig: unknown
  chatTemplate: string | null
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new LlmError(`${what} "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new LlmError(`${what} "${file}": is not valid JSON (${(e as Error).message})`)
  }
}

/** Read a model folder's configuration (not its weights). */
export async function readHfFolder(dir: string): Promise<HfFolder> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false
  )
  if (!isDir) throw new LlmError(`model folder "${dir}": is not a folder`)
  const configFile = join(dir, 'config.json')
  if (!existsSync(configFile)) throw new LlmError(`model folder "${dir}": has no config.json (a Hugging Face model folder holds config.json, model.safetensors and tokenizer.json)`)
  const genFile = join(dir, 'generation_config.json')
  const gen = existsSync(genFile) ? ((await readJson(genFile, 'generation config')) as Record<string, unknown>) : undefined
  const spec = specFromHfConfig(await readJson(configFile, 'model config'), configFile, gen)
  const single = join(dir, 'model.safetensors')
  const index = join(dir, 'model.safetensors.index.json')
  let weightFiles: string[]
  if (existsSync(single)) weightFiles = [single]
  else if (existsSync(index)) {
    const idx = (await readJson(index, 'weights index')) as { weight_map?: Record<string, string> }
    if (!idx || typeof idx.weight_map !== 'object' || !idx.weight_map) throw new LlmError(`weights index "${index}": has no "weight_map"`)
    weightFiles = [...new Set(Object.values(idx.weight_map))].map((f) => join(dir, f))
    for (const f of weightFiles) if (!existsSync(f)) throw new LlmError(`weights index "${index}": lists shard "${f}", which is missing`)
  } else {
    const bin = existsSync(join(dir, 'pytorch_model.bin'))
    throw new LlmError(
      `model folder "${dir}": has no model.safetensors or model.safetensors.index.json${bin ? ' (pytorch_model.bin is not read: save the model with safe_serialization=True)' : ''}`
    )
  }
  const tokenizerFile = join(dir, 'tokenizer.json')
  if (!existsSync(tokenizerFile)) throw new LlmError(`model folder "${dir}": has no tokenizer.json; save the tokenizer beside the model (tokenizer.save_pretrained)`)
  const tcFile = join(dir, 'tokenizer_config.json')
  const tokenizerConfig = existsSync(tcFile) ? await readJson(tcFile, 'tokenizer config') : {}
  let chatTemplate = readTokenizerConfig(tokenizerConfig).chatTemplate ?? null
  const jinjaFile = join(dir, 'chat_template.jinja')
  if (!chatTemplate && existsSync(jinjaFile)) chatTemplate = await readFile(jinjaFile, 'utf8')
  return { dir, spec, weightFiles, tokenizerFile, tokenizerConfig, chatTemplate }
}

export async function hfTokenizer(f: HfFolder): Promise<LlmTokenizer> {
  const json = await readJson(f.tokenizerFile, 'tokenizer file')
  return tokenizerFromJson(json, f.tokenizerConfig, f.tokenizerFile, { bos: f.spec.bos, eos: f.spec.eos, pad: f.spec.pad })
}

export async function hfTensorSource(f: HfFolder): Promise<TensorSource> {
  const files: SafetensorsFile[] = []
  try {
    for (const w of f.weightFiles) files.push(await SafetensorsFile.open(w))
  } catch (e) {
    for (const x of files) await x.close()
    throw e
  }
  return safetensorsSource(files, `model folder "${f.dir}"`)
}
