import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Database } from './Database';

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
});

const failed = {
  id: 'db_1', name: 'cache', plan: 'free', status: 'failed', failure_reason: 'shard 0 on node n1: bind: address already in use',
  endpoint: 'localhost:6379', url: 'redis://db_1:pw@localhost:6379', password: 'pw', memory_mb: 64, shards: 1, replicas: 0,
  eviction_policy: 'noeviction', persistence: 'none', created_at: '2030-01-01T00:00:00Z',
  limits: { memory_mb: 64, max_connections: 30, ops_per_sec: 1000, max_request_bytes: 1 << 20, bandwidth_bytes_per_sec: 1 << 20 },
};

describe('Database that failed', () => {
  it('shows the reason and retries provisioning on request', async () => {
    let state = failed;
    const calls = mockFetch({
      'GET /v1/databases/db_1': () => ({ status: 200, body: state }),
      'POST /v1/databases/db_1/retry': () => {
        state = { ...failed, status: 'provisioning', failure_reason: '' };
        return { status: 202, body: state };
      },
    });
    render(<Database id="db_1" />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('address already in use');
    fireEvent.click(screen.getByRole('button', { name: 'Retry provisioning' }));
    await screen.findByText(/Provisioning: starting 1 shard/);
    expect(calls.some((c) => c.method === 'POST' && c.url === '/v1/databases/db_1/retry')).toBe(true);
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Retry provisioning' })).toBeNull());
  });
});
