# The two commands: `make reproduce` (demo chain on CPU) and `make test`.
# Both create .venv when it is missing and install the kit into it; `make test` first installs
# Debian's chromium for the viewer's browser test (target `browser`, needs root or passwordless sudo;
# otherwise it stops before pytest and says what to run; ANNOKIT_SKIP_BROWSER=1 skips that one test).
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.annokit-installed
# The PyTorch build to install; override for another platform, e.g. TORCH_SPEC="torch==2.9.1 torchvision==0.24.1".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PROFILE ?= demo

.PHONY: setup reproduce test test-fast lint lab notebooks browser clean-work

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

reproduce: setup
	$(PY) -m annokit.reproduce --profile $(PROFILE)

# browser first: a missing chromium stops make before the long PyTorch install, not after it
test: browser setup lint
	$(PY) -m pytest

# the tests not marked `slow` (papermill chains, several processes, the browser): a quick check while editing
test-fast: setup lint
	$(PY) -m pytest -m "not slow"

# ruff over the library, the tests, the notebooks' paired scripts and tools/ (settings in pyproject.toml)
lint: setup
	$(PY) -m ruff check lib tests notebooks tools

# JupyterLab on the notebooks with the kit's environment; also registers the kernel "annokit" for a
# JupyterLab installed elsewhere (pick "annokit (.venv)" there). LAB_ARGS passes options, e.g. --no-browser.
lab: setup
	$(PY) -m ipykernel install --user --name annokit --display-name "annokit (.venv)" >/dev/null
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# after editing a notebook's .py (or its .ipynb outside JupyterLab): bring its pair up to date
notebooks: setup
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

browser:
	@bash .ci/install-browser.sh

clean-work:
	rm -rf .work
