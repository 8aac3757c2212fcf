// Command apigen writes the service's OpenAPI 3 document from swag's Swagger 2.0 output,
// or validates a committed one. scripts/api-gen.sh runs it; see internal/apispec.
//
//	apigen convert SWAGGER_JSON OUT_DIR   writes OUT_DIR/openapi.json and OUT_DIR/openapi.yaml
//	apigen validate OPENAPI_JSON          kin-openapi validation, examples included
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/auth-manager/auth-manager/internal/apispec"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	switch {
	case len(args) == 3 && args[0] == "convert":
		in, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		j, y, err := apispec.Convert(ctx, in)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(args[2], "openapi.json"), j, 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(args[2], "openapi.yaml"), y, 0o644)
	case len(args) == 2 && args[0] == "validate":
		doc, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		return apispec.Validate(ctx, doc)
	}
	return fmt.Errorf("usage: apigen convert SWAGGER_JSON OUT_DIR | apigen validate OPENAPI_JSON")
}
