import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldError, type Account } from '../api';
import { Field, FormError, PageTitle } from '../ui';

type Props = { mode: 'login' | 'signup'; onSession: (a: Account) => void };

// Auth is the log-in and sign-up form. The API answers with the tokens in
// the body too (for scripts); the console ignores them and relies on the
// HttpOnly cookies set by the same answer.
export function Auth({ mode, onSession }: Props) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<{ field?: string; message: string } | null>(null);
  // After too many failed log-ins the API refuses more for a while: the
  // form says how long and holds the button until then, rather than
  // letting each click earn another refusal.
  const [lockedUntil, setLockedUntil] = useState(0);
  const [now, setNow] = useState(Date.now());
  const signup = mode === 'signup';
  const wait = Math.ceil((lockedUntil - now) / 1000);

  useEffect(() => {
    if (lockedUntil === 0) return;
    const t = setInterval(() => {
      const n = Date.now();
      setNow(n);
      if (n >= lockedUntil) {
        setLockedUntil(0);
        setErr(null);
      }
    }, 250);
    return () => clearInterval(t);
  }, [lockedUntil]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const res = await api<{ account: Account }>('POST', signup ? '/v1/auth/signup' : '/v1/auth/login', { email, password });
      onSession(res.account);
    } catch (e) {
      if (e instanceof ApiError && e.status === 429 && e.retryAfter) {
        const n = Date.now();
        setNow(n);
        setLockedUntil(n + e.retryAfter * 1000);
        setErr({ message: 'Too many failed attempts.' });
        return;
      }
      setErr(fieldError(e, ['email', 'password']));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth">
      <div class="card">
        <div class="brand">Keyfleet</div>
        <PageTitle>{signup ? 'Create your account' : 'Log in'}</PageTitle>
        <form onSubmit={submit} noValidate>
          <Field label="E-mail" error={err?.field === 'email' ? err.message : undefined}>
            {(p) => (
              <input {...p} type="email" name="email" autoComplete="email" required value={email}
                onInput={(e) => setEmail(e.currentTarget.value)} />
            )}
          </Field>
          <Field label="Password" error={err?.field === 'password' ? err.message : undefined}
            hint={signup ? 'At least 10 characters.' : undefined}>
            {(p) => (
              <input {...p} type="password" name="password" autoComplete={signup ? 'new-password' : 'current-password'}
                required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            )}
          </Field>
          <FormError message={err && !err.field ? (wait > 0 ? `${err.message} Try again in ${wait} s.` : err.message) : undefined} />
          <button type="submit" disabled={busy || wait > 0}>
            {busy ? 'Please wait…' : signup ? 'Sign up' : 'Log in'}
          </button>
        </form>
        <p class="switch">
          {signup ? (
            <>Already have an account? <a href="#/login">Log in</a></>
          ) : (
            <>New to Keyfleet? <a href="#/signup">Create an account</a></>
          )}
        </p>
      </div>
    </main>
  );
}
