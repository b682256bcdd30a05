// Built-in datasets: generated on demand from a name and options, stored in the project like
// any imported dataset (deduplicated by content hash).
import type { ProjectStore } from '../../store/types.ts'
import { validateDataset, type TraceDataset } from '../data/trace.ts'
import type { Policy } from '../policies/policy.ts'
import { BANDIT_DEFAULT_PULLS, evaluateBandit, makeBanditDataset } from './bandit.ts'

export interface BuiltinDataset {
  name: string
  description: string
  make(options: Record<string, number | string | boolean>, onProgress?: (done: number, total: number) => void): Promise<TraceDataset>
  /** the domain's evaluation of a policy (logged with the run's metrics), if it has an environment */
  evaluate?(policy: Policy, options: Record<string, number | string | boolean>): Record<string, number> | Promise<Record<string, number>>
}

const registry = new Map<string, BuiltinDataset>()

export function registerBuiltin(d: BuiltinDataset): void {
  registry.set(d.name, d)
}

registerBuiltin({
  name: 'bandit',
  description: 'The toy bandit of paper §3.5: left pays with p = 0.5, right always; π_ref uniform.',
  make: async (o) => {
    const pulls = Number(o.pulls ?? BANDIT_DEFAULT_PULLS)
    if (!Number.isInteger(pulls) || pulls < 10) throw new Error(`dataset_options.pulls must be an integer ≥ 10, got ${o.pulls}`)
    return makeBanditDataset(pulls, Number(o.seed ?? 0))
  },
  evaluate: (policy) => evaluateBandit(policy)
})

export function builtinNames(): string[] {
  return [...registry.keys()]
}

export function getBuiltin(name: string): BuiltinDataset | undefined {
  return registry.get(name)
}

/** The built-in a stored dataset came from ("builtin:NAME" sources), for its evaluation. */
export function builtinOfSource(source: string): BuiltinDataset | undefined {
  return source.startsWith('builtin:') ? registry.get(source.slice('builtin:'.length)) : undefined
}

/** Make a built-in dataset and store it; returns its id (existing id if already stored). */
export async function materializeBuiltin(store: ProjectStore, name: string, options: Record<string, number | string | boolean> = {}): Promise<{ id: number; dataset: TraceDataset }> {
  const b = registry.get(name)
  if (!b) throw new Error(`unknown built-in dataset "${name}"; built-ins: ${builtinNames().join(', ')}`)
  const ds = await b.make(options)
  validateDataset(ds)
  const { id } = store.putDataset(ds, `builtin:${name}`)
  return { id, dataset: ds }
}

/** A new project starts with the built-in datasets at their default options. */
export async function ensureBuiltinDatasets(store: ProjectStore): Promise<void> {
  for (const name of registry.keys()) {
    if (!store.listDatasets().some((d) => d.source === `builtin:${name}`)) await materializeBuiltin(store, name)
  }
}
