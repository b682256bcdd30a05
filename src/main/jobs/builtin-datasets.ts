// Built-in datasets into a project: made from the engine's registry (engine/datasets/builtin.ts)
// and stored like any imported dataset (deduplicated by content hash).
import { validateDataset, type TraceDataset } from '../common/trace.ts'
import { builtinNames, getBuiltin, listBuiltins } from '../engine/datasets/builtin.ts'
import type { ProjectStore } from '../store/types.ts'

/** Make a built-in dataset and store it; returns its id (existing id if already stored). */
export async function materializeBuiltin(store: ProjectStore, name: string, options: Record<string, number | string | boolean> = {}): Promise<{ id: number; dataset: TraceDataset }> {
  const b = getBuiltin(name)
  if (!b) throw new Error(`unknown built-in dataset "${name}"; built-ins: ${builtinNames().join(', ')}`)
  const ds = await b.make(options)
  validateDataset(ds)
  const { id } = store.putDataset(ds, `builtin:${name}`)
  return { id, dataset: ds }
}

/** A new project starts with the cheap built-in datasets at their default options; the
 *  others are made when a run or the app first asks for them. */
export async function ensureBuiltinDatasets(store: ProjectStore): Promise<void> {
  for (const { name, eager } of listBuiltins()) {
    if (!eager) continue
    if (!store.listDatasets().some((d) => d.source === `builtin:${name}`)) await materializeBuiltin(store, name)
  }
}
