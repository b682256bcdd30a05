// `iwsft backend install [--gpu] [--wheel FILE] [--version V] [--force]`: builds the native
// TensorFlow backend without tfjs-node's dead libtensorflow download (tensorflow/tfjs#8742).
//   1 check the build tools (Node headers, node-gyp, python3 for gyp, make, a C++ compiler)
//   2 obtain the TensorFlow wheel (a local file, or the index by exact version, sha256 checked);
//     for --gpu also the CUDA wheels that `tensorflow[and-cuda]` pins
//   3 put tfjs-node 4.22.0's sources and small JS dependencies into a staging folder of the cache,
//     with links to the project's own @tensorflow packages
//   4 extract the C library (libtensorflow_cc.so.2, which exports the C API) and the C API headers
//   5 build tfjs-node's N-API binding with node-gyp against the local Node headers (no downloads),
//     its sources patched first (binding-patch.ts: what tfjs-node's binding cannot pass)
//   6 verify: load it into the project's tfjs in a child process and run a tiny training step
// The staging folder becomes tf-<version>-<variant>/ only when all six passed. Python and the
// wheel are not needed afterwards. An install built before a binding patch existed gets only its
// binding rebuilt (steps 1, 5, 6 on a copy; the old install stays until the new one verifies).
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { BINDING_PATCH_IDS, hasAllPatches, patchBindingSources } from './binding-patch.ts'
import { linkProjectPackages } from './native.ts'
import {
  bindingFile,
  DEFAULT_TF_VERSION,
  downloadsDir,
  manifestFile,
  NAPI_BUILD_VERSION,
  nativeRoot,
  pointerFile,
  projectTensorflowScope,
  projectTfjsEntry,
  readManifest,
  TFJS_NODE_VERSION,
  tfjsNodeDir,
  variantDir,
  type Manifest,
  type NativeVariant
} from './paths.ts'
import { downloadWheel, extractZip, findWheels, listZip, pipDownload, readZipText, sha256File, type ZipEntry } from './wheel.ts'

/** sha256 of the wheels this code was checked with (downloaded from PyPI on 2026-11-27). */
export const PINNED_WHEELS: Record<string, { filename: string; sha256: string }> = {
  'cpu-2.21.0': { filename: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl', sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c' },
  'gpu-2.21.0': { filename: 'tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl', sha256: '9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124' }
}

/** The C API headers tfjs-node's binding includes (their closure, from `g++ -M`); the whole tree is the fallback. */
const HEADER_PREFIXES = ['tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/', 'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/']

export const INSTALL_STEPS = 6

export interface InstallProgress {
  step: number
  total: number
  label: string
  /** 0..1 within the step, when known */
  fraction?: number
  message?: string
}

export interface InstallOptions {
  gpu?: boolean
  wheel?: string
  version?: string
  force?: boolean
  keepWheel?: boolean
  jobs?: number
  onProgress?: (p: InstallProgress) => void
  log?: (line: string) => void
}

export interface InstallResult {
  dir: string
  skipped: boolean
  /** only the binding was rebuilt (an install from before a binding patch) */
  rebuiltBinding?: boolean
  manifest: Manifest
  seconds: number
}

export class InstallError extends Error {
  constructor(
    readonly step: number,
    readonly label: string,
    readonly reason: string,
    readonly advice: string
  ) {
    super(`step ${step}/${INSTALL_STEPS} (${label}) failed: ${reason}\nwhat to do: ${advice}`)
    this.name = 'InstallError'
  }
}

// ---------------------------------------------------------------------------------------------
// Build tools

