// `iwsft report RUN [RUN…] --out FILE.html|.md|.pdf [--csv DIR] [--overwrite] [--title T]`
import { extname } from 'node:path'
import { writeFileAtomic, splitOutPath } from '../../export/atomic.ts'
import { buildReport } from '../../report/build-report.ts'
import { writeCsvs } from '../../report/csv.ts'
import { renderHtml } from '../../report/html.ts'
import { renderMarkdown } from '../../report/markdown.ts'
import { chromiumPrinter, renderPdf } from '../../report/pdf.ts'
import { parseArgs, strFlag, UsageError } from '../args.ts'
import { openProjectFor } from '../project.ts'

const USAGE = 'usage: iwsft report RUN [RUN…] --out FILE.html|FILE.md|FILE.pdf [--csv DIR] [--overwrite] [--title TEXT] [--project FILE]'
const KINDS: Record<string, 'html' | 'md' | 'pdf'> = { '.html': 'html', '.htm': 'html', '.md': 'md', '.markdown': 'md', '.pdf': 'pdf' }

export async function cmdReport(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['overwrite'])
  if (args.positionals.length === 0) throw new UsageError(USAGE)
  const ids = args.positionals.map((p) => {
    const n = Number(p)
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${p}" is not a run id\n${USAGE}`)
    return n
  })
  const out = strFlag(args, 'out')
  const csvDir = strFlag(args, 'csv')
  if (!out && !csvDir) throw new UsageError(`--out FILE (or --csv DIR) is required\n${USAGE}`)
  const kind = out ? KINDS[extname(out).toLowerCase()] : undefined
  if (out && !kind) throw new UsageError(`--out ${out}: the file name must end in .html, .md or .pdf`)
  const overwrite = args.flags.has('overwrite')
  const store = await openProjectFor(args)
  try {
    for (const id of ids) if (!store.getRun(id)) throw new UsageError(`no run ${id} in ${store.file}; \`iwsft runs\` lists them`)
    const data = buildReport(store, [...new Set(ids)], { title: strFlag(args, 'title') })
    if (out) {
      const { dir, name } = splitOutPath(out)
      const content = kind === 'html' ? renderHtml(data) : kind === 'md' ? renderMarkdown(data) : await renderPdf(data, chromiumPrinter())
      const path = await writeFileAtomic(dir, name, content, { overwrite })
      process.stdout.write(`${path}\n`)
    }
    if (csvDir) {
      for (const f of await writeCsvs(store, [...new Set(ids)], csvDir, { overwrite })) process.stdout.write(`${f}\n`)
    }
    return 0
  } finally {
    store.close()
  }
}
