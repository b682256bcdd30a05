// Loading a model from a path: a .gguf file or a Hugging Face folder. `describeLlm` reads only
// metadata (what the store records and what the memory check needs); `loadLlm` also reads the
// weights, one tensor at a time, into frozen tfjs tensors.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { chatTemplateFor, type ChatTemplate } from './chat-template.ts'
import { CausalLm } from './decoder.ts'
import { LlmError } from './errors.ts'
import { GgufFile, metaString, readGgufHeader } from './gguf.ts'
import { ggmlTypeName } from './ggml-types.ts'
import { hfTensorSource, hfTokenizer, readHfFolder } from './hf-folder.ts'
import { SafetensorsFile } from './safetensors-file.ts'
import { llmMemoryBytes, llmParameterCount, specFromGguf, type LlmSpec } from './spec.ts'
import { tokenizerFromGguf, type LlmTokenizer } from './tokenizer.ts'
import { canonicalWeights, ggufSource, type TensorSource } from './weights.ts'

export interface LlmDescription {
  /** the path given */
  path: string
  format: 'gguf' | 'hf'
  /** general.name (GGUF) or the folder / file name */
  name: string
  spec: LlmSpec
  parameters: number
  /** float32 memory for scoring batch 8 × 256 (llmMemoryBytes) */
  memoryBytes: number
  /** files whose bytes make up the model (weights first) */
  files: string[]
  /** tensor types as stored, e.g. { Q4_1: 210, F32: 61 } (GGUF) or { BF16: 290 } */
  tensorTypes: Record<string, number>
  tokenizer: { engine: string; preTokenizer: string; vocabSize: number; bos: number; eos: number[]; addBos: boolean }
  chatTemplate: string | null
}

export interface LoadedLlm {
  description: LlmDescription
  spec: LlmSpec
  tokenizer: LlmTokenizer
  /** null when the model has no chat template */
  chat: ChatTemplate | null
  model: CausalLm
  dispose(): void
}

async function isGguf(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => null)
  if (!s) throw new LlmError(`model path "${path}": does not exist`)
  return s.isFile()
}

interface Opened {
  description: LlmDescription
  tokenizer: LlmTokenizer
  openSource: () => Promise<TensorSource>
  format: 'gguf' | 'hf'
  /** GGUF Llama 3 frequency divisors (rope_freqs.weight) */
  freqFactors?: () => Promise<number[] | null>
}

async function open(path: string): Promise<Opened> {
  if (await isGguf(path)) {
    const h = await readGgufHeader(path)
    const spec = specFromGguf(h)
    const tokenizer = tokenizerFromGguf(h)
    const types: Record<string, number> = {}
    for (const t of h.tensors) types[ggmlTypeName(t.type)] = (types[ggmlTypeName(t.type)] ?? 0) + 1
    const chatTemplate = metaString(h, 'tokenizer.chat_template') ?? null
    const hasFreqs = h.tensors.some((t) => t.name === 'rope_freqs.weight')
    return {
      description: describe(path, 'gguf', metaString(h, 'general.name') ?? basename(path), spec, [path], types, tokenizer, chatTemplate),
      tokenizer,
      format: 'gguf',
      openSource: async () => ggufSource(await GgufFile.open(path)),
      freqFactors: hasFreqs
        ? async () => {
            const g = await GgufFile.open(path)
            try {
              return Array.from(await ggufSource(g).read('rope_freqs.weight'))
            } finally {
              await g.close()
            }
          }
        : undefined
    }
  }
  const f = await readHfFolder(path)
  const tokenizer = await hfTokenizer(f)
  const types: Record<string, number> = {}
  for (const w of f.weightFiles) {
    const sf = await SafetensorsFile.open(w)
    for (const e of sf.entries.values()) types[e.dtype] = (types[e.dtype] ?? 0) + 1
    await sf.close()
  }
  return {
    description: describe(path, 'hf', basename(path), f.spec, f.weightFiles, types, tokenizer, f.chatTemplate),
    tokenizer,
    format: 'hf',
    openSource: () => hfTensorSource(f)
  }
}

function describe(
  path: string,
  format: 'gguf' | 'hf',
  name: string,
  spec: LlmSpec,
  files: string[],
  tensorTypes: Record<string, number>,
  tok: LlmTokenizer,
  chatTemplate: string | null
): LlmDescription {
  if (tok.vocabSize > spec.vocabSize) throw new LlmError(`model "${path}": the tokenizer has ${tok.vocabSize} tokens but the model only ${spec.vocabSize}`)
  return {
    path,
    format,
    name,
    spec,
    parameters: llmParameterCount(spec),
    memoryBytes: llmMemoryBytes(spec),
    files,
    tensorTypes,
    tokenizer: { engine: tok.info.engine, preTokenizer: tok.info.preTokenizer, vocabSize: tok.vocabSize, bos: tok.bos, eos: tok.eosIds, addBos: tok.addBos },
    chatTemplate
  }
}

