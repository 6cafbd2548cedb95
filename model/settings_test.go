package model

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSettings(t *testing.T) {
	got, err := ParseSettings([]string{"max_bootstrapped_demos=2", "auto=light", "flag=true", "ks=[1, 2]", "empty=", "eq=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"max_bootstrapped_demos": 2.0, "auto": "light", "flag": true, "ks": []any{1.0, 2.0}, "empty": "", "eq": "a=b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	for _, bad := range []string{"nokey", "=2"} {
		if _, err := ParseSettings([]string{"a=1", bad}); err == nil || !strings.Contains(err.Error(), `"`+bad+`" is not key=value`) {
			t.Errorf("%q: error %v", bad, err)
		}
	}
	if got, err := ParseSettings(nil); err != nil || len(got) != 0 || got == nil {
		t.Errorf("no settings: %#v %v (want an empty map to add to)", got, err)
	}
}
