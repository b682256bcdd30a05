// A job folder's stream (JOB_SPEC "The stream": DIR/stream.jsonl, written by the Python trainer's
// rank 0) into the project: every row is validated, then
//   start       its versions (python, torch, transformers, trl, accelerate, peft), world size and
//               device are merged into the run's versions
//   metrics     appendMetrics + a run.metrics and a run.progress event
//   weights     putWeightSnapshot (WeightSnapshot v2 of common/tensors.ts)
//   checkpoint  its folder is recorded in the run's versions ("checkpoints": step → path, format):
//               the store's checkpoints table holds the engine's tensors and specs, which other
//               code (resume, eval, export, per-step ρ) would try to load, so an external Hugging
//               Face / PEFT folder is not put there
//   end         the run's status; a completed run's final-model/ is handed to `addModel` (the
//               services add it as a project model named after the run) and its name recorded
// Rows are written idempotently (metrics and snapshots replace those of the same step), so a
// stream read again from its start — a second `follow` of the same folder — changes nothing.
import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { z } from 'zod'
import type { WeightSnapshot } from '../common/tensors.ts'
import type { MetricPoint, ProjectStore } from '../store/types.ts'
import type { RunEndEvent, RunEvent } from './types.ts'

const num = z.number().nullable()
const ints = z.array(z.number().int().min(0))
const nums = z.array(num)
const relPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !isAbsolute(p) && !p.split(/[\\/]/).includes('..'), 'must be a path inside the job folder')

export const StreamRowSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('start'),
    job_id: z.string().max(200).optional(),
    world_size: z.number().int().min(1).optional(),
    device: z.string().max(200).optional(),
    total_steps: z.number().int().min(0).optional(),
    versions: z.record(z.string(), z.string().max(200)).optional()
  }),
  z.looseObject({ type: z.literal('metrics'), step: z.number().int().min(0), metrics: z.record(z.string().max(200), num) }),
  z.looseObject({
    type: z.literal('weights'),
    step: z.number().int().min(0),
    trace_index: ints,
    log_w_raw: nums,
    w_clamped: nums.optional(),
    mass: nums.optional(),
    w: nums,
    batch: z.looseObject({ trace_index: ints, w: nums }).nullable().optional()
  }),
  z.looseObject({ type: z.literal('checkpoint'), step: z.number().int().min(0), path: relPath, format: z.enum(['hf', 'peft']) }),
  z.looseObject({
    type: z.literal('end'),
    status: z.enum(['completed', 'failed', 'cancelled']),
    error: z.string().max(20_000).nullable().optional(),
    final: z.record(z.string(), num).nullable().optional(),
    final_model: relPath.nullable().optional()
  })
])
export type StreamRow = z.infer<typeof StreamRowSchema>

const f32 = (a: Array<number | null>): Float32Array => Float32Array.from(a, (v) => (v === null ? NaN : v))

export interface IngestOptions {
  store: ProjectStore
  runId: number
  dir: string
  totalSteps: number
  emit: (e: RunEvent) => void
  /** add DIR/final-model as a project model named after the run; resolves with its name */
  addModel?: (path: string, runName: string) => Promise<string>
  /** a row that is not valid (it is skipped) */
  onWarn?: (message: string) => void
}

/** Maps stream rows into the store and the run's events, in order (see the file's header). */
export class StreamIngest {
  /** the stream's end, once its `end` row has been handled */
  ended: RunEndEvent | null = null
  lastStep = 0
  private chain: Promise<void> = Promise.resolve()
  private readonly final: Record<string, number> = {}
  private readonly started = Date.now()

  constructor(private readonly o: IngestOptions) {}

