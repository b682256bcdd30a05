// Rows of the views' list tables (Datasets, Models, Imported weights, Live runs): a row the user
// picks with a click or, from the keyboard, Enter, marked while it is the picked one; and the one
// row of an empty table, saying what to do.
import type { ReactNode } from 'react'

export function SelectableRow({ selected, onSelect, testId, children }: { selected: boolean; onSelect: () => void; testId?: string; children: ReactNode }): React.JSX.Element {
  return (
    <tr className={selected ? 'selected' : ''} onClick={onSelect} tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && onSelect()} data-testid={testId}>
      {children}
    </tr>
  )
}

export function EmptyRow({ columns, children }: { columns: number; children: ReactNode }): React.JSX.Element {
  return (
    <tr>
      <td colSpan={columns} className="muted">
        {children}
      </td>
    </tr>
  )
}
