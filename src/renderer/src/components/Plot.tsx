// A thin React wrapper over Plotly.react, themed, resizing with its box. Only SVG/canvas trace
// types are used (no WebGL), so the strict Content-Security-Policy (no eval) holds.
import Plotly, { type Config, type Data, type Layout, type PlotlyHTMLElement } from 'plotly.js-dist-min'
import { useEffect, useRef } from 'react'
import { plotColors, useTheme } from '../theme.ts'

export interface PlotProps {
  data: Data[]
  layout?: Layout
  config?: Config
  height?: number
  className?: string
  /** plotly events, e.g. { plotly_relayout: fn } */
  events?: Record<string, (e: any) => void>
  testId?: string
  ariaLabel?: string
}

export function baseLayout(theme: 'light' | 'dark', extra: Layout = {}): Layout {
  const c = plotColors(theme)
  const axis = { gridcolor: c.grid, zerolinecolor: c.grid, linecolor: c.grid, color: c.muted, automargin: true }
  return {
    paper_bgcolor: c.bg,
    plot_bgcolor: c.bg,
    font: { family: 'system-ui, -apple-system, "Segoe UI", sans-serif', size: 12, color: c.text },
    margin: { l: 50, r: 16, t: 28, b: 40 },
    xaxis: { ...axis, ...((extra.xaxis as object) ?? {}) },
    yaxis: { ...axis, ...((extra.yaxis as object) ?? {}) },
    legend: { orientation: 'h', y: -0.2, font: { color: c.text } },
    hoverlabel: { namelength: -1 },
    colorway: c.series,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'xaxis' && k !== 'yaxis'))
  }
}

export function Plot({ data, layout, config, height = 280, className, events, testId, ariaLabel }: PlotProps): React.JSX.Element {
  const ref = useRef<HTMLDivElement>(null)
  const theme = useTheme()
  const bound = useRef<Set<string>>(new Set())
  const handlers = useRef(events)
  handlers.current = events

  // plotly's react is asynchronous and not re-entrant: queue the calls, and skip to the newest
  const queue = useRef<Promise<unknown>>(Promise.resolve())
  const latest = useRef(0)
  useEffect(() => {
    const el = ref.current
    if (!el) return
    const ticket = ++latest.current
    queue.current = queue.current
      .then(async () => {
        if (ticket !== latest.current || !ref.current) return
        const gd: PlotlyHTMLElement = await Plotly.react(el, data, baseLayout(theme, { height, ...(layout ?? {}) }), {
          displaylogo: false,
          responsive: true,
          modeBarButtonsToRemove: ['lasso2d', 'select2d', 'toImage'],
          ...(config ?? {})
        })
        for (const name of Object.keys(handlers.current ?? {})) {
          if (bound.current.has(name)) continue
          bound.current.add(name)
          gd.on(name, (e) => handlers.current?.[name]?.(e))
        }
      })
      .catch(() => {})
  }, [data, layout, config, theme, height])

  useEffect(() => {
    const el = ref.current
    if (!el) return
    const ro = new ResizeObserver(() => {
      if (el.offsetWidth > 0) Plotly.Plots.resize(el)
    })
    ro.observe(el)
    return () => {
      ro.disconnect()
      Plotly.purge(el)
    }
  }, [])

  return <div ref={ref} className={className ?? 'plot'} style={{ height }} data-testid={testId} role="img" aria-label={ariaLabel} />
}
