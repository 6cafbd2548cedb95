package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/signet-dspy/signet/app"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the route table")

// openAPIFile is the checked-in document, from this package's directory.
const openAPIFile = "../docs/openapi.json"

// A route registered without its row in the table (or a row without its
// route) fails: the document cannot miss an operation.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := NewServer(nil)
	var table []string
	for _, op := range operations {
		table = append(table, op.pattern)
	}
	registered := slices.Sorted(slices.Values(s.patterns))
	slices.Sort(table)
	if !slices.Equal(registered, table) {
		for _, p := range registered {
			if !slices.Contains(table, p) {
				t.Errorf("route %q has no row in operations (api/openapi.go)", p)
			}
		}
		for _, p := range table {
			if !slices.Contains(registered, p) {
				t.Errorf("row %q of operations is no route of the Server", p)
			}
		}
	}
	if len(slices.Compact(slices.Clone(table))) != len(table) {
		t.Errorf("operations lists a pattern twice: %v", table)
	}
}

// Each row's types are its app.Service method's: the answer is the
// method's first result; the body is one of its arguments, or (a body
// type of this package) a struct whose fields are among them.
func TestOpenAPIRowsMatchTheService(t *testing.T) {
	svc := reflect.TypeFor[app.Service]()
	ctxType := reflect.TypeFor[context.Context]()
	deref := func(t reflect.Type) reflect.Type {
		if t != nil && t.Kind() == reflect.Pointer {
			return t.Elem()
		}
		return t
	}
	for _, op := range operations {
		if op.method == "" {
			continue
		}
		m, ok := svc.MethodByName(op.method)
		if !ok {
			t.Errorf("%s: app.Service has no method %s", op.pattern, op.method)
			continue
		}
		mt := m.Type
		if mt.NumIn() == 0 || mt.In(0) != ctxType {
			t.Errorf("%s: %s does not take a context first", op.pattern, op.method)
		}
		args := map[reflect.Type]bool{}
		for i := 1; i < mt.NumIn(); i++ {
			args[deref(mt.In(i))] = true
		}
		switch {
		case op.contentType == "application/x-ndjson":
			if mt.NumOut() != 2 || mt.Out(0).Kind() != reflect.Chan || mt.Out(0).Elem() != op.response {
				t.Errorf("%s: %s answers %v, the row's lines are %v", op.pattern, op.method, mt.Out(0), op.response)
			}
		case op.response == nil || op.response == empty:
			if mt.NumOut() != 1 {
				t.Errorf("%s: %s answers %v as well as an error; the row says nothing", op.pattern, op.method, mt.Out(0))
			}
		default:
			if mt.NumOut() != 2 || mt.Out(0) != op.response {
				t.Errorf("%s: %s answers %v, the row says %v", op.pattern, op.method, mt.Out(0), op.response)
			}
		}
		if op.body == nil {
			continue
		}
		if op.body.PkgPath() != reflect.TypeFor[Server]().PkgPath() {
			if !args[deref(op.body)] {
				t.Errorf("%s: the body %v is no argument of %s %v", op.pattern, op.body, op.method, mt)
			}
			continue
		}
		for i := range op.body.NumField() {
			if f := op.body.Field(i); !args[f.Type] {
				t.Errorf("%s: the body's field %s (%v) is no argument of %s %v", op.pattern, f.Name, f.Type, op.method, mt)
			}
		}
	}
}

// The checked-in docs/openapi.json is what the table generates; -update
// rewrites it.
func TestOpenAPIDocumentIsCheckedIn(t *testing.T) {
	got, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(openAPIFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v (go test ./api -run OpenAPI -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the route table generates: go test ./api -run OpenAPI -update rewrites it", openAPIFile)
	}
}

// The document is valid OpenAPI 3.1 (the specification's own JSON Schema,
// testdata/oas-3.1-schema.json), and every schema in it compiles.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.Open("testdata/oas-3.1-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	metaDoc, err := jsonschema.UnmarshalJSON(meta)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("oas-3.1-schema.json", metaDoc); err != nil {
		t.Fatal(err)
	}
	oas, err := c.Compile("oas-3.1-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := oas.Validate(doc); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}

	c = OpenAPICompiler(t, b)
	for name := range doc.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any) {
		if _, err := c.Compile(OpenAPIURL + "#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	// A wrong value fails with the path to it.
	sc, err := c.Compile(OpenAPIURL + "#/components/schemas/Status")
	if err != nil {
		t.Fatal(err)
	}
	err = sc.Validate(map[string]any{"api": "v1", "pid": "seven"})
	if err == nil || !strings.Contains(err.Error(), "/pid") {
		t.Fatalf("a status whose pid is a string: %v", err)
	}
}

// OpenAPIClosed is the document with its answers' objects closed: a live
// answer with a member the Go types do not have fails.
func OpenAPIClosed() ([]byte, error) { return json.Marshal(openAPI(true)) }

// OpenAPIURL is the document's name in a compiler of OpenAPICompiler.
const OpenAPIURL = "https://signet.invalid/v1/openapi.json"

// OpenAPICompiler is a schema compiler holding the document doc, whose
// schemas compile as OpenAPIURL + "#/components/schemas/NAME" (or any
// JSON pointer into it), formats asserted.
func OpenAPICompiler(t testing.TB, doc []byte) *jsonschema.Compiler {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(OpenAPIURL, v); err != nil {
		t.Fatal(err)
	}
	return c
}

// Each enum of the document is exactly the consts of its Go type, as the
// source of its package declares them: a value added there fails here
// until enums lists it.
func TestOpenAPIEnumsAreTheConsts(t *testing.T) {
	consts := map[string][]string{} // "model.RunState" → its values
	for _, dir := range []string{"../model", "../app"} {
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			for _, f := range pkg.Files {
				for _, d := range f.Decls {
					gd, ok := d.(*ast.GenDecl)
					if !ok || gd.Tok != token.CONST {
						continue
					}
					for _, spec := range gd.Specs {
						vs := spec.(*ast.ValueSpec)
						var typ string
						switch ty := vs.Type.(type) {
						case *ast.Ident: // Code
							typ = name + "." + ty.Name
						case *ast.SelectorExpr: // model.MetricKind, in app
							typ = fmt.Sprint(ty.X) + "." + ty.Sel.Name
						default:
							continue
						}
						for _, v := range vs.Values {
							if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
								s, _ := strconv.Unquote(lit.Value)
								consts[typ] = append(consts[typ], s)
							}
						}
					}
				}
			}
		}
	}
	for typ, vals := range enums {
		name := typ.String()
		got, want := slices.Sorted(slices.Values(vals)), slices.Sorted(slices.Values(consts[name]))
		if !slices.Equal(got, want) {
			t.Errorf("enum %s is %v; its consts are %v", name, got, want)
		}
	}
}
