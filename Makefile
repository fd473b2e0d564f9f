# The two commands: `make run` and `make test`. Both install missing Debian
# packages first (deploy/install-deps.sh), then configure and build.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps build run test bench clean

all: build

deps:
	@bash deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Starts Strata with its defaults: socket ./strata.sock, data in ./data.
run: build
	@mkdir -p data
	./$(BUILD)/proxy/strata $(ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j $(JOBS)

bench: deps
	@bash bench/scripts/run_bench.sh

clean:
	rm -rf $(BUILD)
