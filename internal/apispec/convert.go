package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// bearerScheme is the name of the security scheme in the annotations (openapi.go).
const bearerScheme = "Bearer"

// Convert returns the OpenAPI 3.0.3 document, as JSON and as YAML, for swag's Swagger 2.0
// output. The result has passed Validate.
func Convert(ctx context.Context, swagger []byte) (jsonDoc, yamlDoc []byte, err error) {
	var v2 openapi2.T
	if err := json.Unmarshal(swagger, &v2); err != nil {
		return nil, nil, fmt.Errorf("apispec: reading the Swagger 2.0 document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, nil, fmt.Errorf("apispec: converting to OpenAPI 3: %w", err)
	}
	if err := complete(doc); err != nil {
		return nil, nil, err
	}
	jsonDoc, err = marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	if err := Validate(ctx, jsonDoc); err != nil {
		return nil, nil, err
	}
	yamlDoc, err = toYAML(jsonDoc)
	if err != nil {
		return nil, nil, err
	}
	return jsonDoc, yamlDoc, nil
}

// Validate loads an OpenAPI 3 document the way a generator would (every $ref resolved)
// and checks it against the specification with kin-openapi, examples included.
func Validate(ctx context.Context, doc []byte) error {
	loader := openapi3.NewLoader()
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return fmt.Errorf("apispec: loading the OpenAPI document: %w", err)
	}
	if err := t.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		return fmt.Errorf("apispec: the OpenAPI document is invalid: %w", err)
	}
	return nil
}

