// datasets.* and presets.*: the project's datasets (import, built-ins, per-trace columns, one
// trace), reference scoring, and curation presets.
import { basename, resolve, sep } from 'node:path'
import { ApiError, type DatasetColumns, type Handlers, type TraceDetail } from '../../shared/contract.ts'
import { maskedLength, validateDataset, type TraceDataset } from '../common/trace.ts'
import { getBuiltin, listBuiltins } from '../engine/datasets/builtin.ts'
import type { ImportResult } from '../engine/data/import.ts'
import { previewTextFile } from '../engine/data/import-text.ts'
import * as runner from '../jobs/runner.ts'
import type { ProjectStore } from '../store/types.ts'
import { cachedTokenizer, storeByo } from './byo-service.ts'
import { uniqueDatasetName } from './dataset-names.ts'
import type { ServiceContext } from './context.ts'
import { runInWorker } from './import-job.ts'
import { tokenizerModelFor } from './models.ts'

type DatasetRequests =
  | 'datasets.list'
  | 'datasets.columns'
  | 'datasets.trace'
  | 'datasets.import'
  | 'datasets.find'
  | 'datasets.preview'
  | 'datasets.delete'
  | 'datasets.builtins'
  | 'datasets.addBuiltin'
  | 'datasets.scoreReference'
  | 'presets.list'
  | 'presets.save'

export function datasetHandlers(ctx: ServiceContext): Pick<Handlers, DatasetRequests> {
  const { emit } = ctx
  const info = (id: number) => ctx.datasetSummary(id)
  return {
    'datasets.list': async () => ctx.store.listDatasets(),
    'datasets.columns': async ({ datasetId }) => {
      const d = ctx.dataset(datasetId)
      const n = d.offsets.length - 1
      const lengths = new Array<number>(n)
      for (let i = 0; i < n; i++) lengths[i] = maskedLength(d, i)
      const meta = d.meta ? d.meta.map((m) => (m && Object.keys(m).length ? truncate(JSON.stringify(m), 300) : '')) : new Array<string>(n).fill('')
      const cols: DatasetColumns = { id: datasetId, ids: d.ids, scores: Array.from(d.scores), lengths, meta }
      return cols
    },
    'datasets.trace': async ({ datasetId, index }) => {
      const t = traceDetail(ctx.dataset(datasetId), datasetId, index)
      return t.kind === 'sequence' ? { ...t, ...(await tokenTexts(ctx.store, datasetId, t.actions)) } : t
    },
    'datasets.find': async ({ ref }) => {
      const d = ctx.store.findDataset(ref)
      if (!d) throw new ApiError(`dataset "${ref}" is not in the project ${ctx.store.file}`, 'not_found')
      return d
    },
    'datasets.preview': async ({ path, format, rows }) => {
      const abs = resolve(path)
      const upload = ctx.opts.uploadDir !== undefined && abs.startsWith(resolve(ctx.opts.uploadDir) + sep)
      try {
        const p = await previewTextFile(abs, { format, rows })
        return { format: p.format, columns: p.columns, rows: p.rows.map((r) => p.columns.map((c) => cellText(r[c]))), detected: p.detected, layout: p.layout }
      } catch (e) {
        let msg = e instanceof Error ? e.message : String(e)
        if (upload) msg = msg.split(abs).join(basename(abs))
        throw new ApiError(msg, 'invalid_data')
      }
    },
    'datasets.import': async ({ path, name, format, mapping, tokenizerFile, tokenizerModel, chat, importId, skipBadRows, maxTraceSteps, maxLineBytes }) => {
      const abs = resolve(path)
      const upload = ctx.opts.uploadDir !== undefined && abs.startsWith(resolve(ctx.opts.uploadDir) + sep)
      if (tokenizerModel && tokenizerFile) throw new ApiError('give a tokenizer file or a tokenizer model, not both', 'invalid_input')
      // text tokenised as a project's model reads it (models.ts): the dataset records which tokenizer
      const model = tokenizerModel ? tokenizerModelFor(ctx.store, tokenizerModel, chat) : null
      let imp: ImportResult
      try {
        imp = await runInWorker(
          'import',
          {
            file: abs,
            format,
            mapping,
            name,
            tokenizerFile: tokenizerFile && resolve(tokenizerFile),
            skipBadRows,
            maxTraceSteps,
            maxLineBytes,
            ...(model ? { tokenizerModel: { path: model.path, chat: model.chat } } : {})
          },
          { onProgress: (done, total) => emit('import.progress', { importId, done, total }) }
        )
        validateDataset(imp.dataset)
      } catch (e) {
        let msg = e instanceof Error ? e.message : String(e)
        // an upload's temporary path means nothing to the user: name the file they picked
        if (upload) msg = msg.split(abs).join(basename(abs))
        // say which file, unless the importer already did
        throw new ApiError(msg.includes(basename(abs)) ? msg : `${basename(abs)}: ${msg}`, 'invalid_data')
      }
      const source = upload ? `upload:${name ?? basename(abs)}` : `file:${abs}`
      // traces that carry their own log-probs are stored as byo.import stores them
      const logProbs = Boolean(imp.refLogProbs || imp.policyLogProbs)
      const { id, created } = ctx.store.transaction(() => {
        imp.dataset.name = uniqueDatasetName(ctx.store, imp.dataset)
        const r = logProbs ? storeByo(ctx.store, imp, source) : ctx.store.putDataset(imp.dataset, source)
        if (model) ctx.store.setDatasetTokenization(r.id, model.record(imp.fromText ?? false))
        return r
      })
      emit('import.progress', { importId, done: 1, total: 1 })
      emit('project.changed', { what: 'datasets' })
      // an upload's temporary path means nothing to the user here either
      const skipped = upload ? imp.skipped.map((r) => ({ ...r, reason: r.reason.split(abs).join(basename(abs)) })) : imp.skipped
      return { dataset: info(id), created, logProbs, skipped }
    },
    'datasets.delete': async ({ datasetId }) => {
      info(datasetId)
      ctx.store.deleteDataset(datasetId)
      ctx.forgetDataset(datasetId)
      emit('project.changed', { what: 'datasets' })
      return { ok: true as const }
    },
    'datasets.builtins': async () => {
      const have = new Set(ctx.store.listDatasets().map((d) => d.source))
      return listBuiltins().map((b) => ({ name: b.name, description: b.description, added: have.has(`builtin:${b.name}`) }))
    },
    'datasets.addBuiltin': async ({ name, importId, quick }) => {
      if (!getBuiltin(name))
        throw new ApiError(
          `unknown built-in dataset "${name}"; built-ins: ${listBuiltins()
            .map((b) => b.name)
            .join(', ')}`,
          'not_found'
        )
      let ds: TraceDataset
      try {
        ds = await runInWorker('builtin', { name, options: quick ? { quick: true } : {} }, { onProgress: (done, total) => emit('import.progress', { importId, done, total }) })
        validateDataset(ds)
      } catch (e) {
        throw new ApiError(`built-in dataset "${name}": ${e instanceof Error ? e.message : String(e)}`, 'failed')
      }
      const { id, created } = ctx.store.putDataset(ds, `builtin:${name}`)
      emit('import.progress', { importId, done: 1, total: 1 })
      emit('project.changed', { what: 'datasets' })
      return { dataset: info(id), created }
    },
    'datasets.scoreReference': async ({ datasetId }) => {
      info(datasetId)
      const job = runner.scoreReference(ctx.store.file, datasetId, (e) => {
        if (e.type === 'progress') emit('score.progress', { datasetId, done: e.step, total: e.total, status: 'running' })
      })
      try {
        const end = await job.done
        // the job's end event says how it went: a failed or cancelled scoring is not a success
        if (end.status !== 'completed') throw new Error(end.error ?? `reference scoring ${end.status}`)
      } catch (e) {
        emit('score.progress', { datasetId, done: 0, total: 1, status: 'failed', error: e instanceof Error ? e.message : String(e) })
        throw e
      }
      emit('score.progress', { datasetId, done: 1, total: 1, status: 'completed' })
      return { ok: true as const }
    },

    'presets.list': async ({ datasetId }) => ctx.store.listPresets(datasetId),
    'presets.save': async ({ datasetId, name, curation }) => {
      info(datasetId)
      const p = ctx.store.savePreset(datasetId, name, curation)
      emit('project.changed', { what: 'presets' })
      return p
    }
  }
}

