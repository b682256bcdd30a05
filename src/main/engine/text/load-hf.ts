// Loading a Hugging Face tokenizer.json for text imports. Byte-level BPE vocabularies (GPT-2,
// Llama 3, Qwen2, SmolLM2, …) encode through the engine's own BPE (engine/llm/bpe.ts, ~17× the
// tokens/s of @huggingface/tokenizers, the same ids: tests/unit/hf-fast-tokenizer.test.ts); every
// other kind, and the special ids, decoding and token texts, stay with the library (hf.ts), so a
// dataset imported before gets the same tokens.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { tokenizerFromJson, type LlmTokenizer } from '../llm/tokenizer.ts'
import { HfTokenizer } from './hf.ts'
import { TokenizerError, type Tokenizer, type TokenizerSpec } from './tokenizer.ts'

/** The library's tokenizer with encode() by the engine's byte-level BPE. */
export class FastBpeTokenizer implements Tokenizer {
  readonly kind = 'hf'
  readonly vocabSize: number
  readonly bos: number
  readonly eos: number
  readonly pad: number

  constructor(
    private readonly slow: HfTokenizer,
    private readonly fast: LlmTokenizer
  ) {
    this.vocabSize = slow.vocabSize
    this.bos = slow.bos
    this.eos = slow.eos
    this.pad = slow.pad
  }

  encode(text: string): number[] {
    return text.length === 0 ? [] : this.fast.encode(text)
  }

  decode(ids: ArrayLike<number>): string {
    return this.slow.decode(ids)
  }

  tokenText(id: number): string {
    return this.slow.tokenText(id)
  }

  spec(): TokenizerSpec {
    return this.slow.spec()
  }
}

/** Load a Hugging Face tokenizer.json (and tokenizer_config.json beside it, if any). */
export async function loadHfTokenizer(file: string): Promise<Tokenizer> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new TokenizerError(`tokenizer file "${file}": cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new TokenizerError(`tokenizer file "${file}": is not valid JSON (${(e as Error).message})`)
  }
  let config: unknown = {}
  const cfgFile = join(dirname(file), 'tokenizer_config.json')
  if (existsSync(cfgFile)) {
    try {
      config = JSON.parse(await readFile(cfgFile, 'utf8'))
    } catch (e) {
      throw new TokenizerError(`tokenizer config "${cfgFile}" (beside "${file}"): is not valid JSON (${(e as Error).message})`)
    }
  }
  const slow = new HfTokenizer(json, config, file)
  let fast: LlmTokenizer
  try {
    fast = tokenizerFromJson(json, config, file)
  } catch {
    return slow // the library loaded it; the engine's reader did not: keep the library
  }
  return fast.info.engine === 'byte-level-bpe' ? new FastBpeTokenizer(slow, fast) : slow
}
