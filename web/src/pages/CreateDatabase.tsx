import { useEffect, useState } from 'preact/hooks';
import { api, EVICTION_POLICIES, fieldError, PERSISTENCE, type Database, type Plan } from '../api';
import { bytes } from '../format';
import { navigate } from '../router';
import { Field, FormError, Loading, PageTitle } from '../ui';

const FIELDS = ['name', 'plan', 'memory_mb', 'shards', 'replicas', 'eviction_policy', 'persistence'];

export function CreateDatabase() {
  const [plans, setPlans] = useState<Plan[] | null>(null);
  const [loadErr, setLoadErr] = useState('');
  const [name, setName] = useState('');
  const [plan, setPlan] = useState('');
  const [memory, setMemory] = useState('');
  const [shards, setShards] = useState('1');
  const [replicas, setReplicas] = useState('0');
  const [eviction, setEviction] = useState('noeviction');
  const [persistence, setPersistence] = useState('none');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<{ field?: string; message: string } | null>(null);

  useEffect(() => {
    api<{ plans: Plan[] }>('GET', '/v1/plans')
      .then((r) => {
        setPlans(r.plans);
        if (r.plans.length > 0) {
          setPlan(r.plans[0].name);
          setMemory(String(r.plans[0].memory_mb));
        }
      })
      .catch((e) => setLoadErr((e as Error).message));
  }, []);

  const selected = plans?.find((p) => p.name === plan);
  const fe = (f: string) => (err?.field === f ? err.message : undefined);

  const choosePlan = (n: string) => {
    setPlan(n);
    const p = plans?.find((x) => x.name === n);
    if (p) setMemory(String(p.memory_mb));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    const body: Record<string, unknown> = { name, eviction_policy: eviction, persistence };
    if (plan) body.plan = plan;
    // Numbers go as typed: the API says which one is wrong and why.
    for (const [k, v] of [['memory_mb', memory], ['shards', shards], ['replicas', replicas]] as const) {
      if (v.trim() === '') continue;
      const n = Number(v);
      if (!Number.isInteger(n)) {
        setErr({ field: k, message: `${k} must be a whole number` });
        setBusy(false);
        return;
      }
      body[k] = n;
    }
    try {
      const db = await api<Database>('POST', '/v1/databases', body);
      navigate(`/databases/${encodeURIComponent(db.id)}`);
    } catch (e) {
      setErr(fieldError(e, FIELDS));
      setBusy(false);
    }
  };

  return (
    <section>
      <PageTitle>Create a database</PageTitle>
      <FormError message={loadErr} />
      {plans === null && !loadErr && <Loading what="plans" />}
      {plans !== null && (
        <form onSubmit={submit} noValidate class="form-grid">
          <Field label="Name" error={fe('name')} hint="Letters, digits, '.', '_' and '-'.">
            {(p) => <input {...p} name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Plan" error={fe('plan')}>
            {(p) => (
              <select {...p} name="plan" value={plan} onChange={(e) => choosePlan(e.currentTarget.value)}>
                <option value="">Smallest plan that fits</option>
                {plans.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.name} — up to {x.memory_mb} MB
                  </option>
                ))}
              </select>
            )}
          </Field>
          {selected && (
            <dl class="plan-limits" aria-label={`Limits of the ${selected.name} plan`}>
              <div><dt>Memory</dt><dd>up to {selected.memory_mb} MB</dd></div>
              <div><dt>Shards</dt><dd>up to {selected.max_shards}</dd></div>
              <div><dt>Replicas</dt><dd>up to {selected.max_replicas}</dd></div>
              <div><dt>Connections</dt><dd>{selected.max_connections || 'unlimited'}</dd></div>
              <div><dt>Ops/s</dt><dd>{selected.ops_per_sec || 'unlimited'}</dd></div>
              <div><dt>Bandwidth</dt><dd>{selected.bandwidth_bytes_per_sec ? `${bytes(selected.bandwidth_bytes_per_sec)}/s` : 'unlimited'}</dd></div>
              <div><dt>Databases</dt><dd>{selected.max_databases || 'unlimited'}</dd></div>
            </dl>
          )}
          <Field label="Memory (MB)" error={fe('memory_mb')}
            hint={selected ? `At most ${selected.memory_mb} MB, at least 8 MB per shard.` : 'The smallest plan with this much memory, these shards and replicas is chosen.'}>
            {(p) => (
              <input {...p} name="memory_mb" type="number" inputMode="numeric" min={1} max={selected?.memory_mb}
                value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
            )}
          </Field>
          <Field label="Shards" error={fe('shards')}>
            {(p) => (
              <input {...p} name="shards" type="number" inputMode="numeric" min={1} max={selected?.max_shards}
                value={shards} onInput={(e) => setShards(e.currentTarget.value)} />
            )}
          </Field>
          <Field label="Replicas per shard" error={fe('replicas')}>
            {(p) => (
              <input {...p} name="replicas" type="number" inputMode="numeric" min={0} max={selected?.max_replicas}
                value={replicas} onInput={(e) => setReplicas(e.currentTarget.value)} />
            )}
          </Field>
          <Field label="Eviction policy" error={fe('eviction_policy')}>
            {(p) => (
              <select {...p} name="eviction_policy" value={eviction} onChange={(e) => setEviction(e.currentTarget.value)}>
                {EVICTION_POLICIES.map((x) => <option key={x} value={x}>{x}</option>)}
              </select>
            )}
          </Field>
          <Field label="Persistence" error={fe('persistence')}>
            {(p) => (
              <select {...p} name="persistence" value={persistence} onChange={(e) => setPersistence(e.currentTarget.value)}>
                {PERSISTENCE.map((x) => <option key={x} value={x}>{x}</option>)}
              </select>
            )}
          </Field>
          <FormError message={err && !err.field ? err.message : undefined} />
          <div class="actions">
            <button type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create database'}</button>
            <a class="button secondary" href="#/databases">Cancel</a>
          </div>
        </form>
      )}
    </section>
  );
}
