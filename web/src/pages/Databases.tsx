import { useEffect, useState } from 'preact/hooks';
import { api, type Database } from '../api';
import { bytes, usedMemory } from '../format';
import { FormError, Loading, PageTitle, Status } from '../ui';

export function Databases() {
  const [dbs, setDbs] = useState<Database[] | null>(null);
  const [err, setErr] = useState('');

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const res = await api<{ databases: Database[] }>('GET', '/v1/databases');
        if (stop) return;
        setDbs(res.databases);
        setErr('');
        // Keep statuses fresh while something is changing.
        if (res.databases.some((d) => d.status === 'provisioning' || d.status === 'deleting')) {
          timer = setTimeout(load, 2000);
        }
      } catch (e) {
        if (!stop) setErr((e as Error).message);
      }
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, []);

  return (
    <section>
      <div class="page-head">
        <PageTitle>Databases</PageTitle>
        <a class="button" href="#/databases/new">Create database</a>
      </div>
      <FormError message={err} />
      {dbs === null && !err && <Loading what="databases" />}
      {dbs !== null && dbs.length === 0 && (
        <div class="empty">
          <p>No databases yet.</p>
          <p>Create one and get a <code>redis://</code> URL any Redis client can use.</p>
          <a class="button" href="#/databases/new">Create your first database</a>
        </div>
      )}
      {dbs !== null && dbs.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Memory used / limit</th>
                <th scope="col">Shards</th>
                <th scope="col">Replicas</th>
              </tr>
            </thead>
            <tbody>
              {dbs.map((d) => {
                const used = usedMemory(d);
                return (
                  <tr key={d.id}>
                    <td>
                      <a href={`#/databases/${encodeURIComponent(d.id)}`}>{d.name}</a>
                    </td>
                    <td>
                      <Status status={d.status} />
                    </td>
                    <td>
                      {used === undefined ? '—' : bytes(used)} / {d.memory_mb} MB
                    </td>
                    <td>{d.shards}</td>
                    <td>{d.replicas}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
