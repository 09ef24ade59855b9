export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString();
}

// usedMemory is what the database's primaries hold, from the API's own
// field when present, else from the topology administrators see.
export function usedMemory(db: { used_memory_bytes?: number; topology?: { placements: { role: string; used_memory: number }[] }[] }): number | undefined {
  if (typeof db.used_memory_bytes === 'number') return db.used_memory_bytes;
  if (!db.topology) return undefined;
  let sum = 0;
  for (const sh of db.topology) for (const p of sh.placements) if (p.role === 'primary') sum += p.used_memory;
  return sum;
}
