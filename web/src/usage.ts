import type { UsageMinute } from './api';

export type Rates = {
  xs: number[];
  ops: number[];
  bandwidth: number[];
  connections: number[];
  totalOps: number;
};

// rates turns per-minute usage rows into per-second rates. The current
// minute is still filling, so it is divided by the seconds elapsed so far,
// not 60: otherwise the last point always dips.
export function rates(rows: UsageMinute[], nowMs: number): Rates {
  const out: Rates = { xs: [], ops: [], bandwidth: [], connections: [], totalOps: 0 };
  for (const r of rows) {
    const start = Date.parse(r.minute);
    if (Number.isNaN(start)) continue;
    const secs = Math.min(60, Math.max(1, (nowMs - start) / 1000));
    out.xs.push(start / 1000);
    out.ops.push(r.ops / secs);
    out.bandwidth.push((r.bytes_in + r.bytes_out) / secs);
    out.connections.push(r.connections_max);
    out.totalOps += r.ops;
  }
  return out;
}
