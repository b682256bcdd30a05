// Loads the native TensorFlow backend (tfjs-node built against the TensorFlow wheel's C
// library, see install.ts) from the versioned cache, into the project's own tfjs-core
// instance. tfjs-node's `require('@tensorflow/tfjs')` / `require('@tensorflow/tfjs-core')`
// resolve through symlinks in the cache's node_modules to the project's packages; Node
// resolves symlinks to real paths, so both sides get the very same module objects (checked
// after loading: the project's `tf.findBackend('tensorflow')` must see it).
import * as tf from '@tensorflow/tfjs'
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, symlinkSync, unlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { detectGpu } from './gpu.ts'
import { bindingFile, installedVariantDir, projectPackageVersion, projectTensorflowScope, readManifest, TFJS_NODE_VERSION, type Manifest, type NativeVariant } from './paths.ts'

export interface NativeLoaded {
  variant: NativeVariant
  dir: string
  tfVersion: string
  usingGpu: boolean
  manifest: Manifest
}

let loaded: NativeLoaded | null = null
/** The variant whose library was require()d into this process (even if a later check failed): only one per process. */
let required: NativeVariant | null = null
/** Remembered failures: a native library that failed to load is not retried in this process. */
const failures = new Map<NativeVariant, Error>()

export const loadedNative = (): NativeLoaded | null => loaded

export class NativeUnavailable extends Error {
  constructor(
    message: string,
    readonly advice: string
  ) {
    super(message)
  }
}

const installCmd = (variant: NativeVariant): string => `npx iwsft backend install${variant === 'gpu' ? ' --gpu' : ''}`

/** Point the cache's node_modules/@tensorflow/* links at this project's packages (re-pointed if the project moved). */
export function linkProjectPackages(dir: string): void {
  const scope = projectTensorflowScope()
  const target = join(dir, 'node_modules', '@tensorflow')
  mkdirSync(target, { recursive: true })
  for (const name of readdirSync(scope)) {
    if (name.startsWith('tfjs-node')) continue
    const want = realpathSync(join(scope, name))
    const link = join(target, name)
    let ok = false
    try {
      ok = lstatSync(link).isSymbolicLink() && readlinkSync(link) === want
    } catch {
      /* missing */
    }
    if (ok) continue
    const tmp = `${link}.tmp-${process.pid}`
    try {
      unlinkSync(tmp)
    } catch {
      /* none */
    }
    symlinkSync(want, tmp, 'dir')
    renameSync(tmp, link) // atomic replace, safe against a concurrent loader
  }
}

/** Cheap checks without loading anything: is the variant installed and verified? */
export function nativeInstallStatus(variant: NativeVariant): { installed: boolean; dir: string; detail: string; manifest: Manifest | null } {
  const dir = installedVariantDir(variant)
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { installed: false, dir, detail: `the native backend is built for Linux x86_64 only (this is ${process.platform}/${process.arch})`, manifest: null }
  }
  const manifest = readManifest(dir)
  if (!manifest) return { installed: false, dir, detail: `not installed (no verified install in ${dir})`, manifest: null }
  if (!existsSync(bindingFile(dir))) return { installed: false, dir, detail: `install in ${dir} is incomplete (binding missing)`, manifest: null }
  return { installed: true, dir, detail: `TensorFlow ${manifest.tfVersion} (${variant}) in ${dir}`, manifest }
}

/**
 * Load the native backend of `variant` into the project's tfjs. Registers the backend named
 * 'tensorflow' but leaves the active backend as it was. Throws NativeUnavailable with advice.
 */
export function loadNative(variant: NativeVariant): NativeLoaded {
  if (loaded?.variant === variant) return loaded
  if (required && required !== variant) {
    throw new NativeUnavailable(
      `the native ${required.toUpperCase()} TensorFlow library is already loaded in this process; native-${variant} cannot be loaded next to it`,
      `start a new process with --backend native-${variant}`
    )
  }
  const prior = failures.get(variant)
  if (prior) throw prior
  try {
    loaded = doLoad(variant)
    return loaded
  } catch (e) {
    const err =
      e instanceof NativeUnavailable ? e : new NativeUnavailable(`loading the native library failed: ${(e as Error).message.split('\n')[0]}`, `reinstall with \`${installCmd(variant)}\``)
    failures.set(variant, err)
    throw err
  }
}

function doLoad(variant: NativeVariant): NativeLoaded {
  const status = nativeInstallStatus(variant)
  if (!status.installed || !status.manifest) throw new NativeUnavailable(status.detail, `run \`${installCmd(variant)}\``)
  const { dir, manifest } = status
  if (variant === 'gpu') {
    const gpu = detectGpu()
    if (!gpu.present) throw new NativeUnavailable(`the GPU build is installed but ${gpu.detail}`, 'use native-cpu on this machine')
  }
  const coreVersion = projectPackageVersion('@tensorflow/tfjs-core')
  if (coreVersion !== TFJS_NODE_VERSION) {
    throw new NativeUnavailable(
      `the project's @tensorflow/tfjs-core is ${coreVersion}, but the native backend is tfjs-node ${TFJS_NODE_VERSION}`,
      `pin @tensorflow/tfjs ${TFJS_NODE_VERSION}, or reinstall the native backend`
    )
  }
  linkProjectPackages(dir)
  // TensorFlow's C++ start-up chatter (oneDNN, CPU feature notes) unless asked for.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
  const engine = tf.engine() as unknown as { backendName: string | null }
  const previous = engine.backendName
  const req = createRequire(join(dir, 'package.json'))
  let tfn: { engine: () => unknown }
  try {
    tfn = req('@tensorflow/tfjs-node') as { engine: () => unknown }
  } catch (e) {
    const msg = (e as Error).message
    const advice =
      /cannot open shared object|libcu|libcudnn/.test(msg) && variant === 'gpu'
        ? `the CUDA libraries did not load; reinstall with \`${installCmd(variant)}\`, and check the NVIDIA driver (nvidia-smi)`
        : `reinstall with \`${installCmd(variant)}\``
    throw new NativeUnavailable(`tfjs-node from ${dir} failed to load: ${msg.split('\n')[0]}`, advice)
  }
  required = variant
  // tfjs-node makes itself the active backend on load; put back what was active.
  if (previous && previous !== 'tensorflow') void tf.setBackend(previous)
  const backend = tf.findBackend('tensorflow') as unknown as { binding?: { TF_Version?: string; isUsingGpuDevice?: () => boolean } } | null
  if (!backend || tfn.engine() !== tf.engine()) {
    throw new NativeUnavailable(
      "tfjs-node loaded but registered into a different @tensorflow/tfjs-core instance than the project's",
      `check the links in ${join(dir, 'node_modules', '@tensorflow')} and reinstall with \`${installCmd(variant)}\``
    )
  }
  const tfVersion = backend.binding?.TF_Version ?? manifest.tfVersion
  const usingGpu = Boolean(backend.binding?.isUsingGpuDevice?.())
  if (variant === 'gpu' && !usingGpu) {
    throw new NativeUnavailable('the GPU build loaded but TensorFlow found no usable GPU device (driver/CUDA mismatch?)', 'check `nvidia-smi`; use native-cpu meanwhile')
  }
  return { variant, dir, tfVersion, usingGpu, manifest }
}
