// Bootstrap for a training worker run from the TypeScript sources (CLI, tests, `iwsft serve`):
// Node 20 does not apply `--import tsx` to worker threads, so register tsx here, then load
// the real entry. The desktop app bundles worker-entry.ts and never uses this file.
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entryUrl)
