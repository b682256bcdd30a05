// The tfjs backend, chosen at run time: native GPU (tfjs-node on TensorFlow's CUDA build),
// native CPU (tfjs-node on TensorFlow's CPU build), WebAssembly, plain JavaScript. Every
// backend registers into the one `@tensorflow/tfjs` instance that the engine imports; the
// native ones are loaded from the versioned cache that `iwsft backend install` fills.
import * as tf from '@tensorflow/tfjs'
import type { BackendChoice } from '../../../shared/config.ts'
import { detectGpu } from './gpu.ts'
import { loadedNative, loadNative, NativeUnavailable, nativeInstallStatus } from './native.ts'
import { projectPackageVersion } from './paths.ts'
import { BACKEND_ORDER, BackendUnavailable, selectBackend, TFJS_NAME, type BackendName } from './select.ts'

export type { BackendName } from './select.ts'
export { BACKEND_ORDER, BackendUnavailable, isBackendName, selectBackend } from './select.ts'
export { readBack, readBackAll, readBackRows } from './readback.ts'
export { detectGpu } from './gpu.ts'
export { nativeInstallStatus } from './native.ts'

let active: BackendName | null = null
let lastSkipped: Array<{ name: BackendName; reason: string }> = []
let wasmLoaded = false

async function registerWasm(): Promise<void> {
  if (wasmLoaded) return
  try {
    await import('@tensorflow/tfjs-backend-wasm')
    wasmLoaded = true
  } catch (e) {
    throw new BackendUnavailable('wasm', `@tensorflow/tfjs-backend-wasm did not load: ${(e as Error).message.split('\n')[0]}`, 'reinstall the dependencies (`npm ci`)')
  }
}

/** Make `name` loadable (register it with tfjs) without switching to it. */
async function prepare(name: BackendName): Promise<void> {
  if (name === 'native-gpu' || name === 'native-cpu') {
    const variant = name === 'native-gpu' ? 'gpu' : 'cpu'
    if (variant === 'gpu') {
      // Don't load CUDA code on a machine with no GPU: say so instead.
      const gpu = detectGpu()
      const status = nativeInstallStatus('gpu')
      if (!gpu.present) {
        throw new BackendUnavailable(
          name,
          `${gpu.detail}${status.installed ? ' (the GPU build is installed)' : ''}`,
          'on a Linux machine with an NVIDIA GPU and driver, run `npx iwsft backend install --gpu`'
        )
      }
    }
    try {
      loadNative(variant)
    } catch (e) {
      if (e instanceof NativeUnavailable) throw new BackendUnavailable(name, e.message, e.advice)
      throw e
    }
  } else if (name === 'wasm') {
    await registerWasm()
  }
}

async function activate(name: BackendName): Promise<void> {
  await prepare(name)
  const tfName = TFJS_NAME[name]
  let ok: boolean
  try {
    ok = await tf.setBackend(tfName)
  } catch (e) {
    throw new BackendUnavailable(name, `tf.setBackend('${tfName}') threw: ${(e as Error).message.split('\n')[0]}`, 'run `npx iwsft doctor`')
  }
  if (!ok || tf.getBackend() !== tfName) {
    throw new BackendUnavailable(name, `tfjs could not initialise its '${tfName}' backend`, name === 'wasm' ? 'reinstall the dependencies (`npm ci`)' : 'run `npx iwsft doctor`')
  }
  await tf.ready()
  if (name === 'cpu') {
    // tfjs's cpu backend tells Node users to install tfjs-node on first use; the workbench's own
    // `iwsft doctor` / `iwsft backend install` say what applies here instead.
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null
    if (cpu) cpu.firstUse = false
  }
}

/**
 * Activate a backend: 'auto' takes the first of native-gpu, native-cpu, wasm, cpu that loads;
 * a named one is used or an Error says why not and what to do. Can be called again to switch.
 */
export async function initBackend(choice: BackendChoice): Promise<BackendName> {
  const sel = await selectBackend(choice, activate)
  active = sel.name
  lastSkipped = sel.skipped
  return sel.name
}

export function activeBackend(): BackendName | null {
  if (active && tf.getBackend() !== TFJS_NAME[active]) return null // someone switched behind our back
  return active
}

/** Why the backends before the active one were passed over by the last `initBackend('auto')`. */
export function skippedBackends(): Array<{ name: BackendName; reason: string }> {
  return [...lastSkipped]
}

async function describe(name: BackendName): Promise<string> {
  switch (name) {
    case 'native-gpu':
    case 'native-cpu': {
      const n = loadedNative()
      return n ? `TensorFlow ${n.tfVersion} C library${n.usingGpu ? ' on GPU' : ''} (tfjs-node ${projectPackageVersion('@tensorflow/tfjs-core')} binding) from ${n.dir}` : 'loaded'
    }
    case 'wasm': {
      const simd = await tf
        .env()
        .getAsync('WASM_HAS_SIMD_SUPPORT')
        .catch(() => undefined)
      const threads = await tf
        .env()
        .getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
        .catch(() => undefined)
      return `WebAssembly (SIMD ${simd ? 'yes' : 'no'}, threads ${threads ? 'yes' : 'no'})`
    }
    case 'cpu':
      return 'plain JavaScript (always available; slowest)'
  }
}

/**
 * Which backends can be activated here, and why not for the others. Loads what it can
 * (a native library stays loaded), runs one small op on each, then returns to the backend
 * that was active before.
 */
export async function probeBackends(): Promise<Array<{ name: BackendName; available: boolean; detail: string }>> {
  const before = activeBackend()
  const out: Array<{ name: BackendName; available: boolean; detail: string }> = []
  for (const name of BACKEND_ORDER) {
    try {
      await activate(name)
      const v = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)).dataSync())
      if (v[0] !== 2 || v[1] !== 3) throw new BackendUnavailable(name, `a test op gave wrong values (${Array.from(v)})`, 'run `npx iwsft doctor`')
      out.push({ name, available: true, detail: await describe(name) })
    } catch (e) {
      const detail = e instanceof BackendUnavailable ? `${e.reason} — ${e.advice}` : (e as Error).message
      out.push({ name, available: false, detail })
    }
  }
  if (before) {
    await tf.setBackend(TFJS_NAME[before])
    active = before
  } else {
    active = null
  }
  return out
}

/** Versions recorded with every run: tfjs, the native TensorFlow (if loaded), Node, the active backend. */
export function backendVersions(): Record<string, string> {
  const v: Record<string, string> = {
    tfjs: (tf.version as Record<string, string>).tfjs ?? tf.version_core,
    'tfjs-core': tf.version_core,
    node: process.versions.node,
    backend: activeBackend() ?? 'none'
  }
  if (wasmLoaded) v['tfjs-backend-wasm'] = projectPackageVersion('@tensorflow/tfjs-backend-wasm') ?? 'unknown'
  const n = loadedNative()
  if (n) {
    v['tfjs-node'] = n.manifest.tfjsNodeVersion
    v.tensorflow = n.tfVersion
    v['native-variant'] = n.variant
  }
  return v
}
