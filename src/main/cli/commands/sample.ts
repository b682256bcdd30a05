// `iwsft sample MODEL --prompts FILE [--k 8] [--temperature T] [--top-p P] [--max-tokens N] [--seed S]
//   [--verify arithmetic|answer:COLUMN|regex:PATTERN] [--name N] [--no-chat] [--json]`
// K completions of every prompt through the model's chat template, each stored with its per-token
// log-probs, scored by the verifier: a new dataset ready for curation (the s1K pipeline in
// miniature). FILE: JSONL or CSV rows with a "prompt" column (other columns are kept, e.g. the
// answer for answer:COLUMN), or a text file with one prompt a line. Through the services
// (models.sample), as the app's Models view.
import { VerifierSchema } from '../../../shared/models.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { usageOn, withServices } from '../project.ts'
import { numFlag, progressTo } from './models.ts'

export const USAGE = [
  'usage: iwsft sample MODEL --prompts FILE [--k 8] [--temperature T] [--top-p P] [--max-tokens N] [--seed S]',
  '                    [--verify arithmetic|answer:COLUMN|regex:PATTERN] [--name N] [--no-chat] [--json]',
  'FILE: JSONL / CSV with a "prompt" column, or text with one prompt a line; MODEL: a name or id from `iwsft models list`'
].join('\n')

export async function cmdSample(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'no-chat'])
  const [model] = args.positionals
  const file = strFlag(args, 'prompts')
  if (!model || !file) throw new UsageError(USAGE)
  const verify = strFlag(args, 'verify')
  if (verify !== undefined && !VerifierSchema.safeParse(verify).success) throw new UsageError(`--verify takes arithmetic, answer:COLUMN or regex:PATTERN, got "${verify}"`)
  const k = intFlag(args, 'k', 8, 1)
  const maxTokens = args.flags.has('max-tokens') ? intFlag(args, 'max-tokens', 128, 1) : undefined
  const temperature = numFlag(args, 'temperature', 0, 10)
  const topP = numFlag(args, 'top-p', 1e-9, 1)
  const seed = args.flags.has('seed') ? intFlag(args, 'seed', 0) : undefined
  const name = strFlag(args, 'name')
  const json = args.flags.has('json')
  return withServices(args, async (s) => {
    const jobId = `cli-sample-${process.pid}`
    const stop = progressTo(s, jobId)
    let r
    try {
      r = await usageOn(
        ['not_found', 'invalid_input'],
        s.call('models.sample', {
          model,
          file,
          k,
          jobId,
          ...(args.flags.has('no-chat') ? { chat: false } : {}),
          ...(maxTokens ? { maxTokens } : {}),
          ...(temperature !== undefined ? { temperature } : {}),
          ...(topP !== undefined ? { topP } : {}),
          ...(seed !== undefined ? { seed } : {}),
          ...(verify ? { verify } : {}),
          ...(name ? { name } : {})
        })
      )
    } finally {
      stop()
    }
    const d = r.dataset
    const summary = {
      dataset: d.id,
      name: d.name,
      prompts: r.prompts,
      samples: r.samples,
      passed: r.passed,
      tokens: r.tokens,
      seconds: r.seconds,
      tokens_per_s: r.tokensPerSecond,
      logprobs: r.logprobs
    }
    process.stdout.write(
      json
        ? JSON.stringify(summary) + '\n'
        : `dataset ${d.id} "${d.name}": ${r.samples} completions of ${r.prompts} prompts, ${r.tokens} tokens in ${r.seconds.toFixed(1)} s (${r.tokensPerSecond.toFixed(1)} tokens/s)` +
            (r.passed !== null ? `; ${r.passed} verified (${((100 * r.passed) / r.samples).toFixed(1)}%)` : '') +
            `\nstored: ${r.logprobs}\n`
    )
    return 0
  })
}
