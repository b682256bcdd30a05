// Entry of an import worker (worker_threads): parses a data file off the main thread so the
// interface keeps answering while a large file is read. Posts progress, then the dataset
// (typed arrays are transferred, not copied) or an error message naming the file.
import { parentPort, workerData } from 'node:worker_threads'
import { importDatasetFile } from '../engine/data/import.ts'
import { getBuiltin } from '../engine/datasets/builtin.ts'

export interface ImportWorkerInput {
  /** a data file to import … */
  file?: string
  /** … or a built-in dataset to generate (e.g. "hopper-expert"), with its options */
  builtin?: string
  options?: Record<string, number | string | boolean>
  format?: string
  mapping?: Record<string, string>
  name?: string
}

async function main(): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('import-worker must run as a worker')
  const input = workerData as ImportWorkerInput
  try {
    let last = 0
    const onProgress = (done: number, total: number): void => {
      const now = Date.now()
      if (now - last < 100 && done < total) return
      last = now
      port.postMessage({ type: 'progress', done, total })
    }
    let ds
    if (input.builtin) {
      const b = getBuiltin(input.builtin)
      if (!b) throw new Error(`unknown built-in dataset "${input.builtin}"`)
      ds = await b.make(input.options ?? {}, onProgress)
    } else {
      ds = await importDatasetFile(input.file!, { format: input.format, mapping: input.mapping, name: input.name, onProgress })
    }
    const buffers = [ds.offsets, ds.obs, ds.actions, ds.mask, ds.scores, ...(ds.rewards ? [ds.rewards] : [])].map((a) => a.buffer as ArrayBuffer)
    port.postMessage({ type: 'done', dataset: ds }, [...new Set(buffers)])
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) })
  } finally {
    port.close()
  }
}

void main()
