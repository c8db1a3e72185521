# Two commands set everything up on a machine with only Python 3.11:
#   make repro   - create .venv, install pinned requirements, run `dvc repro`
#   make test    - create/update .venv with dev requirements, lint, run pytest
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stage commands call `python`; put the venv first so DVC runs them with it.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install install-dev repro deps retrain test test-slow test-kernels lint format bench review remote-serve clean-venv walkforward cpcv seeds seeds-real grid worker collect edge

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

repro: install
	$(BIN)/dvc repro
	@$(BIN)/python -m gafcnn.experiments.timings
	@$(BIN)/python -m gafcnn.experiments.review --drift

deps: install
	$(BIN)/python -m gafcnn.depgraph .

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A challenger per symbol on the rolling window ending at the newest bar of the data
# source, judged against the champion (docs/live.md): run it on a schedule.
retrain: install
	$(BIN)/gafcnn retrain

test: lint
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install-dev
	$(BIN)/python -m pytest -m slow -q

# The fast suite under other kernel choices (ATen's and oneDNN's instruction sets,
# MKL's reproducible mode, one thread; .ci/kernels names them): every run must pass,
# so no fast test depends on the weights one CPU's kernels train. About 3 x `make test`.
KERNELS ?=
test-kernels: install-dev
	bash .ci/kernels $(KERNELS)

bench: install
	$(BIN)/python benchmarks/gaf_throughput.py

# Where the edge might be (docs/edge.md): every study on the shared real data, each
# report in $(EDGE_OUT)/<name>.md with its figures beside it as JSON (a few minutes).
DATA ?= $(abspath ../shared/data)
EDGE_OUT ?= reports/edge
EDGE := $(BIN)/gafcnn edge
edge: install
	mkdir -p $(EDGE_OUT)
	for pair in BTC_USDT ETH_USDT; do \
		$(EDGE) horizons --bars $(DATA)/freqtrade-2025/binance/$$pair-1m.feather \
			--json $(EDGE_OUT)/horizons-2025-$$pair.json > $(EDGE_OUT)/horizons-2025-$$pair.md || exit 1; done
	for pair in BTC_USDT ETH_USDT BNB_USDT SOL_USDT XRP_USDT; do \
		$(EDGE) horizons --bars $(DATA)/freqtrade-2021/binance/$$pair-1m.json.gz \
			--json $(EDGE_OUT)/horizons-2021-$$pair.json > $(EDGE_OUT)/horizons-2021-$$pair.md || exit 1; done
	for sym in FILUSDT NEARUSDT; do \
		$(EDGE) horizons --bars "$(DATA)/binance-um-2023-q3/$$sym-1m-*.csv.gz" \
			--json $(EDGE_OUT)/flow-$$sym.json > $(EDGE_OUT)/flow-$$sym.md || exit 1; done
	for pair in ETH_USDT BNB_USDT SOL_USDT XRP_USDT; do \
		$(EDGE) horizons --bars $(DATA)/freqtrade-2021/binance/$$pair-1m.json.gz \
			--leader BTC/USDT=$(DATA)/freqtrade-2021/binance/BTC_USDT-1m.json.gz \
			--json $(EDGE_OUT)/leader-2021-$$pair.json > $(EDGE_OUT)/leader-2021-$$pair.md || exit 1; done
	$(EDGE) cross-section --bars $(DATA)/freqtrade-1h/binance --timeframe 1h --horizons 4,24,72 \
		--refit yearly --json $(EDGE_OUT)/cross-section-1h.json > $(EDGE_OUT)/cross-section-1h.md
	$(EDGE) cross-section --bars $(DATA)/freqtrade-2021/binance --timeframe 1m \
		--horizons 5,60,240 --json $(EDGE_OUT)/cross-section-2021.json > $(EDGE_OUT)/cross-section-2021.md

# Walk-forward as an experiment: every model refitted in each of FOLDS folds; the
# decision rests on the pooled out-of-sample predictions (about 7 minutes for 4 folds
# of the default synthetic market on 2 cores).
FOLDS ?= 4
walkforward: install
	$(BIN)/dvc exp run -n walkforward-$(FOLDS) -S walkforward.folds=$(FOLDS)

# Combinatorial purged cross-validation as an experiment: every model refitted in each
# of the C(GROUPS, TEST_GROUPS) splits; the report shows the paths' spread and PBO.
GROUPS ?= 6
TEST_GROUPS ?= 2
cpcv: install
	$(BIN)/dvc exp run -n cpcv-$(GROUPS)-$(TEST_GROUPS) -S walkforward.scheme=cpcv \
		-S walkforward.groups=$(GROUPS) -S walkforward.test_groups=$(TEST_GROUPS)

# Training noise: the default config with N seeds as DVC experiments (reports/seeds.md),
# and the same on the shared real file (reports/seeds_real.md).
N ?= 5
REAL_CSV ?= $(abspath ../shared/data/BTCUSDT_1m_binanceus_2023-03.csv)
seeds: install
	$(BIN)/python -m gafcnn.experiments.seeds run -n $(N)
seeds-real: install
	$(BIN)/python -m gafcnn.experiments.seeds run -n $(N) --prefix real \
		--set data.source=csv --set data.path=$(REAL_CSV) --out reports/seeds_real.md \
		--title "Training noise over seeds (the shared real file)"

# The original plan's Step 3.1 grid and its alternatives, queued as DVC experiments, run by
# JOBS queue workers, and reported with selection bias corrected (reports/grid.md).
JOBS ?= 1
grid: install
	$(BIN)/python -m gafcnn.experiments.grid run -j $(JOBS)

# The grid on several machines: each clones the repo and runs its share (one DVC
# worker per machine), pushing to the git remote ORIGIN and the DVC remote; then
# the coordinator pulls them all and writes the report (docs/scaling.md).
EXPS ?=
ORIGIN ?= origin
worker: install
	@test -n "$(EXPS)" || { echo 'usage: make worker EXPS="plan1 plan3"' >&2; exit 2; }
	$(BIN)/python -m gafcnn.experiments.grid worker --only "$(EXPS)" --remote $(ORIGIN)

collect: install
	$(BIN)/python -m gafcnn.experiments.grid collect --remote $(ORIGIN)

# What a change did: params diff, headline, changed metrics, plots diff, against BASE.
BASE ?= main
review: install
	$(BIN)/python -m gafcnn.experiments.review --base $(BASE) --plots

# The project's S3 remote served from a local folder (rclone, a dev requirement):
# `make remote-serve` in one terminal, then `dvc push` / `dvc pull` in another.
REMOTE_DIR ?= $(abspath ../gafcnn-remote)
REMOTE_KEY ?= gafcnn
REMOTE_SECRET ?= gafcnn-local-secret
remote-serve: install-dev
	mkdir -p $(REMOTE_DIR)/gafcnn
	$(BIN)/dvc remote modify --local storage access_key_id $(REMOTE_KEY)
	$(BIN)/dvc remote modify --local storage secret_access_key $(REMOTE_SECRET)
	$(BIN)/rclone serve s3 --addr 127.0.0.1:9000 --auth-key $(REMOTE_KEY),$(REMOTE_SECRET) $(REMOTE_DIR)

clean-venv:
	rm -rf $(VENV)
