// Replay one episode of a control run's policy (its last checkpoint, played deterministically
// in a worker on the back end): actions, rewards and a few observation dimensions over time,
// and a 2D drawing of the model's geoms (side view, x–z plane) with a time slider.
import { useEffect, useMemo, useState } from 'react'
import type { EpisodeReplayData, RunInfo } from '../../../shared/contract.ts'
import { fmt } from '../lib/format.ts'
import { useApp } from '../state.tsx'
import { plotColors, useTheme } from '../theme.ts'
import { Plot } from './Plot.tsx'

export function ReplayPanel({ run }: { run: RunInfo }): React.JSX.Element {
  const s = useApp()
  const [data, setData] = useState<EpisodeReplayData | null>(null)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<string | null>(null)
  const [seed, setSeed] = useState(0)
  const [t, setT] = useState(0)
  const [playing, setPlaying] = useState(false)
  useEffect(() => {
    setData(null)
    setErr(null)
  }, [run.id])
  useEffect(() => {
    if (!playing || !data) return
    const id = setInterval(() => setT((x) => (x >= data.length ? (setPlaying(false), x) : x + 1)), Math.max(16, data.dt * 1000))
    return () => clearInterval(id)
  }, [playing, data])
  const replay = async (): Promise<void> => {
    setBusy(true)
    setErr(null)
    try {
      const r = await s.api.invoke('runs.replay', { runId: run.id, seed })
      setData(r)
      setT(0)
    } catch (e) {
      setErr((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="panel" data-testid={`replay-${run.id}`}>
      <div className="row gap wrap">
        <h3>Episode replay</h3>
        <label className="inline small">
          seed <input className="narrow" type="number" min={0} value={seed} onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value) || 0)))} aria-label="episode seed" />
        </label>
        <button onClick={() => void replay()} disabled={busy || run.status === 'queued'} data-testid="replay-button">
          {busy ? 'Playing…' : 'Replay episode'}
        </button>
        {data && (
          <span className="muted small" data-testid="replay-summary">
            {data.task} · policy from the checkpoint at step {data.step} · {data.length} steps · return {fmt(data.ret)} · {data.terminated ? 'terminated' : 'time limit'}
          </span>
        )}
      </div>
      {err && (
        <p className="error-text small" data-testid="replay-error">
          {err}
        </p>
      )}
      {data && <ReplayView data={data} t={t} setT={setT} playing={playing} setPlaying={setPlaying} />}
    </div>
  )
}

function ReplayView({
  data,
  t,
  setT,
  playing,
  setPlaying
}: {
  data: EpisodeReplayData
  t: number
  setT(t: number): void
  playing: boolean
  setPlaying(p: boolean): void
}): React.JSX.Element {
  const theme = useTheme()
  const colors = plotColors(theme).series
  const steps = useMemo(() => data.rewards.map((_, i) => i), [data])
  const marker = useMemo(
    () => ({
      shapes: [
        {
          type: 'line',
          xref: 'x',
          yref: 'paper',
          x0: Math.min(t, data.length - 1),
          x1: Math.min(t, data.length - 1),
          y0: 0,
          y1: 1,
          line: { color: plotColors(theme).muted, width: 1, dash: 'dot' }
        }
      ]
    }),
    [t, data.length, theme]
  )
  const actionData = useMemo(
    () =>
      Array.from({ length: Math.min(data.actDim, 6) }, (_, k) => ({
        type: 'scatter',
        mode: 'lines',
        x: steps,
        y: data.actions.map((a) => a[k]),
        name: `a[${k}]`,
        line: { color: colors[k % colors.length], width: 1.5 }
      })),
    [data, steps, colors]
  )
  const rewardData = useMemo(() => [{ type: 'scatter', mode: 'lines', x: steps, y: data.rewards, name: 'reward', line: { color: colors[1], width: 1.5 } }], [data, steps, colors])
  const obsData = useMemo(
    () =>
      Array.from({ length: Math.min(data.obsDim, 4) }, (_, k) => ({
        type: 'scatter',
        mode: 'lines',
        x: steps,
        y: data.obs.map((o) => o[k]),
        name: `s[${k}]`,
        line: { color: colors[(k + 2) % colors.length], width: 1.5 }
      })),
    [data, steps, colors]
  )
  const layout = (): Record<string, unknown> => ({
    ...marker,
    margin: { l: 44, r: 8, t: 6, b: 26 },
    legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1, yanchor: 'top', bgcolor: 'rgba(0,0,0,0)', font: { size: 10 } }
  })
  return (
    <div className="replay">
      <div className="replay-grid">
        <GeomView data={data} t={t} />
        <div className="replay-plots" data-testid="replay-plots">
          <div className="small muted">actions</div>
          <Plot data={actionData} height={130} layout={layout()} testId="replay-actions" ariaLabel="actions over time" />
          <div className="small muted">reward</div>
          <Plot data={rewardData} height={110} layout={{ ...layout(), showlegend: false }} testId="replay-rewards" ariaLabel="reward over time" />
          <div className="small muted">
            observation (first {Math.min(data.obsDim, 4)} of {data.obsDim} dimensions)
          </div>
          <Plot data={obsData} height={130} layout={layout()} testId="replay-obs" ariaLabel="observations over time" />
        </div>
      </div>
      <div className="row gap">
        <button className="ghost" onClick={() => (t >= data.length ? (setT(0), setPlaying(true)) : setPlaying(!playing))} aria-label={playing ? 'pause' : 'play'} data-testid="replay-play">
          {playing ? '❚❚' : '▶'}
        </button>
        <input type="range" className="grow" min={0} max={data.length} step={1} value={t} onChange={(e) => setT(Number(e.target.value))} aria-label="time step" data-testid="replay-slider" />
        <span className="mono small replay-time">
          t = {t} · {(t * data.dt).toFixed(2)} s
        </span>
      </div>
    </div>
  )
}

