// The project's models (issue 13) and which datasets were tokenised by a model's tokenizer: the
// `models` and `dataset_tokenization` tables of migration 4. A model row records where its files
// are (they stay outside the project), what it is and the hash of its bytes. Part of the
// ProjectStore (project-store.ts spreads these methods into it, so they get its closed check and
// its error messages naming the file).
import type Database from 'better-sqlite3'
import type { ModelDetails, ModelInfo } from '../../shared/models.ts'
import type { DatasetTokenization, ModelStore } from './types.ts'

interface ModelDb {
  id: number
  name: string
  source: string
  path: string
  format: 'gguf' | 'hf'
  architecture: string
  parameters: number
  layers: number
  context_length: number
  vocab_size: number
  hash: string
  memory_bytes: number
  tokenizer_hash: string
  info: string
  created_at: string
}

const toModel = (r: ModelDb): ModelInfo => ({
  id: r.id,
  name: r.name,
  source: r.source,
  path: r.path,
  format: r.format,
  architecture: r.architecture,
  parameters: r.parameters,
  layers: r.layers,
  contextLength: r.context_length,
  vocabSize: r.vocab_size,
  hash: r.hash,
  memoryBytes: r.memory_bytes,
  tokenizerHash: r.tokenizer_hash,
  createdAt: r.created_at,
  details: JSON.parse(r.info) as ModelDetails
})

export function modelStore(db: Database.Database, file: string, fail: (message: string) => Error): ModelStore {
  const q = {
    byHash: db.prepare<[string], ModelDb>('SELECT * FROM models WHERE hash = ?'),
    byId: db.prepare<[number], ModelDb>('SELECT * FROM models WHERE id = ?'),
    byName: db.prepare<[string], ModelDb>('SELECT * FROM models WHERE name = ?'),
    list: db.prepare<[], ModelDb>('SELECT * FROM models ORDER BY created_at DESC, id DESC'),
    insert: db.prepare(
      `INSERT INTO models (name, source, path, format, architecture, parameters, layers, context_length, vocab_size, hash, memory_bytes, tokenizer_hash, info, created_at)
       VALUES (@name, @source, @path, @format, @architecture, @parameters, @layers, @context_length, @vocab_size, @hash, @memory_bytes, @tokenizer_hash, @info, @created_at)`
    ),
    remove: db.prepare('DELETE FROM models WHERE id = ?'),
    putTok: db.prepare(
      `INSERT INTO dataset_tokenization (dataset_id, tokenizer_hash, template, model_name, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (dataset_id) DO UPDATE SET tokenizer_hash = excluded.tokenizer_hash, template = excluded.template, model_name = excluded.model_name, created_at = excluded.created_at`
    ),
    getTok: db.prepare<[number], { tokenizer_hash: string; template: 'chat' | 'plain' | 'ids'; model_name: string }>(
      'SELECT tokenizer_hash, template, model_name FROM dataset_tokenization WHERE dataset_id = ?'
    ),
    datasetExists: db.prepare<[number], { id: number }>('SELECT id FROM datasets WHERE id = ?')
  }
  const putModelTx = db.transaction((m: Omit<ModelInfo, 'id' | 'createdAt'>) => {
    const same = q.byHash.get(m.hash)
    if (same) return { id: same.id, created: false }
    if (q.byName.get(m.name)) throw fail(`${file}: a different model is already called "${m.name}"; give this one another name`)
    const r = q.insert.run({
      name: m.name,
      source: m.source,
      path: m.path,
      format: m.format,
      architecture: m.architecture,
      parameters: m.parameters,
      layers: m.layers,
      context_length: m.contextLength,
      vocab_size: m.vocabSize,
      hash: m.hash,
      memory_bytes: m.memoryBytes,
      tokenizer_hash: m.tokenizerHash,
      info: JSON.stringify(m.details),
      created_at: new Date().toISOString()
    })
    return { id: Number(r.lastInsertRowid), created: true }
  })
  return {
    putModel: (m) => putModelTx.immediate(m),
    listModels: () => q.list.all().map(toModel),
    getModel: (id) => {
      const r = q.byId.get(id)
      return r ? toModel(r) : null
    },
    findModel: (nameOrId) => {
      const key = nameOrId.trim()
      if (/^\d+$/.test(key)) {
        const r = q.byId.get(Number(key))
        if (r) return toModel(r)
      }
      const r = q.byName.get(key)
      return r ? toModel(r) : null
    },
    deleteModel: (id) => {
      if (q.remove.run(id).changes === 0) throw fail(`${file}: there is no model ${id} to remove; list the models to see which exist`)
    },
    setDatasetTokenization: (datasetId, t: DatasetTokenization) => {
      if (!q.datasetExists.get(datasetId)) throw fail(`${file}: there is no dataset ${datasetId}; cannot record how it was tokenised`)
      q.putTok.run(datasetId, t.tokenizerHash, t.template, t.modelName, new Date().toISOString())
    },
    getDatasetTokenization: (datasetId) => {
      const r = q.getTok.get(datasetId)
      return r ? { tokenizerHash: r.tokenizer_hash, template: r.template, modelName: r.model_name } : null
    },
    transaction: <T>(f: () => T): T => db.transaction(f).immediate()
  }
}
