// The job folder for the Python trainer (issue 18, JOB_SPEC): its files and their contents — the
// curated traces as data rows (checked against the rows the dataset was imported from), the
// engine trainer's batches, job.json's fields, π_ref's cached log-probs — written atomically,
// an existing folder refused unless overwritten, and clear errors for configs it cannot take.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { batchSchedule, trainerRng } from '../../src/main/engine/train/batch-schedule.ts'
import { decodeSafetensors } from '../../src/main/export/safetensors.ts'
import { writeJobFolder } from '../../src/main/jobs/job-folder.ts'
import { resolveModelReference } from '../../src/main/jobs/model-reference.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'
import { LLAMA, llmConfig, makeLlmProject, services, tokenRows } from '../integration/launch-helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'iwsft-job-folder-'))
let store: ProjectStore
let datasetId = 0
let plainId = 0
const trainerDir = join(dir, 'trainer-src')
const cfg = (over: Record<string, unknown> = {}): RunConfig => resolveConfig(llmConfig(datasetId, over))
const lines = (f: string): Array<Record<string, unknown>> =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))

beforeAll(async () => {
  ;({ datasetId } = await makeLlmProject(dir))
  // the same rows without a tokenizer: token ids of unknown origin
  const s = await services(join(dir, 'p.iwsft'))
  writeFileSync(join(dir, 'plain.jsonl'), [0, 1, 2].map((i) => JSON.stringify({ prompt_tokens: [3, 4], tokens: [5 + i, 6], score: i })).join('\n') + '\n')
  plainId = (
    await s.call('datasets.import', { path: join(dir, 'plain.jsonl'), importId: 'plain', name: 'plain', mapping: { promptTokens: 'prompt_tokens', tokens: 'tokens', score: 'score' } })
  ).dataset.id
  await s.shutdown()
  store = openProject(join(dir, 'p.iwsft'))
  mkdirSync(join(trainerDir, 'iwsft_trainer', '__pycache__'), { recursive: true })
  writeFileSync(join(trainerDir, 'train.py'), 'print("train")\n')
  writeFileSync(join(trainerDir, 'iwsft_trainer', '__init__.py'), '')
  writeFileSync(join(trainerDir, 'iwsft_trainer', '__pycache__', 'x.pyc'), 'x')
  writeFileSync(join(trainerDir, 'requirements.txt'), 'torch==2.15.0 --hash=sha256:00\n')
})
afterAll(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

// scores i % 3 for i = 0..7, curation score > 0.5: traces 1, 2, 4, 5, 7
const CURATED = [1, 2, 4, 5, 7]

describe('writeJobFolder', () => {
  it('writes every file of a local job, with the curated traces and the trainer batches', async () => {
    const out = join(dir, 'jobs', 'local')
    const job = await writeJobFolder(store, cfg(), out, { mode: 'local', trainerDir, numProcesses: 2 })
    expect(job.files).toEqual(
      [
        'accelerate/ddp.yaml',
        'accelerate/deepspeed_zero3.yaml',
        'accelerate/fsdp.yaml',
        'batches.json',
        'config.json',
        'data.jsonl',
        'init_adapter/adapter_config.json',
        'init_adapter/adapter_model.safetensors',
        'job.json',
        'README.md',
        'requirements.txt',
        'slurm.sh',
        'trainer/iwsft_trainer/__init__.py',
        'trainer/requirements.txt',
        'trainer/train.py'
      ].sort()
    )
    expect(job.trainerMissing).toBe(false)
    expect(job.initAdapterSkipped).toBeNull()
    const m = JSON.parse(readFileSync(join(out, 'job.json'), 'utf8'))
    const summary = store.findDataset(String(datasetId))!
    expect(m).toEqual({
      format: 'iwsft-job/1',
      job_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'tiny llama iw-sft',
      created: expect.any(String),
      workbench: expect.any(String),
      seed: 3,
      total_steps: 6,
      dataset: { id: datasetId, name: summary.name, hash: summary.hash, traces: 8, curated: 5 },
      model: { name: 'llama', format: 'hf', path: LLAMA, gguf_file: null },
      finetune: 'lora',
      prepend_bos: false,
      bos: JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8')).bos_token_id
    })
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(cfg())))
    // the data rows: the imported rows that passed curation, prompt tokens then completion tokens
    const src = tokenRows()
    expect(lines(join(out, 'data.jsonl'))).toEqual(
      CURATED.map((i) => ({
        index: i,
        id: src[i].id,
        input_ids: [...src[i].prompt_tokens, ...src[i].tokens],
        mask: [...src[i].prompt_tokens.map(() => 0), ...src[i].tokens.map(() => 1)],
        score: src[i].score,
        multiplicity: 1,
        prompt: src[i].prompt,
        completion: src[i].completion
      }))
    )
    const b = JSON.parse(readFileSync(join(out, 'batches.json'), 'utf8'))
    const mult = Uint8Array.from({ length: 8 }, (_, i) => (CURATED.includes(i) ? 1 : 0))
    expect(b).toEqual({ steps: 6, batch_size: 4, batches: batchSchedule('iw-sft', mult, trainerRng(3, false), 6, 4).map((x) => Array.from(x)) })
    expect(b.batches.flat().every((i: number) => CURATED.includes(i))).toBe(true)
    expect(existsSync(join(out, 'ref_logprobs.jsonl'))).toBe(false) // nothing cached
    expect(existsSync(join(out, 'model'))).toBe(false) // a local job names the project's model
    expect(readFileSync(join(out, 'accelerate/ddp.yaml'), 'utf8')).toMatch(/distributed_type: MULTI_GPU[\s\S]*num_processes: 2/)
    expect(readFileSync(join(out, 'accelerate/deepspeed_zero3.yaml'), 'utf8')).toMatch(/zero_stage: 3/)
    expect(readFileSync(join(out, 'slurm.sh'), 'utf8')).toMatch(
      /#SBATCH --gpus-per-node=2[\s\S]*NPROC="\$\{SLURM_GPUS_ON_NODE:-2\}"\naccelerate launch --config_file "\$ACCELERATE_CONFIG" --num_processes "\$NPROC" trainer\/train.py \./
    )
    expect(readdirSync(dirname(out)).filter((f) => f.endsWith('.partial'))).toEqual([])
  })

  it('an emitted job copies the model and carries the cached π_ref log-probs; D_Q+ rows have their multiplicity', async () => {
    const { refKey } = resolveModelReference(store, 'llama', datasetId)
    const hash = store.findDataset(String(datasetId))!.hash
    const T = store.getDataset(datasetId).offsets[8]
    store.putRefLogProbs(
      refKey,
      hash,
      Float32Array.from({ length: T }, (_, t) => -t / 8)
    )
    const out = join(dir, 'emit')
    const config = cfg({ method: 'iw-sft-q', curation: { mode: 'quality_bins', cutoffs: [0, 50] } })
    await writeJobFolder(store, config, out, { mode: 'emit', trainerDir })
    expect(JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')).model).toEqual({ name: 'llama', format: 'hf', path: 'model', gguf_file: null })
    for (const f of readdirSync(LLAMA)) expect(readFileSync(join(out, 'model', f)).equals(readFileSync(join(LLAMA, f)))).toBe(true)
    // quality bins at the 0th and 50th percentiles of scores 0,1,2,0,1,2,0,1 (median 1): m = 1 + (S ≥ 1)
    const rows = lines(join(out, 'data.jsonl'))
    expect(rows.map((r) => [r.index, r.multiplicity])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, 1 + (i % 3 >= 1 ? 1 : 0)]))
    const ds = store.getDataset(datasetId)
    const ref = lines(join(out, 'ref_logprobs.jsonl'))
    expect(ref.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(ref[3].logprobs).toEqual(Array.from({ length: ds.offsets[4] - ds.offsets[3] }, (_, k) => Math.fround(-(ds.offsets[3] + k) / 8)))
  })

  it('refuses an existing folder unless overwrite, and keeps it whole when a write fails', async () => {
    const out = join(dir, 'jobs', 'again')
    const first = await writeJobFolder(store, cfg(), out, { mode: 'local', trainerDir })
    await expect(writeJobFolder(store, cfg(), out, { mode: 'local', trainerDir })).rejects.toMatchObject({ name: 'ExportExistsError', path: out })
    const second = await writeJobFolder(store, cfg(), out, { mode: 'local', trainerDir, overwrite: true })
    expect(second.manifest.job_id).not.toBe(first.manifest.job_id)
    expect(JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')).job_id).toBe(second.manifest.job_id)
    // a trainer folder with a dangling link: copying it fails half-way
    const broken = join(dir, 'broken-trainer')
    mkdirSync(broken)
    writeFileSync(join(broken, 'train.py'), '')
    symlinkSync(join(dir, 'nowhere'), join(broken, 'gone.py'))
    await expect(writeJobFolder(store, cfg(), out, { mode: 'local', trainerDir: broken, overwrite: true })).rejects.toThrow(/ENOENT/)
    expect(JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')).job_id).toBe(second.manifest.job_id)
    await expect(writeJobFolder(store, cfg(), join(dir, 'jobs', 'new'), { mode: 'local', trainerDir: broken })).rejects.toThrow(/ENOENT/)
    expect(readdirSync(join(dir, 'jobs')).sort()).toEqual(['again', 'local'])
  })

  it("LoRA: init_adapter holds the engine's starting adapters for the run seed (B = 0), the same for the same seed", async () => {
    const adapter = (d: string) => decodeSafetensors(readFileSync(join(d, 'init_adapter', 'adapter_model.safetensors')))
    const a = join(dir, 'seed3-a')
    const b = join(dir, 'seed3-b')
    const c = join(dir, 'seed4')
    await writeJobFolder(store, cfg(), a, { mode: 'local', trainerDir })
    await writeJobFolder(store, cfg(), b, { mode: 'emit', trainerDir })
    await writeJobFolder(store, cfg({ seed: 4 }), c, { mode: 'local', trainerDir })
    const conf = JSON.parse(readFileSync(join(a, 'init_adapter', 'adapter_config.json'), 'utf8'))
    expect(conf).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, base_model_name_or_path: LLAMA })
    expect([...conf.target_modules].sort()).toEqual(['q_proj', 'v_proj'])
    expect(JSON.parse(readFileSync(join(b, 'init_adapter', 'adapter_config.json'), 'utf8')).base_model_name_or_path).toBe('model')
    const ta = adapter(a).tensors
    // 2 layers × (q, v) × (A, B); the tiny Llama: hidden 64, 4 heads × 16 (q), 2 kv heads × 16 (v)
    expect(ta).toHaveLength(8)
    for (const t of ta) {
      const isB = /lora_B/.test(t.name)
      const out = /v_proj/.test(t.name) ? 32 : 64
      expect(t.shape).toEqual(isB ? [out, 4] : [4, 64])
      const vals = Array.from(t.data as Float32Array)
      if (isB) expect(vals.every((v) => v === 0)).toBe(true)
      else expect(vals.some((v) => v !== 0)).toBe(true)
    }
    const same = adapter(b).tensors
    ta.forEach((t, i) => expect(Array.from(same[i].data as Float32Array)).toEqual(Array.from(t.data as Float32Array)))
    const other = adapter(c).tensors
    expect(ta.some((t, i) => /lora_A/.test(t.name) && Array.from(other[i].data as Float32Array).some((v, k) => v !== (t.data as Float32Array)[k]))).toBe(true)
    // full fine-tuning starts from the model itself: no adapter
    const full = await writeJobFolder(store, cfg({ policy: { kind: 'llm', model: 'llama', finetune: 'full' } }), join(dir, 'full'), { mode: 'local', trainerDir })
    expect(full.files.some((f) => f.startsWith('init_adapter/'))).toBe(false)
  })

  it('copies no trainer when python/trainer is not there, and says so', async () => {
    const job = await writeJobFolder(store, cfg(), join(dir, 'no-trainer'), { mode: 'local', trainerDir: join(dir, 'absent') })
    expect(job.trainerMissing).toBe(true)
    expect(job.files.some((f) => f.startsWith('trainer/') || f === 'requirements.txt')).toBe(false)
    expect(readFileSync(join(job.dir, 'README.md'), 'utf8')).toMatch(/no trainer\/: the workbench that wrote this folder has no python\/trainer/)
  })

  it('gives clear errors for configs the Python trainer cannot run', async () => {
    const bandit = resolveConfig({ dataset: 'bandit', method: 'iw-sft' })
    await expect(writeJobFolder(store, bandit, join(dir, 'x1'), { mode: 'local' })).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/policy\.kind "llm"/) })
    await expect(writeJobFolder(store, cfg({ train: { steps: 6, batch_size: 4, step_sample: 2 } }), join(dir, 'x2'), { mode: 'local' })).rejects.toThrow(/train\.step_sample/)
    await expect(writeJobFolder(store, cfg({ dataset: String(plainId) }), join(dir, 'x3'), { mode: 'local' })).rejects.toThrow(/does not record which tokenizer.*--tokenizer-model llama/)
    await expect(writeJobFolder(store, cfg({ dataset: 'nope' }), join(dir, 'x4'), { mode: 'local' })).rejects.toThrow(/dataset "nope" is not in the project/)
    await expect(writeJobFolder(store, cfg({ curation: { mode: 'threshold', threshold: 5 } }), join(dir, 'x5'), { mode: 'local' })).rejects.toThrow(/keeps no trace/)
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) expect(existsSync(join(dir, x)) || existsSync(join(dir, `${x}.partial`))).toBe(false)
  })
})
