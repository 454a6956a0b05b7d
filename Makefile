# Tarsier: `make demo` trains the default model on Fashion-MNIST; `make test` runs the test suite.
# Both install the Debian packages they need first (as root, on a fresh Debian 12 with Swift).

APT_PACKAGES := libdnnl-dev zlib1g-dev libturbojpeg0-dev libjpeg62-turbo-dev libspng-dev dataset-fashion-mnist
# Only the tests need these: PyTorch parity of the model zoo runs torchvision 0.14 beside Tarsier.
TEST_APT_PACKAGES := python3-torch python3-torchvision
SWIFT ?= swift
RELEASE_FLAGS := -c release
BIN := .build/release/tarsier

.PHONY: deps test-deps install-packages build demo test best clean

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(APT_PACKAGES) $(TEST_APT_PACKAGES)"

install-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product tarsier

demo: build
	$(BIN) train

best: build
	$(BIN) train --preset best

test: test-deps
	scripts/fetch_test_images.sh
	$(SWIFT) build --build-tests
	TARSIER_REQUIRE_TORCH=1 TARSIER_SLOW_TESTS=1 $(SWIFT) test --skip-build --disable-swift-testing

clean:
	rm -rf .build
