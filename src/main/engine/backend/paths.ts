// Where the native TensorFlow backend lives on disk: a versioned cache outside node_modules
// (and outside any packaged app archive), one folder per TensorFlow version and variant:
//   ${IWSFT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/iwsft}/native/tf-2.21.0-cpu/
//     manifest.json                       written last, only after the verification step passed
//     verify.mjs                          the verification script (load + a tiny training step)
//     node_modules/@tensorflow/tfjs-node/ tfjs-node 4.22.0 sources, deps/{include,lib}, lib/napi-v8/tfjs_binding.node
//     node_modules/@tensorflow/tfjs*      symlinks to the project's own @tensorflow packages, so that
//                                         tfjs-node registers into the project's tfjs-core instance
//     node_modules/…                      tfjs-node's small JS dependencies (node-pre-gyp, protobuf …)
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

export type NativeVariant = 'cpu' | 'gpu'

export const DEFAULT_TF_VERSION = '2.21.0'
export const TFJS_NODE_VERSION = '4.22.0'
/** tfjs-node's binding.gyp asks node-pre-gyp for the highest of its napi_versions that Node has. */
export const NAPI_BUILD_VERSION = 8

export function cacheRoot(): string {
  const env = process.env.IWSFT_CACHE_DIR
  if (env && env.trim()) return env
  const xdg = process.env.XDG_CACHE_HOME
  return join(xdg && xdg.trim() ? xdg : join(homedir(), '.cache'), 'iwsft')
}

export const nativeRoot = (): string => join(cacheRoot(), 'native')
export const downloadsDir = (): string => join(cacheRoot(), 'downloads')

export function variantDir(variant: NativeVariant, tfVersion = DEFAULT_TF_VERSION): string {
  return join(nativeRoot(), `tf-${tfVersion}-${variant}`)
}

/** The folder of the pointer file naming the installed version of a variant. */
const pointerFile = (variant: NativeVariant): string => join(nativeRoot(), `${variant}.json`)

/** The installed folder for a variant: the one the last successful install pointed at, else the default version's. */
export function installedVariantDir(variant: NativeVariant): string {
  try {
    const p = JSON.parse(readFileSync(pointerFile(variant), 'utf8')) as { dir?: string }
    if (p.dir && existsSync(join(nativeRoot(), p.dir))) return join(nativeRoot(), p.dir)
  } catch {
    /* no pointer yet */
  }
  return variantDir(variant)
}

export { pointerFile }

export const tfjsNodeDir = (dir: string): string => join(dir, 'node_modules', '@tensorflow', 'tfjs-node')
export const bindingFile = (dir: string): string => join(tfjsNodeDir(dir), 'lib', `napi-v${NAPI_BUILD_VERSION}`, 'tfjs_binding.node')
export const manifestFile = (dir: string): string => join(dir, 'manifest.json')

export interface Manifest {
  variant: NativeVariant
  tfVersion: string
  tfjsNodeVersion: string
  wheel: { file: string; sha256: string }
  cudaWheels?: Array<{ file: string; sha256: string }>
  /** the project @tensorflow folder the links pointed at when verified */
  projectTensorflowDir: string
  builtAt: string
  node: string
  /** the binding-patch.ts patches the binding was built with (absent: built before them) */
  bindingPatches?: string[]
  verify: { ok: boolean; lossFirst: number; lossLast: number; msPerStep: number; tfVersion: string; usingGpu: boolean; sameInstance: boolean }
}

export function readManifest(dir: string): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(manifestFile(dir), 'utf8')) as Manifest
    return m && m.verify?.ok ? m : null
  } catch {
    return null
  }
}

const here = createRequire(import.meta.url)

/** The project's `node_modules/@tensorflow` folder (the one `import '@tensorflow/tfjs'` resolves to). */
export function projectTensorflowScope(): string {
  return dirname(dirname(here.resolve('@tensorflow/tfjs-core/package.json')))
}

/** The file the project's `@tensorflow/tfjs` resolves to (CommonJS main, shared by import and require). */
export function projectTfjsEntry(): string {
  return here.resolve('@tensorflow/tfjs')
}

export function projectPackageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(here.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}
