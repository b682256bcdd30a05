// The UI benchmark (run by tests/e2e/bench-ui.ts in Chromium): the app's own functions and
// plotly on synthetic data of the sizes the issue names. Results land in window.__bench.
import Plotly from 'plotly.js-dist-min'
import { useEffect, useState } from 'react'
import { curate, sortedCopy } from '../../shared/curation.ts'
import { baseLayout } from './components/Plot.tsx'
import { rawTraces, smoothedTraces, type CurveInput } from './views/Compare.tsx'
import { weightHistogramTraces } from './views/Inspector.tsx'

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}
function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r())
}
const nextFrame = (): Promise<void> => new Promise((res) => requestAnimationFrame(() => res()))
function median(x: number[]): number {
  const s = [...x].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const r = rng(1)
  const N = 100_000

  // 1. curation recount of 100k traces (the sorted copy is made once per dataset, as in the app)
  const scores = Float64Array.from({ length: N }, () => normal(r))
  const t0 = performance.now()
  const sorted = sortedCopy(scores)
  out.curation_sort_once_ms = performance.now() - t0
  const times: number[] = []
  for (let k = 0; k < 30; k++) {
    const a = performance.now()
    const res = curate(scores, { mode: 'quality_bins', cutoffs: [80 + (k % 10), 95, 98] }, sorted)
    times.push(performance.now() - a)
    if (res.kept <= 0) throw new Error('bad curation')
  }
  const thr: number[] = []
  for (let k = 0; k < 30; k++) {
    const a = performance.now()
    curate(scores, { mode: 'threshold', threshold: k / 30 }, sorted)
    thr.push(performance.now() - a)
  }
  out.curation_recount_100k_bins_ms = median(times)
  out.curation_recount_100k_threshold_ms = median(thr)

  // 2. inspector histogram redraw for 100k weights
  const host = document.getElementById('bench-plot')!
  const hist: number[] = []
  for (let k = 0; k < 10; k++) {
    const raw = Float64Array.from({ length: N }, () => 2 * normal(r) + k * 0.1)
    const w = Float32Array.from(raw, (v) => Math.min(16, Math.exp(v)))
    const a = performance.now()
    const data = weightHistogramTraces([{ logWRaw: raw, w }], 60)
    await Plotly.react(host, data, baseLayout('light', { height: 260, width: 700, barmode: 'overlay' }), { displaylogo: false })
    await nextFrame()
    hist.push(performance.now() - a)
  }
  out.inspector_histogram_100k_ms = median(hist)

  // 3. compare view: 20 runs × 5000 points, answering a smoothing change
  const curves: CurveInput[] = Array.from({ length: 20 }, (_, i) => {
    const steps = Array.from({ length: 5000 }, (_, j) => j + 1)
    let v = 2
    const values = steps.map(() => (v = v * 0.999 + 0.05 * normal(r)))
    return { name: `run ${i}`, series: { steps, values }, color: '#3b82c4' }
  })
  const host2 = document.getElementById('bench-compare')!
  const raw = rawTraces(curves)
  await Plotly.react(host2, [...raw, ...smoothedTraces(curves, 0.6)], baseLayout('light', { height: 340, width: 1000 }), { displaylogo: false })
  await nextFrame()
  const sm: number[] = []
  const comp: number[] = []
  for (let k = 0; k < 15; k++) {
    const a = performance.now()
    const data = [...raw, ...smoothedTraces(curves, 0.5 + k * 0.03)]
    comp.push(performance.now() - a)
    await Plotly.react(host2, data, baseLayout('light', { height: 340, width: 1000 }), { displaylogo: false })
    await nextFrame()
    sm.push(performance.now() - a)
  }
  out.compare_smoothing_20x5000_ms = median(sm)
  out.compare_smoothing_compute_only_ms = median(comp)
  out.compare_traces = raw.length + curves.length
  out.targets_ms = { curation_recount_100k: 50, inspector_histogram_100k: 150, compare_smoothing_20x5000: 100 }
  out.pass = (out.curation_recount_100k_bins_ms as number) < 50 && (out.inspector_histogram_100k_ms as number) < 150 && (out.compare_smoothing_20x5000_ms as number) < 100
  return out
}

export function Bench(): React.JSX.Element {
  const [result, setResult] = useState<string>('running…')
  useEffect(() => {
    run()
      .then((r) => {
        ;(window as unknown as { __bench: unknown }).__bench = r
        setResult(JSON.stringify(r, null, 2))
      })
      .catch((e: Error) => {
        ;(window as unknown as { __bench: unknown }).__bench = { error: e.message }
        setResult(e.message)
      })
  }, [])
  return (
    <div style={{ padding: 16 }}>
      <h1>UI benchmark</h1>
      <pre data-testid="bench-result">{result}</pre>
      <div id="bench-plot" style={{ width: 700, height: 260 }} />
      <div id="bench-compare" style={{ width: 1000, height: 340 }} />
    </div>
  )
}
