# neurotrio: `make demo` and `make test` work from a clean clone (they create .venv first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest workers: 2 on the 2-core CI machine
JOBS ?= 2

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[dev,faces]"
	# spikingjelly 2.0.0 declares torchvision/torchaudio, which would replace the CPU torch with a CUDA
	# build; its core (neuron, layer, functional, surrogate) needs neither, so install it without deps.
	$(BIN)/pip install -q --no-deps spikingjelly==2.0.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/neurotrio sleep demo

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install -q ".[bench]"
	$(BIN)/python -m benchmarks.sleep_vs_yasa

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
