// A shell command in a monospace box with a Copy button (New run's "Run on" panels). The page
// copies through navigator.clipboard; where the browser refuses (no permission, not a secure
// context) the command's text is selected instead, so Ctrl+C copies it.
import { useRef, useState } from 'react'

export function CopyCommand(props: { command: string; label?: string; testId: string }): React.JSX.Element {
  const { command, label, testId } = props
  const box = useRef<HTMLPreElement>(null)
  const [note, setNote] = useState<string | null>(null)
  const selectText = (): void => {
    const sel = window.getSelection()
    if (!sel || !box.current) return
    sel.removeAllRanges()
    sel.selectAllChildren(box.current)
  }
  const copy = async (): Promise<void> => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard')
      await navigator.clipboard.writeText(command)
      setNote('copied')
    } catch {
      selectText()
      setNote('selected: press Ctrl+C (⌘C) to copy')
    }
  }
  return (
    <div className="copy-command" data-testid={testId}>
      {label && <span className="copy-command-label">{label}</span>}
      <div className="copy-command-row">
        <pre className="mono copy-command-text" ref={box} data-testid={`${testId}-text`}>
          {command}
        </pre>
        <button className="small" onClick={() => void copy()} data-testid={`${testId}-copy`} aria-label={`copy ${label ?? 'the command'}`}>
          Copy
        </button>
      </div>
      {note && (
        <span className="muted small" role="status" data-testid={`${testId}-note`}>
          {note}
        </span>
      )}
    </div>
  )
}
