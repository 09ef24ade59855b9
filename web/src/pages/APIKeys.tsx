import { useEffect, useState } from 'preact/hooks';
import { api, fieldError, type APIKey } from '../api';
import { when } from '../format';
import { CopyButton, Field, FormError, Loading, PageTitle } from '../ui';

export function APIKeys() {
  const [keys, setKeys] = useState<APIKey[] | null>(null);
  const [loadErr, setLoadErr] = useState('');
  const [name, setName] = useState('');
  const [created, setCreated] = useState<APIKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<{ field?: string; message: string } | null>(null);

  const load = () =>
    api<{ api_keys: APIKey[] }>('GET', '/v1/api-keys')
      .then((r) => {
        setKeys(r.api_keys);
        setLoadErr('');
      })
      .catch((e) => setLoadErr((e as Error).message));
  useEffect(() => {
    load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const k = await api<APIKey>('POST', '/v1/api-keys', { name });
      setCreated(k);
      setName('');
      await load();
    } catch (e) {
      setErr(fieldError(e, ['name']));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (k: APIKey) => {
    try {
      await api('DELETE', `/v1/api-keys/${encodeURIComponent(k.id)}`);
      if (created?.id === k.id) setCreated(null);
      await load();
    } catch (e) {
      setLoadErr((e as Error).message);
    }
  };

  const active = keys?.filter((k) => !k.revoked_at) ?? [];
  return (
    <section>
      <PageTitle>API keys</PageTitle>
      <p>An API key works as <code>Authorization: Bearer &lt;key&gt;</code> on every <code>/v1</code> call.</p>
      <form class="panel inline-form" onSubmit={create} noValidate>
        <Field label="New key's name" error={err?.field === 'name' ? err.message : undefined}>
          {(p) => <input {...p} name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create key'}</button>
        <FormError message={err && !err.field ? err.message : undefined} />
      </form>
      {created?.key && (
        <div class="panel notice" role="status">
          <p><strong>Copy this key now:</strong> it is shown only once.</p>
          <div class="url-row">
            <label for="new-key">Key “{created.name}”</label>
            <input id="new-key" class="mono" readOnly value={created.key} />
            <CopyButton text={created.key} label="Copy key" />
            <button type="button" class="secondary" onClick={() => setCreated(null)}>Done</button>
          </div>
        </div>
      )}
      <FormError message={loadErr} />
      {keys === null && !loadErr && <Loading what="API keys" />}
      {keys !== null && active.length === 0 && <p class="empty">No API keys.</p>}
      {active.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {active.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td><code>{k.prefix}…</code></td>
                  <td>{when(k.created_at)}</td>
                  <td>{when(k.last_used_at)}</td>
                  <td><button type="button" class="danger small" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
