// The overlaid histogram of log w, raw and clamped (sharedLogWHistograms), as the inspector and
// the Imported weights view both draw it.
import type { Data } from 'plotly.js-dist-min'
import { Plot } from './Plot.tsx'

export function LogWHistogram({ data, logY, testId }: { data: Data[]; logY: boolean; testId: string }): React.JSX.Element {
  return (
    <Plot
      data={data}
      height={260}
      layout={{
        barmode: 'overlay',
        yaxis: { type: logY ? 'log' : 'linear', title: { text: 'traces' } },
        xaxis: { title: { text: 'log w' } },
        legend: { orientation: 'h', y: 1.12 }
      }}
      testId={testId}
      ariaLabel="histogram of log weights, raw and clamped"
    />
  )
}
