import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, onSessionEnded } from './api';
import { rates, yMax } from './usage';
import { mockFetch } from './test/fetch';

afterEach(() => vi.unstubAllGlobals());

describe('api', () => {
  it('sends the CSRF header and same-origin credentials, never an Authorization header', async () => {
    const calls = mockFetch({ 'POST /v1/api-keys': { status: 201, body: { id: 'k1' } } });
    await api('POST', '/v1/api-keys', { name: 'ci' });
    expect(calls[0].headers['X-Requested-With']).toBeTruthy();
    expect(calls[0].headers['Authorization']).toBeUndefined();
    expect(calls[0].credentials).toBe('same-origin');
    expect(calls[0].body).toEqual({ name: 'ci' });
  });

  it('renews an expired access cookie once and retries', async () => {
    let n = 0;
    const calls = mockFetch({
      'GET /v1/databases': () => (n++ === 0 ? { status: 401, body: { error: { code: 'unauthorized', message: 'expired' } } } : { status: 200, body: { databases: [] } }),
      'POST /v1/auth/refresh': { status: 200, body: {} },
    });
    await expect(api('GET', '/v1/databases')).resolves.toEqual({ databases: [] });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /v1/databases', 'POST /v1/auth/refresh', 'GET /v1/databases']);
  });

  it('ends the session when the refresh is refused', async () => {
    const ended = vi.fn();
    onSessionEnded(ended);
    mockFetch({
      'GET /v1/me': { status: 401, body: { error: { code: 'unauthorized', message: 'the session has ended', field: 'authorization' } } },
      'POST /v1/auth/refresh': { status: 401, body: { error: { code: 'invalid_refresh_token', message: 'nope' } } },
    });
    const err = (await api('GET', '/v1/me').catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(ended).toHaveBeenCalledOnce();
  });

  it('carries the field of an API error', async () => {
    mockFetch({ 'POST /v1/databases': { status: 422, body: { error: { code: 'plan_limit', message: 'too big', field: 'memory_mb' } } } });
    const err = (await api('POST', '/v1/databases', {}).catch((e) => e)) as ApiError;
    expect([err.code, err.field, err.message]).toEqual(['plan_limit', 'memory_mb', 'too big']);
  });
});

describe('rates', () => {
  it('fills the window and divides the minute still filling by the seconds elapsed', () => {
    const r = rates(
      [
        { minute: '2030-01-01T00:00:00Z', ops: 600, bytes_in: 60, bytes_out: 60, connections_max: 3, errors: 0, rejected: 0 },
        { minute: '2030-01-01T00:01:00Z', ops: 100, bytes_in: 10, bytes_out: 0, connections_max: 2, errors: 0, rejected: 0 },
      ],
      Date.parse('2030-01-01T00:01:10Z'),
      3,
    );
    // One empty minute before the rows: zero, not a gap.
    expect(r.xs).toEqual([Date.parse('2029-12-31T23:59:00Z') / 1000, Date.parse('2030-01-01T00:00:00Z') / 1000, Date.parse('2030-01-01T00:01:00Z') / 1000]);
    expect(r.ops).toEqual([0, 10, 10]);
    expect(r.bandwidth).toEqual([0, 2, 1]);
    expect(r.connections).toEqual([0, 3, 2]);
    expect(r.totalOps).toBe(700);
  });
});

describe('yMax', () => {
  it('leaves a far quota off the scale and brings a near one in', () => {
    const far = [{ label: 'ops', values: [1, 8], color: '' }, { label: 'quota', values: [10000, 10000], color: '', quota: true }];
    expect(yMax(far)).toBe(10);
    const near = [{ label: 'ops', values: [600, 800], color: '' }, { label: 'quota', values: [1000, 1000], color: '', quota: true }];
    expect(yMax(near)).toBe(1100);
    expect(yMax([{ label: 'ops', values: [0, null], color: '' }])).toBe(1);
  });
});
