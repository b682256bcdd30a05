// A small argument parser: positionals, `--flag`, `--key value` and `--key=value`.
export interface Args {
  positionals: string[]
  flags: Map<string, string | true>
}

export function parseArgs(argv: string[], booleans: string[] = []): Args {
  const positionals: string[] = []
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
      else if (booleans.includes(a.slice(2)) || i + 1 >= argv.length || argv[i + 1].startsWith('--')) flags.set(a.slice(2), true)
      else flags.set(a.slice(2), argv[++i])
    } else positionals.push(a)
  }
  return { positionals, flags }
}

export class UsageError extends Error {}

export function intFlag(args: Args, name: string, def: number, min = 0): number {
  const v = args.flags.get(name)
  if (v === undefined) return def
  const n = Number(v)
  if (v === true || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} takes a whole number ≥ ${min}, got "${v === true ? '' : v}"`)
  return n
}

export function strFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name)
  if (v === true) throw new UsageError(`--${name} needs a value`)
  return v
}
