import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Auth } from './Auth';
import { CreateDatabase } from './CreateDatabase';
import { Database } from './Database';
import { App } from '../App';

vi.mock('uplot', () => ({
  default: class {
    setData() {}
    setSize() {}
    destroy() {}
  },
}));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.location.hash = '';
});

const plans = [
  { name: 'free', memory_mb: 64, max_shards: 1, max_replicas: 0, max_connections: 30, ops_per_sec: 1000, max_request_bytes: 1 << 20, bandwidth_bytes_per_sec: 1 << 20, max_databases: 1 },
  { name: 'pro', memory_mb: 1024, max_shards: 8, max_replicas: 2, max_connections: 1000, ops_per_sec: 0, max_request_bytes: 1 << 24, bandwidth_bytes_per_sec: 0, max_databases: 10 },
];

const db = {
  id: 'db_1', name: 'cache', plan: 'free', status: 'active', endpoint: 'localhost:6379',
  url: 'redis://db_1:s3cretpassw0rd@localhost:6379', password: 's3cretpassw0rd', memory_mb: 64, shards: 1, replicas: 0,
  eviction_policy: 'noeviction', persistence: 'none', created_at: '2030-01-01T00:00:00Z',
  limits: { memory_mb: 64, max_connections: 30, ops_per_sec: 1000, max_request_bytes: 1 << 20, bandwidth_bytes_per_sec: 1 << 20 },
};

