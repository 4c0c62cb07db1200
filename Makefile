# The README's two commands: `make demo` and `make test`. Each creates the virtual environments it
# needs:
#   .venv            Python 3.11: the engine, training and their tests (PyTorch CPU, scipy).
#   .venv-blender45  Python 3.11 + Blender 4.5 LTS as the PyPI `bpy` module, no PyTorch: the add-on.
#   .venv-blender53  Python 3.13 + Blender 5.3 as the `bpy` module, no PyTorch: the add-on again.
PYTHON ?= python3
# Blender 5.1+ runs Python 3.13: taken from pyenv's installed versions (our machines; pyenv's shim
# only runs the active version), else from the PATH.
PYTHON313 ?= $(or $(shell ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | sort -V | tail -1),$(shell command -v python3.13 2>/dev/null | grep -v /shims/))
BPY45_VERSION ?= 4.5.15
BPY53_VERSION ?= 5.3.0
# torch 2.13.0 is the CPU build available offline on our machines; any torch >= 2.2 works.
TORCH := torch==2.13.0

VENV := .venv
PY := $(VENV)/bin/python
VENV45 := .venv-blender45
PY45 := $(VENV45)/bin/python
VENV53 := .venv-blender53
PY53 := $(VENV53)/bin/python

.PHONY: demo test test-engine test-addon extension clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" || $(PY) -m pip install --quiet "torch>=2.2"
	$(PY) -m pip install --quiet -e ".[train,test]"
	touch $@

# The add-on environments get Blender and pytest only: what the add-on needs is what Blender ships.
$(VENV45)/.installed: Makefile
	test -x $(PY45) || $(PYTHON) -m venv $(VENV45)
	$(PY45) -m pip install --quiet --upgrade pip
	$(PY45) -m pip install --quiet "bpy==$(BPY45_VERSION)" "pytest>=7"
	touch $@

$(VENV53)/.installed: Makefile
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (on the PATH or in pyenv): Blender 5.1+ needs it; install it, e.g. 'pyenv install 3.13', or set PYTHON313=/path/to/python3.13"; exit 1; }
	test -x $(PY53) || $(PYTHON313) -m venv $(VENV53)
	$(PY53) -m pip install --quiet --upgrade pip
	$(PY53) -m pip install --quiet "bpy==$(BPY53_VERSION)" "pytest>=7"
	touch $@

demo: $(VENV45)/.installed
	$(PY45) -m zedo_blender.batch --input examples/walking_example.npz \
		--output build/walking_example.blend --bvh build/walking_example.bvh --fbx build/walking_example.fbx
	$(PY45) examples/render_overlay.py examples/walking_example.npz build/walking_example.blend build/walking_example.png
	$(PY45) -m zedo_core lift examples/walking_example.npz build/walking_example_3d.npz --hypotheses 1
	$(PY45) examples/show_result.py examples/walking_example.npz build/walking_example_3d.npz
	$(PY45) examples/real_clip_demo.py --out build

test: test-engine test-addon

test-engine: $(VENV)/.installed
	$(PY) -m pytest -q --ignore=tests/addon

test-addon: $(VENV45)/.installed $(VENV53)/.installed
	$(PY45) -m pytest -q tests/addon
	$(PY53) -m pytest -q tests/addon

extension:
	$(PYTHON) tools/build_extension.py

clean:
	rm -rf build .pytest_cache
