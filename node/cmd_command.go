package node

import (
	"strings"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// COMMAND: the introspection of the command table. It reports only the
// commands this node serves (a row with a handler, and of a container only
// the subcommands with handlers); GETKEYS works for any row of the table,
// since it only reads metadata.

func init() {
	register(map[string]handler{
		"command":                 commandCommand,
		"command|count":           commandCountCommand,
		"command|info":            commandInfoCommand,
		"command|docs":            commandDocsCommand,
		"command|list":            commandListCommand,
		"command|getkeys":         commandGetKeysCommand,
		"command|getkeysandflags": commandGetKeysAndFlagsCommand,
		"command|help":            commandHelpCommand,
	})
}

// servedCommands returns the served top-level commands in table order, so
// that COMMAND's output is stable.
func servedCommands() []*command {
	t := commandTable()
	out := make([]*command, 0, len(t))
	for _, row := range commands.Default.All() {
		if c, ok := t[row.Name]; ok {
			out = append(out, c)
		}
	}
	return out
}

// lookupServedFull finds a served command by full name ("get",
// "config|get") as Redis's lookupCommandBySds does: case-insensitive, one
// level of subcommands, and a '|' name only for a container.
func lookupServedFull(name []byte) *command {
	top, sub, hasSub := strings.Cut(string(name), "|")
	c := lookupCommand([]byte(top))
	if c == nil || !hasSub {
		return c
	}
	if strings.Contains(sub, "|") || len(c.subs) == 0 {
		return nil
	}
	return c.sub([]byte(sub))
}

// COMMAND with no subcommand: the info of every served command.
func commandCommand(s *Server, c *Client, args [][]byte) {
	all := servedCommands()
	c.ArrayLen(len(all))
	for _, cmd := range all {
		replyCommandInfo(c, cmd)
	}
}

func commandCountCommand(s *Server, c *Client, args [][]byte) {
	c.Int(int64(len(commandTable())))
}

func commandInfoCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 2 {
		commandCommand(s, c, args)
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := lookupServedFull(name); cmd != nil {
			replyCommandInfo(c, cmd)
		} else {
			c.Null()
		}
	}
}

func commandDocsCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 2 {
		all := servedCommands()
		c.MapLen(len(all))
		for _, cmd := range all {
			c.BulkString(cmd.Name)
			replyCommandDocs(c, cmd)
		}
		return
	}
	d := c.DeferLen()
	n := 0
	for _, name := range args[2:] {
		cmd := lookupServedFull(name)
		if cmd == nil {
			continue
		}
		c.BulkString(cmd.Name)
		replyCommandDocs(c, cmd)
		n++
	}
	c.SetMapLen(d, n)
}

// COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]
func commandListCommand(s *Server, c *Client, args [][]byte) {
	var keep func(cmd *command) bool
	for i := 2; i < len(args); i++ {
		more := len(args) - 1 - i
		if !strings.EqualFold(string(args[i]), "filterby") || more != 2 {
			c.Error(errSyntax)
			return
		}
		arg := args[i+2]
		switch strings.ToLower(string(args[i+1])) {
		case "module":
			// The node loads no modules: no command belongs to one.
			keep = func(*command) bool { return false }
		case "aclcat":
			cat, ok := commands.ACLCategory(string(arg))
			keep = func(cmd *command) bool { return ok && cmd.InACLCategory(cat) }
		case "pattern":
			keep = func(cmd *command) bool { return globMatch(arg, cmd.Name, true) }
		default:
			c.Error(errSyntax)
			return
		}
		i += 2
	}
	d := c.DeferLen()
	n := 0
	emit := func(cmd *command) {
		if keep == nil || keep(cmd) {
			c.BulkString(cmd.Name)
			n++
		}
	}
	for _, cmd := range servedCommands() {
		emit(cmd)
		for _, sc := range cmd.subs {
			emit(sc)
		}
	}
	c.SetArrayLen(d, n)
}

func commandGetKeysCommand(s *Server, c *Client, args [][]byte) {
	replyGetKeys(c, args[2:], false)
}

