# SwiftBMS — the entry point for people and CI.
#
#   make run     the main job: the firmware against the virtual pack (no hardware needed)
#   make test    every test: SwiftPM tests, the Embedded builds (x86_64 and Cortex-M4F, both
#                -no-allocations), the forbidden-symbol audit, the no-allocation proof and the
#                real-SocketCAN tests in a user-mode Linux guest (can-vm-test)
#   make help    all targets
#
# The Embedded builds call swiftc/clang/ld.lld directly (SwiftPM's per-target Embedded flag
# breaks normal importers); see Docs/architecture.md.

SWIFT_BIN ?= $(patsubst %/,%,$(dir $(shell command -v swiftc 2>/dev/null || echo /opt/swift/usr/bin/swiftc)))
SWIFT     := $(SWIFT_BIN)/swift
SWIFTC    := $(SWIFT_BIN)/swiftc
CLANG     := $(SWIFT_BIN)/clang
LLD       := $(SWIFT_BIN)/ld.lld
NM        := $(SWIFT_BIN)/llvm-nm
OBJDUMP   := $(SWIFT_BIN)/llvm-objdump
READELF   ?= llvm-readelf
BUILD     ?= .build-embedded
OPT       ?= -Osize
SCRIPTS   := HostHarness/Scripts

# make run's arguments (override: make run RUN_ARGS="--scenario delivery-hour --seed 7").
RUN_ARGS  ?=
# Release builds of the harness: cross-module optimisation lets the generic firmware and HAL
# code specialise inside the harness (measured: 21,000 -> 6,700 instructions per simulated tick
# together with the FixedList accessors; Docs/architecture.md). Full link-time optimisation on
# top: 3-4 % less wall time for make bench-pack, outputs byte-identical (Docs/virtual-pack.md);
# the release build takes about 30 s longer.
RELEASE   := -c release -Xswiftc -cross-module-optimization --experimental-lto-mode=full

