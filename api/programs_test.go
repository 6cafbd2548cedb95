package api

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-dspy/signet/model"
)

func TestProgramWriteRoutes(t *testing.T) {
	cl, _, _ := serve(t)
	ctx := context.Background()
	p := &model.Program{Name: "cot", Modules: []model.Module{{Name: "answer", Type: model.ChainOfThought, Signature: "question -> answer"}}}
	got, err := cl.CreateProgram(ctx, p)
	if err != nil || got.Version != 1 || got.Status != model.Draft {
		t.Fatalf("create: %+v, %v", got, err)
	}
	var ae *Error
	if _, err := cl.CreateProgram(ctx, p); !errors.As(err, &ae) || ae.Code != CodeExists {
		t.Errorf("create again: %v, want %s", err, CodeExists)
	}
	bad := &model.Program{Name: "bad", Modules: []model.Module{{Name: "a", Type: model.Predict, Signature: "q -> "}}}
	if _, err := cl.CreateProgram(ctx, bad); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("create invalid: %v, want %s", err, CodeBadRequest)
	}

	st, err := cl.SetProgramStatus(ctx, "cot", model.Testing, "try it")
	if err != nil || st.Version != 2 || st.Status != model.Testing || st.Note != "try it" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if _, err := cl.SetProgramStatus(ctx, "cot", "live", ""); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("unknown status: %v", err)
	}
	vs, err := cl.ProgramVersions(ctx, "cot")
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Status != model.Testing {
		t.Fatalf("versions: %v, %v", vs, err)
	}

	if err := cl.DeleteProgram(ctx, "cot"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Program(ctx, "cot", 0); !errors.As(err, &ae) || ae.Code != CodeNotFound {
		t.Errorf("after delete: %v", err)
	}
	if err := cl.DeleteProgram(ctx, "cot"); !errors.As(err, &ae) || ae.Code != CodeNotFound {
		t.Errorf("delete again: %v", err)
	}
}
