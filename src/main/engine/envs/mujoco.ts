// Loading MuJoCo (the official WebAssembly build, `mujoco-js`) and the project's MJCF models.
//
// One WebAssembly instance serves the whole process (loading it takes ~0.1 s). A model file
// is read from resources/mjcf/ on the host file system, written into the module's in-memory
// file system and compiled once; every environment copy of that task shares the compiled
// MjModel and owns its own MjData.
//
// MuJoCo reports a rejected model as a C++ exception whose message is lost in this build
// (environment.md), so a load failure is turned into an MjcfLoadError naming the file.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import loadMujoco from 'mujoco-js'
import type { MainModule, MjModel } from 'mujoco-js'

export type { MainModule, MjData, MjModel } from 'mujoco-js'

export class MjcfLoadError extends Error {
  constructor(
    readonly file: string,
    detail: string
  ) {
    super(`MuJoCo could not load the model file ${file}: ${detail}`)
    this.name = 'MjcfLoadError'
  }
}

let modulePromise: Promise<MainModule> | null = null

/** The process-wide MuJoCo module (loaded on first use). */
export function getMujoco(): Promise<MainModule> {
  if (!modulePromise) {
    modulePromise = loadMujoco().then((m) => {
      const fs = (m as unknown as { FS: { mkdir(p: string): void } }).FS
      try {
        fs.mkdir('/mjcf')
      } catch {
        /* already there */
      }
      return m
    })
  }
  return modulePromise
}

/** The folder holding the shipped MJCF models: $IWSFT_MJCF_DIR, or resources/mjcf found by
 *  walking up from this module (works from src/ under tsx/vitest and from a bundled out/),
 *  or ./resources/mjcf under the working directory. */
export function mjcfDir(): string {
  const fromEnv = process.env.IWSFT_MJCF_DIR
  if (fromEnv) return resolve(fromEnv)
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'resources', 'mjcf')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return resolve(process.cwd(), 'resources', 'mjcf')
}

const modelCache = new Map<string, MjModel>()

/** Compile an MJCF model from its XML text; `file` names it in errors. Not cached. */
export async function compileMjcf(xml: string, file: string): Promise<MjModel> {
  const mj = await getMujoco()
  const fs = (mj as unknown as { FS: { writeFile(p: string, s: string): void; unlink(p: string): void } }).FS
  const vpath = `/mjcf/${file.replace(/[^A-Za-z0-9_.-]/g, '_')}`
  fs.writeFile(vpath, xml)
  let model: MjModel
  try {
    model = mj.MjModel.loadFromXML(vpath)
  } catch (e) {
    const name = (e as { name?: string })?.name
    throw new MjcfLoadError(file, `the MJCF was rejected (${name ?? String(e)}); MuJoCo's own message is not available in the WebAssembly build, check the XML against the MJCF schema`)
  } finally {
    try {
      fs.unlink(vpath)
    } catch {
      /* ignore */
    }
  }
  if (!model) throw new MjcfLoadError(file, 'loadFromXML returned nothing')
  return model
}

/** Load (once per process) a shipped model by file name, e.g. "hopper.xml". */
export async function loadShippedModel(file: string): Promise<MjModel> {
  const hit = modelCache.get(file)
  if (hit) return hit
  const path = join(mjcfDir(), file)
  let xml: string
  try {
    xml = readFileSync(path, 'utf8')
  } catch (e) {
    throw new MjcfLoadError(path, `cannot read the file (${(e as Error).message})`)
  }
  const model = await compileMjcf(xml, path)
  modelCache.set(file, model)
  return model
}