/** What a model is, from its metadata only (no weights read). */
export async function describeLlm(path: string): Promise<LlmDescription> {
  return (await open(path)).description
}

/** A model's tokenizer and chat template from its metadata only (no weights read): for
 *  tokenising datasets and prompts the way the model will see them. */
export async function openLlmTokenizer(path: string): Promise<{ description: LlmDescription; tokenizer: LlmTokenizer; chat: ChatTemplate | null }> {
  const o = await open(path)
  const d = o.description
  return { description: d, tokenizer: o.tokenizer, chat: d.chatTemplate ? chatTemplateFor(d.chatTemplate, `"${d.name}" (${path})`, o.tokenizer) : null }
}

// varied text for the fingerprint: words, contractions, digit runs, whitespace runs, accents,
// CJK, emoji, code, special tokens written in the text
const FINGERPRINT_PROBE = 'Hello, world! It\'s 12345 and 7.5%;  two  spaces\n\n\ttab — café naïve 日本語 😀 don\'t x+y=z {"k": [1, 2]} <|im_start|><|im_end|></s><s>'

/** sha256 of what a tokenizer does: its vocabulary (each token's text), specials and the ids it
 *  gives a varied probe text. Two models with equal fingerprints read token ids the same way, so
 *  a dataset tokenised with one can be scored by the other. */
export function tokenizerFingerprint(tok: LlmTokenizer): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({ vocab: tok.vocabSize, bos: tok.bos, eos: tok.eosIds, addBos: tok.addBos, probe: tok.encode(FINGERPRINT_PROBE) }))
  for (let id = 0; id < tok.vocabSize; id++) h.update(`\u0000${tok.tokenText(id)}`)
  return h.digest('hex')
}

export interface LoadOptions {
  /** after each tensor: tensors done, tensors in all */
  onProgress?: (done: number, total: number) => void
}

/** Load a model: metadata, tokenizer, chat template and the weights as frozen tfjs tensors. */
export async function loadLlm(path: string, opts: LoadOptions = {}): Promise<LoadedLlm> {
  const o = await open(path)
  const d = o.description
  let spec = d.spec
  if (o.freqFactors && spec.rope) spec = { ...spec, rope: { ...spec.rope, freqFactors: await o.freqFactors() } }
  const chat = d.chatTemplate ? chatTemplateFor(d.chatTemplate, `"${d.name}" (${path})`, o.tokenizer) : null
  const model = new CausalLm(spec)
  const src = await o.openSource()
  try {
    const where = src.where
    let done = 0
    const total = estimateTensorCount(spec)
    for await (const t of canonicalWeights(spec, src, o.format)) {
      model.addWeight(t)
      opts.onProgress?.(++done, total)
    }
    model.checkComplete(where)
  } catch (e) {
    model.dispose()
    throw e
  } finally {
    await src.close()
  }
  return { description: { ...d, spec }, spec, tokenizer: o.tokenizer, chat, model, dispose: () => model.dispose() }
}

function estimateTensorCount(s: LlmSpec): number {
  const perLayer = (s.norm === 'layer' ? 4 : 2) + (s.activation === 'swiglu' ? 7 : 6) + (s.bias.qkv ? 3 : 0) + (s.bias.o ? 1 : 0) + (s.bias.mlp ? (s.activation === 'swiglu' ? 3 : 2) : 0)
  return 1 + (s.arch === 'gpt2' ? 1 : 0) + s.nLayers * perLayer + (s.norm === 'layer' ? 2 : 1) + (s.tiedHead ? 0 : 1)
}

/** sha256 of the model's files in order (the store's model hash), streamed */
export async function hashLlmFiles(files: string[], onProgress?: (bytes: number) => void): Promise<string> {
  const h = createHash('sha256')
  let bytes = 0
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      createReadStream(f)
        .on('data', (chunk) => {
          h.update(chunk)
          bytes += chunk.length
          onProgress?.(bytes)
        })
        .on('end', () => resolve())
        .on('error', (e) => reject(new LlmError(`model file "${f}": cannot be read (${e.message})`)))
    })
  }
  return h.digest('hex')
}
