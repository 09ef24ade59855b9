import { useEffect, useState } from 'preact/hooks';
import { api, type AccountSummary, type NodeInfo } from '../api';
import { bytes, when } from '../format';
import { FormError, Loading, PageTitle, Status } from '../ui';

function useList<T>(path: string, key: string, everyMs = 0) {
  const [items, setItems] = useState<T[] | null>(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const r = await api<Record<string, T[]>>('GET', path);
        if (stop) return;
        setItems(r[key] ?? []);
        setErr('');
      } catch (e) {
        if (!stop) setErr((e as Error).message);
      }
      if (!stop && everyMs) timer = setTimeout(load, everyMs);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [path]);
  return { items, err, setItems };
}

export function Nodes() {
  const { items, err, setItems } = useList<NodeInfo>('/v1/admin/nodes', 'nodes', 5000);
  const [actionErr, setActionErr] = useState('');
  const drain = async (n: NodeInfo) => {
    setActionErr('');
    try {
      const updated = await api<NodeInfo>('POST', `/v1/admin/nodes/${encodeURIComponent(n.id)}/drain`);
      setItems((items ?? []).map((x) => (x.id === n.id ? { ...x, ...updated } : x)));
    } catch (e) {
      setActionErr((e as Error).message);
    }
  };
  return (
    <section>
      <PageTitle>Nodes</PageTitle>
      <FormError message={err || actionErr} />
      {items === null && !err && <Loading what="nodes" />}
      {items !== null && items.length === 0 && <p class="empty">No node has registered yet.</p>}
      {items !== null && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Status</th><th scope="col">Memory placed / capacity</th><th scope="col">Memory used</th><th scope="col">Shards placed (running)</th><th scope="col">Last heartbeat</th><th scope="col">Last probe answered</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {items.map((n) => (
                <tr key={n.id}>
                  <td>{n.name}</td>
                  <td><code>{n.advertise}</code></td>
                  <td><Status status={n.status} /></td>
                  <td>{n.memory_placed_mb} / {n.memory_mb} MB</td>
                  <td>{bytes(n.used_memory_bytes)}</td>
                  <td>{n.shards_placed} ({n.shards_running})</td>
                  <td>{when(n.last_heartbeat)}</td>
                  <td>{when(n.last_probe_ok)}</td>
                  <td>{n.status !== 'draining' && <button type="button" class="secondary small" onClick={() => drain(n)} aria-label={`Drain ${n.name}`}>Drain</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function Accounts() {
  const { items, err } = useList<AccountSummary>('/v1/admin/accounts', 'accounts');
  return (
    <section>
      <PageTitle>Accounts</PageTitle>
      <FormError message={err} />
      {items === null && !err && <Loading what="accounts" />}
      {items !== null && items.length === 0 && <p class="empty">No accounts.</p>}
      {items !== null && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Databases</th><th scope="col">Created</th></tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}><td>{a.email}</td><td>{a.role}</td><td>{a.databases}</td><td>{when(a.created_at)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