/** A preview cell as text: strings as they are, anything else as JSON; long values cut. */
function cellText(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return truncate(v, 400)
  let s: string
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v)
  } catch {
    s = String(v)
  }
  return truncate(s, 400)
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s
}

/** At most this many steps of one trace go over the wire. */
const MAX_STEPS = 2000

/** The text of each token of a trace, through the tokenizer of the project model the dataset was
 *  tokenised with (datasets import --tokenizer-model, or sampled from the model): that model, or
 *  another with the same tokenizer. None recorded, or no such model left: null and why. */
async function tokenTexts(store: ProjectStore, datasetId: number, actions: number[][]): Promise<Pick<TraceDetail, 'tokenTexts' | 'tokenizerNote'>> {
  const tok = store.getDatasetTokenization(datasetId)
  if (!tok) return { tokenTexts: null, tokenizerNote: null }
  const models = store.listModels().filter((m) => m.tokenizerHash === tok.tokenizerHash)
  const m = models.find((x) => x.name === tok.modelName) ?? models[0]
  if (!m) return { tokenTexts: null, tokenizerNote: `tokenised by model "${tok.modelName}", which is no longer in the project (add it again to see the token text)` }
  try {
    const t = await cachedTokenizer({ kind: 'llm', path: m.path })
    return { tokenTexts: actions.map((a) => t.tokenText(a[0])), tokenizerNote: `model "${m.name}"` }
  } catch (e) {
    return { tokenTexts: null, tokenizerNote: `model "${m.name}"'s tokenizer could not be read: ${e instanceof Error ? e.message : String(e)}` }
  }
}

function traceDetail(d: TraceDataset, datasetId: number, index: number): TraceDetail {
  const n = d.offsets.length - 1
  if (index >= n) throw new ApiError(`trace ${index} is out of range: the dataset has ${n} traces (0..${n - 1})`, 'not_found')
  const a = d.offsets[index]
  const full = d.offsets[index + 1]
  const b = Math.min(full, a + MAX_STEPS)
  const per = d.kind === 'continuous' ? d.actDim : 1
  const actions: number[][] = []
  const obs: number[][] = []
  for (let s = a; s < b; s++) {
    actions.push(Array.from(d.actions.subarray(s * per, (s + 1) * per)))
    obs.push(d.obsDim ? Array.from(d.obs.subarray(s * d.obsDim, (s + 1) * d.obsDim)) : [])
  }
  return {
    datasetId,
    index,
    id: d.ids[index],
    kind: d.kind,
    score: d.scores[index],
    obsDim: d.obsDim,
    actDim: d.actDim,
    actions,
    obs,
    mask: Array.from(d.mask.subarray(a, b)),
    rewards: d.rewards ? Array.from(d.rewards.subarray(a, b)) : null,
    meta: d.meta?.[index] ?? null,
    truncated: b < full,
    tokenTexts: null,
    tokenizerNote: null
  }
}
