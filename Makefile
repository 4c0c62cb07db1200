# The README's two commands: `make demo` and `make test`. Each creates .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch 2.13.0 is the CPU build available offline on our machines; any torch >= 2.2 works.
	$(PY) -m pip install --quiet "torch==2.13.0" || $(PY) -m pip install --quiet "torch>=2.2"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m zedo_core lift examples/walking_example.npz build/walking_example_3d.npz --hypotheses 1
	$(PY) examples/show_result.py examples/walking_example.npz build/walking_example_3d.npz

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf build .pytest_cache
