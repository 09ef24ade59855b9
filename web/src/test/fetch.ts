import { vi } from 'vitest';

export type Call = { method: string; url: string; body: unknown; headers: Record<string, string>; credentials?: string };
type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
type Route = (c: Call) => Answer;

// mockFetch answers fetch calls from a table keyed by "METHOD /path" and
// records each call, so tests can assert on what the console sent.
export function mockFetch(routes: Record<string, Route | Answer>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit = {}) => {
    const c: Call = {
      method: init.method ?? 'GET',
      url,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init.headers ?? {}) as Record<string, string>,
      credentials: init.credentials,
    };
    calls.push(c);
    const r = routes[`${c.method} ${url}`];
    if (!r) return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no route ' + url } }), { status: 404 });
    const a = typeof r === 'function' ? r(c) : r;
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status, headers: a.headers });
  });
  vi.stubGlobal('fetch', fn);
  return calls;
}