describe('Auth', () => {
  it('shows the API error next to the field at fault and keeps no token', async () => {
    mockFetch({ 'POST /v1/auth/signup': { status: 400, body: { error: { code: 'invalid_field', message: 'password must be at least 10 characters', field: 'password' } } } });
    const onSession = vi.fn();
    render(<Auth mode="signup" onSession={onSession} />);
    fireEvent.input(screen.getByLabelText('E-mail'), { target: { value: 'a@example.com' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'short' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign up' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('password must be at least 10 characters');
    // The error is tied to the password input for screen readers.
    const pw = screen.getByLabelText('Password');
    expect(pw.getAttribute('aria-invalid')).toBe('true');
    expect(pw.getAttribute('aria-describedby')).toContain(alert.id);
    expect(onSession).not.toHaveBeenCalled();
  });

  it('logs in and leaves the tokens of the answer out of storage', async () => {
    const calls = mockFetch({ 'POST /v1/auth/login': { status: 200, body: { account: { id: 'a1', email: 'a@example.com', role: 'user' }, access_token: 'jwt', refresh_token: 'rt' } } });
    const onSession = vi.fn();
    render(<Auth mode="login" onSession={onSession} />);
    fireEvent.input(screen.getByLabelText('E-mail'), { target: { value: 'a@example.com' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'a long password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    await waitFor(() => expect(onSession).toHaveBeenCalledWith({ id: 'a1', email: 'a@example.com', role: 'user' }));
    expect(calls[0].body).toEqual({ email: 'a@example.com', password: 'a long password' });
    expect(localStorage.length + sessionStorage.length).toBe(0);
    expect(document.cookie).not.toContain('jwt');
  });
});

describe('CreateDatabase', () => {
  it("shows the chosen plan's limits and the API's error at memory_mb", async () => {
    const calls = mockFetch({
      'GET /v1/plans': { status: 200, body: { plans } },
      'POST /v1/databases': { status: 422, body: { error: { code: 'plan_limit', message: 'memory_mb 2048 is over the pro plan', field: 'memory_mb' } } },
    });
    render(<CreateDatabase />);
    const plan = await screen.findByLabelText('Plan');
    fireEvent.change(plan, { target: { value: 'pro' } });
    expect(screen.getByLabelText('Limits of the pro plan').textContent).toContain('up to 8');
    expect((screen.getByLabelText('Memory (MB)') as HTMLInputElement).value).toBe('1024');
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'cache' } });
    fireEvent.input(screen.getByLabelText('Memory (MB)'), { target: { value: '2048' } });
    fireEvent.input(screen.getByLabelText('Shards'), { target: { value: '3' } });
    fireEvent.change(screen.getByLabelText('Eviction policy'), { target: { value: 'allkeys-lru' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create database' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('over the pro plan');
    expect(screen.getByLabelText('Memory (MB)').getAttribute('aria-describedby')).toContain(alert.id);
    expect(calls.at(-1)!.body).toEqual({ name: 'cache', plan: 'pro', memory_mb: 2048, shards: 3, replicas: 0, eviction_policy: 'allkeys-lru', persistence: 'none' });
  });
});

describe('CreateDatabase without a plan', () => {
  it('lets the API pick the smallest plan that fits and opens the new database', async () => {
    const calls = mockFetch({
      'GET /v1/plans': { status: 200, body: { plans } },
      'POST /v1/databases': { status: 202, body: { ...db, id: 'db_new', status: 'provisioning' } },
    });
    render(<CreateDatabase />);
    fireEvent.change(await screen.findByLabelText('Plan'), { target: { value: '' } });
    expect(screen.queryByLabelText(/Limits of the/)).toBeNull();
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'auto' } });
    fireEvent.input(screen.getByLabelText('Memory (MB)'), { target: { value: '200' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create database' }));
    await waitFor(() => expect(window.location.hash).toBe('#/databases/db_new'));
    const body = calls.at(-1)!.body as Record<string, unknown>;
    expect(body.plan).toBeUndefined();
    expect(body.memory_mb).toBe(200);
  });
});

describe('Database', () => {
  it('masks the password until revealed and copies the full URL', async () => {
    mockFetch({
      'GET /v1/databases/db_1': { status: 200, body: db },
      'GET /v1/databases/db_1/usage?minutes=30': { status: 200, body: { minutes: [] } },
    });
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(<Database id="db_1" />);
    const url = (await screen.findByLabelText('URL')) as HTMLInputElement;
    expect(url.value).not.toContain('s3cretpassw0rd');
    expect(document.body.textContent).not.toContain('s3cretpassw0rd');
    fireEvent.click(screen.getByRole('button', { name: 'Reveal password' }));
    expect(url.value).toBe(db.url);
    fireEvent.click(screen.getByRole('button', { name: 'Copy URL' }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(db.url));
  });

  it('deletes only after the name is typed', async () => {
    const calls = mockFetch({
      'GET /v1/databases/db_1': { status: 200, body: db },
      'GET /v1/databases/db_1/usage?minutes=30': { status: 200, body: { minutes: [] } },
      'DELETE /v1/databases/db_1': { status: 204 },
    });
    render(<Database id="db_1" />);
    const del = await screen.findByRole('button', { name: 'Delete database' });
    expect((del as HTMLButtonElement).disabled).toBe(true);
    const confirm = screen.getByLabelText(/Type the database's name/);
    fireEvent.input(confirm, { target: { value: 'cach' } });
    expect((del as HTMLButtonElement).disabled).toBe(true);
    fireEvent.input(confirm, { target: { value: 'cache' } });
    expect((del as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(del);
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === '/v1/databases/db_1')).toBe(true));
    await waitFor(() => expect(window.location.hash).toBe('#/databases'));
  });
});

describe('App', () => {
  it('logs out through the API and returns to the log-in form', async () => {
    const calls = mockFetch({
      'GET /v1/me': { status: 200, body: { id: 'a1', email: 'a@example.com', role: 'admin' } },
      'GET /v1/databases': { status: 200, body: { databases: [] } },
      'POST /v1/auth/logout': { status: 204 },
    });
    render(<App />);
    expect(await screen.findByText('No databases yet.')).toBeTruthy();
    // Administrators see the admin pages in the menu.
    expect(screen.getByRole('link', { name: 'Nodes' })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Log out' }));
    expect(await screen.findByRole('heading', { name: 'Log in' })).toBeTruthy();
    const logout = calls.find((c) => c.url === '/v1/auth/logout')!;
    expect(logout.method).toBe('POST');
    expect(logout.headers['X-Requested-With']).toBeTruthy();
  });
});
