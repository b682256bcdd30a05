// `iwsft export RUN [--step N] --format tfjs|safetensors --out DIR [--overwrite] [--tokenizer FILE]`
import { readFileSync } from 'node:fs'
import { EXPORT_FORMATS, exportCheckpoint, type ExportFormat } from '../../export/checkpoint-export.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { openProjectFor } from '../project.ts'

const USAGE = 'usage: iwsft export RUN [--step N] --format tfjs|safetensors --out DIR [--overwrite] [--tokenizer tokenizer.json] [--project FILE]'

export async function cmdExport(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['overwrite'])
  const runArg = args.positionals[0]
  const runId = Number(runArg)
  if (!runArg || !Number.isInteger(runId) || args.positionals.length > 1) throw new UsageError(USAGE)
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
  const store = await openProjectFor(args)
  try {
    if (!store.getRun(runId)) throw new UsageError(`no run ${runId} in ${store.file}; \`iwsft runs\` lists them`)
    const res = await exportCheckpoint(store, runId, { step, format: format as ExportFormat, outDir: out, overwrite: args.flags.has('overwrite'), tokenizer })
    process.stdout.write(`run ${runId}, checkpoint at step ${res.step}, ${res.format}:\n`)
    for (const f of res.files) process.stdout.write(`  ${f}\n`)
    return 0
  } finally {
    store.close()
  }
}
