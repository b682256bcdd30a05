// The small part of plotly.js the app uses (plotly.js-dist-min ships no types).
declare module 'plotly.js-dist-min' {
  export type Data = Record<string, unknown>
  export type Layout = Record<string, unknown>
  export type Config = Record<string, unknown>
  export interface PlotlyHTMLElement extends HTMLElement {
    on(event: string, cb: (e: any) => void): void
    removeAllListeners?(event: string): void
    layout?: Layout
  }
  const Plotly: {
    react(el: HTMLElement, data: Data[], layout?: Layout, config?: Config): Promise<PlotlyHTMLElement>
    newPlot(el: HTMLElement, data: Data[], layout?: Layout, config?: Config): Promise<PlotlyHTMLElement>
    restyle(el: HTMLElement, update: Record<string, unknown>, traces?: number[]): Promise<PlotlyHTMLElement>
    relayout(el: HTMLElement, update: Record<string, unknown>): Promise<PlotlyHTMLElement>
    purge(el: HTMLElement): void
    Plots: { resize(el: HTMLElement): void }
  }
  export default Plotly
}
