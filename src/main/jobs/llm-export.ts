// `iwsft export RUN --format hf|peft` (services runs.export): a language-model run's checkpoint
// with its model loaded (llm-policy.ts), written by export/hf-export.ts.
import { writeLlmExport, type LlmExportFormat } from '../export/hf-export.ts'
import { appVersion } from '../export/checkpoint-export.ts'
import type { LlmPolicy } from '../engine/llm/policy.ts'
import type { ProjectStore } from '../store/types.ts'
import { loadLlmCheckpoint } from './llm-policy.ts'

export async function exportLlmRun(
  store: ProjectStore,
  runId: number,
  opts: { step?: number; format: LlmExportFormat; outDir: string; overwrite?: boolean }
): Promise<{ step: number; files: string[] }> {
  const ck = await loadLlmCheckpoint(store, runId, opts.step)
  try {
    const run = store.getRun(runId)!
    const metadata = {
      generated_by: `IW-SFT Workbench ${appVersion()}`,
      run_id: String(runId),
      run_name: run.name,
      method: run.method,
      seed: String(run.seed),
      step: String(ck.step),
      data_hash: run.dataHash ?? ''
    }
    const files = await writeLlmExport(ck.policy as LlmPolicy, ck.llm, opts.format, opts.outDir, { overwrite: opts.overwrite, metadata })
    return { step: ck.step, files }
  } finally {
    ck.policy.dispose()
    ck.llm.dispose()
  }
}
