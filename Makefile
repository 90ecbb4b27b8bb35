# transcript-bot: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test index bench eval clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU build of torch, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Set up, verify the prebuilt index against the corpus (updating it if stale), start the chat.
run: install
	$(VENV)/bin/transcript-bot serve

test: install
	$(PY) -m pytest -q

# Rebuild the bundled corpus's index (only when the corpus, passage rules or model change).
index: install
	$(VENV)/bin/transcript-bot index --full

eval: install
	$(VENV)/bin/transcript-bot eval eval/dev-questions.jsonl -k 10

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