export interface ToolCheck {
  name: string
  ok: boolean
  detail: string
  fix?: string
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** A folder with include/node/node_api.h and common.gypi, for node-gyp's --nodedir (no header download). */
export function findNodeDir(): string | null {
  const cands = [process.env.npm_config_nodedir, dirname(dirname(process.execPath)), '/usr', '/usr/local'].filter(Boolean) as string[]
  for (const d of cands) {
    if (existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi'))) return d
  }
  return null
}

/** node-gyp's entry script: the project's, npm's bundled one, or one on PATH. */
export function findNodeGyp(): string | null {
  const cands: string[] = []
  try {
    cands.push(join(dirname(projectTensorflowScope()), 'node-gyp', 'bin', 'node-gyp.js'))
  } catch {
    /* no project */
  }
  const npmExec = process.env.npm_execpath
  if (npmExec) cands.push(join(dirname(dirname(npmExec)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
  cands.push(join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
  const r = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' })
  if (r.status === 0) cands.push(join(r.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
  for (const c of cands) if (existsSync(c)) return c
  const onPath = which('node-gyp')
  return onPath
}

export function checkBuildTools(): ToolCheck[] {
  const out: ToolCheck[] = []
  const plat = process.platform === 'linux' && process.arch === 'x64'
  out.push({ name: 'platform', ok: plat, detail: `${process.platform}/${process.arch}`, fix: plat ? undefined : 'the native backend is built for Linux x86_64 only; use wasm here' })
  const nodedir = findNodeDir()
  out.push({
    name: 'node headers',
    ok: !!nodedir,
    detail: nodedir ? join(nodedir, 'include', 'node') : 'include/node/node_api.h not found next to the node binary, in /usr or /usr/local',
    fix: nodedir
      ? undefined
      : 'install Node.js with its headers (the NodeSource `nodejs` package and the nodejs.org tarballs ship include/node; on Debian/Ubuntu `apt-get install -y libnode-dev`), or set npm_config_nodedir'
  })
  const gyp = findNodeGyp()
  out.push({ name: 'node-gyp', ok: !!gyp, detail: gyp ?? "not found (project, npm's bundled copy, PATH)", fix: gyp ? undefined : '`npm install -g node-gyp`' })
  const py = which(process.env.PYTHON || 'python3')
  out.push({ name: 'python3 (build only, for gyp)', ok: !!py, detail: py ?? 'not found', fix: py ? undefined : '`apt-get install -y python3`' })
  const make = which('make')
  out.push({ name: 'make', ok: !!make, detail: make ?? 'not found', fix: make ? undefined : '`apt-get install -y make`' })
  const cxx = which(process.env.CXX || 'g++') ?? which('c++')
  out.push({ name: 'C++ compiler', ok: !!cxx, detail: cxx ?? 'not found', fix: cxx ? undefined : '`apt-get install -y g++`' })
  const npm = which('npm')
  out.push({ name: 'npm', ok: !!npm, detail: npm ?? 'not found', fix: npm ? undefined : "install npm (it fetches tfjs-node's sources from the npm registry)" })
  return out
}

// ---------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile?: string; timeoutMs?: number }): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const add = (b: Buffer): void => {
      out += b.toString()
      if (out.length > 4_000_000) out = out.slice(-2_000_000)
    }
    p.stdout.on('data', add)
    p.stderr.on('data', add)
    const timer = opts.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs) : null
    p.on('error', rej)
    p.on('close', (code) => {
      if (timer) clearTimeout(timer)
      if (opts.logFile) writeFileSync(opts.logFile, out)
      res({ code: code ?? 1, out })
    })
  })
}

const tail = (s: string, n = 15): string => s.trim().split('\n').slice(-n).join('\n')

function acquireLock(): () => void {
  mkdirSync(nativeRoot(), { recursive: true })
  const lock = join(nativeRoot(), '.install.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx')
      writeFileSync(fd, String(process.pid))
      closeSync(fd)
      return () => {
        try {
          unlinkSync(lock)
        } catch {
          /* gone */
        }
      }
    } catch {
      const pid = Number(readFileSync(lock, 'utf8'))
      let alive: boolean
      try {
        process.kill(pid, 0)
        alive = pid !== process.pid
      } catch {
        alive = false
      }
      if (alive) throw new InstallError(0, 'lock', `another install (pid ${pid}) is running`, `wait for it, or remove ${lock} if it is stale`)
      unlinkSync(lock)
    }
  }
  throw new InstallError(0, 'lock', `could not take ${lock}`, 'retry')
}

// ---------------------------------------------------------------------------------------------
// Verification (step 6), also used to decide that an existing install can be kept

const VERIFY_SCRIPT = `// Written by iwsft backend install: loads this folder's tfjs-node into the project's tfjs
// (path given as argv[2]) and trains a tiny MLP; prints one JSON line.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
const tf = await import(pathToFileURL(process.argv[2]).href)
const req = createRequire(new URL('./package.json', import.meta.url))
const t0 = performance.now()
const tfn = req('@tensorflow/tfjs-node')
const loadMs = performance.now() - t0
const sameInstance = tfn.engine() === tf.engine() && !!tf.findBackend('tensorflow')
await tf.setBackend('tensorflow')
const b = tf.findBackend('tensorflow')
const f = (n, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.5)
const x = tf.tensor2d(f(64 * 4, 0.7), [64, 4])
const y = tf.tidy(() => x.sum(1, true).tanh())
const w1 = tf.variable(tf.tensor2d(f(4 * 16, 1.3), [4, 16])), b1 = tf.variable(tf.zeros([16]))
const w2 = tf.variable(tf.tensor2d(f(16, 2.1), [16, 1])), b2 = tf.variable(tf.zeros([1]))
const opt = tf.train.sgd(0.1)
const losses = []
const s0 = performance.now()
for (let i = 0; i < 30; i++) {
  const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, x.matMul(w1).add(b1).relu().matMul(w2).add(b2)))
  opt.applyGradients(grads)
  losses.push(value.dataSync()[0])
  tf.dispose([value, ...Object.values(grads)])
}
const msPerStep = (performance.now() - s0) / 30
const lossFirst = losses[0], lossLast = losses[losses.length - 1]
const ok = sameInstance && tf.getBackend() === 'tensorflow' && losses.every(Number.isFinite) && lossLast < lossFirst * 0.5
console.log(JSON.stringify({ ok, sameInstance, tfVersion: b.binding.TF_Version, usingGpu: !!b.binding.isUsingGpuDevice(), lossFirst, lossLast, msPerStep, loadMs }))
`

export async function verifyInstall(dir: string, logFile?: string): Promise<Manifest['verify'] & { error?: string }> {
  linkProjectPackages(dir)
  writeFileSync(join(dir, 'verify.mjs'), VERIFY_SCRIPT)
  const r = await run(process.execPath, [join(dir, 'verify.mjs'), projectTfjsEntry()], { cwd: dir, timeoutMs: 180_000, logFile })
  const line = r.out
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'))
  if (r.code !== 0 || !line) {
    const errLine = r.out.split('\n').find((l) => /^\s*(\w*Error\b|error:)/.test(l)) ?? tail(r.out, 8)
    return {
      ok: false,
      lossFirst: NaN,
      lossLast: NaN,
      msPerStep: NaN,
      tfVersion: '',
      usingGpu: false,
      sameInstance: false,
      error: `verification exited with code ${r.code}: ${errLine.trim()}`
    }
  }
  const v = JSON.parse(line) as Manifest['verify'] & { loadMs: number }
  return v.ok ? v : { ...v, error: `verification ran but failed: ${line}` }
}

// ---------------------------------------------------------------------------------------------

export async function installNative(opts: InstallOptions = {}): Promise<InstallResult> {
  const started = performance.now()
  const variant: NativeVariant = opts.gpu ? 'gpu' : 'cpu'
  const version = opts.version ?? DEFAULT_TF_VERSION
  const project = variant === 'gpu' ? 'tensorflow' : 'tensorflow-cpu'
  const progress = opts.onProgress ?? (() => {})
  const log = opts.log ?? (() => {})
  const finalDir = variantDir(variant, version)
  const seconds = (): number => (performance.now() - started) / 1000
  let step = 0
  let label = ''
  const begin = (n: number, l: string, message?: string): void => {
    step = n
    label = l
    progress({ step, total: INSTALL_STEPS, label, message })
  }
  const fail = (reason: string, advice: string): never => {
    throw new InstallError(step, label, reason, advice)
  }

  // Built before a binding patch existed? Then rebuild only the binding (no wheel download).
  const existing = readManifest(finalDir)
  if (!opts.force && existing && existsSync(bindingFile(finalDir)) && !hasAllPatches(existing.bindingPatches)) {
    try {
      return await rebuildBinding(finalDir, existing, opts, started)
    } catch (e) {
      log(`could not rebuild the binding of ${finalDir} with the patches (${(e as Error).message}); installing from the wheel`)
    }
  }
  // Already installed and still working? Then there is nothing to do.
  if (!opts.force && existing && hasAllPatches(existing.bindingPatches) && existsSync(bindingFile(finalDir))) {
    begin(6, 'verifying the existing install')
    const v = await verifyInstall(finalDir, join(finalDir, 'verify.log'))
    if (v.ok) {
      const m = readManifest(finalDir) as Manifest
      writeFileSync(pointerFile(variant), JSON.stringify({ dir: basename(finalDir) }))
      return { dir: finalDir, skipped: true, manifest: m, seconds: seconds() }
    }
    log(`the existing install in ${finalDir} no longer verifies (${v.error}); rebuilding`)
  }

  const unlock = acquireLock()
  const stage = `${finalDir}.partial-${process.pid}`
  for (const old of readdirSync(nativeRoot())) {
    // stages left by failed or killed installs (we hold the lock, so none is in use)
    if (old.startsWith(`${basename(finalDir)}.partial-`)) rmSync(join(nativeRoot(), old), { recursive: true, force: true })
  }
  const downloaded: string[] = []
  const cudaFiles: string[] = []
  try {
    // 1 ------------------------------------------------------------------------------------------
    begin(1, 'checking build tools')
    const tools = checkBuildTools()
    const missing = tools.filter((t) => !t.ok)
    if (missing.length)
      fail(
        missing.map((t) => `${t.name}: ${t.detail}`).join('; '),
        missing
          .map((t) => t.fix)
          .filter(Boolean)
          .join('; ')
      )
    const nodedir = findNodeDir() as string
    const nodeGyp = findNodeGyp() as string
    try {
      mkdirSync(nativeRoot(), { recursive: true })
      const free = statfsSync(nativeRoot())
      const gb = (free.bavail * free.bsize) / 1e9
      const need = variant === 'gpu' ? 8 : 1.6
      if (gb < need) fail(`only ${gb.toFixed(1)} GB free in ${nativeRoot()}, about ${need} GB needed`, 'free disk space, or point IWSFT_CACHE_DIR at a larger disk')
    } catch (e) {
      if (e instanceof InstallError) throw e
    }
    log(`tools: ${tools.map((t) => `${t.name}=${t.detail}`).join(', ')}`)

    // 2 ------------------------------------------------------------------------------------------
    begin(2, opts.wheel ? 'checking the local wheel' : `downloading ${project}==${version}`)
    const pinned = PINNED_WHEELS[`${variant}-${version}`]
    let wheel: string
    let wheelSha: string
    if (opts.wheel) {
      wheel = resolve(opts.wheel)
      if (!existsSync(wheel)) fail(`${wheel} does not exist`, 'give the path of a downloaded .whl file')
      wheelSha = await sha256File(wheel)
      if (pinned && basename(wheel) === pinned.filename && wheelSha !== pinned.sha256) {
        fail(`${basename(wheel)} has sha256 ${wheelSha}, not the recorded ${pinned.sha256}`, 'download it again (or omit --wheel to download it)')
      }
      if (!pinned || wheelSha !== pinned.sha256) log(`note: ${basename(wheel)} (sha256 ${wheelSha}) is not a wheel this code recorded a hash for; using it as given`)
    } else {
      const dl = downloadsDir()
      try {
        const cands = await findWheels(project, version)
        const pick = cands.find((c) => !pinned || c.filename === pinned.filename) ?? cands[0]
        if (!pick) fail(`no Linux x86_64 wheel of ${project}==${version} on the index`, `check the version (\`pip index versions ${project}\`), or pass --wheel FILE`)
        if (!pinned) log(`note: no recorded hash for ${project} ${version}; checking against the index's sha256 only`)
        let lastPct = -1
        wheel = await downloadWheel(pick, dl, pinned && pick.filename === pinned.filename ? pinned.sha256 : null, (f) => {
          const pct = Math.floor(f * 20) * 5
          if (pct !== lastPct) {
            lastPct = pct
            progress({ step, total: INSTALL_STEPS, label, fraction: f })
          }
        })
      } catch (e) {
        if (e instanceof InstallError || /sha256/.test((e as Error).message))
          throw e instanceof InstallError ? e : new InstallError(step, label, (e as Error).message, 'retry; if it repeats, download the wheel yourself and pass --wheel FILE')
        // fetch could not reach the index (proxy?): let pip try, it knows pip.conf and proxies
        log(`direct download failed (${(e as Error).message}); trying pip download`)
        try {
          const files = pipDownload([`${project}==${version}`], dl).filter((f) => basename(f).startsWith(`${project.replace(/-/g, '_')}-${version}-`))
          if (!files.length) throw new Error('pip downloaded nothing', { cause: e })
          wheel = files[0]
        } catch (e2) {
          return fail(
            `could not download ${project}==${version}: ${(e as Error).message}; pip: ${(e2 as Error).message}`,
            'check access to the Python package index (IWSFT_PYPI_INDEX or PIP_INDEX_URL for a mirror), or pass --wheel FILE'
          )
        }
      }
      wheelSha = await sha256File(wheel)
      if (pinned && basename(wheel) === pinned.filename && wheelSha !== pinned.sha256) {
        rmSync(wheel, { force: true })
        fail(`sha256 of ${basename(wheel)} is ${wheelSha}, expected ${pinned.sha256}`, 'retry the install (the corrupt file was removed)')
      }
      downloaded.push(wheel)
    }
    const entries = await listZip(wheel).catch((e: Error) => fail(`${basename(wheel)} is not a readable wheel: ${e.message}`, 'download it again'))
    const cc = entries.find((e) => e.name === 'tensorflow/libtensorflow_cc.so.2')
    const fw = entries.find((e) => e.name === 'tensorflow/libtensorflow_framework.so.2')
    if (!cc || !fw)
      fail(`${basename(wheel)} has no tensorflow/libtensorflow_cc.so.2 / libtensorflow_framework.so.2`, 'use a Linux x86_64 TensorFlow ≥ 2.x wheel (tensorflow-cpu, or tensorflow for --gpu)')
    const cudaWheels: Array<{ file: string; sha256: string }> = []
    if (variant === 'gpu') {
      const meta = entries.find((e) => /\.dist-info\/METADATA$/.test(e.name))
      const specs = meta
        ? (await readZipText(wheel, meta))
            .split('\n')
            .filter((l) => l.startsWith('Requires-Dist:') && /extra\s*==\s*["']and-cuda["']/.test(l))
            .map((l) =>
              l
                .replace('Requires-Dist:', '')
                .split(';')[0]
                .replace(/[()\s]/g, '')
            )
        : []
      if (!specs.length) fail(`${basename(wheel)} lists no CUDA packages (extra "and-cuda")`, 'use the `tensorflow` wheel (not tensorflow-cpu) for --gpu')
      progress({ step, total: INSTALL_STEPS, label: `downloading ${specs.length} CUDA wheels (tensorflow[and-cuda])`, message: specs.join(' ') })
      try {
        const files = pipDownload(specs, join(downloadsDir(), `cuda-tf-${version}`))
        for (const f of files) cudaWheels.push({ file: basename(f), sha256: await sha256File(f) })
        cudaFiles.push(...files)
        downloaded.push(...files)
      } catch (e) {
        fail(`CUDA wheels: ${(e as Error).message}`, 'pip (python3 -m pip) must reach the Python package index for --gpu')
      }
    }

    // 3 ------------------------------------------------------------------------------------------
    begin(3, `fetching @tensorflow/tfjs-node ${TFJS_NODE_VERSION} sources`)
    rmSync(stage, { recursive: true, force: true })
    mkdirSync(stage, { recursive: true })
    const pack = await run('npm', ['pack', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, '--silent', '--pack-destination', stage], { cwd: stage })
    const tgz = pack.out.trim().split('\n').pop() ?? ''
    if (pack.code !== 0 || !existsSync(join(stage, tgz))) fail(`npm pack @tensorflow/tfjs-node@${TFJS_NODE_VERSION}: ${tail(pack.out, 5)}`, 'check access to the npm registry')
    const tnDir = tfjsNodeDir(stage)
    mkdirSync(tnDir, { recursive: true })
    const untar = await run('tar', ['xzf', join(stage, tgz), '-C', tnDir, '--strip-components=1'], { cwd: stage })
    if (untar.code !== 0) fail(`tar: ${tail(untar.out, 3)}`, 'check that `tar` works and the disk is not full')
    rmSync(join(stage, tgz))
    const tnPkg = JSON.parse(readFileSync(join(tnDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    const deps = Object.fromEntries(Object.entries(tnPkg.dependencies).filter(([k]) => !k.startsWith('@tensorflow/')))
    writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'iwsft-native-cache', private: true, type: 'commonjs', dependencies: deps }, null, 2))
    // npm prunes what it did not install, so it runs before tfjs-node and the links go in.
    const tmpMods = join(stage, 'node_modules')
    const tnTmp = join(stage, '.tfjs-node')
    renameSync(tnDir, tnTmp)
    rmSync(tmpMods, { recursive: true, force: true })
    const inst = await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', '--omit=dev'], { cwd: stage })
    if (inst.code !== 0) fail(`npm install of tfjs-node's dependencies: ${tail(inst.out, 5)}`, 'check access to the npm registry')
    mkdirSync(dirname(tnDir), { recursive: true })
    renameSync(tnTmp, tnDir)
    linkProjectPackages(stage)

    // 4 ------------------------------------------------------------------------------------------
    begin(4, 'extracting the TensorFlow C library and headers')
    const depsDir = join(tnDir, 'deps')
    const libDir = join(depsDir, 'lib')
    mkdirSync(libDir, { recursive: true })
    const extractHeaders = (all: boolean): Promise<number> =>
      extractZip(wheel, entries, (e) =>
        e.name.startsWith('tensorflow/include/') && (all || HEADER_PREFIXES.some((p) => e.name.startsWith(p))) ? join(depsDir, 'include', e.name.slice('tensorflow/include/'.length)) : null
      )
    const nHeaders = await extractHeaders(false)
    let done = 0
    await extractZip(
      wheel,
      entries,
      (e) => (e === cc || e === fw ? join(libDir, basename(e.name)) : null),
      () => progress({ step, total: INSTALL_STEPS, label, fraction: ++done / 2 })
    )
    // the names tfjs-node's binding.gyp links against (-ltensorflow -ltensorflow_framework) and
    // the 2.9.1 names its scripts expect; the binding records the SONAMEs (libtensorflow_cc.so.2, …)
    for (const [name, to] of [
      ['libtensorflow.so', 'libtensorflow_cc.so.2'],
      ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
      ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
      ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
      ['libtensorflow_framework.so.2.9.1', 'libtensorflow_framework.so.2']
    ]) {
      symlinkSync(to, join(libDir, name))
    }
    if (variant === 'gpu') {
      // libtensorflow_framework's RUNPATH has $ORIGIN/../nvidia/<pkg>/lib: the CUDA wheels' nvidia/ tree goes beside lib/
      for (const f of cudaFiles) {
        const es = await listZip(f)
        // libraries, plus nvcc's ptxas/libdevice that XLA may look for; headers are not needed
        await extractZip(f, es, (e: ZipEntry) => (e.name.startsWith('nvidia/') && !e.name.includes('/include/') && !e.name.endsWith('__init__.py') ? join(depsDir, e.name) : null))
      }
    }
    log(`extracted ${nHeaders} header files and the C library into ${depsDir}`)

    // 5 ------------------------------------------------------------------------------------------
    begin(5, 'building the N-API binding (node-gyp)')
    const bindingPatches = patchBindingSources(tnDir)
    let b = await buildBinding(tnDir, stage, nodedir, nodeGyp, opts.jobs)
    if (b.code !== 0 && /fatal error: .*No such file or directory/.test(b.out)) {
      log('a header was missing from the minimal set; extracting the whole include tree and retrying')
      await extractHeaders(true)
      b = await buildBinding(tnDir, stage, nodedir, nodeGyp, opts.jobs)
    }
    if (b.code !== 0)
      fail(
        `node-gyp exited with ${b.code}:\n${tail(b.out)}`,
        `read ${join(stage, 'build.log')}; a compiler error usually means the wheel's C API changed — try --version ${DEFAULT_TF_VERSION}`
      )

    // 6 ------------------------------------------------------------------------------------------
    begin(6, 'verifying with a tiny training step')
    const v = await verifyInstall(stage, join(stage, 'verify.log'))
    if (!v.ok) fail(v.error ?? 'verification failed', `read ${join(stage, 'verify.log')}; run with --force to rebuild from scratch`)
    if (variant === 'gpu' && !v.usingGpu) log('note: verified on the CPU only — TensorFlow found no usable GPU on this machine')
    const manifest: Manifest = {
      variant,
      tfVersion: version,
      tfjsNodeVersion: TFJS_NODE_VERSION,
      wheel: { file: basename(wheel), sha256: wheelSha },
      ...(cudaWheels.length ? { cudaWheels } : {}),
      ...buildRecord(v, bindingPatches)
    }
    writeFileSync(manifestFile(stage), JSON.stringify(manifest, null, 2))
    swapIn(stage, finalDir, variant)
    if (!opts.keepWheel) for (const f of downloaded) rmSync(f, { force: true })
    return { dir: finalDir, skipped: false, manifest, seconds: seconds() }
  } catch (e) {
    if (e instanceof InstallError) throw e
    throw new InstallError(step, label, (e as Error).message, 'see the message above; rerun with IWSFT_DEBUG=1 for details, or --force to start over')
  } finally {
    if (existsSync(stage)) {
      // keep a failed stage's logs for reading, drop its big files
      rmSync(join(stage, 'node_modules', '@tensorflow', 'tfjs-node', 'deps'), { recursive: true, force: true })
    }
    unlock()
  }
}

/** The manifest's record of a build: where, when, with what, and its verification. */
function buildRecord(v: Manifest['verify'], bindingPatches: string[]): Pick<Manifest, 'projectTensorflowDir' | 'builtAt' | 'node' | 'bindingPatches' | 'verify'> {
  return {
    projectTensorflowDir: projectTensorflowScope(),
    builtAt: new Date().toISOString(),
    node: process.versions.node,
    bindingPatches,
    verify: { ok: v.ok, lossFirst: v.lossFirst, lossLast: v.lossLast, msPerStep: v.msPerStep, tfVersion: v.tfVersion, usingGpu: v.usingGpu, sameInstance: v.sameInstance }
  }
}

/** A verified staging folder becomes the install (and the variant's pointer names it). */
function swapIn(stage: string, finalDir: string, variant: NativeVariant): void {
  rmSync(finalDir, { recursive: true, force: true })
  renameSync(stage, finalDir)
  linkProjectPackages(finalDir)
  writeFileSync(pointerFile(variant), JSON.stringify({ dir: basename(finalDir) }))
}

/** node-gyp configure + build of tfjs-node's binding in `tnDir` (logs into `logDir`); the
 *  binding ends up at lib/napi-v8/tfjs_binding.node of the install folder above tnDir. */
async function buildBinding(tnDir: string, logDir: string, nodedir: string, nodeGyp: string, jobs = 2): Promise<{ code: number; out: string }> {
  const gypArgs = [`--nodedir=${nodedir}`]
  const gypDefs = ['--', `-Dmodule_name=tfjs_binding`, `-Dmodule_path=lib/napi-v${NAPI_BUILD_VERSION}`, `-Dnapi_build_version=${NAPI_BUILD_VERSION}`]
  const env = { ...process.env, npm_config_nodedir: nodedir, JOBS: String(jobs) }
  const conf = await run(process.execPath, [nodeGyp, 'configure', ...gypArgs, ...gypDefs], { cwd: tnDir, env, logFile: join(logDir, 'configure.log') })
  if (conf.code !== 0) return conf
  const b = await run(process.execPath, [nodeGyp, 'build', ...gypArgs, '-j', String(jobs)], { cwd: tnDir, env, logFile: join(logDir, 'build.log') })
  if (b.code !== 0) return b
  const dir = dirname(dirname(dirname(tnDir))) // tnDir = <install>/node_modules/@tensorflow/tfjs-node
  if (!existsSync(bindingFile(dir))) {
    // older node-gyp ignores the copy target: do it ourselves
    mkdirSync(dirname(bindingFile(dir)), { recursive: true })
    cpSync(join(tnDir, 'build', 'Release', 'tfjs_binding.node'), bindingFile(dir))
  }
  rmSync(join(tnDir, 'build', 'Release', 'obj.target'), { recursive: true, force: true })
  return b
}

/**
 * An install from before a binding patch: copy it (all but the C library, which is linked), patch
 * and rebuild the binding in the copy, verify, then move the library over and swap the folders.
 * The old install keeps working until the swap; a failure leaves it as it was.
 */
async function rebuildBinding(finalDir: string, m: Manifest, opts: InstallOptions, started: number): Promise<InstallResult> {
  const progress = opts.onProgress ?? (() => {})
  const missing = checkBuildTools().filter((t) => !t.ok)
  if (missing.length) throw new Error(missing.map((t) => `${t.name}: ${t.detail}`).join('; '))
  progress({ step: 5, total: INSTALL_STEPS, label: `rebuilding the N-API binding with its patches (${BINDING_PATCH_IDS.join(', ')})` })
  const unlock = acquireLock()
  const stage = `${finalDir}.partial-${process.pid}`
  const libOf = (dir: string): string => join(tfjsNodeDir(dir), 'deps', 'lib')
  try {
    rmSync(stage, { recursive: true, force: true })
    cpSync(finalDir, stage, { recursive: true, verbatimSymlinks: true, filter: (src) => src !== libOf(finalDir) && !src.startsWith(join(tfjsNodeDir(finalDir), 'build')) })
    symlinkSync(libOf(finalDir), libOf(stage))
    const tn = tfjsNodeDir(stage)
    const bindingPatches = patchBindingSources(tn)
    rmSync(bindingFile(stage), { force: true })
    const b = await buildBinding(tn, stage, findNodeDir() as string, findNodeGyp() as string, opts.jobs)
    if (b.code !== 0) throw new Error(`node-gyp exited with ${b.code}: ${tail(b.out, 5)} (log: ${join(stage, 'build.log')})`)
    progress({ step: 6, total: INSTALL_STEPS, label: 'verifying with a tiny training step' })
    const v = await verifyInstall(stage, join(stage, 'verify.log'))
    if (!v.ok) throw new Error(v.error ?? 'verification failed')
    const manifest: Manifest = { ...m, ...buildRecord(v, bindingPatches) }
    writeFileSync(manifestFile(stage), JSON.stringify(manifest, null, 2))
    unlinkSync(libOf(stage))
    renameSync(libOf(finalDir), libOf(stage))
    swapIn(stage, finalDir, m.variant)
    return { dir: finalDir, skipped: false, rebuiltBinding: true, manifest, seconds: (performance.now() - started) / 1000 }
  } finally {
    rmSync(stage, { recursive: true, force: true })
    unlock()
  }
}
