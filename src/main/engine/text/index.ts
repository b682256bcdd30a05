// Tokenizer entry points: build one from its spec (checkpoints and run configs store the spec).
export { CharTokenizer, ByteTokenizer, TokenizerError } from './tokenizer.ts'
export type { Tokenizer, TokenizerSpec } from './tokenizer.ts'
export { HfTokenizer } from './hf.ts'
export { loadHfTokenizer } from './load-hf.ts'
import { ByteTokenizer, CharTokenizer, TokenizerError, type Tokenizer, type TokenizerSpec } from './tokenizer.ts'
import { loadHfTokenizer } from './load-hf.ts'
import { openLlmTokenizer } from '../llm/load.ts'
import type { LlmTokenizer } from '../llm/tokenizer.ts'

/** A real model's tokenizer as a text Tokenizer (datasets record its spec: the model's path). */
export function llmTextTokenizer(tok: LlmTokenizer, path: string): Tokenizer {
  return {
    kind: 'llm',
    vocabSize: tok.vocabSize,
    bos: tok.bos,
    eos: tok.eos,
    pad: tok.pad,
    encode: (text) => tok.encode(text),
    decode: (ids) => tok.decode(ids),
    tokenText: (id) => tok.tokenText(id),
    spec: () => ({ kind: 'llm', path })
  }
}

export async function tokenizerFromSpec(spec: TokenizerSpec): Promise<Tokenizer> {
  switch (spec?.kind) {
    case 'char':
      return new CharTokenizer(spec.alphabet, spec.strict ?? true)
    case 'byte':
      return new ByteTokenizer()
    case 'hf':
      return loadHfTokenizer(spec.file)
    case 'llm':
      return llmTextTokenizer((await openLlmTokenizer(spec.path)).tokenizer, spec.path)
    default:
      throw new TokenizerError(`unknown tokenizer kind "${(spec as { kind?: unknown })?.kind}" (expected char, byte, hf or llm)`)
  }
}
