// Is there an NVIDIA GPU with a working driver? Checked honestly and cheaply: the kernel
// driver's /proc entries, then `nvidia-smi -L`. Nothing here loads CUDA.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'

export interface GpuInfo {
  present: boolean
  /** one line per GPU, e.g. "GPU 0: NVIDIA A100 (UUID: …)" */
  gpus: string[]
  driver: string | null
  /** how it was decided, for `iwsft doctor` */
  detail: string
}

let cached: GpuInfo | null = null

export function detectGpu(refresh = false): GpuInfo {
  if (cached && !refresh) return cached
  const gpus: string[] = []
  let driver: string | null = null
  const notes: string[] = []
  if (process.platform !== 'linux') {
    cached = { present: false, gpus, driver, detail: `native GPU backend is Linux-only (this is ${process.platform})` }
    return cached
  }
  try {
    if (existsSync('/proc/driver/nvidia/version')) {
      driver = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0].trim()
    }
    if (existsSync('/proc/driver/nvidia/gpus')) {
      for (const id of readdirSync('/proc/driver/nvidia/gpus')) {
        let model = ''
        try {
          const info = readFileSync(`/proc/driver/nvidia/gpus/${id}/information`, 'utf8')
          model = /Model:\s*(.*)/.exec(info)?.[1]?.trim() ?? ''
        } catch {
          /* unreadable */
        }
        gpus.push(`${id}${model ? `: ${model}` : ''}`)
      }
    }
  } catch {
    /* no /proc access */
  }
  notes.push(driver ? `driver: ${driver}` : 'no NVIDIA kernel driver (/proc/driver/nvidia absent)')
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 })
  if (smi.error) notes.push('nvidia-smi not found')
  else if (smi.status !== 0) notes.push(`nvidia-smi failed: ${(smi.stderr || smi.stdout || '').trim().split('\n')[0]}`)
  else {
    const lines = smi.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('GPU '))
    if (lines.length) {
      gpus.length = 0
      gpus.push(...lines)
    }
    notes.push(`nvidia-smi lists ${lines.length} GPU(s)`)
  }
  const present = gpus.length > 0
  cached = { present, gpus, driver, detail: present ? `${gpus.length} NVIDIA GPU(s): ${gpus.join('; ')}` : `no NVIDIA GPU found (${notes.join('; ')})` }
  return cached
}
