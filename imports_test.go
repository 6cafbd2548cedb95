package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/signet-dspy/signet"

// allowedImports is docs/architecture.md's import graph: for each of our
// packages (a path under the module; a key covers the packages below it
// unless a longer key does), which of ours it may depend on, even
// indirectly. main may import anything.
var allowedImports = map[string][]string{
	"model":  {"model"},
	"store":  {"store", "model"},
	"bridge": {"bridge", "model"},
	"themes": {"themes"},
	// The workbench holds the service (app), never its implementation.
	"tui":      {"tui", "app", "model", "themes"},
	"examples": {"examples"},
	"config":   {"config", "model"},
	"jobs":     {"jobs", "model", "store", "bridge"},
	"optimize": {"optimize", "model", "store"},
	// The OpenTelemetry mapping: model records to OTLP spans and back.
	"otlp":      {"otlp", "model"},
	"remote":    {"remote", "bridge", "model"},
	"app":       {"app", "model"},
	"api":       {"api", "app", "model"},
	"app/owner": {"app", "model", "store", "bridge", "jobs", "optimize", "config", "api", "otlp", "remote"},
	// The faces hold the service: never the store or the job kernel. bridge
	// only for `signet setup`'s pinned requirements.
	"cmd": {"cmd", "app", "app/owner", "api", "model", "config", "themes", "tui", "examples", "bridge", "otlp", "remote"},
}

type goPackage struct {
	ImportPath string
	Deps       []string // every package it depends on, indirectly too
	Imports    []string // the ones it imports itself
}

// directOnly are the keys whose rule is on what they import themselves: the
// faces (cmd) reach the store only through the service (app/owner), which
// may of course use it.
var directOnly = map[string]bool{"cmd": true}

// violations lists every dependency of ours that a package may not have.
func violations(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		allowed, ok := allowedImports[top(p.ImportPath)]
		if !ok {
			continue
		}
		deps := p.Deps
		if directOnly[top(p.ImportPath)] {
			deps = p.Imports
		}
		for _, dep := range deps {
			if strings.HasPrefix(dep, modulePath+"/") && !slices.Contains(allowed, top(dep)) {
				bad = append(bad, fmt.Sprintf("%s depends on %s (%s may use only %v)", p.ImportPath, dep, top(p.ImportPath), allowed))
			}
		}
	}
	return bad
}

// top is the rule's key of a package: the longest key of allowedImports
// that is the package's path under the module or a folder above it
// (".../tui/pages/programs" → "tui", ".../app/owner" → "app/owner").
func top(importPath string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(importPath, modulePath), "/")
	for p := rel; p != "." && p != ""; p = path.Dir(p) {
		if _, ok := allowedImports[p]; ok {
			return p
		}
	}
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
	for _, v := range tuiViolations(pkgs) {
		t.Error(v, "— see the workbench's layers in imports_test.go")
	}
}

func TestImportRulesCatchForbiddenEdges(t *testing.T) {
	m := modulePath + "/"
	tests := []struct {
		pkg  goPackage
		want int
	}{
		{goPackage{ImportPath: m + "tui/pages", Deps: []string{m + "model", m + "themes", "fmt"}}, 0},
		{goPackage{ImportPath: m + "tui", Deps: []string{m + "store"}}, 1},
		{goPackage{ImportPath: m + "tui/pages/programs", Deps: []string{m + "app", m + "model"}}, 0},
		{goPackage{ImportPath: m + "tui", Deps: []string{m + "app", m + "api", m + "app/owner"}}, 2},
		{goPackage{ImportPath: m + "tui", Deps: []string{m + "bridge/wire", m + "store"}}, 2},
		{goPackage{ImportPath: m + "model", Deps: []string{m + "store"}}, 1},
		{goPackage{ImportPath: m + "store", Deps: []string{m + "model", m + "bridge"}}, 1},
		{goPackage{ImportPath: m + "bridge", Deps: []string{m + "model", m + "bridge/wire"}}, 0},
		// The redactor is model's: every layer may use it, it uses none.
		{goPackage{ImportPath: m + "bridge", Deps: []string{m + "model/redact"}}, 0},
		{goPackage{ImportPath: m + "config", Deps: []string{m + "model/redact"}}, 0},
		{goPackage{ImportPath: m + "model/redact", Deps: []string{m + "config"}}, 1},
		{goPackage{ImportPath: m + "themes", Deps: []string{m + "model"}}, 1},
		{goPackage{ImportPath: m + "app", Deps: []string{m + "model", m + "store"}}, 1},
		{goPackage{ImportPath: m + "app/owner", Deps: []string{m + "app", m + "store", m + "jobs"}}, 0},
		{goPackage{ImportPath: m + "api", Deps: []string{m + "app", m + "jobs"}}, 1},
		{goPackage{ImportPath: m + "jobs", Deps: []string{m + "store", m + "app"}}, 1},
		{goPackage{ImportPath: m + "cmd", Imports: []string{m + "app/owner", m + "tui"}, Deps: []string{m + "store"}}, 0},
		{goPackage{ImportPath: m + "cmd", Imports: []string{m + "store", m + "tui"}}, 1},
	}
	for _, tt := range tests {
		if got := violations([]goPackage{tt.pkg}); len(got) != tt.want {
			t.Errorf("%s with deps %v: %d violations %v, want %d", tt.pkg.ImportPath, tt.pkg.Deps, len(got), got, tt.want)
		}
	}
}

