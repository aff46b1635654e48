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

.PHONY: FORCE setup reproduce test test-fast lint lab notebooks browser clean-work

# reinstalls when $(VENV) was set up in another checkout (copied with it, it imports that one's
# lib/); in a git checkout also registers the notebooks' clean filter (.gitattributes): outputs
# JupyterLab saves into a notebook stay out of git (a relative path: a copy uses its own)
setup: $(STAMP)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.annokit-strip.clean "$(PY) -m annokit.notebook_strip"; fi

# the stamp holds the checkout it was made in: another one's (a copied .venv) reinstalls
$(STAMP): pyproject.toml $(if $(filter-out $(CURDIR),$(shell cat $(STAMP) 2>/dev/null)),FORCE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"
	echo "$(CURDIR)" > $(STAMP)

# JOBS=N: notebooks at once (default: the runner's, 2 on 2 or more cores); JOBS=1 runs them in turn
reproduce: setup
	ANNOKIT_REPO="$(CURDIR)" $(PY) -m annokit.reproduce --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS))

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
	ANNOKIT_REPO="$(CURDIR)" $(PY) -m jupyterlab --notebook-dir=notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# after editing a notebook's .py (or its .ipynb outside JupyterLab): bring its pair up to date
notebooks: setup
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

browser:
	@bash .ci/install-browser.sh

clean-work:
	rm -rf .work
