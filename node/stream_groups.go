package node

// streamGroups holds a stream's consumer groups. Placeholder created by
// the streams core (hs1) so that streams.go compiles; the consumer-group
// work (hs2) owns this file and replaces it.
type streamGroups struct{}
