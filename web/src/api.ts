// The console's only way to the control plane: the public /v1 API on the
// same origin. Authentication rides on the HttpOnly session cookies the API
// sets at log-in, so no token is ever held by this code; every request
// carries X-Requested-With, which the API requires of cookie-authenticated
// requests that change state (a cross-origin page cannot add it).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    // seconds the server asked to wait (429's Retry-After)
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface Account {
  id: string;
  email: string;
  role: string;
  created_at: string;
}

export interface Limits {
  memory_mb: number;
  max_connections: number;
  ops_per_sec: number;
  max_request_bytes: number;
  bandwidth_bytes_per_sec: number;
}

export interface Placement {
  node_id: string;
  address: string;
  role: string;
  running: boolean;
  used_memory: number;
  keys: number;
  repl_offset?: number;
  // How far a replica trails its primary, in bytes (0 for the primary).
  lag_bytes?: number;
  reported_role?: string;
  reported_epoch?: number;
  // A replica's link with its primary as its node reports it: 'up' or 'down'.
  link_status?: string;
  node_status?: string;
  error?: string;
}

export interface ShardInfo {
  id: string;
  index: number;
  epoch?: number;
  placements: Placement[];
}

// One promotion of a replica (GET /v1/databases/{id}/failovers).
export interface Failover {
  id: number;
  shard_id: string;
  shard_index: number;
  reason: 'node_down' | 'manual' | 'manual_forced';
  from: string;
  to: string;
  old_epoch: number;
  new_epoch: number;
  lag_bytes: number;
  detected_at: string;
  routes_published_at: string;
  promoted_at: string | null;
}

export interface Database {
  id: string;
  name: string;
  plan: string;
  status: string;
  failure_reason?: string;
  endpoint: string;
  url: string;
  password: string;
  memory_mb: number;
  shards: number;
  replicas: number;
  eviction_policy: string;
  persistence: string;
  limits: Limits;
  created_at: string;
  topology?: ShardInfo[];
  // Not in the API yet; shown when a control plane reports it.
  used_memory_bytes?: number;
}

export interface Plan {
  name: string;
  memory_mb: number;
  max_shards: number;
  max_replicas: number;
  max_connections: number;
  ops_per_sec: number;
  max_request_bytes: number;
  bandwidth_bytes_per_sec: number;
  max_databases: number;
}

export interface UsageMinute {
  minute: string;
  ops: number;
  bytes_in: number;
  bytes_out: number;
  connections_max: number;
  errors: number;
  rejected: number;
}

export interface APIKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

export interface NodeInfo {
  id: string;
  name: string;
  advertise: string;
  status: string;
  memory_mb: number;
  memory_placed_mb: number;
  shards_placed: number;
  shards_running: number;
  used_memory_bytes: number;
  version: string;
  last_heartbeat: string;
  // When a probe of the node's shard ports was last answered.
  last_probe_ok?: string | null;
}

export interface AccountSummary extends Account {
  databases: number;
}

export const EVICTION_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
];

export const PERSISTENCE = ['none', 'rdb', 'aof-everysec', 'aof-always'];

type Listener = () => void;
let sessionEnded: Listener = () => {};

// onSessionEnded is called when the API refuses the session and a refresh
// cannot renew it (expired, revoked, logged out elsewhere).
export function onSessionEnded(l: Listener) {
  sessionEnded = l;
}

// One refresh at a time: concurrent 401s wait for the same renewal.
let refreshing: Promise<boolean> | null = null;

function refreshSession(): Promise<boolean> {
  if (!refreshing) {
    refreshing = fetch('/v1/auth/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'keyfleet-console' },
    })
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'X-Requested-With': 'keyfleet-console', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await send(method, path, body);
    // The access cookie lives minutes; the refresh cookie renews it.
    if (res.status === 401 && !path.startsWith('/v1/auth/')) {
      if (await refreshSession()) {
        res = await send(method, path, body);
      }
      if (res.status === 401) sessionEnded();
    }
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the control plane: ${(e as Error).message}`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: any = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (!res.ok) throw new ApiError(res.status, 'http', `${res.status} ${res.statusText}`);
      throw new ApiError(res.status, 'invalid_json', 'the control plane sent a malformed answer');
    }
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    throw new ApiError(res.status, e.code ?? 'http', e.message ?? `${res.status} ${res.statusText}`, e.field || undefined,
      Number(res.headers.get('Retry-After')) || undefined);
  }
  return data as T;
}

// fieldErrors splits an API error into the message for a form field the
// form shows and a message for the form as a whole.
export function fieldError(err: unknown, fields: string[]): { field?: string; message: string } {
  if (err instanceof ApiError) {
    if (err.field && fields.includes(err.field)) return { field: err.field, message: err.message };
    return { message: err.message };
  }
  return { message: String((err as Error)?.message ?? err) };
}
