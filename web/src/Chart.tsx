import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { yMax, type Series } from './usage';

export type { Series } from './usage';

type Props = {
  title: string;
  testid: string;
  xs: number[]; // unix seconds
  series: Series[];
  format: (v: number) => string;
  summary: string;
  // total is exposed as a data attribute so tests can tell "has traffic"
  // without reading pixels.
  total?: number;
  // span, in seconds, shows at least the last span seconds: a series
  // sampled by the page starts with a single point.
  span?: number;
};

// Chart draws a time series with uPlot, plus a text summary that is the
// accessible version of the picture.
export function Chart({ title, testid, xs, series, format, summary, total, span }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const top = useRef(1);
  top.current = yMax(series);
  const xr = useRef<[number, number] | null>(null);
  xr.current = span && xs.length ? [Math.min(xs[0], xs[xs.length - 1] - span), xs[xs.length - 1]] : null;
  const key = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth || 320);
    const opts: uPlot.Options = {
      width: width(),
      height: 180,
      scales: { x: { time: true, range: (_u, min, max) => xr.current ?? [min, max] }, y: { range: () => [0, top.current] } },
      axes: [{}, { values: (_u, vals) => vals.map((v) => format(v)), size: 70 }],
      legend: { show: true },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.quota ? [6, 4] : undefined, value: (_u: uPlot, v: number | null) => (v == null ? '—' : format(v)) }))],
    };
    try {
      plot.current = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    } catch {
      plot.current = null; // no canvas (tests): the summary still tells
    }
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 180 })) : null;
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; data updates below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [xs, series]);

  return (
    <figure class="chart" data-testid={testid} data-total={total}>
      <figcaption>
        <span class="chart-title">{title}</span>
        <span class="chart-summary" aria-live="polite">{summary}</span>
      </figcaption>
      <div ref={box} class="chart-canvas" aria-hidden="true" />
    </figure>
  );
}
