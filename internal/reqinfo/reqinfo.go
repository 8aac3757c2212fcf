package reqinfo

import (
	"context"
	"sync/atomic"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/requestid"
)

// Info is what the HTTP layer knows about a request. It is its own context (see New):
// a lookup of requestid.ContextKey, clientip.ContextKey or caller.ContextKey that
// reaches it is answered from its fields, any other key is passed to the parent.
type Info struct {
	context.Context // the parent: its deadline, cancellation and other values
	// id is an array of one so that IDHeader can hand it out as a header value.
	id       [1]string
	clientIP string
	caller   caller.Caller
	// hasCaller publishes caller: SetCaller writes caller, then stores true; a lookup
	// reads caller only after loading true. A goroutine holding the context from
	// before SetCaller (the detached singleflight introspection of package introspect
	// does) therefore sees either no caller or the whole one, never a torn one.
	hasCaller atomic.Bool
}

// New returns a context derived from parent that carries the request id and client
// IP, and the Info behind it, in one allocation.
func New(parent context.Context, id, clientIP string) (context.Context, *Info) {
	i := &Info{Context: parent, id: [1]string{id}, clientIP: clientIP}
	return i, i
}

// IDHeader returns the request id as a header value ([]string of one), backed by i:
// echoing it costs no allocation of its own. Nobody may write to its element (that
// would change the request id in the context); http.Header's Set and Add never do.
func (i *Info) IDHeader() []string { return i.id[:] }

// From returns the Info nearest to ctx's leaf, or nil when ctx was not made by New.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(infoKey{}).(*Info)
	return i
}

// SetCaller puts c into the Info in place, so that authentication needs no second copy
// of the request. It reports false, changing nothing, when the Info already has a
// caller.
//
// Mutating a value already in a context is safe here only because of how the HTTP
// layer uses it: requireCaller calls SetCaller once, before it hands the request on,
// and nothing asks for the caller before (a context without one answers "no caller"
// until then, as it did before the caller was set; see hasCaller for goroutines).
// The caller is never changed or removed afterwards.
func (i *Info) SetCaller(c caller.Caller) bool {
	if i.hasCaller.Load() {
		return false
	}
	i.caller = c
	i.hasCaller.Store(true)
	return true
}

type infoKey struct{}

// Value implements context.Context. The pointers it returns point into i, so answering
// allocates nothing; they are the shapes requestid.From, clientip.From and caller.From
// expect.
func (i *Info) Value(key any) any {
	switch key.(type) {
	case requestid.ContextKey:
		return &i.id[0]
	case clientip.ContextKey:
		return &i.clientIP
	case caller.ContextKey:
		if i.hasCaller.Load() {
			return &i.caller
		}
	case infoKey:
		return i
	}
	return i.Context.Value(key)
}

// String names the context, as the context package's own types do.
func (i *Info) String() string { return "reqinfo.Info" }
