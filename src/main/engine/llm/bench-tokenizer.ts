// Tokenizer speed (a benchmark, not a test): the engine's byte-level BPE against
// @huggingface/tokenizers on the same text and vocabulary, tokens/s on one core.
//
//   npx tsx src/main/engine/llm/bench-tokenizer.ts [--model PATH.gguf] [--traces 20000] [--json]
//
// The text: synthetic reasoning traces (prose, arithmetic, code, a little unicode), distinct per
// trace as real datasets are. --model defaults to SmolLM2 in the model cache; the library runs
// the same vocabulary and merges with SmolLM2's own pre-tokenizer (Digits + ByteLevel).
import { Tokenizer as HfLib } from '@huggingface/tokenizers'
import { readGgufHeader } from './gguf.ts'
import { smollmTokenizerJson } from './gguf-hf-tokenizer.ts'
import { smollm2Path } from './models.ts'
import { tokenizerFromGguf } from './tokenizer.ts'
import { Rng } from '../rng.ts'

const WORDS =
  'the a of to and in is that for it as with was on be by this are from at or an have not which but they we all can if their will one more when there been would so what about into than them some could these other then only its also time two may first any after like new most very where well just over such how through'.split(
    ' '
  )

function traces(n: number, seed: number): string[] {
  const rng = new Rng(seed)
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)]
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const a = rng.int(1000)
    const b = rng.int(1000)
    const words = Array.from({ length: 20 + rng.int(60) }, () => pick(WORDS)).join(' ')
    out.push(
      `Question ${i}: Tom has ${a} apples and buys ${b} more. How many does he have?\n` +
        `Let's think step by step. ${words[0].toUpperCase()}${words.slice(1)}.\n` +
        `${a} + ${b} = ${a + b}. So the answer is ${a + b}.\n` +
        (rng.next() < 0.3 ? `\`\`\`python\ndef add(x, y):\n    return x + y  # ${a}\n\`\`\`\n` : '') +
        (rng.next() < 0.1 ? `Note: café – naïve ✓ 🙂 ${b}°C\n` : '') +
        `<|im_end|>`
    )
  }
  return out
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const get = (k: string): string | undefined => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : undefined)
  const model = get('model') ?? smollm2Path().path
  const n = Number(get('traces') ?? 20000)
  const h = await readGgufHeader(model)
  const fast = tokenizerFromGguf(h)
  const lib = new HfLib(smollmTokenizerJson(h), {})
  const texts = traces(n, 1)
  const time = (f: (s: string) => number[]): { seconds: number; tokens: number; ids: number[][] } => {
    const t0 = performance.now()
    let count = 0
    const ids: number[][] = []
    for (const s of texts) {
      const r = f(s)
      count += r.length
      ids.push(r)
    }
    return { seconds: (performance.now() - t0) / 1000, tokens: count, ids }
  }
  const a = time((s) => fast.encode(s))
  const b = time((s) => lib.encode(s, { add_special_tokens: false }).ids)
  let same = 0
  for (let i = 0; i < texts.length; i++) if (a.ids[i].length === b.ids[i].length && a.ids[i].every((x, k) => x === b.ids[i][k])) same++
  const res = {
    model,
    traces: n,
    tokens: a.tokens,
    engine_tokens_per_s: a.tokens / a.seconds,
    hf_tokenizers_tokens_per_s: b.tokens / b.seconds,
    ratio: b.seconds / a.seconds,
    identical_traces: same
  }
  if (argv.includes('--json')) console.log(JSON.stringify(res, null, 2))
  else {
    console.log(`${n} traces, ${a.tokens} tokens (${model})`)
    console.log(`engine byte-level BPE:   ${(res.engine_tokens_per_s / 1e6).toFixed(2)} M tokens/s (${a.seconds.toFixed(2)} s)`)
    console.log(`@huggingface/tokenizers: ${(res.hf_tokenizers_tokens_per_s / 1e6).toFixed(2)} M tokens/s (${b.seconds.toFixed(2)} s)`)
    console.log(`engine / library: ${res.ratio.toFixed(1)}×; identical ids on ${same} of ${n} traces`)
  }
}

await main()
