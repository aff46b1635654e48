# The two commands: `make reproduce` (demo chain on CPU) and `make test`.
# Both create .venv when it is missing and install the kit into it.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.annokit-installed
# The PyTorch build to install; override for another platform, e.g. TORCH_SPEC="torch==2.9.1 torchvision==0.24.1".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PROFILE ?= demo

.PHONY: setup reproduce test clean-work

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

reproduce: setup
	$(PY) -m annokit.reproduce --profile $(PROFILE)

test: setup
	$(PY) -m pytest

clean-work:
	rm -rf .work
