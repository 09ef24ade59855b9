import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Replication } from './Replication';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const db = {
  id: 'db_1', name: 'cache', plan: 'pro', status: 'active', endpoint: 'localhost:6379',
  url: 'redis://db_1:pw@localhost:6379', password: 'pw', memory_mb: 64, shards: 1, replicas: 1,
  eviction_policy: 'noeviction', persistence: 'none', created_at: '2030-01-01T00:00:00Z',
  limits: { memory_mb: 64, max_connections: 30, ops_per_sec: 1000, max_request_bytes: 1 << 20, bandwidth_bytes_per_sec: 1 << 20 },
  topology: [{
    id: 'sh_1', index: 0, epoch: 2, placements: [
      { node_id: 'n1', address: '10.0.0.1:7000', role: 'primary', running: true, used_memory: 1, keys: 1, repl_offset: 5000, lag_bytes: 0, reported_role: 'primary', reported_epoch: 2, node_status: 'up' },
      { node_id: 'n2', address: '10.0.0.2:7000', role: 'replica', running: true, used_memory: 1, keys: 1, repl_offset: 3000, lag_bytes: 2048, reported_role: 'replica', reported_epoch: 2, link_status: 'down', node_status: 'up' },
    ],
  }],
};

const failover = {
  id: 7, shard_id: 'sh_1', shard_index: 0, reason: 'node_down', from: '10.0.0.3:7000', to: '10.0.0.1:7000',
  old_epoch: 1, new_epoch: 2, lag_bytes: 0, detected_at: '2030-01-01T00:00:00.000Z',
  routes_published_at: '2030-01-01T00:00:00.012Z', promoted_at: '2030-01-01T00:00:00.250Z',
};

describe('Replication', () => {
  it('shows each copy with its lag and the failovers with their timings', async () => {
    mockFetch({ 'GET /v1/databases/db_1/failovers?limit=20': { status: 200, body: { failovers: [failover] } } });
    render(<Replication db={db} onFailover={() => {}} />);
    const topo = await screen.findByTestId('topology');
    const replica = topo.querySelector('tr[data-role="replica"]')!;
    expect(replica.textContent).toContain('10.0.0.2:7000');
    expect(replica.textContent).toContain('2.0 KB');
    expect(replica.textContent).toContain('link to primary down');
    expect(topo.querySelector('tr[data-role="primary"]')!.textContent).not.toContain('link');
    const list = await screen.findByTestId('failovers');
    expect(list.textContent).toContain('node down');
    expect(list.textContent).toContain('1 → 2');
    expect(list.textContent).toContain('+12 ms');
    expect(list.textContent).toContain('+250 ms');
  });

  it('fails over after confirmation and offers force when the replica lags', async () => {
    let forced: unknown;
    const calls = mockFetch({
      'GET /v1/databases/db_1/failovers?limit=20': { status: 200, body: { failovers: [] } },
      'POST /v1/databases/db_1/failover': (c) => {
        const b = c.body as { force: boolean };
        if (!b.force) return { status: 409, body: { error: { code: 'replica_lagging', message: 'shard sh_1: the best replica is 4194304 bytes behind.', field: 'force' } } };
        forced = b;
        return { status: 200, body: { failovers: [{ ...failover, reason: 'manual_forced', from: '10.0.0.1:7000', to: '10.0.0.2:7000' }] } };
      },
    });
    const onFailover = vi.fn();
    render(<Replication db={db} onFailover={onFailover} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Fail over' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, fail over' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('4194304 bytes behind');
    expect(alert.textContent).toContain('force');
    expect(onFailover).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('checkbox'));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, fail over' }));
    await waitFor(() => expect(onFailover).toHaveBeenCalled());
    expect(forced).toEqual({ shard: 'all', force: true });
    expect((await screen.findByRole('status')).textContent).toContain('10.0.0.1:7000 → 10.0.0.2:7000');
    expect(calls.filter((c) => c.method === 'POST').length).toBe(2);
  });

  it('has no failover button for a database without topology (not an administrator)', async () => {
    mockFetch({ 'GET /v1/databases/db_1/failovers?limit=20': { status: 200, body: { failovers: [] } } });
    render(<Replication db={{ ...db, topology: undefined }} onFailover={() => {}} />);
    await screen.findByText('No failover yet.');
    expect(screen.queryByRole('button', { name: 'Fail over' })).toBeNull();
  });
});
