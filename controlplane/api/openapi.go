package api

import (
	"encoding/json"
	"net/http"
	"sync"
)

// The OpenAPI 3.0 document is built here, next to the handlers, from small
// helpers; TestOpenAPIMatchesRouter walks the router and fails when a
// route and the document disagree.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(desc string) obj { return obj{"type": "string", "description": desc} }

func integer(desc string) obj { return obj{"type": "integer", "description": desc} }

func enum(desc string, vals ...string) obj {
	return obj{"type": "string", "description": desc, "enum": vals}
}

func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func list(key, item string) obj {
	return object([]string{key}, obj{key: obj{"type": "array", "items": ref(item)}})
}

func jsonBody(schema obj) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": schema}}}
}

func optionalBody(schema obj) obj {
	b := jsonBody(schema)
	b["required"] = false
	return b
}

func resp(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = obj{"application/json": obj{"schema": schema}}
	}
	return r
}

func errResp(desc string) obj { return resp(desc, ref("Error")) }

type op struct {
	summary  string
	tags     []string
	public   bool // no authentication
	security []obj
	params   []obj
	body     obj
	ok       map[string]obj
	errors   map[string]string
}

func (o op) build() obj {
	responses := obj{}
	for code, r := range o.ok {
		responses[code] = r
	}
	for code, d := range o.errors {
		responses[code] = errResp(d)
	}
	out := obj{"summary": o.summary, "tags": o.tags, "responses": responses}
	switch {
	case o.security != nil:
		out["security"] = o.security
	case o.public:
		out["security"] = []obj{}
	}
	if len(o.params) > 0 {
		out["parameters"] = o.params
	}
	if o.body != nil {
		out["requestBody"] = o.body
	}
	return out
}

func pathParam(name, desc string) obj {
	return obj{"name": name, "in": "path", "required": true, "schema": obj{"type": "string"}, "description": desc}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "schema": schema, "description": desc}
}

var bad = map[string]string{"400": "Malformed JSON, an unknown or missing field, or an invalid value; error.field names it", "401": "Missing, invalid or expired credentials"}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var (
	openapiOnce sync.Once
	openapiJSON []byte
)

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	openapiOnce.Do(func() {
		b, err := json.MarshalIndent(openAPIDocument(), "", "  ")
		if err != nil {
			panic(err) // a static document that does not marshal is a programming error
		}
		openapiJSON = b
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiJSON)
}

