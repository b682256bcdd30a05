// The final metric of a sweep against one swept key (sweepTraces): mean line, ±std band over
// seeds and each seed's value; with two or more swept keys, one line per value of the others.
import { useMemo } from 'react'
import type { SweepPointResult } from '../../../shared/contract.ts'
import { sweepAxis, sweepTraces } from '../lib/sweep.ts'
import { plotColors, useTheme } from '../theme.ts'
import { Plot } from './Plot.tsx'

export function SweepPlot({ results, xKey }: { results: SweepPointResult[]; xKey: string }): React.JSX.Element {
  const theme = useTheme()
  const data = useMemo(() => sweepTraces(results, xKey, plotColors(theme).series), [results, xKey, theme])
  const metric = results[0]?.metric ?? ''
  const layout = useMemo(
    () => ({
      xaxis: { title: { text: xKey }, ...sweepAxis(results, xKey) },
      yaxis: { title: { text: `final ${metric}` } },
      legend: { orientation: 'h' as const, x: 0, y: 1.02, yanchor: 'bottom' as const },
      margin: { l: 56, r: 16, t: 40, b: 44 }
    }),
    [results, xKey, metric]
  )
  return <Plot data={data} layout={layout} height={300} testId="sweep-plot" ariaLabel={`final ${metric} against ${xKey}, mean ± std over seeds`} />
}
