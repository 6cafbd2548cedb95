package bridge

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLMSpecJSON(t *testing.T) {
	temp := 0.0
	tests := []struct {
		spec LMSpec
		want string
	}{
		{LMSpec{Model: "signet/test"},
			`{"model":"signet/test","api_base":null,"api_key_env":null,"temperature":null,"max_tokens":null,"cache":false,"price_in":null,"price_out":null}`},
		{LMSpec{Model: "openai/gpt-4o-mini", APIBase: "http://127.0.0.1:8080/v1", APIKeyEnv: "OPENAI_API_KEY", Temperature: &temp,
			MaxTokens: 512, Cache: true, Adapter: "json", PriceIn: 0.15, PriceOut: 0.6, Kwargs: map[string]any{"sleep_ms": 5}},
			`{"model":"openai/gpt-4o-mini","api_base":"http://127.0.0.1:8080/v1","api_key_env":"OPENAI_API_KEY","temperature":0,"max_tokens":512,"cache":true,"adapter":"json","price_in":0.15,"price_out":0.6,"kwargs":{"sleep_ms":5}}`},
		{LMSpec{Model: "openai/q", Pool: "team", Endpoints: []LMEndpoint{
			{APIBase: "http://gpu1:8000/v1", Weight: 2, MaxConcurrency: 8, RPM: 600}, {APIBase: "http://gpu2:8000/v1", APIKeyEnv: "GPU2_KEY"}}},
			`{"model":"openai/q","api_base":null,"api_key_env":null,"temperature":null,"max_tokens":null,"cache":false,"price_in":null,"price_out":null,"pool":"team","endpoints":[{"api_base":"http://gpu1:8000/v1","weight":2,"max_concurrency":8,"rpm":600},{"api_base":"http://gpu2:8000/v1","api_key_env":"GPU2_KEY"}]}`},
		{LMSpec{Model: "openai/q", Pool: "local", Endpoints: []LMEndpoint{{APIBase: "http://127.0.0.1:1/v1"}, {APIBase: "http://127.0.0.1:2/v1"}},
			Cooldown: 2500 * time.Millisecond},
			`{"model":"openai/q","api_base":null,"api_key_env":null,"temperature":null,"max_tokens":null,"cache":false,"price_in":null,"price_out":null,"pool":"local","endpoints":[{"api_base":"http://127.0.0.1:1/v1"},{"api_base":"http://127.0.0.1:2/v1"}],"cooldown_s":2.5}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.spec)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) =\n%s, %v\nwant\n%s", tt.spec, b, err, tt.want)
		}
		var back LMSpec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if tt.spec.Kwargs != nil {
			back.Kwargs = tt.spec.Kwargs // numbers come back as float64
		}
		if !reflect.DeepEqual(back, tt.spec) {
			t.Errorf("round trip %+v → %+v", tt.spec, back)
		}
	}
}

func TestWorkerEnv(t *testing.T) {
	t.Setenv("PYTHONPATH", "/user/lib")
	t.Setenv("SIGNET_TEST_KEY", "inherited")
	env := workerEnv(Config{Threads: 3, Workspace: "/ws", Env: []string{"OMP_NUM_THREADS=4"}}, "/cache/worker/abc")
	get := func(k string) string { // the last one wins, as in exec.Cmd
		v := ""
		for _, e := range env {
			if after, ok := strings.CutPrefix(e, k+"="); ok {
				v = after
			}
		}
		return v
	}
	for k, want := range map[string]string{
		"PYTHONPATH":                   "/cache/worker/abc" + string(os.PathListSeparator) + "/user/lib",
		"SIGNET_WORKER_THREADS":        "3",
		"SIGNET_DSPY_CACHEDIR":         "/ws/dspy-cache",
		"OMP_NUM_THREADS":              "4", // Config.Env overrides the defaults
		"OPENBLAS_NUM_THREADS":         "1",
		"MKL_NUM_THREADS":              "1",
		"TOKENIZERS_PARALLELISM":       "false",
		"PYTHONUNBUFFERED":             "1",
		"LITELLM_LOCAL_MODEL_COST_MAP": "True",
		"SIGNET_TEST_KEY":              "inherited",
	} {
		if got := get(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	env = workerEnv(Config{Threads: 1, Env: []string{"PYTHONPATH=/mine"}}, "/w")
	if !slices.Contains(env, "PYTHONPATH=/w"+string(os.PathListSeparator)+"/mine") {
		t.Errorf("Config.Env's PYTHONPATH is not kept after the worker's: %v", env[len(env)-1])
	}
}
