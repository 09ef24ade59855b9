package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// Redis runs a patched Lua whose tables can be marked read-only: the
// globals, the redis table and the libraries are locked, so a script can
// neither create globals nor replace a library function for the scripts
// that follow. gopher-lua has no such flag, so a locked table is shown to
// scripts as an empty proxy whose metatable reads through to the real
// table and refuses every write. The real tables never reach a script;
// the builtins that could write past a metatable (rawset, setmetatable,
// table.insert, ...) are replaced by versions that know the proxies.

const errReadonly = "Attempt to modify a readonly table"

// protect returns the read-only proxy of real (one per table), locking
// the tables reachable from it too.
func (st *State) protect(real *glua.LTable) *glua.LTable {
	if p, ok := st.proxyOf[real]; ok {
		return p
	}
	if _, isProxy := st.realOf[real]; isProxy {
		return real
	}
	p := st.L.NewTable()
	st.proxyOf[real] = p
	st.realOf[p] = real
	mt := st.L.NewTable()
	mt.RawSetString("__index", real)
	mt.RawSetString("__newindex", st.roNewIndex)
	p.Metatable = mt
	// Lock what the table holds: library tables inside library tables,
	// and the table's own metatable, as Redis's
	// luaSetTableProtectionRecursively does.
	forEach(real, func(k, v glua.LValue) {
		if t, ok := v.(*glua.LTable); ok {
			if _, isProxy := st.realOf[t]; !isProxy {
				// A table that refers to itself (string.__index) gets
				// its own proxy too.
				real.RawSet(k, st.protect(t))
			}
		}
	})
	return p
}

// newLocked returns an empty read-only table whose reads go to index
// (a table or a function): the environment of function libraries, whose
// index Redis switches between the load-time API and the globals.
func (st *State) newLocked(index glua.LValue) (*glua.LTable, *glua.LTable) {
	p := st.L.NewTable()
	mt := st.L.NewTable()
	mt.RawSetString("__index", index)
	mt.RawSetString("__newindex", st.roNewIndex)
	p.Metatable = mt
	st.realOf[p] = nil
	return p, mt
}

// locked reports whether t is a read-only proxy.
func (st *State) locked(t *glua.LTable) bool {
	_, ok := st.realOf[t]
	return ok
}

// underlying returns the table whose contents a proxy shows (t itself for
// an ordinary table, an empty table for a proxy without one).
func (st *State) underlying(t *glua.LTable) *glua.LTable {
	real, ok := st.realOf[t]
	if !ok {
		return t
	}
	if real == nil {
		return st.empty
	}
	return real
}

// roNewIndexFn is the __newindex of every proxy: a write from Lua code,
// reported with the script's position as Redis's VM does.
func roNewIndexFn(L *glua.LState) int {
	L.RaiseError(errReadonly)
	return 0
}

// refuseReadonly raises the error a C builtin raises when it is handed a
// locked table (no position: the error comes from inside the builtin).
func refuseReadonly(L *glua.LState) {
	L.Error(glua.LString(errReadonly), 0)
}

