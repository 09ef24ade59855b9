import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, EVICTION_POLICIES, fieldError, type Database as DB, type UsageMinute } from '../api';
import { Chart } from '../Chart';
import { bytes, when, usedMemory } from '../format';
import { navigate } from '../router';
import { rates } from '../usage';
import { CopyButton, Field, FormError, Loading, PageTitle, Status } from '../ui';
import { Replication } from './Replication';

const USAGE_EVERY_MS = 3000;

function mask(url: string, password: string, reveal: boolean) {
  if (reveal || !password) return url;
  return url.split(password).join('•'.repeat(12));
}

export function snippets(url: string): { name: string; code: string }[] {
  return [
    { name: 'redis-cli', code: `redis-cli -u '${url}'` },
    {
      name: 'Go',
      code: `// go get github.com/redis/go-redis/v9
opt, err := redis.ParseURL("${url}")
if err != nil {
	panic(err)
}
rdb := redis.NewClient(opt)
err = rdb.Set(ctx, "hello", "world", 0).Err()`,
    },
    {
      name: 'Node',
      code: `// npm install ioredis
import Redis from 'ioredis';
const redis = new Redis('${url}');
await redis.set('hello', 'world');`,
    },
    {
      name: 'Python',
      code: `# pip install redis
import redis
r = redis.Redis.from_url("${url}")
r.set("hello", "world")`,
    },
  ];
}

export function Database({ id }: { id: string }) {
  const [db, setDb] = useState<DB | null>(null);
  const [err, setErr] = useState('');
  const [gone, setGone] = useState(false);
  const [memSamples, setMemSamples] = useState<{ t: number; used: number }[]>([]);
  const [reload, setReload] = useState(0);

  // The database, polled fast while it changes state.
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const d = await api<DB>('GET', `/v1/databases/${encodeURIComponent(id)}`);
        if (stop) return;
        setDb(d);
        setErr('');
        const used = usedMemory(d);
        if (used !== undefined) setMemSamples((s) => [...s.slice(-119), { t: Date.now() / 1000, used }]);
        const changing = d.status === 'provisioning' || d.status === 'deleting';
        timer = setTimeout(load, changing ? 1500 : 5000);
      } catch (e) {
        if (stop) return;
        if (e instanceof ApiError && e.status === 404) {
          setGone(true);
          return;
        }
        setErr((e as Error).message);
        timer = setTimeout(load, 5000);
      }
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, reload]);

  if (gone) {
    return (
      <section>
        <PageTitle>Database not found</PageTitle>
        <p>It may have been deleted. <a href="#/databases">Back to databases</a></p>
      </section>
    );
  }
  if (!db) {
    return (
      <section>
        <FormError message={err} />
        {!err && <Loading what="the database" />}
      </section>
    );
  }
  return (
    <section>
      <div class="page-head">
        <PageTitle>{db.name}</PageTitle>
        <Status status={db.status} />
      </div>
      <FormError message={err} />
      {db.status === 'provisioning' && (
        <p class="notice" role="status">Provisioning: starting {db.shards} shard(s). This page updates by itself.</p>
      )}
      {db.status === 'failed' && <p class="form-error" role="alert">Provisioning failed: {db.failure_reason || 'unknown reason'}</p>}
      {db.status === 'failed' && <Retry db={db} onRetried={(d) => { setDb(d); setReload((n) => n + 1); }} />}
      <Connect db={db} onChange={setDb} />
      {db.status === 'active' && <Usage db={db} memSamples={memSamples} />}
      {db.status === 'active' && <Replication db={db} onFailover={() => setReload((n) => n + 1)} />}
      <Settings db={db} onChange={setDb} />
      <Delete db={db} />
    </section>
  );
}

