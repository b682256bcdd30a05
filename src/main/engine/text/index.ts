// Tokenizer entry points: build one from its spec (checkpoints and run configs store the spec).
export { CharTokenizer, ByteTokenizer, TokenizerError } from './tokenizer.ts'
export type { Tokenizer, TokenizerSpec } from './tokenizer.ts'
export { HfTokenizer, loadHfTokenizer } from './hf.ts'
import { ByteTokenizer, CharTokenizer, TokenizerError, type Tokenizer, type TokenizerSpec } from './tokenizer.ts'
import { loadHfTokenizer } from './hf.ts'

export async function tokenizerFromSpec(spec: TokenizerSpec): Promise<Tokenizer> {
  switch (spec?.kind) {
    case 'char':
      return new CharTokenizer(spec.alphabet, spec.strict ?? true)
    case 'byte':
      return new ByteTokenizer()
    case 'hf':
      return loadHfTokenizer(spec.file)
    default:
      throw new TokenizerError(`unknown tokenizer kind "${(spec as { kind?: unknown })?.kind}" (expected char, byte or hf)`)
  }
}
