# mkt-whatsapp-service — the two set-up commands are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
SAM_PYTHONS ?= 3.12.1:3.11.7
FUZZ_EXAMPLES ?= 10
FUZZ_SEED ?= 20261126

.PHONY: dev test unit e2e template lint typecheck openapi fuzz bench cost token sign say press template-event statuses flow validate build clean

$(STAMP): requirements-dev.txt layers/shared/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

## dev: run the whole service locally on http://127.0.0.1:$(PORT) (moto, no AWS, no Docker)
dev: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m local.stack

## test: lint, type-check and run every test (unit, template, end-to-end)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist worksteal

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

template: $(STAMP)
	$(BIN)/python -m pytest tests/template

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## openapi: write docs/openapi.json, generated from the route table and the models (a test fails when it is stale)
openapi: $(STAMP)
	PYTHONPATH=layers/shared $(BIN)/python -m mkt_whatsapp.http.openapi docs/openapi.json

## fuzz: the OpenAPI fuzzer alone, printing what it ran and got (make test runs it too), e.g. make fuzz FUZZ_EXAMPLES=100 FUZZ_SEED=7
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -s tests/e2e/test_openapi_fuzz.py

## bench: cold-start, AWS-call, flow and campaign benchmarks (figures, not pass/fail timings); one part: make bench BENCH=flows (or ai, analytics, inbound, campaigns, campaign-messages)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

## cost: the AWS cost per 1,000,000 inbound and sent messages, per 1,000 flow executions, AI replies and campaign messages (Meta's charge apart), and idle per month, from make bench's counts (python -m bench.campaign: a campaign's) and bench/prices.py
cost: $(STAMP)
	@$(BIN)/python -m bench.cost

## token: mint a dev JWT for the local stack, e.g. make token SHOP=shop-1
token: $(STAMP)
	@$(BIN)/python -m local.devtools token --shop "$(SHOP)"

## sign: print the X-Hub-Signature-256 of a webhook body file, e.g. make sign BODY=events/webhook-body.json
sign: $(STAMP)
	@$(BIN)/python -m local.devtools sign "$(BODY)"

## say: post a customer's text message now, signed as Meta sends it, e.g. make say TEXT="Có giao hàng không?" (from an ad: REFERRAL=<its source id>; another customer: CUSTOMER=<wa_id> NAME=<name>)
say: $(STAMP)
	@$(BIN)/python -m local.devtools say "$(TEXT)" --api "$(or $(API),http://127.0.0.1:$(PORT)/api/v1/whatsapp)" \
		--phone-number-id "$(or $(PHONE),106540352242922)" --referral "$(REFERRAL)" \
		--customer "$(or $(CUSTOMER),84901234567)" --name "$(or $(NAME),Nguyễn Văn A)"

## press: post a customer's reply-button press now, signed as Meta sends it, e.g. make press ID=menu_buy [TITLE="Mua hàng"]
press: $(STAMP)
	@$(BIN)/python -m local.devtools press --id "$(ID)" --title "$(TITLE)" \
		--api "$(or $(API),http://127.0.0.1:$(PORT)/api/v1/whatsapp)" --phone-number-id "$(or $(PHONE),106540352242922)" \
		--customer "$(or $(CUSTOMER),84901234567)" --name "$(or $(NAME),Nguyễn Văn A)"

## template-event: post Meta's webhook for a change of a message template now, signed, e.g. make template-event NAME=order_update STATUS=PAUSED (or QUALITY=RED, CATEGORY=MARKETING; LANGUAGE=vi; WABA=<account>, the README's by default)
template-event: $(STAMP)
	@$(BIN)/python -m local.devtools template-event --name "$(NAME)" --language "$(or $(LANGUAGE),vi)" \
		--waba "$(or $(WABA),419561257915477)" --status "$(STATUS)" --quality "$(QUALITY)" --category "$(CATEGORY)" \
		--api "$(or $(API),http://127.0.0.1:$(PORT)/api/v1/whatsapp)"

## statuses: have the Graph simulator post Meta's signed statuses of the messages it accepted, e.g. make statuses STATUS=delivered (or read, or failed [CODE=131049]; TO=<waId>[,<waId>…]: only theirs; PHONE=<number>: only its messages; WABA=<account>, the README's by default)
statuses: $(STAMP)
	@$(BIN)/python -m local.devtools statuses --status "$(STATUS)" --to "$(TO)" --phone-number-id "$(PHONE)" \
		--waba "$(WABA)" $(if $(CODE),--error-code "$(CODE)") --graph "$(or $(GRAPH),http://127.0.0.1:$(PORT))"

## flow: create a flow file for a shop (its shopId replaced; shop-1 unless SHOP=) and activate it, e.g. make flow FILE=docs/flows/welcome-menu.json (placeholders: SET="AI_AGENT_ID=<id> NAME=VALUE …")
flow: $(STAMP)
	@$(BIN)/python -m local.devtools flow "$(FILE)" --shop "$(or $(SHOP),shop-1)" \
		--api "$(or $(API),http://127.0.0.1:$(PORT)/api/v1/whatsapp)" $(foreach pair,$(SET),--set "$(pair)")

## validate: cfn-lint and sam validate --lint (offline)
validate: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --region us-east-1

## build: sam build without Docker (needs a Python matching the template's runtime: pyenv's 3.12 here)
build: $(STAMP)
	SAM_CLI_TELEMETRY=0 PYENV_VERSION=$(SAM_PYTHONS) PATH="$$HOME/.pyenv/shims:$$PATH" $(BIN)/sam build --parallel

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
