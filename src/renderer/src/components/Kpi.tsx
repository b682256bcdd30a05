// One headline number with its label (ESS, clamp fraction, …), as the inspectors show them.
export function Kpi({ label, value, testId }: { label: string; value: string; testId?: string }): React.JSX.Element {
  return (
    <div className="kpi">
      <div className="kpi-value" data-testid={testId}>
        {value}
      </div>
      <div className="kpi-label">{label}</div>
    </div>
  )
}