/** A side view (x horizontal, z up) of the geoms at step t: capsules and cylinders as thick
 *  segments along their local z axis, spheres as circles, boxes as rotated rectangles, planes
 *  as the ground line. The view follows the model horizontally. */
function GeomView({ data, t }: { data: EpisodeReplayData; t: number }): React.JSX.Element {
  const theme = useTheme()
  const c = plotColors(theme)
  const W = 360
  const H = 300
  const body = data.geoms.map((g, i) => ({ g, i })).filter(({ g }) => g.type !== 0)
  const { zlo, zhi, span } = useMemo(() => {
    let zlo = Infinity
    let zhi = -Infinity
    let span = 0
    for (const p of data.poses) {
      let xlo = Infinity
      let xhi = -Infinity
      for (const { g, i } of body) {
        const r = Math.max(g.size[0] ?? 0, g.size[1] ?? 0) + 0.05
        const x = p[i * 12]
        const z = p[i * 12 + 2]
        xlo = Math.min(xlo, x - r)
        xhi = Math.max(xhi, x + r)
        zlo = Math.min(zlo, z - r)
        zhi = Math.max(zhi, z + r)
      }
      span = Math.max(span, xhi - xlo)
    }
    return { zlo, zhi, span }
  }, [data])
  const pose = data.poses[Math.min(t, data.poses.length - 1)]
  const ground = data.geoms.findIndex((g) => g.type === 0)
  const zmin = Math.min(zlo, ground >= 0 ? pose[ground * 12 + 2] : zlo) - 0.1
  const zmax = zhi + 0.1
  let cx = 0
  for (const { i } of body) cx += pose[i * 12]
  cx = body.length ? cx / body.length : 0
  const h = zmax - zmin
  const w = Math.max(span + 0.4, (h * W) / H)
  const scale = Math.min(W / w, H / h)
  const X = (x: number): number => W / 2 + (x - cx) * scale
  const Z = (z: number): number => H - 8 - (z - zmin) * scale
  const color = (rgba: number[]): string =>
    `rgba(${Math.round((rgba[0] ?? 0.6) * 255)},${Math.round((rgba[1] ?? 0.6) * 255)},${Math.round((rgba[2] ?? 0.6) * 255)},${Math.max(0.35, rgba[3] ?? 1)})`
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="geom-view" role="img" aria-label={`${data.task} at step ${t}`} data-testid="replay-geoms">
      <rect x={0} y={0} width={W} height={H} fill={c.bg} stroke={c.grid} />
      {ground >= 0 && (
        <>
          <line x1={0} x2={W} y1={Z(pose[ground * 12 + 2])} y2={Z(pose[ground * 12 + 2])} stroke={c.muted} strokeWidth={1.5} />
          {Array.from({ length: 13 }, (_, k) => {
            // ticks every 0.5 m that move with the ground, so forward motion shows
            const x0 = Math.floor((cx - w / 2) / 0.5) * 0.5 + k * 0.5
            return <line key={k} x1={X(x0)} x2={X(x0) - 6} y1={Z(pose[ground * 12 + 2])} y2={Z(pose[ground * 12 + 2]) + 6} stroke={c.grid} strokeWidth={1} />
          })}
        </>
      )}
      {body.map(({ g, i }) => {
        const o = i * 12
        const [x, , z] = [pose[o], pose[o + 1], pose[o + 2]]
        // rotation row-major at o+3: local axis k is column k
        const col = (k: number): [number, number] => [pose[o + 3 + k], pose[o + 3 + 6 + k]]
        const fill = color(g.rgba)
        if (g.type === 3 || g.type === 5) {
          const [ax, az] = col(2)
          const hl = g.size[1] ?? 0
          return (
            <line
              key={i}
              x1={X(x - ax * hl)}
              y1={Z(z - az * hl)}
              x2={X(x + ax * hl)}
              y2={Z(z + az * hl)}
              stroke={fill}
              strokeWidth={Math.max(2, 2 * (g.size[0] ?? 0.05) * scale)}
              strokeLinecap={g.type === 3 ? 'round' : 'butt'}
            >
              <title>{g.name}</title>
            </line>
          )
        }
        if (g.type === 6) {
          const [ux, uz] = col(0)
          const [vx, vz] = col(2)
          const a = g.size[0] ?? 0.05
          const b = g.size[2] ?? 0.05
          const pts = [
            [x + ux * a + vx * b, z + uz * a + vz * b],
            [x - ux * a + vx * b, z - uz * a + vz * b],
            [x - ux * a - vx * b, z - uz * a - vz * b],
            [x + ux * a - vx * b, z + uz * a - vz * b]
          ]
          return (
            <polygon key={i} points={pts.map(([px, pz]) => `${X(px)},${Z(pz)}`).join(' ')} fill={fill}>
              <title>{g.name}</title>
            </polygon>
          )
        }
        return (
          <circle key={i} cx={X(x)} cy={Z(z)} r={Math.max(2, (g.size[0] ?? 0.05) * scale)} fill={fill}>
            <title>{g.name}</title>
          </circle>
        )
      })}
      <text x={8} y={16} fill={c.muted} fontSize={11}>
        {data.task} · side view · t = {t}
      </text>
    </svg>
  )
}
