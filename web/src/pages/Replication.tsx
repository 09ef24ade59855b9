import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Database as DB, type Failover } from '../api';
import { bytes, when } from '../format';
import { FormError, Loading } from '../ui';

const FAILOVERS_EVERY_MS = 5000;

const REASONS: Record<Failover['reason'], string> = {
  node_down: 'node down',
  manual: 'manual',
  manual_forced: 'manual (forced)',
};

// ms between two timestamps of a failover, for its timings column.
function span(from: string, to: string | null): string {
  if (!to) return 'pending';
  const d = new Date(to).getTime() - new Date(from).getTime();
  return Number.isFinite(d) ? `${Math.max(0, Math.round(d))} ms` : '—';
}

// Replication shows a database's replicas and failovers. Administrators
// (whose database view carries the topology) also see each copy's role,
// node and lag, and can fail a database over by hand.
export function Replication({ db, onFailover }: { db: DB; onFailover: () => void }) {
  const [failovers, setFailovers] = useState<Failover[] | null>(null);
  const [err, setErr] = useState('');
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const r = await api<{ failovers: Failover[] }>('GET', `/v1/databases/${encodeURIComponent(db.id)}/failovers?limit=20`);
        if (stop) return;
        setFailovers(r.failovers);
        setErr('');
      } catch (e) {
        if (!stop) setErr((e as Error).message);
      }
      if (!stop) timer = setTimeout(load, FAILOVERS_EVERY_MS);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [db.id, tick]);

  return (
    <div class="panel" data-testid="replication">
      <h2>Replication</h2>
      <p class="hint">
        {db.replicas === 0
          ? 'No replicas: a node failure makes the database unavailable until the node returns.'
          : `${db.replicas} replica(s) per shard, on other nodes than their primary. When a primary's node fails, its most up-to-date replica takes over.`}
      </p>
      {db.topology && <Topology db={db} />}
      {db.topology && db.replicas > 0 && db.status === 'active' && (
        <FailoverButton db={db} onDone={() => { setTick((n) => n + 1); onFailover(); }} />
      )}
      <h3>Failovers</h3>
      <FormError message={err} />
      {failovers === null && !err && <Loading what="failovers" />}
      {failovers !== null && failovers.length === 0 && <p class="empty">No failover yet.</p>}
      {failovers !== null && failovers.length > 0 && (
        <div class="table-wrap">
        <table data-testid="failovers">
          <thead>
            <tr><th>Detected</th><th>Shard</th><th>Reason</th><th>From → to</th><th>Epoch</th><th>Lag</th><th>Routes published</th><th>Promoted</th></tr>
          </thead>
          <tbody>
            {failovers.map((f) => (
              <tr key={f.id}>
                <td>{when(f.detected_at)}</td>
                <td>{f.shard_index}</td>
                <td>{REASONS[f.reason] ?? f.reason}</td>
                <td><code>{f.from}</code> → <code>{f.to}</code></td>
                <td>{f.old_epoch} → {f.new_epoch}</td>
                <td>{bytes(f.lag_bytes)}</td>
                <td>+{span(f.detected_at, f.routes_published_at)}</td>
                <td>{f.promoted_at ? `+${span(f.detected_at, f.promoted_at)}` : 'pending'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </div>
  );
}

function Topology({ db }: { db: DB }) {
  return (
    <div class="table-wrap">
    <table data-testid="topology">
      <thead>
        <tr><th>Shard</th><th>Role</th><th>Address</th><th>Node</th><th>State</th><th>Offset</th><th>Lag</th></tr>
      </thead>
      <tbody>
        {(db.topology ?? []).map((sh) =>
          sh.placements.map((p) => (
            <tr key={`${sh.id}-${p.node_id}`} data-role={p.role}>
              <td>{sh.index}{sh.epoch !== undefined ? ` (epoch ${sh.epoch})` : ''}</td>
              <td>{p.role}</td>
              <td><code>{p.address}</code></td>
              <td>{p.node_status ?? '—'}</td>
              <td>{p.running ? (p.reported_role && p.reported_role !== p.role ? `running as ${p.reported_role}` : 'running') : p.error || 'not running'}
                {p.running && p.role === 'replica' && p.link_status === 'down' ? ' (link to primary down)' : ''}</td>
              <td>{p.repl_offset ?? '—'}</td>
              <td>{p.role === 'replica' ? bytes(p.lag_bytes ?? 0) : '—'}</td>
            </tr>
          )),
        )}
      </tbody>
    </table>
    </div>
  );
}

function FailoverButton({ db, onDone }: { db: DB; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [done, setDone] = useState('');

  const run = async () => {
    setBusy(true);
    setErr('');
    setDone('');
    try {
      const r = await api<{ failovers: Failover[] }>('POST', `/v1/databases/${encodeURIComponent(db.id)}/failover`, { shard: 'all', force });
      setDone(`Failed over ${r.failovers.length} shard(s): ${r.failovers.map((f) => `${f.from} → ${f.to}`).join(', ')}.`);
      setConfirming(false);
      setForce(false);
      onDone();
    } catch (e) {
      const lagging = e instanceof ApiError && e.code === 'replica_lagging';
      setErr(lagging ? `${(e as Error).message} Tick "force" to promote anyway.` : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (!confirming) {
    return (
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>Fail over</button>
        {done && <span role="status" class="ok">{done}</span>}
      </div>
    );
  }
  return (
    <div class="confirm" role="group" aria-label="Confirm failover">
      <p>
        Every shard's most up-to-date replica becomes its primary, and the old primaries follow it. Clients stay
        connected; requests in flight are retried on the new primaries.
      </p>
      <label>
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} /> Force, even if a
        replica lags (writes it has not received are lost)
      </label>
      <FormError message={err} />
      <button type="button" class="danger" disabled={busy} onClick={run}>{busy ? 'Failing over…' : 'Yes, fail over'}</button>
      <button type="button" class="secondary" onClick={() => { setConfirming(false); setErr(''); }}>Cancel</button>
    </div>
  );
}
