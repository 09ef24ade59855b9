package node

// Error replies shared by the families, byte for byte as Redis 7.0 sends
// them (without the leading '-').
const (
	errSyntax        = "ERR syntax error"
	errWrongType     = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errNotInt        = "ERR value is not an integer or out of range"
	errNotFloat      = "ERR value is not a valid float"
	errOverflow      = "ERR increment or decrement would overflow"
	errNoKey         = "ERR no such key"
	errNoAuth        = "NOAUTH Authentication required."
	errWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	errDBIndex       = "ERR DB index is out of range"
	errInvalidExpire = "ERR invalid expire time in '%s' command"
	errOOM           = "OOM command not allowed when used memory > 'maxmemory'."
	errOutOfRange    = "ERR index out of range"
	errNegativeCount = "ERR value is out of range, must be positive"
	errSameObject    = "ERR source and destination objects are the same"
	errReadOnly      = "READONLY You can't write against a read only replica."
	errBusy          = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errNoScript      = "NOSCRIPT No matching script. Please use EVAL."
	errLoading       = "LOADING Redis is loading the dataset in memory"
	errExecAbort     = "EXECABORT Transaction discarded because of previous errors."
)