func openAPIDocument() obj {
	auth401 := map[string]string{"401": "Missing, invalid or expired credentials"}
	notFound := map[string]string{"404": "No such database (or not yours)"}
	admin := map[string]string{"401": "Missing, invalid or expired credentials", "403": "Administrators only"}
	sessionOK := func(code, desc string) map[string]obj { return map[string]obj{code: resp(desc, ref("Session"))} }
	dbID := pathParam("id", "database id, e.g. db_abc123")
	nodeSec := []obj{{"nodeToken": []string{}}}
	proxySec := []obj{{"proxyToken": []string{}}}

	paths := obj{
		"/healthz": obj{"get": op{summary: "Liveness and Postgres reachability", tags: []string{"ops"}, public: true,
			ok: map[string]obj{"200": resp("Healthy", object([]string{"status"}, obj{"status": str("ok"),
				"leader": obj{"type": "boolean", "description": "whether this control-plane instance leads failover"}}))}, errors: map[string]string{"503": "Postgres unreachable"}}.build()},
		"/metrics": obj{"get": op{summary: "Prometheus metrics", tags: []string{"ops"}, public: true,
			ok: map[string]obj{"200": obj{"description": "Prometheus text exposition", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}}}.build()},
		"/v1/openapi.json": obj{"get": op{summary: "This document", tags: []string{"ops"}, public: true,
			ok: map[string]obj{"200": resp("OpenAPI 3.0 document", obj{"type": "object"})}}.build()},

		"/v1/auth/signup": obj{"post": op{summary: "Create an account and log in", tags: []string{"auth"}, public: true,
			body: jsonBody(ref("Credentials")), ok: sessionOK("201", "Account created; also sets HttpOnly session cookies"),
			errors: map[string]string{"400": "Malformed JSON, unknown or missing field, invalid e-mail, weak password", "409": "E-mail taken"}}.build()},
		"/v1/auth/login": obj{"post": op{summary: "Log in", tags: []string{"auth"}, public: true,
			body: jsonBody(ref("Credentials")), ok: sessionOK("200", "Logged in; also sets HttpOnly session cookies"),
			errors: map[string]string{"400": "Malformed JSON, unknown or missing field", "401": "Wrong e-mail or password", "429": "too_many_attempts: too many failed log-ins for this e-mail or from this address; see Retry-After"}}.build()},
		"/v1/auth/refresh": obj{"post": op{summary: "Exchange a refresh token for new tokens (the old refresh token stops working)", tags: []string{"auth"}, public: true,
			body: optionalBody(ref("RefreshRequest")), ok: sessionOK("200", "New tokens"),
			errors: map[string]string{"400": "No refresh token in the body or cookie", "401": "Unknown, expired, revoked or reused refresh token", "403": "Cookie without the X-Requested-With header"}}.build()},
		"/v1/auth/logout": obj{"post": op{summary: "End a session (by refresh token, bearer access token or cookies)", tags: []string{"auth"}, public: true,
			body: optionalBody(ref("RefreshRequest")), ok: map[string]obj{"204": resp("Session ended, cookies cleared", nil)},
			errors: map[string]string{"400": "Nothing names a session", "401": "Invalid access token", "403": "Cookie without the X-Requested-With header"}}.build()},
		"/v1/me": obj{"get": op{summary: "The authenticated account", tags: []string{"auth"},
			ok: map[string]obj{"200": resp("Account", ref("Account"))}, errors: auth401}.build()},
		"/v1/plans": obj{"get": op{summary: "Plans and their limits", tags: []string{"databases"},
			ok: map[string]obj{"200": resp("Plans", list("plans", "Plan"))}, errors: auth401}.build()},
		"/v1/events": obj{"get": op{summary: "The account's recent audit events, newest first", tags: []string{"auth"},
			ok: map[string]obj{"200": resp("Events", list("events", "Event"))}, errors: auth401}.build()},

		"/v1/api-keys": obj{
			"get": op{summary: "List API keys", tags: []string{"api-keys"},
				ok: map[string]obj{"200": resp("Keys (secrets are never shown again)", list("api_keys", "APIKey"))}, errors: auth401}.build(),
			"post": op{summary: "Create an API key; the key is in this answer only", tags: []string{"api-keys"},
				body: jsonBody(object([]string{"name"}, obj{"name": str("a label, at most 63 characters")})),
				ok:   map[string]obj{"201": resp("The new key", ref("CreatedAPIKey"))}, errors: bad}.build(),
		},
		"/v1/api-keys/{id}": obj{"delete": op{summary: "Revoke an API key", tags: []string{"api-keys"},
			params: []obj{pathParam("id", "key id")}, ok: map[string]obj{"204": resp("Revoked", nil)},
			errors: merge(auth401, map[string]string{"404": "No such key (or not yours)"})}.build()},

		"/v1/databases": obj{
			"get": op{summary: "List your databases", tags: []string{"databases"},
				ok: map[string]obj{"200": resp("Databases", list("databases", "Database"))}, errors: auth401}.build(),
			"post": op{summary: "Create a database; provisioning is asynchronous", tags: []string{"databases"},
				body: jsonBody(ref("CreateDatabase")),
				ok:   map[string]obj{"202": resp("Accepted; status is provisioning until every shard runs", ref("Database"))},
				errors: merge(bad, map[string]string{"409": "Name taken, or not enough node capacity",
					"422": "Over the plan's limits (memory, shards, replicas, number of databases)"})}.build(),
		},
		"/v1/databases/{id}": obj{
			"get": op{summary: "A database with its endpoint, URL and password", tags: []string{"databases"}, params: []obj{dbID},
				ok: map[string]obj{"200": resp("Database", ref("Database"))}, errors: merge(auth401, notFound)}.build(),
			"patch": op{summary: "Change memory or eviction policy", tags: []string{"databases"}, params: []obj{dbID},
				body: jsonBody(ref("UpdateDatabase")), ok: map[string]obj{"200": resp("Updated database", ref("Database"))},
				errors: merge(bad, notFound, map[string]string{"409": "Not enough capacity on the shards' nodes", "422": "Over the plan's memory"})}.build(),
			"delete": op{summary: "Delete a database", tags: []string{"databases"}, params: []obj{dbID},
				ok: map[string]obj{"204": resp("Deleting: no longer served; shards stop shortly", nil)}, errors: merge(auth401, notFound)}.build(),
		},
		"/v1/databases/{id}/rotate-password": obj{"post": op{summary: "Replace the password; the old one stops working", tags: []string{"databases"},
			params: []obj{dbID}, ok: map[string]obj{"200": resp("Database with the new password", ref("Database"))}, errors: merge(auth401, notFound)}.build()},
		"/v1/databases/{id}/retry": obj{"post": op{summary: "Provision a failed database again (the reconciler also retries on its own, with back-off, a few times)",
			tags: []string{"databases"}, params: []obj{dbID}, ok: map[string]obj{"202": resp("Provisioning again", ref("Database"))},
			errors: merge(auth401, notFound, map[string]string{"409": "conflict: the database has not failed"})}.build()},
		"/v1/databases/{id}/usage": obj{"get": op{summary: "Per-minute usage", tags: []string{"databases"},
			params: []obj{dbID,
				queryParam("minutes", "the last N minutes (default 60)", obj{"type": "integer", "minimum": 1}),
				queryParam("from", "window start, RFC 3339", obj{"type": "string", "format": "date-time"}),
				queryParam("to", "window end, RFC 3339 (default now)", obj{"type": "string", "format": "date-time"})},
			ok: map[string]obj{"200": resp("Usage", ref("Usage"))}, errors: merge(bad, notFound)}.build()},
		"/v1/databases/{id}/failover": obj{"post": op{summary: "Promote a replica of one shard or of every shard (all or none); the old primary becomes a replica",
			tags: []string{"databases"}, params: []obj{dbID}, body: optionalBody(ref("FailoverRequest")),
			ok:     map[string]obj{"200": resp("The failovers made; routes are already published", list("failovers", "Failover"))},
			errors: merge(bad, notFound, map[string]string{"409": "replica_lagging: the best replica is further behind than the bound (send force); no_replica: no replica is ready; conflict: the database is not active or has no such shard"})}.build()},
		"/v1/databases/{id}/failovers": obj{"get": op{summary: "The database's failovers with their timings, newest first", tags: []string{"databases"},
			params: []obj{dbID, queryParam("limit", "at most this many (default 100)", obj{"type": "integer", "minimum": 1, "maximum": 1000})},
			ok:     map[string]obj{"200": resp("Failovers", list("failovers", "Failover"))}, errors: merge(bad, notFound)}.build()},

		"/v1/admin/nodes": obj{"get": op{summary: "Node hosts with capacity and placed shards", tags: []string{"admin"},
			ok: map[string]obj{"200": resp("Nodes", list("nodes", "Node"))}, errors: admin}.build()},
		"/v1/admin/nodes/{id}/drain": obj{"post": op{summary: "Place no new shards on a node", tags: []string{"admin"},
			params: []obj{pathParam("id", "node id")}, ok: map[string]obj{"200": resp("The node", ref("Node"))},
			errors: merge(admin, map[string]string{"404": "No such node"})}.build()},
		"/v1/admin/accounts": obj{"get": op{summary: "Every account", tags: []string{"admin"},
			ok: map[string]obj{"200": resp("Accounts", list("accounts", "AccountSummary"))}, errors: admin}.build()},
		"/v1/admin/plans": obj{"get": op{summary: "Every plan", tags: []string{"admin"},
			ok: map[string]obj{"200": resp("Plans", list("plans", "Plan"))}, errors: admin}.build()},

		"/internal/v1/nodes/register": obj{"post": op{summary: "A node host announces itself (internal/wire.NodeRegister)", tags: []string{"internal"},
			security: nodeSec, body: jsonBody(obj{"type": "object"}),
			ok: map[string]obj{"200": resp("wire.NodeRegistered", obj{"type": "object"})}, errors: bad}.build()},
		"/internal/v1/nodes/heartbeat": obj{"post": op{summary: "A node host reports its shards and gets its desired state (wire.NodeHeartbeat → wire.NodeDesired)", tags: []string{"internal"},
			security: nodeSec, body: jsonBody(obj{"type": "object"}),
			ok: map[string]obj{"200": resp("wire.NodeDesired", obj{"type": "object"})}, errors: merge(bad, map[string]string{"404": "Unknown node: register again"})}.build()},
		"/internal/v1/routes": obj{"get": op{summary: "Routes for proxies (wire.Routes); long-polls with version and wait", tags: []string{"internal"},
			security: proxySec,
			params: []obj{queryParam("version", "the version the proxy has", obj{"type": "integer"}),
				queryParam("wait", "how long to wait for a newer version, e.g. 30s", obj{"type": "string"})},
			ok: map[string]obj{"200": resp("wire.Routes", obj{"type": "object"}), "304": resp("No newer version within wait", nil)}, errors: bad}.build()},
		"/internal/v1/usage": obj{"post": op{summary: "A proxy reports usage (wire.UsageReport)", tags: []string{"internal"},
			security: proxySec, body: jsonBody(obj{"type": "object"}),
			ok: map[string]obj{"204": resp("Rolled up", nil)}, errors: bad}.build()},
	}

	limits := object(nil, obj{"memory_mb": integer(""), "max_connections": integer(""), "ops_per_sec": integer(""),
		"max_request_bytes": integer(""), "bandwidth_bytes_per_sec": integer("")})
	timestamp := obj{"type": "string", "format": "date-time"}
	nullableTime := obj{"type": "string", "format": "date-time", "nullable": true}
	schemas := obj{
		"Error": object([]string{"error"}, obj{"error": object([]string{"code", "message"}, obj{
			"code":    str("machine-readable reason, e.g. missing_field, invalid_field, unknown_field, invalid_json, conflict, plan_limit, insufficient_capacity, unauthorized, forbidden, not_found"),
			"message": str("human-readable explanation"),
			"field":   str("the request field at fault, when there is one"),
		})}),
		"Credentials":    object([]string{"email", "password"}, obj{"email": str("e-mail address"), "password": str("at least 10 characters, not a common password")}),
		"RefreshRequest": object(nil, obj{"refresh_token": str("omit to use the kf_refresh cookie (then send X-Requested-With)")}),
		"Account": object([]string{"id", "email", "role", "created_at"}, obj{"id": str(""), "email": str(""),
			"role": enum("", "admin", "user"), "created_at": timestamp}),
		"AccountSummary": object(nil, obj{"id": str(""), "email": str(""), "role": enum("", "admin", "user"),
			"created_at": timestamp, "databases": integer("databases owned")}),
		"Session": object([]string{"account", "access_token", "refresh_token"}, obj{"account": ref("Account"),
			"access_token": str("JWT, about 15 minutes"), "refresh_token": str("opaque, single use"),
			"token_type": str("Bearer"), "expires_in": integer("seconds until the access token expires")}),
		"APIKey": object(nil, obj{"id": str(""), "name": str(""), "prefix": str("first characters of the key"),
			"created_at": timestamp, "last_used_at": nullableTime, "revoked_at": nullableTime}),
		"CreatedAPIKey": object(nil, obj{"id": str(""), "name": str(""), "prefix": str(""), "created_at": timestamp,
			"last_used_at": nullableTime, "revoked_at": nullableTime, "key": str("the secret; shown only now")}),
		"Plan": object(nil, obj{"name": str(""), "memory_mb": integer("largest database"), "max_shards": integer(""),
			"max_replicas": integer(""), "max_connections": integer(""), "ops_per_sec": integer(""),
			"max_request_bytes": integer(""), "bandwidth_bytes_per_sec": integer(""), "max_databases": integer("per account")}),
		"CreateDatabase": object([]string{"name"}, obj{
			"name":            str("letters, digits, '.', '_', '-'; at most 63 characters"),
			"plan":            str("plan name; default: the smallest plan that fits"),
			"memory_mb":       integer("default: the plan's memory"),
			"shards":          integer("default 1"),
			"replicas":        integer("per shard, default 0"),
			"eviction_policy": enum("default noeviction", EvictionPolicies...),
			"persistence":     enum("default none", Persistences...),
		}),
		"UpdateDatabase": object(nil, obj{"memory_mb": integer(""), "eviction_policy": enum("", EvictionPolicies...)}),
		"Database": object(nil, obj{
			"id": str(""), "name": str(""), "plan": str(""),
			"status":         enum("", "provisioning", "active", "failed", "deleting"),
			"failure_reason": str("why provisioning failed"),
			"endpoint":       str("host:port of the proxy"),
			"url":            str("redis://<id>:<password>@<endpoint>"),
			"password":       str(""),
			"memory_mb":      integer(""), "shards": integer(""), "replicas": integer(""),
			"eviction_policy": enum("", EvictionPolicies...),
			"persistence":     enum("", Persistences...),
			"limits":          limits,
			"created_at":      timestamp, "updated_at": timestamp,
			"topology":          obj{"type": "array", "description": "shards and where they run (administrators only)", "items": obj{"type": "object"}},
			"used_memory_bytes": integer("what the primaries last reported holding; absent before the first report"),
		}),
		"Usage": object(nil, obj{"database_id": str(""), "from": timestamp, "to": timestamp,
			"minutes": obj{"type": "array", "items": object(nil, obj{"minute": timestamp, "ops": integer(""), "bytes_in": integer(""),
				"bytes_out": integer(""), "connections_max": integer(""), "errors": integer(""), "rejected": integer("refused by a quota")})}}),
		"Node": object(nil, obj{"id": str(""), "name": str(""), "advertise": str(""), "port_min": integer(""), "port_max": integer(""),
			"status": enum("", "up", "down", "draining"), "memory_mb": integer("capacity"), "memory_placed_mb": integer("reserved by placed shards"),
			"shards_placed": integer(""), "shards_running": integer(""), "used_memory_bytes": integer("reported"),
			"version": str(""), "last_heartbeat": timestamp, "registered_at": timestamp,
			"last_probe_ok": obj{"type": "string", "format": "date-time", "nullable": true, "description": "when a probe of the node's shard ports was last answered"}}),
		"FailoverRequest": object(nil, obj{"shard": str(`a shard id, or "all" (default)`),
			"force": obj{"type": "boolean", "description": "promote even a replica further behind than the bound (acknowledged writes may be lost)"}}),
		"Failover": object(nil, obj{"id": integer(""), "database_id": str(""), "shard_id": str(""), "shard_index": integer(""),
			"reason":    enum("", "node_down", "manual", "manual_forced"),
			"from_node": str("node of the old primary"), "to_node": str("node of the new primary"),
			"from": str("host:port of the old primary"), "to": str("host:port of the new primary"),
			"old_epoch": integer(""), "new_epoch": integer("the shard's epoch after the failover; copies at an older epoch are fenced"),
			"repl_offset": integer("the promoted replica's last reported offset"),
			"lag_bytes":   integer("how far it trailed the old primary's last report"),
			"detected_at": timestamp, "routes_published_at": timestamp,
			"promoted_at": obj{"type": "string", "format": "date-time", "nullable": true, "description": "when the new primary's node reported serving it at the new epoch"}}),
		"Event": object(nil, obj{"id": integer(""), "at": timestamp, "kind": str(""), "message": str(""),
			"database_id": str(""), "node_id": str("")}),
	}

	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":   "Keyfleet API",
			"version": "1",
			"description": "Managed Redis-compatible databases. Authenticate with `Authorization: Bearer <access token or API key>`. " +
				"The web console uses HttpOnly cookies instead; cookie-authenticated requests that change state must send `X-Requested-With`. " +
				"Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
		},
		"servers":  []obj{{"url": "/"}},
		"security": []obj{{"bearer": []string{}}, {"cookie": []string{}}},
		"paths":    paths,
		"components": obj{
			"schemas": schemas,
			"securitySchemes": obj{
				"bearer":     obj{"type": "http", "scheme": "bearer", "description": "access token (JWT) or API key (kf_...)"},
				"cookie":     obj{"type": "apiKey", "in": "cookie", "name": accessCookie},
				"nodeToken":  obj{"type": "http", "scheme": "bearer", "description": "node token (KEYFLEET_NODE_TOKEN)"},
				"proxyToken": obj{"type": "http", "scheme": "bearer", "description": "proxy token (KEYFLEET_PROXY_TOKEN)"},
			},
		},
	}
}
