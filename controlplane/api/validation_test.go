package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBadBodiesEverywhere throws malformed, mistyped, oversized and
// out-of-range bodies at every operation of the OpenAPI document: each
// must be answered promptly with a JSON error, never a 5xx, and an
// operation that takes a body must refuse them with a 4xx.
func TestBadBodiesEverywhere(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	r := e.do("POST", "/v1/api-keys", map[string]string{"name": "sweep"}, admin)
	e.expect(r, http.StatusCreated)
	// An API key, so that no bad body to /v1/auth/logout can end the
	// session the sweep runs under.
	key, keyID := r.str("key"), r.str("id")
	node := e.node("n1", 4096)
	e.node("n2", 4096)
	r = e.do("POST", "/v1/databases", map[string]any{"name": "sweep", "plan": "pro", "memory_mb": 256, "replicas": 1}, key)
	e.expect(r, http.StatusAccepted)
	dbID := r.str("id")

	r = e.do("GET", "/v1/openapi.json", nil, "")
	e.expect(r, http.StatusOK)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}

	type operation struct {
		method, path string
		props        map[string]schema // of the body, when it takes one
		takesBody    bool
		query        map[string]schema
	}
	var ops []operation
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			var o struct {
				RequestBody *struct {
					Content map[string]struct {
						Schema schema `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Parameters []struct {
					Name   string `json:"name"`
					In     string `json:"in"`
					Schema schema `json:"schema"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			op := operation{method: strings.ToUpper(method), path: path, query: map[string]schema{}}
			for _, p := range o.Parameters {
				if p.In == "query" {
					op.query[p.Name] = p.Schema
				}
			}
			if o.RequestBody != nil {
				op.takesBody = true
				s := o.RequestBody.Content["application/json"].Schema
				if s.Ref != "" {
					s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
				}
				op.props = s.Properties
			}
			ops = append(ops, op)
		}
	}
	// Deletions last, so that the other operations meet live resources.
	sort.Slice(ops, func(i, j int) bool {
		if (ops[i].method == "DELETE") != (ops[j].method == "DELETE") {
			return ops[j].method == "DELETE"
		}
		return ops[i].path+ops[i].method < ops[j].path+ops[j].method
	})
	if len(ops) < 25 {
		t.Fatalf("only %d operations documented", len(ops))
	}

	bodies := map[string]string{
		"malformed":        `{"name":`,
		"not an object":    `[1, 2]`,
		"a string":         `"hello"`,
		"trailing data":    `{} {}`,
		"unknown field":    `{"no_such_field_xyz": 1}`,
		"invalid UTF-8":    "{\"name\": \"\xff\xfe\"}",
		"deep nesting":     strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		"oversized":        `{"name": "` + strings.Repeat("x", maxBody) + `"}`,
		"huge number":      `{"memory_mb": 1e400}`,
		"control bytes":    "{\"name\": \"a\x00b\"}",
		"duplicate fields": `{"name": 1, "name": "x"}`,
		"NUL in e-mail":    `{"email": "a\u0000b@example.com", "password": "correct horse battery"}`,
	}
	type probe struct {
		name, body, query string
		badQuery          bool
	}
	probesFor := func(op operation) []probe {
		var ps []probe
		for name, b := range bodies {
			ps = append(ps, probe{name: name, body: b})
		}
		// Out of range, per documented field: each sent alone, so every
		// other required field is missing too; either is a 4xx.
		for field, s := range op.props {
			var bad []string
			switch s.Type {
			case "integer", "number":
				bad = []string{"-1", "9223372036854775808", "1.5", `"12"`, "true", "[]", "{}"}
			case "string":
				bad = []string{"12", "false", "[]", "{}", `"` + strings.Repeat("é", 5000) + `"`, `"a\u0000b"`}
			case "boolean":
				bad = []string{`"yes"`, "1", "[]"}
			case "array":
				bad = []string{`"x"`, "{}", "[" + strings.Repeat(`"x",`, 100000) + `"x"]`}
			default:
				bad = []string{`"x"`, "12"}
			}
			for i, v := range bad {
				ps = append(ps, probe{name: fmt.Sprintf("%s #%d", field, i), body: fmt.Sprintf(`{%q: %s}`, field, v)})
			}
		}
		// Bad query parameters, on an empty body. An empty value is an
		// absent one (the default), and a long wait is capped, not refused.
		for param, s := range op.query {
			var bad []string
			switch {
			case s.Type == "integer":
				bad = []string{"abc", "1.5", "1e400", "99999999999999999999999"}
				if s.Minimum != nil {
					bad = append(bad, strconv.FormatFloat(*s.Minimum-1, 'f', -1, 64))
				}
				if s.Maximum != nil {
					bad = append(bad, strconv.FormatFloat(*s.Maximum+1, 'f', -1, 64))
				}
			case s.Format == "date-time":
				bad = []string{"yesterday", "2026-13-45T00:00:00Z", "0"}
			default:
				bad = []string{"forever", "-5s", "1x"}
			}
			for i, v := range bad {
				ps = append(ps, probe{name: fmt.Sprintf("query %s #%d", param, i), query: param + "=" + url.QueryEscape(v), badQuery: true})
			}
		}
		return ps
	}

	client := &http.Client{Timeout: 10 * time.Second}
	ids := strings.NewReplacer("/v1/api-keys/{id}", "/v1/api-keys/"+keyID, "/v1/admin/nodes/{id}", "/v1/admin/nodes/"+node, "{id}", dbID)
	for _, op := range ops {
		tok := key
		switch {
		case strings.HasPrefix(op.path, "/internal/v1/nodes"):
			tok = nodeToken
		case strings.HasPrefix(op.path, "/internal/v1/"):
			tok = proxyToken
		}
		if op.method == "DELETE" && op.path == "/v1/api-keys/{id}" {
			continue // would revoke the key the sweep runs under; it has no body
		}
		for _, p := range probesFor(op) {
			target := e.http.URL + ids.Replace(op.path)
			if p.query != "" {
				target += "?" + p.query
			}
			req, err := http.NewRequest(op.method, target, strings.NewReader(p.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("%s %s, %s: %v", op.method, op.path, p.name, err)
				continue
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			what := fmt.Sprintf("%s %s, %s: status %d: %.200s", op.method, op.path, p.name, res.StatusCode, raw)
			switch {
			case res.StatusCode >= 500:
				t.Errorf("%s", what)
			case (op.takesBody || p.badQuery) && res.StatusCode < 400:
				t.Errorf("accepted bad input: %s", what)
			case res.StatusCode >= 400:
				var body struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Unmarshal(raw, &body) != nil ||
					body.Error.Code == "" || body.Error.Message == "" {
					t.Errorf("error is not a JSON error: %s", what)
				}
			}
		}
	}
}

// schema is the part of an OpenAPI schema the sweep reads.
type schema struct {
	Ref        string            `json:"$ref"`
	Type       string            `json:"type"`
	Format     string            `json:"format"`
	Minimum    *float64          `json:"minimum"`
	Maximum    *float64          `json:"maximum"`
	Properties map[string]schema `json:"properties"`
}

func TestNulField(t *testing.T) {
	type inner struct {
		Tags []string `json:"tags"`
	}
	type req struct {
		Name  *string        `json:"name,omitempty"`
		In    inner          `json:"in"`
		Attrs map[string]int `json:"attrs"`
		skip  string
	}
	nul, ok := "a\x00b", "ab"
	for _, tc := range []struct {
		v    any
		want string
	}{
		{&req{Name: &ok, In: inner{Tags: []string{"x"}}, Attrs: map[string]int{"k": 1}, skip: nul}, ""},
		{&req{Name: &nul}, "name"},
		{&req{In: inner{Tags: []string{"x", nul}}}, "in.tags"},
		{&req{Attrs: map[string]int{nul: 1}}, "attrs"},
		{&struct{}{}, ""},
	} {
		if got := nulField(tc.v); got != tc.want {
			t.Errorf("nulField(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