// installProxyAwareBuiltins replaces the base and table functions that
// reach into a table's raw contents.
func (st *State) installProxyAwareBuiltins(g *glua.LTable) {
	L := st.L
	g.RawSetString("rawset", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		if st.locked(t) {
			refuseReadonly(L)
		}
		L.CheckAny(2)
		L.CheckAny(3)
		if L.Get(2) == glua.LNil {
			L.ArgError(2, "table index is nil")
		}
		t.RawSet(L.Get(2), L.Get(3))
		L.SetTop(1)
		return 1
	}))
	g.RawSetString("rawget", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		L.CheckAny(2)
		L.Push(st.underlying(t).RawGet(L.Get(2)))
		return 1
	}))
	g.RawSetString("setmetatable", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		mt := L.Get(2)
		if mt.Type() != glua.LTNil && mt.Type() != glua.LTTable {
			L.ArgError(2, "nil or table expected")
		}
		if st.locked(t) {
			refuseReadonly(L)
		}
		if cur, ok := t.Metatable.(*glua.LTable); ok && cur.RawGetString("__metatable") != glua.LNil {
			raisef(L, "cannot change a protected metatable")
		}
		t.Metatable = mt
		L.SetTop(1)
		return 1
	}))
	g.RawSetString("getmetatable", L.NewFunction(func(L *glua.LState) int {
		v := L.CheckAny(1)
		if t, ok := v.(*glua.LTable); ok && st.locked(t) {
			real := st.realOf[t]
			if real == nil {
				// An environment table: its metatable is locked too.
				L.Push(st.protect(t.Metatable.(*glua.LTable)))
				return 1
			}
			if mt, ok := real.Metatable.(*glua.LTable); ok {
				L.Push(st.protect(mt))
				return 1
			}
			L.Push(glua.LNil)
			return 1
		}
		mt := L.GetMetatable(v)
		if t, ok := mt.(*glua.LTable); ok {
			if _, isString := v.(glua.LString); isString {
				// The string metatable is shared by every script.
				L.Push(st.protect(t))
				return 1
			}
			if f := t.RawGetString("__metatable"); f != glua.LNil {
				L.Push(f)
				return 1
			}
		}
		L.Push(mt)
		return 1
	}))
	next := L.NewFunction(func(L *glua.LState) int {
		t := st.underlying(L.CheckTable(1))
		k, v := t.Next(L.Get(2))
		if k == glua.LNil {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(k)
		L.Push(v)
		return 2
	})
	g.RawSetString("next", next)
	g.RawSetString("pairs", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		L.Push(next)
		L.Push(t)
		L.Push(glua.LNil)
		return 3
	}))
	inext := L.NewFunction(func(L *glua.LState) int {
		t := st.underlying(L.CheckTable(1))
		i := L.CheckInt(2) + 1
		v := t.RawGetInt(i)
		if v == glua.LNil {
			return 0
		}
		L.Push(glua.LNumber(i))
		L.Push(v)
		return 2
	})
	g.RawSetString("ipairs", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		L.Push(inext)
		L.Push(t)
		L.Push(glua.LNumber(0))
		return 3
	}))
	g.RawSetString("unpack", L.NewFunction(func(L *glua.LState) int {
		t := st.underlying(L.CheckTable(1))
		start := L.OptInt(2, 1)
		end := L.OptInt(3, t.Len())
		if start > end {
			return 0
		}
		n := end - start + 1
		// Lua 5.1's C stack holds at most LUAI_MAXCSTACK (8000) slots.
		if n <= 0 || n >= 8000 {
			raisef(L, "too many results to unpack")
		}
		for i := start; i <= end; i++ {
			L.Push(t.RawGetInt(i))
		}
		return n
	}))

	// table library: writers refuse locked tables, readers see through.
	tbl := g.RawGetString("table").(*glua.LTable)
	for _, name := range []string{"insert", "remove", "sort", "setn"} {
		orig, ok := tbl.RawGetString(name).(*glua.LFunction)
		if !ok {
			continue
		}
		tbl.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			if t, ok := L.Get(1).(*glua.LTable); ok && st.locked(t) {
				refuseReadonly(L)
			}
			return callThrough(L, orig)
		}))
	}
	for _, name := range []string{"concat", "getn", "maxn"} {
		orig, ok := tbl.RawGetString(name).(*glua.LFunction)
		if !ok {
			continue
		}
		tbl.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			if t, ok := L.Get(1).(*glua.LTable); ok && st.locked(t) {
				L.Replace(1, st.underlying(t))
			}
			return callThrough(L, orig)
		}))
	}
}

// callThrough calls the Go builtin orig with the current arguments and
// returns its results.
func callThrough(L *glua.LState, orig *glua.LFunction) int {
	return orig.GFunction(L)
}
