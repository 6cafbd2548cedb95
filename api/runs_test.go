package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// TestSubmitVariantAndRender: a submit with a variant runs the variant and
// records it; the client's span and execution routes read it back; render
// on an owner that cannot render says so.
func TestSubmitVariantAndRender(t *testing.T) {
	c, _, _ := serve(t)
	ctx := context.Background()
	v := &model.Program{Name: "qa", Note: "iteration #1", Modules: []model.Module{{Name: "answer", Type: model.Predict,
		Signature: "question -> answer", Instructions: "Answer in uppercase."}}}
	x, err := c.Submit(ctx, SubmitRequest{Program: "qa", Inputs: map[string]any{"question": "q"}, Variant: v, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if x.State != model.Completed || x.Variant == nil || x.Variant.Modules[0].Instructions != "Answer in uppercase." || x.Version != 1 {
		t.Fatalf("variant execution %+v", x)
	}
	got, err := c.Execution(ctx, x.ID)
	if err != nil || got.Variant == nil || got.Variant.Note != "iteration #1" {
		t.Fatalf("read back %+v %v", got, err)
	}
	var page *SpanPage
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if page, err = c.Spans(ctx, x.ID, 0, 10); err == nil && len(page.Spans) > 0 {
			break
		}
	}
	if err != nil || len(page.Spans) != 1 || page.Spans[0].End.IsZero() {
		t.Fatalf("spans %+v %v", page, err)
	}
	bad := *v
	bad.Name = "other"
	if _, err := c.Submit(ctx, SubmitRequest{Program: "qa", Inputs: map[string]any{"question": "q"}, Variant: &bad}); err == nil {
		t.Fatal("a variant named after another program was accepted")
	}
	_, err = c.Render(ctx, RenderRequest{Program: "qa", Inputs: map[string]any{"question": "q"}})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeUnavailable {
		t.Fatalf("render on an owner without a renderer: %v", err)
	}
}
