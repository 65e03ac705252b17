# The two commands of the README are `make demo` and `make test`; both build the local
# environment (.venv, Python 3.10 as .python-version asks) on first use.
PYTHON ?= python3.10
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean-venv

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), "neurotep needs Python 3.10 (lava-nc 0.10 pins it): install it, e.g. with pyenv"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip setuptools wheel
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	# NeuroBench's metric code only (its declared deps pull tonic/torchaudio/numba we do not use);
	# the profiler's parity test runs it against neurotep's own metrics.
	$(VENV)/bin/pip install --quiet --no-deps neurobench==2.3.0
	# lava-optimization for its NEBM process only (Loihi 2's stochastic neuron, see neurotep.neurons.boltzmann);
	# its declared deps (scikit-optimize, seaborn, dsolve, networkx 2.8) serve its solvers, which we do not use.
	$(VENV)/bin/pip install --quiet --no-deps lava-optimization==0.5.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/neurotep demo

# lint-imports holds the import contracts of pyproject.toml ([tool.importlinter]) before the tests run.
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks

clean-venv:
	rm -rf $(VENV)
