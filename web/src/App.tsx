import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, onSessionEnded, type Account } from './api';
import { match, navigate, useRoute } from './router';
import { Accounts, Nodes } from './pages/Admin';
import { APIKeys } from './pages/APIKeys';
import { Auth } from './pages/Auth';
import { CreateDatabase } from './pages/CreateDatabase';
import { Database } from './pages/Database';
import { Databases } from './pages/Databases';
import { Loading, PageTitle } from './ui';

export function App() {
  const route = useRoute();
  // undefined: not known yet; null: nobody is logged in.
  const [me, setMe] = useState<Account | null | undefined>(undefined);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    onSessionEnded(() => setMe(null));
    api<Account>('GET', '/v1/me')
      .then(setMe)
      .catch((e) => {
        if (e instanceof ApiError && e.status === 401) setMe(null);
        else setMe(null);
      });
  }, []);

  useEffect(() => setMenuOpen(false), [route]);

  if (me === undefined) return <main class="auth"><Loading what="the console" /></main>;

  if (me === null) {
    const signup = route === '/signup';
    return (
      <Auth
        key={signup ? 'signup' : 'login'}
        mode={signup ? 'signup' : 'login'}
        onSession={(a) => {
          setMe(a);
          if (route === '/signup' || route === '/login' || route === '/') navigate('/databases');
        }}
      />
    );
  }

  const logout = async () => {
    try {
      await api('POST', '/v1/auth/logout');
    } finally {
      // Whatever the answer, this page forgets the account; the API has
      // revoked the session and cleared the cookies when it could.
      setMe(null);
      navigate('/login');
    }
  };

  let page;
  let m: Record<string, string> | null;
  if (route === '/' || route === '/databases' || route === '/login' || route === '/signup') page = <Databases />;
  else if (route === '/databases/new') page = <CreateDatabase />;
  else if ((m = match('/databases/:id', route))) page = <Database key={m.id} id={m.id} />;
  else if (route === '/api-keys') page = <APIKeys />;
  else if (route === '/admin/nodes' && me.role === 'admin') page = <Nodes />;
  else if (route === '/admin/accounts' && me.role === 'admin') page = <Accounts />;
  else page = (
    <section>
      <PageTitle>Page not found</PageTitle>
      <p><a href="#/databases">Go to your databases</a></p>
    </section>
  );

  const link = (href: string, label: string) => {
    const current = route === href || (href === '/databases' && route.startsWith('/databases'));
    return (
      <li><a href={`#${href}`} aria-current={current ? 'page' : undefined}>{label}</a></li>
    );
  };

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <a class="brand" href="#/databases">Keyfleet</a>
        <button type="button" class="menu-toggle secondary" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <nav id="nav" class={menuOpen ? 'open' : ''} aria-label="Main">
          <ul>
            {link('/databases', 'Databases')}
            {link('/api-keys', 'API keys')}
            {me.role === 'admin' && link('/admin/nodes', 'Nodes')}
            {me.role === 'admin' && link('/admin/accounts', 'Accounts')}
          </ul>
          <div class="who">
            <span class="email">{me.email}</span>
            <button type="button" class="secondary" onClick={logout}>Log out</button>
          </div>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}
