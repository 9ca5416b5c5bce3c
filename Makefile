# Two commands set up a fresh machine: `make run` (the pipeline) and `make test` (the suite).
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
# F1_PROFILE=postgres selects the PostgreSQL instance; the names as in f1_core.settings.PROFILES.
PROFILE := $(or $(F1_PROFILE),default)
PROFILE_default := dagster_home
PROFILE_postgres := dagster_home/postgres
# production: the PostgreSQL profile, plus MLflow's server and the warehouse's catalog in PostgreSQL
PROFILE_production := dagster_home/postgres
ifeq ($(PROFILE_$(PROFILE)),)
$(error F1_PROFILE=$(PROFILE): expected one of default, postgres, production)
endif
export DAGSTER_HOME := $(CURDIR)/$(PROFILE_$(PROFILE))

.PHONY: run test lint docs notebooks ui serve console bento mlflow-server worker api-key validate train rollback bench-ingest bench-accuracy bench-accuracy-changes bench-served bench-live-state bench-console bench-serve bench-serve-floor bench-serve-batch bench-loop bench-loop-full bench-loop-daemon bench-warehouse bench-production clean

# The virtual environment, exactly as uv.lock pins it (uv itself comes from PyPI if missing).
.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --all-groups
	@touch $@

run: .venv/.synced
	$(if $(filter production,$(PROFILE)),.venv/bin/python -m f1_production.profile run,.venv/bin/f1 run)

# lint and format (ruff), the console's unit tests (Vitest), then the suite (pytest: the console in Chromium
# included) on two workers, a file's tests on one; last, alone, the tests that restart a shared server
test: lint .venv/.synced console/dist/index.html
	cd console && npm test && npm run e2e
	.venv/bin/pytest -n 2 --dist loadfile -m "not serial" --durations=25
	.venv/bin/pytest -m serial

# The manual (docs/, mkdocs-material) as a site in site/; --strict: a broken link or anchor fails
docs: .venv/.synced
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict

# ruff's lint rules and its formatting (pyproject.toml [tool.ruff]); `.venv/bin/ruff format .` formats
lint: .venv/.synced
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# The analysts' notebooks in JupyterLab (http://127.0.0.1:8888), reading the warehouse make run filled.
notebooks: .venv/.synced
	.venv/bin/jupyter lab --notebook-dir notebooks --ip 127.0.0.1 --port $(or $(PORT),8888)

ui: .venv/.synced
	.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(or $(PORT),3000)

# The console's web app, built from console/ with the locked npm packages when its sources change.
CONSOLE_SOURCES := $(shell find console/src console/index.html console/vite.config.ts -type f 2>/dev/null)
console/dist/index.html: console/package-lock.json $(CONSOLE_SOURCES)
	cd console && npm ci --no-audit --no-fund && npm run build

# The race engineers' console (http://127.0.0.1:3002) beside the service.
console: .venv/.synced console/dist/index.html
	.venv/bin/uvicorn --factory f1_console.app:create_app --host 127.0.0.1 --port $(or $(PORT),3002)

# The prediction service (the UI has 3000). Create a key first: make api-key ROLE=viewer
serve: .venv/.synced
	.venv/bin/bentoml serve f1_serving.service:LapTimeService --host 127.0.0.1 --port $(or $(PORT),3001)

# A Bento of the service, its Python packages exactly as uv.lock pins them.
bento: .venv/.synced
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --quiet -o requirements.txt
	.venv/bin/bentoml build

# MLflow's tracking server on this machine's PostgreSQL, with basic auth (docs/production.md)
mlflow-server: .venv/.synced
	.venv/bin/python -m f1_production.mlflow_server

# A celery worker that runs the steps of F1_EXECUTOR=celery runs (docs/production.md)
worker: .venv/.synced
	.venv/bin/python -m f1_production.celery_worker

api-key: .venv/.synced
	.venv/bin/f1 api-key create --role $(or $(ROLE),viewer)

validate: .venv/.synced
	.venv/bin/dagster definitions validate -w workspace.yaml

train: .venv/.synced
	.venv/bin/f1 train

rollback: .venv/.synced
	.venv/bin/f1 rollback

bench-accuracy: .venv/.synced
	.venv/bin/python benchmarks/accuracy.py

# each change to the race model in event-grouped CV, and the noise floor
bench-accuracy-changes: .venv/.synced
	.venv/bin/python benchmarks/accuracy_changes.py

# the holdout of the champion, replayed through the service as a live client: served vs offline
bench-served: .venv/.synced
	.venv/bin/python benchmarks/served_accuracy.py

# how soon a landed lap is in both workers' state (REDIS=redis://... to share it in Redis)
bench-live-state: .venv/.synced
	.venv/bin/python benchmarks/live_state.py $(if $(REDIS),--redis $(REDIS))

# the console's budgets in Chromium: first render, a landed lap on screen, JavaScript size
bench-console: .venv/.synced console/dist/index.html
	.venv/bin/python benchmarks/console_budget.py

bench-serve: .venv/.synced
	.venv/bin/python benchmarks/serve_load.py $(if $(BASELINE),--baseline $(BASELINE))

# BentoML's own floor on this machine: the same contract with no work behind it
bench-serve-floor: .venv/.synced
	.venv/bin/python benchmarks/serve_load.py --floor

# where one served lap's time goes, step by step, in process
bench-serve-batch: .venv/.synced
	.venv/bin/python benchmarks/serve_batch.py

bench-loop: .venv/.synced
	.venv/bin/python benchmarks/loop_budget.py

bench-loop-full: .venv/.synced
	.venv/bin/python benchmarks/loop_budget.py --full

# the closed loop under a running dagster-daemon, nothing run by hand
bench-loop-daemon: .venv/.synced
	.venv/bin/python benchmarks/loop_daemon.py

bench-ingest: .venv/.synced
	.venv/bin/python benchmarks/ingest.py

# the production profile against the embedded default: ingestion, queries while ingesting, serving
bench-production: .venv/.synced
	.venv/bin/python benchmarks/production.py

# warehouse writes with and without an analyst's transaction held open (CATALOG=postgres:... for a server)
bench-warehouse: .venv/.synced
	.venv/bin/python benchmarks/warehouse_readers.py $(if $(CATALOG),--catalog "$(CATALOG)")

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