// complete adds what swag's 2.0 output cannot carry.
func complete(doc *openapi3.T) error {
	scheme := doc.Components.SecuritySchemes[bearerScheme]
	if scheme == nil || scheme.Value == nil {
		return fmt.Errorf("apispec: the annotations define no %q security scheme", bearerScheme)
	}
	// An HTTP bearer scheme, not the apiKey header 2.0 needed: generators then give the
	// caller a bearer-token hook, and Swagger UI's Authorize adds "Bearer " itself.
	doc.Components.SecuritySchemes[bearerScheme] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: scheme.Value.Description,
	}}
	doc.Components.Headers = openapi3.Headers{
		"X-Request-ID": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "The request's id: the caller's X-Request-ID when it is sane, a new one otherwise. Quote it when reporting a problem.",
			Schema:      openapi3.NewStringSchema().NewRef(),
		}}},
		"Retry-After": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "Seconds to wait before trying again.",
			Schema:      openapi3.NewIntegerSchema().WithMin(0).NewRef(),
		}}},
	}
	if err := enumerateCodes(doc); err != nil {
		return err
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			// Generated clients name their functions after the operationId: without
			// one they fall back to the path (post_v1_access_token).
			if op.OperationID == "" {
				return fmt.Errorf("apispec: %s has no operationId: add an @ID annotation to its handler", name)
			}
			if other, dup := ids[op.OperationID]; dup {
				return fmt.Errorf("apispec: %s and %s have the same operationId %q", other, name, op.OperationID)
			}
			ids[op.OperationID] = name
			if op.Security == nil {
				// Explicitly public: no bearer token (the proof is elsewhere, e.g. a signed state).
				op.Security = openapi3.NewSecurityRequirements()
			}
			addFailures(op, everyOperation)
			if needsBearer(op) {
				addFailures(op, everyBearerOperation)
			}
			for status, resp := range op.Responses.Map() {
				if err := completeResponse(op.OperationID, name, status, resp.Value); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// errorEnvelope is the name of the failure envelope's schema (httpapi.ErrorEnvelope).
const errorEnvelope = "ErrorEnvelope"

// needsBearer reports whether op's security asks for the bearer token.
func needsBearer(op *openapi3.Operation) bool {
	if op.Security == nil {
		return false
	}
	for _, req := range *op.Security {
		if _, ok := req[bearerScheme]; ok {
			return true
		}
	}
	return false
}

// addFailures gives op an ErrorEnvelope answer, described as failures says, for each
// status of failures it does not document yet; its annotations' own text for a status
// is kept.
func addFailures(op *openapi3.Operation, failures map[int]string) {
	if op.Responses == nil {
		op.Responses = openapi3.NewResponses()
	}
	for _, n := range slices.Sorted(maps.Keys(failures)) {
		status := strconv.Itoa(n)
		if op.Responses.Value(status) != nil {
			continue
		}
		op.Responses.Set(status, &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription(failures[n]).
			WithContent(openapi3.NewContentWithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/"+errorEnvelope, nil)))})
	}
}

// enumerateCodes makes the envelope's code an enum of the vocabulary, so that
// generated clients get a type for it.
func enumerateCodes(doc *openapi3.T) error {
	env := doc.Components.Schemas[errorEnvelope]
	if env == nil || env.Value == nil || env.Value.Properties["code"] == nil || env.Value.Properties["code"].Value == nil {
		return fmt.Errorf("apispec: the annotations define no %s schema with a code", errorEnvelope)
	}
	code := env.Value.Properties["code"].Value
	code.Description = "Machine-readable error code; the answer's status and the operation's response description say which codes it may carry. Later minor versions of the API may add codes."
	code.Enum = nil
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		code.Enum = append(code.Enum, c)
	}
	return nil
}

var codeWord = regexp.MustCompile(`[a-z]+(?:_[a-z]+)+`)

// completeResponse adds the X-Request-ID header to every answer (and Retry-After to a
// 429) and, to failures, the codes they may carry (those the annotation's text names, or
// the usual ones for the status) with one example envelope per code (the operation's own
// where operationExamples has one). id is the operationId, op the method and path.
func completeResponse(id, op, status string, r *openapi3.Response) error {
	if r.Headers == nil {
		r.Headers = openapi3.Headers{}
	}
	r.Headers["X-Request-ID"] = &openapi3.HeaderRef{Ref: "#/components/headers/X-Request-ID"}
	n, err := strconv.Atoi(status)
	if err != nil || n < 400 {
		return nil
	}
	if n == http.StatusTooManyRequests {
		r.Headers["Retry-After"] = &openapi3.HeaderRef{Ref: "#/components/headers/Retry-After"}
	}
	media := r.Content.Get("application/json")
	if media == nil {
		return fmt.Errorf("apispec: %s answers %s without a JSON body", op, status)
	}
	var named []string
	desc := ""
	if r.Description != nil {
		desc = *r.Description
	}
	for _, w := range codeWord.FindAllString(desc, -1) {
		if _, ok := codes[w]; ok && !slices.Contains(named, w) {
			named = append(named, w)
		}
	}
	if len(named) == 0 {
		named = defaultCodes[n]
		if len(named) == 0 {
			return fmt.Errorf("apispec: %s answers %s but no error code is known for it", op, status)
		}
		desc = http.StatusText(n) + ": " + quoteCodes(named)
	}
	r.Description = &desc
	media.Examples = openapi3.Examples{}
	for _, c := range named {
		e, ok := operationExamples[id][n][c]
		if !ok {
			e, ok = statusExamples[n][c]
		}
		if !ok {
			e = codes[c]
		}
		var reason any
		if e.reason != "" {
			reason = e.reason
		}
		var details any
		if e.details != nil {
			details = e.details
		}
		media.Examples[c] = &openapi3.ExampleRef{Value: &openapi3.Example{
			Summary: c,
			Value:   map[string]any{"error": e.message, "code": c, "reason": reason, "details": details},
		}}
	}
	return nil
}

func quoteCodes(cs []string) string {
	q := make([]string, len(cs))
	for i, c := range cs {
		q[i] = "`" + c + "`"
	}
	return strings.Join(q, ", ")
}

// topLevel is the order a reader expects the document's sections in; kin-openapi
// would sort them.
var topLevel = []string{"openapi", "info", "servers", "tags", "security", "paths", "components", "externalDocs"}

// marshal writes the document as indented JSON, the top-level sections in reading order.
func marshal(doc *openapi3.T) ([]byte, error) {
	flat, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(flat, &sections); err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	keys := slices.Sorted(maps.Keys(sections))
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(sections[k])
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func rank(section string) int {
	if i := slices.Index(topLevel, section); i >= 0 {
		return i
	}
	return len(topLevel)
}

// toYAML re-encodes the JSON document as block-style YAML with the same key order.
func toYAML(jsonDoc []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(jsonDoc, &n); err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	var unflow func(*yaml.Node)
	unflow = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle) != 0 && n.Tag == "!!str" {
			n.Style = 0 // let the encoder quote only what needs it
		}
		for _, c := range n.Content {
			unflow(c)
		}
	}
	unflow(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("apispec: %w", err)
	}
	return b.Bytes(), nil
}
