package mediaserver

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/mediaserver-go/mediaserver"

// allowedImports is the import direction of DESIGN.md: for each package of
// the module (by directory), which packages of the module it may import.
// Directories not listed (cmd/..., examples/..., bench/...) may import
// anything; internal/... may be imported by anyone.
var allowedImports = map[string][]string{
	".":               {"ivr", "media", "sip"},
	"media":           {},
	"sip":             {},
	"ivr":             {"media"},
	"callback":        {"."},
	"metrics":         {"."},
	"mediaservertest": {},
}

// TestImportDirection fails on an import that breaks the package graph:
// sip and media never import each other or the root, ivr sees only media,
// callback and metrics sit above the root, and mediaservertest stands on
// sipgo and pion alone so our tests do not share our bugs.
func TestImportDirection(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		allowed, checked := allowedImports[dir]
		if !checked {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != modulePath && !strings.HasPrefix(p, modulePath+"/") {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, modulePath), "/")
			if rel == "" {
				rel = "."
			}
			if strings.HasPrefix(rel, "internal/") || rel == "internal" {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == rel
			}
			if !ok {
				t.Errorf("%s imports %s: package %q may import only %v of this module", path, p, dir, allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