// Retry provisions a failed database again. The control plane also retries
// a few times on its own (see the events); this is the owner's go-ahead
// after that, e.g. once the cause is fixed.
function Retry({ db, onRetried }: { db: DB; onRetried: (d: DB) => void }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const retry = async () => {
    setBusy(true);
    setErr('');
    try {
      onRetried(await api<DB>('POST', `/v1/databases/${encodeURIComponent(db.id)}/retry`));
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <p>
      <button type="button" disabled={busy} onClick={retry}>{busy ? 'Retrying…' : 'Retry provisioning'}</button>
      <FormError message={err} />
    </p>
  );
}

function Connect({ db, onChange }: { db: DB; onChange: (d: DB) => void }) {
  const [reveal, setReveal] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [tab, setTab] = useState(0);
  const shown = mask(db.url, db.password, reveal);
  const snips = snippets(db.url);

  const rotate = async () => {
    setBusy(true);
    setErr('');
    try {
      onChange(await api<DB>('POST', `/v1/databases/${encodeURIComponent(db.id)}/rotate-password`));
      setConfirming(false);
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="panel">
      <h2>Connect</h2>
      <dl class="facts">
        <div><dt>Endpoint</dt><dd><code>{db.endpoint}</code></dd></div>
        <div><dt>Database ID (user name)</dt><dd><code>{db.id}</code></dd></div>
        <div><dt>Plan</dt><dd>{db.plan}</dd></div>
        <div><dt>Created</dt><dd>{when(db.created_at)}</dd></div>
      </dl>
      <div class="url-row">
        <label for="db-url">URL</label>
        <input id="db-url" class="mono" readOnly value={shown} data-testid="db-url" aria-describedby="db-url-hint" />
        <CopyButton text={db.url} label="Copy URL" testid="copy-url" />
        <button type="button" class="secondary" aria-pressed={reveal} onClick={() => setReveal(!reveal)}>
          {reveal ? 'Hide password' : 'Reveal password'}
        </button>
      </div>
      <p class="hint" id="db-url-hint">The copied URL holds the password.</p>
      {!confirming ? (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>Rotate password</button>
      ) : (
        <div class="confirm" role="group" aria-label="Confirm password rotation">
          <p>A new password is generated; clients using the old one are refused from now on.</p>
          <button type="button" class="danger" disabled={busy} onClick={rotate}>{busy ? 'Rotating…' : 'Yes, rotate the password'}</button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>Cancel</button>
        </div>
      )}
      <FormError message={err} />
      <div class="tabs" role="tablist" aria-label="Connection snippets">
        {snips.map((s, i) => (
          <button type="button" role="tab" id={`snip-tab-${i}`} aria-selected={tab === i} aria-controls="snip-panel"
            tabIndex={tab === i ? 0 : -1} class={tab === i ? 'tab active' : 'tab'} onClick={() => setTab(i)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                const n = (i + (e.key === 'ArrowRight' ? 1 : snips.length - 1)) % snips.length;
                setTab(n);
                (document.getElementById(`snip-tab-${n}`) as HTMLElement | null)?.focus();
              }
            }}>
            {s.name}
          </button>
        ))}
      </div>
      <div id="snip-panel" role="tabpanel" aria-labelledby={`snip-tab-${tab}`} class="snippet">
        <pre><code>{mask(snips[tab].code, db.password, reveal)}</code></pre>
        <CopyButton text={snips[tab].code} label="Copy snippet" />
      </div>
    </div>
  );
}

function Usage({ db, memSamples }: { db: DB; memSamples: { t: number; used: number }[] }) {
  const [rows, setRows] = useState<UsageMinute[] | null>(null);
  const [now, setNow] = useState(Date.now());
  const [err, setErr] = useState('');

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const r = await api<{ minutes: UsageMinute[] }>('GET', `/v1/databases/${encodeURIComponent(db.id)}/usage?minutes=30`);
        if (stop) return;
        setRows(r.minutes);
        setNow(Date.now());
        setErr('');
      } catch (e) {
        if (!stop) setErr((e as Error).message);
      }
      if (!stop) timer = setTimeout(load, USAGE_EVERY_MS);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [db.id]);

  const r = useMemo(() => rates(rows ?? [], now), [rows, now]);
  const lim = db.limits;
  const flat = (v: number) => r.xs.map(() => (v > 0 ? v : null));
  const last = (a: number[]) => (a.length ? a[a.length - 1] : 0);
  const num = (v: number) => (v >= 100 ? String(Math.round(v)) : v.toFixed(1));
  const memLimit = db.memory_mb * 1024 * 1024;

  return (
    <div class="panel">
      <h2>Usage</h2>
      <FormError message={err} />
      {rows === null && !err && <Loading what="usage" />}
      {rows !== null && (
        <div class="charts">
          <Chart title="Operations per second" testid="chart-ops" xs={r.xs} total={r.totalOps} format={num}
            summary={`${num(last(r.ops))} ops/s now, ${r.totalOps} ops in 30 min${lim.ops_per_sec ? `; quota ${lim.ops_per_sec}/s` : ''}`}
            series={[{ label: 'ops/s', values: r.ops, color: '#2563eb' }, ...(lim.ops_per_sec ? [{ label: 'quota', values: flat(lim.ops_per_sec), color: '#dc2626', quota: true }] : [])]} />
          <Chart title="Memory used" testid="chart-memory" xs={memSamples.map((s) => s.t)} format={bytes} span={300}
            summary={memSamples.length ? `${bytes(memSamples[memSamples.length - 1].used)} of ${db.memory_mb} MB` : `limit ${db.memory_mb} MB; no shard has reported its memory yet`}
            series={[
              { label: 'used', values: memSamples.map((s) => s.used), color: '#16a34a' },
              { label: 'limit', values: memSamples.map(() => memLimit), color: '#dc2626', quota: true },
            ]} />
          <Chart title="Connections" testid="chart-connections" xs={r.xs} format={(v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}
            summary={`${last(r.connections)} now${lim.max_connections ? ` of ${lim.max_connections}` : ''}`}
            series={[{ label: 'connections', values: r.connections, color: '#7c3aed' }, ...(lim.max_connections ? [{ label: 'quota', values: flat(lim.max_connections), color: '#dc2626', quota: true }] : [])]} />
          <Chart title="Bandwidth" testid="chart-bandwidth" xs={r.xs} format={(v) => `${bytes(v)}/s`}
            summary={`${bytes(last(r.bandwidth))}/s now${lim.bandwidth_bytes_per_sec ? ` of ${bytes(lim.bandwidth_bytes_per_sec)}/s` : ''}`}
            series={[{ label: 'in + out', values: r.bandwidth, color: '#ea580c' }, ...(lim.bandwidth_bytes_per_sec ? [{ label: 'quota', values: flat(lim.bandwidth_bytes_per_sec), color: '#dc2626', quota: true }] : [])]} />
        </div>
      )}
    </div>
  );
}

