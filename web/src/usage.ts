import type { UsageMinute } from './api';

export type Rates = {
  xs: number[];
  ops: number[];
  bandwidth: number[];
  connections: number[];
  totalOps: number;
};

// rates turns per-minute usage rows into per-second rates over the last
// windowMin minutes, one point a minute; minutes without a row had no
// traffic and count as zero. The current minute is still filling, so it is
// divided by the seconds elapsed so far, not 60: otherwise the last point
// always dips.
export function rates(rows: UsageMinute[], nowMs: number, windowMin = 30): Rates {
  const out: Rates = { xs: [], ops: [], bandwidth: [], connections: [], totalOps: 0 };
  const byMinute = new Map<number, UsageMinute>();
  for (const r of rows) {
    const start = Date.parse(r.minute);
    if (!Number.isNaN(start)) byMinute.set(start, r);
  }
  const current = Math.floor(nowMs / 60000) * 60000;
  for (let m = current - (windowMin - 1) * 60000; m <= current; m += 60000) {
    const r = byMinute.get(m);
    const secs = Math.min(60, Math.max(1, (nowMs - m) / 1000));
    out.xs.push(m / 1000);
    out.ops.push(r ? r.ops / secs : 0);
    out.bandwidth.push(r ? (r.bytes_in + r.bytes_out) / secs : 0);
    out.connections.push(r ? r.connections_max : 0);
    out.totalOps += r ? r.ops : 0;
  }
  return out;
}

// A quota series is drawn only when the data come near it: a quota a
// thousand times the traffic would flatten the traffic to the axis.
export type Series = { label: string; values: (number | null)[]; color: string; quota?: boolean };

export function yMax(series: Series[]): number {
  let data = 0;
  let quota = 0;
  for (const s of series) {
    for (const v of s.values) {
      if (v == null) continue;
      if (s.quota) quota = Math.max(quota, v);
      else data = Math.max(data, v);
    }
  }
  const top = data > 0 ? data * 1.25 : 1;
  return quota > 0 && data >= quota / 2 ? Math.max(top, quota * 1.1) : top;
}
