package store

// AppendEventsTx lets the tests hold appended events uncommitted.
var AppendEventsTx = appendEvents
