package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/signet-dspy/signet"

// allowedImports is DESIGN.md section 2: for each of our top-level packages,
// which of ours it may depend on, even indirectly. Packages not listed (cmd,
// main) may import anything.
var allowedImports = map[string][]string{
	"model":    {"model"},
	"store":    {"store", "model"},
	"bridge":   {"bridge", "model"},
	"themes":   {"themes"},
	"tui":      {"tui", "model", "themes"},
	"examples": {"examples"},
	"config":   {"config", "model"},
	"engine":   {"engine", "model", "store", "bridge"},
	"optimize": {"optimize", "model", "store", "bridge"},
	"evaluate": {"evaluate", "model", "store", "bridge", "engine", "optimize"},
	"api":      {"api", "model", "store", "bridge", "engine", "optimize", "evaluate"},
}

type goPackage struct {
	ImportPath string
	Deps       []string
}

// violations lists every dependency of ours that a package may not have.
func violations(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		allowed, ok := allowedImports[top(p.ImportPath)]
		if !ok {
			continue
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, modulePath+"/") && !slices.Contains(allowed, top(dep)) {
				bad = append(bad, fmt.Sprintf("%s depends on %s (%s may use only %v)", p.ImportPath, dep, top(p.ImportPath), allowed))
			}
		}
	}
	return bad
}

// top is the first path element under the module: ".../tui/pages" → "tui".
func top(importPath string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(importPath, modulePath), "/")
	first, _, _ := strings.Cut(rel, "/")
	return first
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if !slices.ContainsFunc(pkgs, func(p goPackage) bool { return top(p.ImportPath) == "model" }) {
		t.Fatal("go list did not report package model: the check would pass vacuously")
	}
	for _, v := range violations(pkgs) {
		t.Error(v, "— see DESIGN.md section 2")
	}
}

func TestImportRulesCatchForbiddenEdges(t *testing.T) {
	m := modulePath + "/"
	tests := []struct {
		pkg  goPackage
		want int
	}{
		{goPackage{m + "tui/pages", []string{m + "model", m + "themes", "fmt"}}, 0},
		{goPackage{m + "tui", []string{m + "store"}}, 1},
		{goPackage{m + "tui", []string{m + "bridge/wire", m + "store"}}, 2},
		{goPackage{m + "model", []string{m + "store"}}, 1},
		{goPackage{m + "store", []string{m + "model", m + "bridge"}}, 1},
		{goPackage{m + "bridge", []string{m + "model", m + "bridge/wire"}}, 0},
		{goPackage{m + "themes", []string{m + "model"}}, 1},
		{goPackage{m + "cmd", []string{m + "store", m + "tui", m + "bridge"}}, 0},
	}
	for _, tt := range tests {
		if got := violations([]goPackage{tt.pkg}); len(got) != tt.want {
			t.Errorf("%s with deps %v: %d violations %v, want %d", tt.pkg.ImportPath, tt.pkg.Deps, len(got), got, tt.want)
		}
	}
}