function Settings({ db, onChange }: { db: DB; onChange: (d: DB) => void }) {
  const [memory, setMemory] = useState(String(db.memory_mb));
  const [eviction, setEviction] = useState(db.eviction_policy);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [err, setErr] = useState<{ field?: string; message: string } | null>(null);
  const fe = (f: string) => (err?.field === f ? err.message : undefined);

  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setSaved(false);
    const m = Number(memory);
    if (!Number.isInteger(m)) {
      setErr({ field: 'memory_mb', message: 'memory_mb must be a whole number' });
      return;
    }
    setBusy(true);
    try {
      onChange(await api<DB>('PATCH', `/v1/databases/${encodeURIComponent(db.id)}`, { memory_mb: m, eviction_policy: eviction }));
      setSaved(true);
    } catch (e) {
      setErr(fieldError(e, ['memory_mb', 'eviction_policy']));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" onSubmit={submit} noValidate aria-labelledby="settings-h">
      <h2 id="settings-h">Settings</h2>
      <Field label="Memory (MB)" error={fe('memory_mb')} hint={`Plan ${db.plan}: up to ${db.limits.memory_mb} MB.`}>
        {(p) => <input {...p} name="memory_mb" type="number" inputMode="numeric" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />}
      </Field>
      <Field label="Eviction policy" error={fe('eviction_policy')}>
        {(p) => (
          <select {...p} name="eviction_policy" value={eviction} onChange={(e) => setEviction(e.currentTarget.value)}>
            {EVICTION_POLICIES.map((x) => <option key={x} value={x}>{x}</option>)}
          </select>
        )}
      </Field>
      <p class="hint">Persistence: {db.persistence}. Shards: {db.shards}, replicas per shard: {db.replicas}.</p>
      <FormError message={err && !err.field ? err.message : undefined} />
      <div class="actions">
        <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save settings'}</button>
        {saved && <span role="status" class="ok">Saved.</span>}
      </div>
    </form>
  );
}

function Delete({ db }: { db: DB }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (typed !== db.name) return;
    setBusy(true);
    setErr('');
    try {
      await api('DELETE', `/v1/databases/${encodeURIComponent(db.id)}`);
      navigate('/databases');
    } catch (e) {
      setErr((e as Error).message);
      setBusy(false);
    }
  };
  return (
    <form class="panel danger-zone" onSubmit={submit} aria-labelledby="delete-h">
      <h2 id="delete-h">Delete database</h2>
      <p>This deletes every key and cannot be undone.</p>
      <Field label={`Type the database's name (${db.name}) to confirm`}>
        {(p) => <input {...p} name="confirm" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />}
      </Field>
      <FormError message={err} />
      <button type="submit" class="danger" disabled={busy || typed !== db.name}>{busy ? 'Deleting…' : 'Delete database'}</button>
    </form>
  );
}
