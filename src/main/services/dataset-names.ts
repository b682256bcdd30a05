// Dataset names stay unique in a project (issue 16: two imports named "main_data" could not be
// told apart in any picker). An import whose name another dataset already has gets " (2)",
// " (3)", … unless it is that same dataset again (same content hash), which keeps its record.
import { datasetHash, type TraceDataset } from '../common/trace.ts'
import type { ProjectStore } from '../store/types.ts'

/** The name `ds` should be stored under: its own, or its own with the first free " (n)". */
export function uniqueDatasetName(store: ProjectStore, ds: TraceDataset): string {
  const all = store.listDatasets()
  const hash = datasetHash(ds)
  const same = all.find((d) => d.hash === hash)
  if (same) return same.name
  const taken = new Set(all.map((d) => d.name))
  if (!taken.has(ds.name)) return ds.name
  for (let n = 2; ; n++) {
    const name = `${ds.name} (${n})`
    if (!taken.has(name)) return name
  }
}
