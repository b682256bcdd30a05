// `iwsft report RUN [RUN…] --out FILE.html|.md|.pdf [--csv DIR] [--overwrite] [--title T]`
// (services: reports.make)
import { reportFormatOf } from '../../report/index.ts'
import { parseArgs, strFlag, UsageError } from '../args.ts'
import { refuseOverwrite, runArg, withServices } from '../project.ts'

export const USAGE = 'usage: iwsft report RUN [RUN…] --out FILE.html|FILE.md|FILE.pdf [--csv DIR] [--overwrite] [--title TEXT] [--project FILE]'

export async function cmdReport(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['overwrite'])
  if (args.positionals.length === 0) throw new UsageError(USAGE)
  for (const p of args.positionals) {
    const n = Number(p)
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${p}" is not a run id\n${USAGE}`)
  }
  const out = strFlag(args, 'out')
  const csvDir = strFlag(args, 'csv')
  if (!out && !csvDir) throw new UsageError(`--out FILE (or --csv DIR) is required\n${USAGE}`)
  const format = out ? reportFormatOf(out) : null
  if (out && !format) throw new UsageError(`--out ${out}: the file name must end in .html, .md or .pdf`)
  const overwrite = args.flags.has('overwrite')
  const title = strFlag(args, 'title')
  return withServices(args, async (s) => {
    const runIds: number[] = []
    for (const p of new Set(args.positionals.map(Number))) runIds.push(await runArg(s, String(p), USAGE))
    if (out && format) {
      const r = await refuseOverwrite(s.call('reports.make', { runIds, format, out, overwrite, ...(title ? { title } : {}) }))
      process.stdout.write(`${r.written[0]}\n`)
    }
    if (csvDir) for (const f of (await refuseOverwrite(s.call('reports.make', { runIds, format: 'csv', out: csvDir, overwrite }))).written) process.stdout.write(`${f}\n`)
    return 0
  })
}
