// Trained BC references in the project (issue 16): a run whose π_ref is behaviour cloning on all
// data (reference.kind "bc") looks its reference up by its settings (engine/experiment.ts
// BcReferenceSettings) and backend first, and stores the one it trains, so every later run and
// group (CLI or app) on the same data and settings skips the thousands of reference steps.
// referenceCost tells before a run starts whether it will train one, and for about how long.
import { createHash } from 'node:crypto'
import { trainsOnAllData, type RunConfig } from '../../shared/config.ts'
import type { ReferenceCost } from '../../shared/contract.ts'
import { bcReferenceSettings, type BcReferenceCache, type BcReferenceSettings } from '../engine/experiment.ts'
import type { ProjectStore } from '../store/types.ts'

/** JSON with the object keys sorted: equal settings give equal text whatever their key order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 40)

/** The cache key of a BC reference: its settings (data hash included) and the backend it trained on. */
export function bcReferenceKey(settings: BcReferenceSettings, backend: string): string {
  return sha(stableJson({ settings, backend }))
}

/** The same settings without the data: matches a built-in's reference by its generator and options. */
const settingsKey = (settings: BcReferenceSettings): string => sha(stableJson({ ...settings, dataHash: undefined }))

/** How a built-in's data is named before it is made: generator and options (deterministic in both). */
export function builtinDataLabel(name: string, options: Record<string, unknown>): string {
  return `builtin:${name} ${stableJson(options)}`
}

/** The engine's BcReferenceCache over the project store, for runs on `backend`. */
export function storeBcCache(store: ProjectStore, backend: string, dataLabel: string | null): BcReferenceCache {
  return {
    get: (settings) => store.getBcReference(bcReferenceKey(settings, backend))?.tensors ?? null,
    put: (settings, weights, trainMs) =>
      store.putBcReference({ key: bcReferenceKey(settings, backend), dataHash: settings.dataHash, dataLabel, settings, backend, tensors: weights, trainMs })
  }
}

/** Milliseconds per (step × batch row) of the BC references trained in this project with the same
 *  policy kind (the latest five), or null before the first one. */
function measuredRate(store: ProjectStore, policyKind: string): number | null {
  const rows = store
    .listBcReferences()
    .filter((r) => (r.settings as BcReferenceSettings).policy?.kind === policyKind && r.trainMs > 0)
    .slice(0, 5)
  if (rows.length === 0) return null
  const work = rows.reduce((a, r) => a + (r.settings as BcReferenceSettings).steps * (r.settings as BcReferenceSettings).batch_size, 0)
  return rows.reduce((a, r) => a + r.trainMs, 0) / work
}

/** What π_ref will cost a run with this (resolved) config, before it starts: nothing (no BC
 *  reference), a cached one, or `steps` of training estimated from the rate measured on this
 *  project's earlier references. The data is named by its hash (a stored dataset) or, for a
 *  built-in not made yet, by its label; `backend` null matches any backend ("auto"). */
export function referenceCost(store: ProjectStore, config: RunConfig, data: { hash: string | null; label: string | null }, backend: string | null): ReferenceCost {
  const r = config.reference
  if (r.kind !== 'bc' || trainsOnAllData(config.method)) return { kind: 'none' }
  const settings = bcReferenceSettings(config, data.hash ?? '')!
  const want = settingsKey(settings)
  const hit = store.listBcReferences().find((row) => {
    if (backend !== null && row.backend !== backend) return false
    const sameData = (data.hash !== null && row.dataHash === data.hash) || (data.label !== null && row.dataLabel === data.label)
    return sameData && settingsKey(row.settings as BcReferenceSettings) === want
  })
  if (hit) return { kind: 'cached', steps: r.steps, backend: hit.backend }
  const rate = measuredRate(store, config.policy.kind)
  return { kind: 'train', steps: r.steps, estimateMs: rate === null ? null : Math.round(rate * r.steps * r.batch_size) }
}