// The workbench's own layers (tui/...): the shell (package tui) gathers the
// pages; a page (tui/pages/<name>) is reached only through it and knows no
// other page; the packages the pages share (tui/page, tui/dialog,
// tui/components, tui/runs, ...) know no page and not the shell; the run
// views (tui/runs) are above the pieces they are made of; and tui/tuitest,
// which drives the shell, is for tests only.

// tuiShared are the packages under the pages that the run views may not
// be under either.
var tuiShared = []string{"tui/page", "tui/dialog", "tui/components", "tui/layout", "tui/format",
	"tui/keys", "tui/live", "tui/spantree", "tui/choices"}

// tuiViolations lists every dependency of a workbench package that breaks
// its layers.
func tuiViolations(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		from := relPath(p.ImportPath)
		if top(p.ImportPath) != "tui" {
			continue
		}
		for _, dep := range p.Deps {
			if !strings.HasPrefix(dep, modulePath+"/") || top(dep) != "tui" {
				continue
			}
			to := relPath(dep)
			if why := tuiForbidden(from, to); why != "" {
				bad = append(bad, fmt.Sprintf("%s depends on %s: %s", from, to, why))
			}
		}
	}
	return bad
}

// tuiForbidden says why package from may not depend on package to, or "".
func tuiForbidden(from, to string) string {
	page := func(p string) string { // the page a package belongs to, or ""
		if rest, ok := strings.CutPrefix(p, "tui/pages/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name
		}
		return ""
	}
	under := func(p string, list []string) bool {
		return slices.ContainsFunc(list, func(l string) bool { return p == l || strings.HasPrefix(p, l+"/") })
	}
	switch {
	case to == "tui/tuitest" && from != "tui/tuitest":
		return "tuitest is for tests"
	case from == "tui" || from == "tui/tuitest":
		return ""
	case to == "tui":
		return "only the shell gathers the pages"
	case page(to) != "" && page(from) != page(to):
		return "a page is reached through the shell, not from another package"
	case to == "tui/runs" && under(from, tuiShared):
		return "the shared pieces are under the run views"
	}
	return ""
}

// relPath is the path under the module: ".../tui/pages/programs" → "tui/pages/programs".
func relPath(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, modulePath), "/")
}

func TestTUILayersCatchForbiddenEdges(t *testing.T) {
	m := modulePath + "/"
	tests := []struct {
		pkg  goPackage
		want int
	}{
		{goPackage{ImportPath: m + "tui", Deps: []string{m + "tui/pages/programs", m + "tui/runs", m + "tui/page"}}, 0},
		{goPackage{ImportPath: m + "tui/pages/evaluations", Deps: []string{m + "tui/runs", m + "tui/dialog", m + "model"}}, 0},
		{goPackage{ImportPath: m + "tui/pages/workers", Deps: []string{m + "tui/pages/executions"}}, 1},
		{goPackage{ImportPath: m + "tui/pages/programs", Deps: []string{m + "tui"}}, 1},
		{goPackage{ImportPath: m + "tui/runs", Deps: []string{m + "tui/pages/programs", m + "tui/spantree"}}, 1},
		{goPackage{ImportPath: m + "tui/dialog", Deps: []string{m + "tui/runs", m + "tui/page"}}, 1},
		{goPackage{ImportPath: m + "tui/page", Deps: []string{m + "tui/tuitest"}}, 1},
		{goPackage{ImportPath: m + "tui/tuitest", Deps: []string{m + "tui", m + "tui/pages/programs"}}, 0},
	}
	for _, tt := range tests {
		if got := tuiViolations([]goPackage{tt.pkg}); len(got) != tt.want {
			t.Errorf("%s with deps %v: %d violations %v, want %d", tt.pkg.ImportPath, tt.pkg.Deps, len(got), got, tt.want)
		}
	}
}
