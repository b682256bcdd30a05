// `iwsft project recover FILE --out NEW [--json]`: copy what can still be read of a damaged
// project file into a new project (the damaged file is only read), through the services
// (project.recover) like the app's banner does. Prints, table by table, the rows kept, the
// damaged stretches stepped over and the rows dropped because what they belonged to was lost.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs, strFlag, UsageError } from '../args.ts'
import { withServices } from '../project.ts'

export const USAGE = 'usage: iwsft project recover FILE --out NEW.iwsft [--json]'

export async function cmdProject(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const [sub, file] = args.positionals
  if (sub !== 'recover' || !file) throw new UsageError(USAGE)
  const out = strFlag(args, 'out')
  if (!out) throw new UsageError(`${USAGE}\n--out names the new project file to write`)
  if (!existsSync(file)) throw new UsageError(`${resolve(file)}: no such project file`)
  if (existsSync(out)) throw new UsageError(`${resolve(out)} already exists; choose a new file name`)
  args.flags.set('project', file)
  return withServices(args, async (s) => {
    const r = await s.call('project.recover', { out: resolve(out) })
    if (args.flags.has('json')) process.stdout.write(JSON.stringify(r) + '\n')
    else {
      process.stdout.write(`recovered ${r.file} into ${r.out}\n`)
      for (const t of r.tables) {
        const lost = [t.gaps ? `${t.gaps} damaged stretch${t.gaps > 1 ? 'es' : ''} skipped` : '', t.orphans ? `${t.orphans} rows whose parent was lost dropped` : '']
          .filter(Boolean)
          .join(', ')
        process.stdout.write(`  ${t.table.padEnd(18)} ${String(t.copied).padStart(9)} rows${lost ? `  (${lost})` : ''}\n`)
      }
      process.stdout.write(`next: iwsft runs --project ${r.out}\n`)
    }
    return 0
  })
}
