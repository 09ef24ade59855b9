import { useEffect, useState } from 'preact/hooks';

// Hash routes (#/databases/abc) keep every page a single document the
// control plane serves from one path, and reloads land on the same page.
export function currentRoute(): string {
  const h = window.location.hash.replace(/^#/, '');
  return h || '/';
}

export function navigate(path: string) {
  if (currentRoute() !== path) window.location.hash = path;
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function match(pattern: string, route: string): Record<string, string> | null {
  const p = pattern.split('/');
  const r = route.split('?')[0].split('/');
  if (p.length !== r.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(r[i]);
    else if (p[i] !== r[i]) return null;
  }
  return out;
}