SRC_HAL      := $(sort $(wildcard HAL/*.swift))
SRC_FIRMWARE := $(sort $(shell find Firmware -name '*.swift' -not -path 'Firmware/Boards/*'))
# Board-independent image code: the bench (BenchBoard, Report) and the on-chip scenario
# (Scenario, ScenarioRun), both on a loop in static storage (StaticLoop) printing key=value (Output).
SRC_IMAGE    := Firmware/Boards/Common/Output.swift Firmware/Boards/Common/StaticLoop.swift
SRC_BENCH    := $(SRC_IMAGE) Firmware/Boards/Common/BenchBoard.swift Firmware/Boards/Common/Report.swift
SRC_SCENARIO := $(SRC_IMAGE) Firmware/Boards/Common/Scenario.swift Firmware/Boards/Common/ScenarioRun.swift

# Embedded Swift: whole module, no heap (any allocating construct is a compile error), no
# stack-protector symbols, one section per function (so --gc-sections can drop unused code).
# AddressableParameters: `@_addressable` inputs and `@_addressableSelf` queries are read in place,
# which keeps copies of large values out of the Cortex-M stack frames (Docs/firmware-budget.md).
EMBEDDED := -swift-version 6 -enable-experimental-feature Embedded -enable-experimental-feature AddressableParameters -wmo $(OPT) -no-allocations \
            -Xfrontend -disable-stack-protector -Xfrontend -function-sections
HOST_TARGET := -target x86_64-unknown-linux-gnu
# The Cortex-M4F image runs every firmware feature, built for a 16-cell pack (BMS_16_CELLS: the
# per-cell storage holds 16 cells, not 32; Docs/firmware-budget.md). -D BMS_NO_ESTIMATOR would
# leave the state estimator out (to measure what it costs).
M4F_TARGET  := -target armv7em-none-none-eabi -Xcc -mcpu=cortex-m4 -Xcc -mfpu=fpv4-sp-d16 -Xcc -mfloat-abi=hard -D BMS_16_CELLS
M4F_CFLAGS  := --target=armv7em-none-eabi -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb \
               -Os -ffreestanding -fno-builtin -ffunction-sections -fdata-sections -Wall -Werror

# Symbols that would mean a heap (or the stack protector's runtime) somewhere in an image.
FORBIDDEN := ^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|swift_allocObject|swift_slowAlloc|__stack_chk_fail|__stack_chk_guard)$$

.PHONY: can-vm-test golden bench-can bench-persistence codegen accuracy bench-estimator bench-pack fleet-bench reaction-times bench-power-limits bench-balancing bench-protection validate-pack cell-models help run build test swift-test embedded embedded-host embedded-m4f qemu-run audit no-allocation-proof \
        firmware-size firmware-budget firmware-budget-baseline stage-cost scenario tools clean

help:
	@sed -n '2,9p' Makefile | sed 's/^# \{0,1\}//'
	@echo "other targets: can-vm-test golden bench-can bench-persistence accuracy bench-estimator bench-pack fleet-bench bench-protection reaction-times bench-power-limits bench-balancing validate-pack cell-models build swift-test embedded embedded-host embedded-m4f qemu-run scenario audit no-allocation-proof firmware-size firmware-budget stage-cost clean"

# ------------------------------------------------------------------------------ main job
run:
	$(SWIFT) build $(RELEASE) --product bms-harness
	.build/release/bms-harness simulate $(RUN_ARGS)

build:
	$(SWIFT) build

# ------------------------------------------------------------------ cell models (virtual pack)
# The shared datasets (not in this repository): ../shared/datasets by default.
DATASETS ?= ../shared/datasets
HARNESS  := .build/release/bms-harness
$(HARNESS): FORCE
	$(SWIFT) build $(RELEASE) --product bms-harness
FORCE:

# Drives every shipped cell model with the datasets' measured/simulated currents and prints the
# terminal-voltage RMSE and maximum error per file.
validate-pack: $(HARNESS)
	$(HARNESS) cell validate --datasets $(DATASETS)

# Speed of the virtual pack with the firmware in the loop: a 24 h delivery-day, 16 cells, 1 ms
# ticks, one core. Prints simulated hours per wall second (a benchmark, not a test).
bench-pack: $(HARNESS)
	$(HARNESS) simulate --scenario delivery-day --out out/bench-pack --bench

# Protection figures on the virtual pack (Docs/protection.md): the reaction time of every fault
# that opens the contactors (~1 s); a full discharge at the firmware's limits against an oracle
# with perfect knowledge, summer-heat and weak-cell (~20 s); the balancing benchmark from a
# 10 % SOC / 105 mV spread over delivery days (~1 min). Each exits 1 if a target is missed.
reaction-times: $(HARNESS)
	$(HARNESS) protection reaction-times
bench-power-limits: $(HARNESS)
	$(HARNESS) protection power-limits
bench-balancing: $(HARNESS)
	$(HARNESS) protection balancing --days 5
bench-protection: reaction-times bench-power-limits bench-balancing

# The early warning's fleet benchmark (Docs/early-warning.md): 200 delivery-day packs for 30 days,
# a fifth of them with a latent fault, the early warning's firmware stages on each at 1 s steps
# on every core; prints the scores (detection, lead time, false alerts, rank 1, sensor faults)
# and writes out/fleet/packs200-days30-seed1/ (about an hour on this 2-core machine).
FLEET_ARGS ?= --packs 200 --days 30 --seed 1
fleet-bench: $(HARNESS)
	$(HARNESS) fleet $(FLEET_ARGS)

# State-estimation accuracy (Docs/estimation.md): the firmware's SOC estimator on every
# single-cell file of the datasets, from the true initial SOC and 20 points off (RMSE, max error,
# bound coverage; ~3 s), then in the closed loop on the virtual pack: weak-cell's day and the first
# 2 days of month-of-deliveries (pack SOC, capacity and resistance per element) and the usable
# charge at 1C and 2C (~10 min). Exits 1 if a target is missed.
accuracy: $(HARNESS)
	$(HARNESS) estimate --accuracy --datasets $(DATASETS)

# The state estimator's cost per update in instructions (callgrind on the Embedded x86_64 image).
bench-estimator: $(BUILD)/host/firmware-host
	@$(SCRIPTS)/ensure-commands.sh valgrind:valgrind
	$(SCRIPTS)/estimator-cost.sh $(BUILD)/host/firmware-host 60000

# Rebuilds Fixtures/cells/*.json from the datasets (OCV tables + circuit identification, ~5 min).
cell-models: $(HARNESS)
	$(HARNESS) cell fit --datasets $(DATASETS)

# -------------------------------------------------------------------------------- tests
test: swift-test embedded audit no-allocation-proof can-vm-test
	@echo "make test: all passed"

swift-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

embedded: embedded-host embedded-m4f qemu-run scenario
	@$(MAKE) --no-print-directory firmware-budget

# Tools not in the Swift toolchain: llvm-readelf (hard-float ABI check), from Debian's llvm.
tools:
	@$(SCRIPTS)/ensure-commands.sh $(READELF):llvm

# Library modules are emitted as .swiftmodule only: Embedded Swift serialises their code and
# compiles it (specialised for the concrete board) into the final object.
# $(call modules,DIR,TARGET_FLAGS)
define modules
$(1)/HAL.swiftmodule: $(SRC_HAL) Makefile
	@mkdir -p $(1)
	$(SWIFTC) $(2) $(EMBEDDED) -parse-as-library -module-name HAL $(SRC_HAL) -emit-module -emit-module-path $$@
$(1)/Firmware.swiftmodule: $(SRC_FIRMWARE) $(1)/HAL.swiftmodule
	$(SWIFTC) $(2) $(EMBEDDED) -parse-as-library -I $(1) -module-name Firmware $(SRC_FIRMWARE) \
	  -emit-module -emit-module-path $$@
endef
$(eval $(call modules,$(BUILD)/host,$(HOST_TARGET)))
$(eval $(call modules,$(BUILD)/m4f,$(M4F_TARGET)))

# ------------------------------------------------------------ Embedded, x86_64 Linux host
$(BUILD)/host/firmware-host: $(BUILD)/host/Firmware.swiftmodule $(SRC_BENCH) $(SRC_SCENARIO) Firmware/Boards/host/main.swift
	$(SWIFTC) $(HOST_TARGET) $(EMBEDDED) -parse-as-library -I $(BUILD)/host -module-name FirmwareHost \
	  $(sort $(SRC_BENCH) $(SRC_SCENARIO)) Firmware/Boards/host/main.swift -o $@

embedded-host: $(BUILD)/host/firmware-host
	./$< 60000

# ------------------------------------------------------ Embedded, Cortex-M4F (mps2-an386)
BOARD_DIR := Firmware/Boards/mps2-an386
$(BUILD)/m4f/firmware.o: $(BUILD)/m4f/Firmware.swiftmodule $(SRC_BENCH) $(BOARD_DIR)/main.swift
	$(SWIFTC) $(M4F_TARGET) $(EMBEDDED) -parse-as-library -I $(BUILD)/m4f -module-name FirmwareImage \
	  $(SRC_BENCH) $(BOARD_DIR)/main.swift -c -o $@
$(BUILD)/m4f/%.o: $(BOARD_DIR)/%.c
	@mkdir -p $(@D)
	$(CLANG) $(M4F_CFLAGS) -c $< -o $@
$(BUILD)/m4f/firmware.elf: $(BUILD)/m4f/startup.o $(BUILD)/m4f/support.o $(BUILD)/m4f/firmware.o $(BOARD_DIR)/link.ld
	$(LLD) -T $(BOARD_DIR)/link.ld --gc-sections -Map $(@:.elf=.map) -o $@ $(filter %.o,$^)
$(BUILD)/m4f/scenario.o: $(BUILD)/m4f/Firmware.swiftmodule $(SRC_SCENARIO) $(BOARD_DIR)/scenario-main.swift
	$(SWIFTC) $(M4F_TARGET) $(EMBEDDED) -D BMS_SCENARIO_IMAGE -parse-as-library -I $(BUILD)/m4f -module-name ScenarioImage \
	  $(SRC_SCENARIO) $(BOARD_DIR)/scenario-main.swift -c -o $@
$(BUILD)/m4f/scenario.elf: $(BUILD)/m4f/startup.o $(BUILD)/m4f/support.o $(BUILD)/m4f/scenario.o $(BOARD_DIR)/link.ld
	$(LLD) -T $(BOARD_DIR)/link.ld --gc-sections -o $@ $(filter %.o,$^)

embedded-m4f: $(BUILD)/m4f/firmware.elf tools
	@for o in $(BUILD)/m4f/firmware.o $(BUILD)/m4f/startup.o $(BUILD)/m4f/support.o; do \
	  $(READELF) -A $$o | grep -A1 'TagName: ABI_VFP_args' | grep -q 'AAPCS VFP' \
	    || { echo "FAIL: $$o is not built for the hard-float ABI"; exit 1; }; done
	@echo "hard-float ABI check OK"
	@$(MAKE) --no-print-directory firmware-size

# flash = everything loaded into flash (vectors, code, constants, .data's initial values);
# RAM = .data + .bss (static RAM; the stack comes on top). The non-volatile store's pages
# (.flash_emulation: flash set aside for data on a real board) are neither: store_bytes.
firmware-size: $(BUILD)/m4f/firmware.elf
	@$(OBJDUMP) --section-headers $< | awk ' \
	  function hex(s,   i, n) { n = 0; for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; return n } \
	  $$2 ~ /^\.(isr_vector|text|rodata|ARM\.exidx|data)$$/ { flash += hex($$3) } \
	  $$2 ~ /^\.(data|bss)$$/ { ram += hex($$3) } \
	  $$2 == ".flash_emulation" { store += hex($$3) } \
	  $$2 ~ /^\.(isr_vector|text|rodata|ARM\.exidx|data|bss|flash_emulation)$$/ { printf "  %-16s %7d B\n", $$2, hex($$3) } \
	  END { printf "flash_bytes=%d\nram_bytes=%d\nstore_bytes=%d\n", flash, ram, store }'

# The M4F image's resource budget (Docs/firmware-budget.md): flash, static RAM, the stack's peak
# (painted and scanned on the chip) and the guest instructions of every tick, counted exactly by
# a QEMU TCG plugin built here, over BUDGET_TICKS ms of the bench. Fails when a figure exceeds the
# issue's targets or grows by more than 10 % over Fixtures/firmware-budget.baseline (`make test`
# runs it so); BUDGET_MODE=--report-targets reports a missed target without failing (to measure
# another build). firmware-budget-baseline writes the baseline from this build.
BUDGET_TICKS    ?= 60000
BUDGET_BASELINE := Fixtures/firmware-budget.baseline
BUDGET_MODE     ?=
PLUGIN          := $(BUILD)/qemu-tick-insns.so
$(PLUGIN): $(SCRIPTS)/qemu-tick-insns.c
	@$(SCRIPTS)/ensure-commands.sh cc:gcc
	@mkdir -p $(@D)
	cc -shared -fPIC -O2 -Wall -Werror -o $@ $<
firmware-budget: $(BUILD)/m4f/firmware.elf $(PLUGIN)
	@$(SCRIPTS)/ensure-commands.sh qemu-system-arm:qemu-system-arm
	@$(SCRIPTS)/firmware-budget.sh $< $(PLUGIN) $(OBJDUMP) $(NM) $(BUDGET_BASELINE) $(BUDGET_TICKS) $(BUDGET_MODE)
# What one feature costs per tick on the chip (Docs/early-warning.md): instructions spent in the
# functions matching STAGE over the budget's bench. Default: the early warning's risk scoring.
STAGE ?= CellHealthMonitor|assessHealth|RiskRanking|riskRanking
stage-cost: $(BUILD)/m4f/firmware.elf $(PLUGIN)
	@$(SCRIPTS)/ensure-commands.sh qemu-system-arm:qemu-system-arm
	@$(SCRIPTS)/stage-cost.sh $< $(PLUGIN) $(NM) $(SWIFT_BIN)/swift-demangle $(BUDGET_TICKS) '$(STAGE)'
firmware-budget-baseline: $(BUILD)/m4f/firmware.elf $(PLUGIN)
	@$(SCRIPTS)/ensure-commands.sh qemu-system-arm:qemu-system-arm
	@$(SCRIPTS)/firmware-budget.sh $< $(PLUGIN) $(OBJDUMP) $(NM) $(BUDGET_BASELINE) $(BUDGET_TICKS) --update

# The M4F image on QEMU's mps2-an386 (Cortex-M4F): the bench for 60 s of ticks; the image's
# return value is QEMU's exit status. -icount shift=0 makes emulated time deterministic.
QEMU_M4F := qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none -serial none -icount shift=0 \
            -chardev stdio,id=semihosting -semihosting-config enable=on,target=native,chardev=semihosting
qemu-run: $(BUILD)/m4f/firmware.elf
	@$(SCRIPTS)/ensure-commands.sh qemu-system-arm:qemu-system-arm
	timeout 300 $(QEMU_M4F) -kernel $< -append 60000

# The on-chip scenario (Firmware/Boards/Common/Scenario.swift): 10 simulated minutes at 1 ms on a
# compact pack model, an open sense wire that opens the contactors at 8 min, a digest of every CAN
# frame the firmware sent. The M4F scenario image under QEMU and the Embedded x86_64 image
# (argument 0) must end exactly as Fixtures/scenario-digest.txt says; a SwiftPM test
# (ScenarioDigestTests) checks the same file from a normal host build.
SCENARIO_DIGEST := Fixtures/scenario-digest.txt
scenario: $(BUILD)/m4f/scenario.elf $(BUILD)/host/firmware-host
	@$(SCRIPTS)/ensure-commands.sh qemu-system-arm:qemu-system-arm
	@./$(BUILD)/host/firmware-host 0 > $(BUILD)/scenario-host.out \
	  || { cat $(BUILD)/scenario-host.out; echo "FAIL: the x86_64 image's scenario did not pass"; exit 1; }
	@timeout 300 $(QEMU_M4F) -kernel $(BUILD)/m4f/scenario.elf > $(BUILD)/scenario-m4f.out \
	  || { cat $(BUILD)/scenario-m4f.out; echo "FAIL: the M4F image's scenario did not pass"; exit 1; }
	@for run in host m4f; do \
	  grep '^scenario_' $(BUILD)/scenario-$$run.out | grep -v '^scenario_ticks=' > $(BUILD)/scenario-$$run.txt; \
	  cmp -s $(BUILD)/scenario-$$run.txt $(SCENARIO_DIGEST) || { diff $(SCENARIO_DIGEST) $(BUILD)/scenario-$$run.txt; \
	    echo "FAIL: the $$run image's scenario differs from $(SCENARIO_DIGEST)"; exit 1; }; done
	@echo "scenario OK: M4F (QEMU) and x86_64 end as $(SCENARIO_DIGEST): $$(grep digest $(SCENARIO_DIGEST))"

# --------------------------------------------------------------------------- the audit
# No allocator (or stack-protector) symbol, defined or referenced, in any firmware object or image.
audit: $(BUILD)/host/firmware-host $(BUILD)/m4f/firmware.o $(BUILD)/m4f/firmware.elf $(BUILD)/m4f/scenario.elf
	@for f in $^; do \
	  if $(NM) $$f 2>/dev/null | awk '{print $$NF}' | grep -E '$(FORBIDDEN)'; then \
	    echo "FAIL: forbidden symbols in $$f"; exit 1; fi; done
	@echo "symbol audit OK (no malloc/free/swift_allocObject/... in): $^"

# The guard itself is tested: an injected allocation in Firmware must fail the Embedded build.
no-allocation-proof: $(BUILD)/m4f/HAL.swiftmodule
	@$(SCRIPTS)/prove-no-allocations.sh $(SWIFTC) "$(M4F_TARGET) $(EMBEDDED)" $(BUILD)/m4f $(BUILD)/no-allocation-proof

clean:
	rm -rf $(BUILD) .build

# ------------------------------------------------------------------------------ CAN codecs
# Firmware/CAN/Generated/CANMatrix.swift and the message matrix of Docs/can.md from Fixtures/bms.dbc. The generator is compiled on its
# own (the DBC reader, the generator and a main), so a broken generated file never stops it.
CODEGEN_SRC := $(sort $(wildcard HostHarness/HostHarness/DBC/*.swift)) HostHarness/HostHarness/Support/HarnessError.swift HostHarness/Scripts/codegen/main.swift
$(BUILD)/codegen: $(CODEGEN_SRC)
	@mkdir -p $(@D)
	$(SWIFTC) -O -module-name Codegen $(CODEGEN_SRC) -o $@
codegen: $(BUILD)/codegen
	$(BUILD)/codegen Fixtures/bms.dbc Firmware/CAN/Generated/CANMatrix.swift Docs/can.md

# cantools strict mode plus the project's DBC conventions (can-tooling.md §7.3) on Fixtures/bms.dbc.
# Sets up cantools in .build-tools/venv on first use (python3-venv from apt-get when missing).
.PHONY: dbc-lint
dbc-lint:
	$(SCRIPTS)/dbc-lint.sh Fixtures/bms.dbc

# ------------------------------------------------------------------- CAN: real bus, golden, bench
# The real-SocketCAN tests, inside a user-mode Linux guest with vcan0 (HostHarness/Scripts/
# run-in-can-vm.sh installs user-mode-linux, kmod and can-utils with apt-get when missing): the
# SocketCAN suites, `run` and `pack` as two processes over vcan0, cansend/candump/canplayer
# interop. The commands run as the release build (1 ms ticks on the guest's one emulated CPU).
can-vm-test: $(HARNESS)
	$(SWIFT) build --build-tests
	SWIFTBMS_HARNESS=$(CURDIR)/$(HARNESS) $(SCRIPTS)/run-in-can-vm.sh -t 900 -- \
	  $$($(SWIFT) build --show-bin-path)/SwiftBMSPackageTests.xctest --testing-library swift-testing --no-parallel \
	  --filter 'SocketCANOpenTests|SocketCANVMTests|CANVMTests'

# Re-records the replay golden files (Fixtures/golden/). Recording fails the test run on purpose;
# review the diff and commit it with the change that explains it.
golden:
	-SWIFTBMS_RECORD_GOLDEN=1 $(SWIFT) test --filter theReplayOfTheFaultScenarioMatchesItsGoldenFile
	@git diff --stat -- Fixtures/golden

# CAN log parsing and replay throughput on a 1-million-frame log: 218 s of delivery-hour written
# by simulate --can-log (1,003,457 frames, 73 MB), then replay --compare --bench (Docs/can.md).
bench-can: $(HARNESS)
	@mkdir -p out/bench-can
	$(HARNESS) simulate --scenario delivery-hour --duration 218s --out out/bench-can --can-log out/bench-can/delivery-hour.log > /dev/null
	$(HARNESS) replay out/bench-can/delivery-hour.log --scenario delivery-hour --compare --bench --out out/bench-can/replayed.log

# Persistence on the virtual pack (Docs/persistence.md): the delivery day with the BMS power-cycled
# at 14:00 for 30 minutes, orderly (Shutdown, StateSaved) and as an unplanned power cut, each
# against the same day without the restart (SOC error an hour later and at the end, latches, the
# store's writes); about 3 minutes.
bench-persistence: $(HARNESS)
	$(HARNESS) simulate --scenario delivery-day --restart-at 14h --restart-off 30m --out out/bench-persistence/orderly
	$(HARNESS) simulate --scenario delivery-day --restart-at 14h --restart-off 30m --unplanned --out out/bench-persistence/unplanned
