// `iwsft report RUN [RUN…] --out FILE.html|.md|.pdf [--csv DIR] [--overwrite] [--title T]`
import { reportFormatOf, writeCsvs, writeReport } from '../../report/index.ts'
import { parseArgs, strFlag, UsageError } from '../args.ts'
import { openProjectFor } from '../project.ts'

const USAGE = 'usage: iwsft report RUN [RUN…] --out FILE.html|FILE.md|FILE.pdf [--csv DIR] [--overwrite] [--title TEXT] [--project FILE]'

export async function cmdReport(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['overwrite'])
  if (args.positionals.length === 0) throw new UsageError(USAGE)
  const ids = args.positionals.map((p) => {
    const n = Number(p)
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${p}" is not a run id\n${USAGE}`)
    return n
  })
  const runIds = [...new Set(ids)]
  const out = strFlag(args, 'out')
  const csvDir = strFlag(args, 'csv')
  if (!out && !csvDir) throw new UsageError(`--out FILE (or --csv DIR) is required\n${USAGE}`)
  if (out && !reportFormatOf(out)) throw new UsageError(`--out ${out}: the file name must end in .html, .md or .pdf`)
  const overwrite = args.flags.has('overwrite')
  const store = await openProjectFor(args)
  try {
    for (const id of runIds) if (!store.getRun(id)) throw new UsageError(`no run ${id} in ${store.file}; \`iwsft runs\` lists them`)
    if (out) process.stdout.write(`${await writeReport(store, runIds, out, { overwrite, title: strFlag(args, 'title') })}\n`)
    if (csvDir) for (const f of await writeCsvs(store, runIds, csvDir, { overwrite })) process.stdout.write(`${f}\n`)
    return 0
  } finally {
    store.close()
  }
}
