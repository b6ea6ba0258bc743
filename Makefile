# fraudwatch — a thin Makefile over CMake. `make demo` and `make test` do all
# set-up on a fresh Debian 12 machine (packages, build, Kafka broker).
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

PREFIX     ?= /usr/local

.PHONY: all deps build asan test test-fast demo bench install deb clean kafka-start kafka-stop

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DFW_SANITIZE=ON

asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j$(JOBS)

# Every test: unit, fuzz replay and integration against a real broker, in the
# normal build and again under ASan + UBSan.
test: build asan
	@bash scripts/test.sh $(BUILD) $(BUILD_ASAN)

# Only the normal build (quicker while developing).
test-fast: build
	@bash scripts/test.sh $(BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)/fraudwatch

bench: build
	$(BUILD)/fraudwatch bench

# The binary, fraudwatch(1), the docs, example rules and fraudwatch@.service
# under PREFIX (DESTDIR for staging).
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# A Debian package of the same: $(BUILD)/fraudwatch_VERSION_ARCH.deb.
deb: build
	cd $(BUILD) && cpack -G DEB

kafka-start:
	@scripts/kafka-local start

kafka-stop:
	@scripts/kafka-local stop

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