func commandGetKeysAndFlagsCommand(s *Server, c *Client, args [][]byte) {
	replyGetKeys(c, args[2:], true)
}

func replyGetKeys(c *Client, line [][]byte, withFlags bool) {
	keys, err := commands.Default.CommandGetKeys(line)
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.ArrayLen(len(keys))
	for _, k := range keys {
		if !withFlags {
			c.Bulk(line[k.Index])
			continue
		}
		c.ArrayLen(2)
		c.Bulk(line[k.Index])
		replyStatusSet(c, k.Flags.Names())
	}
}

var commandHelp = []string{
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
}

func commandHelpCommand(s *Server, c *Client, args [][]byte) {
	c.ArrayLen(len(commandHelp) + 3)
	c.Status(strings.ToUpper(string(args[0])) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, line := range commandHelp {
		c.Status(line)
	}
	c.Status("HELP")
	c.Status("    Prints this help.")
}

// replyStatusSet replies a set of simple strings, as Redis sends flags.
func replyStatusSet(c *Client, names []string) {
	c.SetLen(len(names))
	for _, n := range names {
		c.Status(n)
	}
}

// replyCommandInfo writes the 10-element COMMAND INFO entry: name, arity,
// flags, first, last, step, ACL categories, tips, key specs, subcommands.
// Redis 7.0 sends the flags, categories, tips and key specs as sets, and
// the subcommands as an array (an empty set for a plain command).
func replyCommandInfo(c *Client, cmd *command) {
	c.ArrayLen(10)
	c.BulkString(cmd.Name)
	c.Int(int64(cmd.Arity))
	replyStatusSet(c, cmd.Flags.Names())
	c.Int(int64(cmd.First))
	c.Int(int64(cmd.Last))
	c.Int(int64(cmd.Step))
	c.SetLen(len(cmd.ACL))
	for _, cat := range cmd.ACL {
		c.Status("@" + cat)
	}
	c.SetLen(len(cmd.Tips))
	for _, tip := range cmd.Tips {
		c.BulkString(tip)
	}
	c.SetLen(len(cmd.KeySpecs))
	for i := range cmd.KeySpecs {
		replyKeySpec(c, &cmd.KeySpecs[i])
	}
	if len(cmd.subs) == 0 {
		c.SetLen(0)
		return
	}
	c.ArrayLen(len(cmd.subs))
	for _, sc := range cmd.subs {
		replyCommandInfo(c, sc)
	}
}

func replyKeySpec(c *Client, ks *commands.KeySpec) {
	n := 3
	if ks.Notes != "" {
		n++
	}
	c.MapLen(n)
	if ks.Notes != "" {
		c.BulkString("notes")
		c.BulkString(ks.Notes)
	}
	c.BulkString("flags")
	replyStatusSet(c, ks.Flags.Names())

	c.BulkString("begin_search")
	c.MapLen(2)
	c.BulkString("type")
	switch bs := ks.BeginSearch; bs.Type {
	case commands.BeginIndex:
		c.BulkString("index")
		c.BulkString("spec")
		c.MapLen(1)
		c.BulkString("index")
		c.Int(int64(bs.Index))
	case commands.BeginKeyword:
		c.BulkString("keyword")
		c.BulkString("spec")
		c.MapLen(2)
		c.BulkString("keyword")
		c.BulkString(bs.Keyword)
		c.BulkString("startfrom")
		c.Int(int64(bs.StartFrom))
	default:
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	}

	c.BulkString("find_keys")
	c.MapLen(2)
	c.BulkString("type")
	switch fk := ks.FindKeys; fk.Type {
	case commands.FindRange:
		c.BulkString("range")
		c.BulkString("spec")
		c.MapLen(3)
		c.BulkString("lastkey")
		c.Int(int64(fk.LastKey))
		c.BulkString("keystep")
		c.Int(int64(fk.KeyStep))
		c.BulkString("limit")
		c.Int(int64(fk.Limit))
	case commands.FindKeyNum:
		c.BulkString("keynum")
		c.BulkString("spec")
		c.MapLen(3)
		c.BulkString("keynumidx")
		c.Int(int64(fk.KeyNumIdx))
		c.BulkString("firstkey")
		c.Int(int64(fk.FirstKey))
		c.BulkString("keystep")
		c.Int(int64(fk.KeyStep))
	default:
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	}
}

// replyCommandDocs writes a command's COMMAND DOCS map, its fields in
// Redis's order.
func replyCommandDocs(c *Client, cmd *command) {
	n := 1 // group is always there
	for _, present := range []bool{
		cmd.Summary != "", cmd.Since != "", cmd.Complexity != "",
		len(cmd.DocFlags) > 0, cmd.DeprecatedSince != "", cmd.ReplacedBy != "",
		len(cmd.History) > 0, len(cmd.Args) > 0, len(cmd.subs) > 0,
	} {
		if present {
			n++
		}
	}
	c.MapLen(n)
	if cmd.Summary != "" {
		c.BulkString("summary")
		c.BulkString(cmd.Summary)
	}
	if cmd.Since != "" {
		c.BulkString("since")
		c.BulkString(cmd.Since)
	}
	c.BulkString("group")
	c.BulkString(cmd.Group)
	if cmd.Complexity != "" {
		c.BulkString("complexity")
		c.BulkString(cmd.Complexity)
	}
	if len(cmd.DocFlags) > 0 {
		c.BulkString("doc_flags")
		replyStatusSet(c, cmd.DocFlags)
	}
	if cmd.DeprecatedSince != "" {
		c.BulkString("deprecated_since")
		c.BulkString(cmd.DeprecatedSince)
	}
	if cmd.ReplacedBy != "" {
		c.BulkString("replaced_by")
		c.BulkString(cmd.ReplacedBy)
	}
	if len(cmd.History) > 0 {
		c.BulkString("history")
		c.SetLen(len(cmd.History))
		for _, h := range cmd.History {
			c.ArrayLen(2)
			c.BulkString(h.Since)
			c.BulkString(h.Changes)
		}
	}
	if len(cmd.Args) > 0 {
		c.BulkString("arguments")
		replyCommandArgs(c, cmd.Args)
	}
	if len(cmd.subs) > 0 {
		c.BulkString("subcommands")
		c.MapLen(len(cmd.subs))
		for _, sc := range cmd.subs {
			c.BulkString(sc.Name)
			replyCommandDocs(c, sc)
		}
	}
}

func replyCommandArgs(c *Client, args []commands.Arg) {
	c.ArrayLen(len(args))
	for i := range args {
		a := &args[i]
		hasFlags := a.Optional || a.Multiple || a.MultipleToken
		nested := a.Type == "oneof" || a.Type == "block"
		n := 2
		for _, present := range []bool{a.KeySpec >= 0, a.HasToken, a.Summary != "",
			a.Since != "", a.DeprecatedSince != "", hasFlags, nested} {
			if present {
				n++
			}
		}
		c.MapLen(n)
		c.BulkString("name")
		c.BulkString(a.Name)
		c.BulkString("type")
		c.BulkString(a.Type)
		if a.KeySpec >= 0 {
			c.BulkString("key_spec_index")
			c.Int(int64(a.KeySpec))
		}
		if a.HasToken {
			c.BulkString("token")
			c.BulkString(a.Token)
		}
		if a.Summary != "" {
			c.BulkString("summary")
			c.BulkString(a.Summary)
		}
		if a.Since != "" {
			c.BulkString("since")
			c.BulkString(a.Since)
		}
		if a.DeprecatedSince != "" {
			c.BulkString("deprecated_since")
			c.BulkString(a.DeprecatedSince)
		}
		if hasFlags {
			c.BulkString("flags")
			var names []string
			if a.Optional {
				names = append(names, "optional")
			}
			if a.Multiple {
				names = append(names, "multiple")
			}
			if a.MultipleToken {
				names = append(names, "multiple_token")
			}
			replyStatusSet(c, names)
		}
		if nested {
			c.BulkString("arguments")
			replyCommandArgs(c, a.Args)
		}
	}
}
