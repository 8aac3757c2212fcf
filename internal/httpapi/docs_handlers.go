package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/auth-manager/auth-manager/api"
)

// The docs pages load nothing but this service's own files (the assets are embedded
// from api/ui), so they work offline and the policy can forbid every other origin.
// Swagger UI and ReDoc set inline styles; ReDoc builds its search worker from a blob.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Asset paths are relative so that the pages also work behind a path prefix:
// from /docs, "docs/x" is /docs/x and "openapi.json" is /openapi.json.
const swaggerUIPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Auth Manager Service: API (Swagger UI)</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
<style>body { margin: 0; background: #fafafa; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-initializer.js"></script>
</body>
</html>
`

// validatorUrl null: Swagger UI would otherwise ask a public validator about the spec.
const swaggerUIInit = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null
  });
});
`

const redocPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Auth Manager Service: API (ReDoc)</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="redoc/redoc.standalone.js"></script>
</body>
</html>
`

// asset is one file served by the docs routes. Its bytes are read where they live:
// the vendored UI files straight from the binary's embedded data (about 3 MB that
// would otherwise sit on the heap of every replica, and be scanned by every GC, for a
// page few open), the pages and specs from memory. Its validator is computed on first
// use for the same reason.
type asset struct {
	name string
	open func() io.ReadSeeker
	etag func() string
}

// bytesAsset serves body.
func bytesAsset(name string, body []byte) asset {
	return newAsset(name, func() io.ReadSeeker { return bytes.NewReader(body) })
}

// embeddedAsset serves file name of api.UI. The file is part of the binary, so a
// failure to open it is a broken build, not a runtime condition.
func embeddedAsset(name, file string) asset {
	return newAsset(name, func() io.ReadSeeker {
		f, err := api.UI.Open(file)
		if err != nil {
			panic("httpapi: embedded docs asset: " + err.Error())
		}
		return f.(io.ReadSeeker) // embed's files seek and read in place
	})
}

func newAsset(name string, open func() io.ReadSeeker) asset {
	return asset{name: name, open: open, etag: sync.OnceValue(func() string {
		h := sha256.New()
		_, _ = io.Copy(h, open())
		return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	})}
}

// serve answers with the asset; "no-cache" makes browsers revalidate, which costs a
// 304 only, so a new build's assets are never stale.
func (a asset) serve(w http.ResponseWriter, r *http.Request, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag())
	http.ServeContent(w, r, a.name, time.Time{}, a.open())
}

func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// handleOpenAPI serves the committed OpenAPI 3 document (api/openapi.json or
// api/openapi.yaml) that the binary embeds.
func handleOpenAPI(name string, doc []byte, contentType string) http.HandlerFunc {
	a := bytesAsset(name, doc)
	return func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, contentType) }
}

// handlePage serves one of the docs HTML pages.
func handlePage(name, html string) http.HandlerFunc {
	a := bytesAsset(name, []byte(html))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", docsCSP)
		w.Header().Set("Referrer-Policy", "no-referrer")
		a.serve(w, r, "text/html; charset=utf-8")
	}
}

// handleDocsAssets serves files by the name under the route's wildcard; the bare
// directory (/docs/) goes back to the page.
func handleDocsAssets(files map[string]asset, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "*")
		if name == "" {
			http.Redirect(w, r, "../"+path.Base(path.Clean(r.URL.Path)), http.StatusMovedPermanently)
			return
		}
		a, ok := files[name]
		if !ok {
			ew.write(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "No such file"})
			return
		}
		a.serve(w, r, contentTypeOf(name))
	}
}

// swaggerUIAssets are the files under /docs/: the vendored Swagger UI and its
// initializer.
func swaggerUIAssets() map[string]asset {
	files := embeddedAssets("ui/swagger-ui")
	files["swagger-initializer.js"] = bytesAsset("swagger-initializer.js", []byte(swaggerUIInit))
	return files
}

// redocAssets are the files under /redoc/: the vendored ReDoc bundle.
func redocAssets() map[string]asset { return embeddedAssets("ui/redoc") }

// embeddedAssets lists one directory of api.UI (its files are opened when served).
func embeddedAssets(dir string) map[string]asset {
	entries, err := fs.ReadDir(api.UI, dir)
	if err != nil {
		panic("httpapi: embedded docs assets: " + err.Error())
	}
	files := make(map[string]asset, len(entries)+1)
	for _, e := range entries {
		files[e.Name()] = embeddedAsset(e.Name(), path.Join(dir, e.Name()))
	}
	return files
}