  /** queue rows (as followJsonl hands them over); `settled()` waits for them */
  push(rows: Array<{ line: number; value: Record<string, unknown> }>): void {
    this.chain = this.chain.then(async () => {
      for (const r of rows) {
        if (this.ended) return // nothing after the end counts
        const parsed = StreamRowSchema.safeParse(r.value)
        if (!parsed.success) {
          const i = parsed.error.issues[0]
          this.o.onWarn?.(`${join(this.o.dir, 'stream.jsonl')}, line ${r.line}: ${i.path.join('.') || 'row'}: ${i.message}; skipped`)
          continue
        }
        try {
          await this.row(parsed.data)
        } catch (e) {
          this.o.onWarn?.(`${join(this.o.dir, 'stream.jsonl')}, line ${r.line}: ${(e as Error).message}; skipped`)
        }
      }
    })
  }

  settled(): Promise<void> {
    return this.chain
  }

  private versions(add: Record<string, string>): void {
    const run = this.o.store.getRun(this.o.runId)
    if (run) this.o.store.setRunVersions(this.o.runId, { ...run.versions, ...add })
  }

  private async row(r: StreamRow): Promise<void> {
    const { store, runId, emit } = this.o
    if (r.type === 'start') {
      const add: Record<string, string> = { ...(r.versions ?? {}) }
      if (r.world_size !== undefined) add.world_size = String(r.world_size)
      if (r.device) add.device = r.device
      this.versions(add)
      emit({ type: 'progress', runId, phase: 'train', step: this.lastStep, total: this.o.totalSteps, elapsedMs: Date.now() - this.started, etaMs: 0 })
    } else if (r.type === 'metrics') {
      const metrics: Record<string, number> = {}
      for (const [k, v] of Object.entries(r.metrics)) metrics[k] = v === null ? NaN : v
      const rows: MetricPoint[] = Object.entries(metrics).map(([key, value]) => ({ step: r.step, key, value }))
      store.appendMetrics(runId, rows)
      Object.assign(this.final, metrics)
      this.lastStep = Math.max(this.lastStep, r.step)
      emit({ type: 'metrics', runId, step: r.step, metrics })
      const elapsedMs = Date.now() - this.started
      const total = this.o.totalSteps
      emit({ type: 'progress', runId, phase: 'train', step: r.step, total, elapsedMs, etaMs: r.step > 0 ? (elapsedMs / r.step) * Math.max(0, total - r.step) : 0 })
    } else if (r.type === 'weights') {
      const snap: WeightSnapshot = {
        step: r.step,
        version: 2,
        traceIndex: Int32Array.from(r.trace_index),
        logWRaw: f32(r.log_w_raw),
        w: f32(r.w),
        ...(r.w_clamped ? { wClamped: f32(r.w_clamped) } : {}),
        ...(r.mass ? { mass: f32(r.mass) } : {}),
        ...(r.batch ? { batch: { traceIndex: Int32Array.from(r.batch.trace_index), w: f32(r.batch.w) } } : {})
      }
      store.putWeightSnapshot(runId, snap)
    } else if (r.type === 'checkpoint') {
      const run = store.getRun(runId)
      const known = JSON.parse(run?.versions.checkpoints ?? '{}') as Record<string, string>
      known[String(r.step)] = `${r.path} (${r.format})`
      this.versions({ checkpoints: JSON.stringify(known) })
    } else {
      // the end: the final model first, so that a completed run already names it
      const final = { ...this.final }
      for (const [k, v] of Object.entries(r.final ?? {})) final[k] = v === null ? NaN : v
      let error = r.error ?? undefined
      if (r.status === 'completed' && r.final_model) {
        const path = join(this.o.dir, r.final_model)
        const run = store.getRun(runId)
        if (!existsSync(path)) this.versions({ final_model_error: `${path} is not there` })
        else if (this.o.addModel && run) {
          try {
            const name = await this.o.addModel(path, run.name)
            this.versions({ final_model: name, final_model_path: path })
          } catch (e) {
            this.versions({ final_model_path: path, final_model_error: (e as Error).message })
          }
        } else this.versions({ final_model_path: path })
      }
      if (r.status === 'failed' && !error) error = 'the trainer failed without saying why; see trainer.log in the job folder'
      store.setRunStatus(runId, r.status, error ?? null)
      this.ended = { type: 'end', runId, status: r.status, ...(error ? { error } : {}), final }
      emit(this.ended)
    }
  }
}
