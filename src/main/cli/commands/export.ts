// `iwsft export RUN [--step N] --format tfjs|safetensors|hf|peft --out DIR [--overwrite] [--tokenizer FILE]`
// (services: runs.export). hf and peft: a run that fine-tuned a language model, as a merged
// Hugging Face folder or a PEFT LoRA adapter.
import { readFileSync } from 'node:fs'
import { EXPORT_FORMATS as CHECKPOINT_FORMATS } from '../../export/checkpoint-export.ts'
import { LLM_EXPORT_FORMATS } from '../../export/hf-export.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { refuseOverwrite, runArg, withServices } from '../project.ts'

export const USAGE = 'usage: iwsft export RUN [--step N] --format tfjs|safetensors|hf|peft --out DIR [--overwrite] [--tokenizer tokenizer.json] [--project FILE]'
const EXPORT_FORMATS = [...CHECKPOINT_FORMATS, ...LLM_EXPORT_FORMATS]
type ExportFormat = (typeof EXPORT_FORMATS)[number]

export async function cmdExport(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['overwrite'])
  const runArgText = args.positionals[0]
  if (!runArgText || !Number.isInteger(Number(runArgText)) || args.positionals.length > 1) throw new UsageError(USAGE)
  const format = strFlag(args, 'format')
  if (!format) throw new UsageError(`--format is required (${EXPORT_FORMATS.join(' or ')})\n${USAGE}`)
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be ${EXPORT_FORMATS.join(' or ')}, got "${format}"`)
  const out = strFlag(args, 'out')
  if (!out) throw new UsageError(`--out DIR is required\n${USAGE}`)
  const step = args.flags.has('step') ? intFlag(args, 'step', 0) : undefined
  const tokFile = strFlag(args, 'tokenizer')
  let tokenizer: Record<string, unknown> | undefined
  if (tokFile) {
    try {
      tokenizer = JSON.parse(readFileSync(tokFile, 'utf8')) as Record<string, unknown>
    } catch (e) {
      throw new UsageError(`--tokenizer ${tokFile}: ${(e as Error).message}`)
    }
  }
  return withServices(args, async (s) => {
    const runId = await runArg(s, runArgText, USAGE)
    const res = await refuseOverwrite(
      s.call('runs.export', {
        runId,
        format: format as ExportFormat,
        outDir: out,
        overwrite: args.flags.has('overwrite'),
        ...(step !== undefined ? { step } : {}),
        ...(tokenizer ? { tokenizer } : {})
      })
    )
    process.stdout.write(`run ${runId}, checkpoint at step ${res.step}, ${res.format}:\n`)
    for (const f of res.files) process.stdout.write(`  ${f}\n`)
    return 0
  })
}
