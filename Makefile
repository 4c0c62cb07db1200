# The README's two commands: `make demo` and `make test`. Each creates the virtual environments
# it needs: .venv (engine, training, add-on tests with Blender 5.0 as the `bpy` module) and
# .venv-blender45 (the add-on tests again with Blender 4.5 LTS).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENV45 := .venv-blender45
PY45 := $(VENV45)/bin/python
STAMP45 := $(VENV45)/.installed
# The PyPI `bpy` module is a real headless Blender; it needs Python 3.11.
BPY_VERSION ?= 5.0.1
BPY45_VERSION ?= 4.5.15
# torch 2.13.0 is the CPU build available offline on our machines; any torch >= 2.2 works.
TORCH := torch==2.13.0

.PHONY: demo test extension clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" || $(PY) -m pip install --quiet "torch>=2.2"
	$(PY) -m pip install --quiet "bpy==$(BPY_VERSION)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(STAMP45): pyproject.toml
	test -x $(PY45) || $(PYTHON) -m venv $(VENV45)
	$(PY45) -m pip install --quiet --upgrade pip
	$(PY45) -m pip install --quiet "$(TORCH)" || $(PY45) -m pip install --quiet "torch>=2.2"
	$(PY45) -m pip install --quiet "bpy==$(BPY45_VERSION)"
	$(PY45) -m pip install --quiet -e ".[test]"
	touch $(STAMP45)

demo: $(STAMP)
	$(PY) -m zedo_blender.batch --input examples/walking_example.npz \
		--output build/walking_example.blend --bvh build/walking_example.bvh --fbx build/walking_example.fbx
	$(PY) examples/render_overlay.py examples/walking_example.npz build/walking_example.blend build/walking_example.png
	$(PY) -m zedo_core lift examples/walking_example.npz build/walking_example_3d.npz --hypotheses 1
	$(PY) examples/show_result.py examples/walking_example.npz build/walking_example_3d.npz

test: $(STAMP) $(STAMP45)
	$(PY) -m pytest -q
	$(PY45) -m pytest -q tests/addon

extension: $(STAMP)
	$(PY) tools/build_extension.py

clean:
	rm -rf build .pytest_cache
