package node

import "strconv"

// Keyspace notifications (Redis's notify.c). Families call s.notify with
// the event's class and name (db.go); when notify-keyspace-events enables
// the class, the event is published as __keyspace@<db>__:<key> → event
// (K) and __keyevent@<db>__:<event> → key (E). The flags are parsed by
// the configuration (parseNotifyFlags, notifyFlagsString in
// configtable.go) into s.notifyFlags.

func init() {
	serverInits = append(serverInits, func(s *Server) {
		s.hooks.notify = s.publishKeyspaceEvent
	})
}

var (
	keyspacePrefix = []byte("__keyspace@")
	keyeventPrefix = []byte("__keyevent@")
)

// publishKeyspaceEvent publishes an event whose class is enabled.
func (s *Server) publishKeyspaceEvent(class int, event string, key []byte, dbid int) {
	st := s.pubsubState()
	// Nobody can hear it: spare building the channel names.
	if len(st.channels) == 0 && len(st.patterns) == 0 {
		return
	}
	flags := s.notifyFlags
	var buf [64]byte
	if flags&notifyKeyspace != 0 {
		ch := append(buf[:0], keyspacePrefix...)
		ch = strconv.AppendInt(ch, int64(dbid), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, key...)
		s.publish(ch, []byte(event), false)
	}
	if flags&notifyKeyevent != 0 {
		ch := append(buf[:0], keyeventPrefix...)
		ch = strconv.AppendInt(ch, int64(dbid), 10)
		ch = append(ch, "__:"...)
		ch = append(ch, event...)
		s.publish(ch, key, false)
	}
}
