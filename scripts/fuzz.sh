#!/usr/bin/env bash
# Builds and runs Gantry's libFuzzer targets (sources in Fuzz/, docs in docs/fuzzing.md).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/fuzz.sh COMMAND [ARGS]

Commands:
  build [TARGET...]     compile the fuzz targets (default: all) into .build-fuzz/bin
                        (incremental; only the library modules they link are built)
  seed                  (re)copy the test fixtures into .build-fuzz/seeds/TARGET
  run TARGET SECONDS    fuzz one target for SECONDS; exits 1 if it finds anything
  all SECONDS           fuzz every target for SECONDS each, one after another;
                        exits 1 if any target found something
  repro TARGET FILE...  run a target once on the given inputs (to check a finding or a fix)
  triage TARGET [FILE...]
                        replay findings (default: all of TARGET's) and print each one's
                        failure and top Gantry frame
  minimize TARGET FILE [SECONDS]
                        shrink a crashing input (default 30 s) into Fuzz/findings/TARGET/
  list                  print the target names

Targets: checkpoint_zip checkpoint_legacy checkpoint_safetensors unpickler png jpeg tiff webp
         architecture architecture_keys

Findings (crash-*, leak-*, timeout-*, oom-*) go to .build-fuzz/findings/TARGET/, the log of
each run to .build-fuzz/logs/TARGET/. The growing corpus stays in .build-fuzz/corpus/TARGET/
between runs. Everything under .build-fuzz is git-ignored; copy a finding worth keeping to
Fuzz/findings/TARGET/.

Environment:
  FUZZ_WORK        work folder instead of .build-fuzz
  FUZZ_EXTRA       extra libFuzzer flags for run/all, e.g. "-seed=1", or
                   "-fork=1 -ignore_crashes=1" to keep going past a first crash
  FUZZ_NO_FINDING_SEEDS=1
                   leave Fuzz/findings/TARGET out of the seeds (they crash at start-up
                   until their bug is fixed)
  GANTRY_BUILD_LOCK  lock file that serialises builds on a shared machine
                     (default /tmp/gantry-build.lock)
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${FUZZ_WORK:-$root/.build-fuzz}
lock=${GANTRY_BUILD_LOCK:-/tmp/gantry-build.lock}
targets=(checkpoint_zip checkpoint_legacy checkpoint_safetensors unpickler png jpeg tiff webp architecture architecture_keys)

die() { echo "fuzz.sh: $*" >&2; exit 2; }

is_target() {
    local t
    for t in "${targets[@]}"; do [[ $t == "$1" ]] && return 0; done
    return 1
}

# Library modules each target links, in build order.
modules_of() {
    case $1 in
        checkpoint_* | unpickler) echo AtomicFiles Checkpoints ;;
        png | jpeg | tiff | webp) echo AtomicFiles Imaging ;;
        architecture | architecture_keys) echo CDNNL AtomicFiles Engine Checkpoints Imaging Models ;;
    esac
}

# Longest input libFuzzer may generate. Checkpoint seeds must fit whole: a zip cut short
# loses its central directory and a legacy file its storages, leaving only the error paths.
max_len_of() {
    case $1 in
        checkpoint_zip | checkpoint_legacy | architecture) echo 600000 ;;
        checkpoint_safetensors) echo 450000 ;;
        unpickler) echo 65536 ;;
        png | jpeg | tiff | webp) echo 262144 ;;
        # A 9-block ResNet state_dict is about 2 KB of text.
        architecture_keys) echo 16384 ;;
    esac
}

dicts_of() {
    case $1 in
        checkpoint_zip) echo zip pickle ;;
        checkpoint_legacy | unpickler) echo pickle ;;
        checkpoint_safetensors) echo safetensors ;;
        png) echo png ;;
        jpeg) echo jpeg ;;
        tiff) echo tiff ;;
        webp) echo webp ;;
        architecture) echo pickle zip safetensors ;;
        architecture_keys) echo statedict ;;
    esac
}

# --- build -----------------------------------------------------------------------------

# The library sources are compiled here with plain swiftc rather than through Package.swift,
# so the fuzz build never touches the main package's build folder or its normal `swift build`.
# -enable-testing lets the harnesses reach the internal loaders with @testable import;
# -parse-as-library because libFuzzer supplies main().
swift_flags=(-sanitize=fuzzer,address -parse-as-library -enable-testing -swift-version 6 -O -g)

clang_module_flags() {
    echo -Xcc "-fmodule-map-file=$root/Sources/CPNG/module.modulemap" \
        -Xcc "-fmodule-map-file=$root/Sources/CTurboJPEG/module.modulemap" \
        -Xcc "-fmodule-map-file=$root/Sources/CTIFF/module.modulemap" \
        -Xcc "-fmodule-map-file=$root/Sources/CWebP/module.modulemap" \
        -Xcc "-fmodule-map-file=$work/modules/CDNNL/module.modulemap" \
        -Xcc "-I$root/Sources/CDNNL/include"
}

# True when $1 is missing or older than any of the remaining paths (files or folders).
stale() {
    local out=$1
    shift
    [[ -e $out ]] || return 0
    [[ -n $(find "$@" -newer "$out" -print -quit 2>/dev/null) ]]
}

locked() { flock "$lock" "$@"; }

build_module() {
    local m=$1 deps=() d
    case $m in
        Engine) deps=(CDNNL) ;;
        Checkpoints | Imaging) deps=(AtomicFiles) ;;
        Models) deps=(Engine Checkpoints Imaging) ;;
    esac
    local inputs=("$root/Sources/$m" "$work/obj/flags")
    for d in "${deps[@]}"; do inputs+=("$work/obj/$d.o"); done
    stale "$work/obj/$m.o" "${inputs[@]}" || return 0
    echo "== module $m"
    if [[ $m == CDNNL ]]; then
        # Same -O2 as Package.swift; left uninstrumented because it only forwards to oneDNN.
        locked clang -O2 -g -fPIC -I "$root/Sources/CDNNL/include" \
            -c "$root/Sources/CDNNL/cdnnl.c" -o "$work/obj/CDNNL.o"
        return 0
    fi
    local sources
    mapfile -t sources < <(find "$root/Sources/$m" -name '*.swift' | sort)
    # shellcheck disable=SC2046
    locked swiftc "${swift_flags[@]}" -module-name "$m" -wmo \
        -I "$work/modules" $(clang_module_flags) \
        -emit-module -emit-module-path "$work/modules/$m.swiftmodule" \
        -c "${sources[@]}" -o "$work/obj/$m.o"
    # swiftc leaves an unchanged object file untouched, which would keep it "stale" forever.
    touch "$work/obj/$m.o"
}

# Harness code shared between targets, compiled into each of them.
shared_sources_of() {
    case $1 in
        png | jpeg | tiff | webp) echo "$root/Fuzz/Shared/image.swift" ;;
    esac
}

build_target() {
    local t=$1 objects=() m
    for m in $(modules_of "$t"); do objects+=("$work/obj/$m.o"); done
    local shared
    mapfile -t shared < <(shared_sources_of "$t")
    stale "$work/bin/fuzz-$t" "$root/Fuzz/Targets/$t.swift" "${shared[@]}" "${objects[@]}" || return 0
    echo "== target $t"
    # shellcheck disable=SC2046
    # gold warns once per ASan helper symbol it cannot export; harmless, and it buries errors.
    locked swiftc "${swift_flags[@]}" -module-name "Fuzz_$t" \
        -I "$work/modules" $(clang_module_flags) \
        "$root/Fuzz/Targets/$t.swift" "${shared[@]}" "${objects[@]}" -o "$work/bin/fuzz-$t" 2>&1 |
        { grep -v 'Cannot export local symbol' || true; }
    touch "$work/bin/fuzz-$t"
}

cmd_build() {
    mkdir -p "$work/obj" "$work/modules/CDNNL" "$work/bin"
    # Rebuild everything when the compiler flags change, and only then (not on every edit of
    # this script).
    local flags="${swift_flags[*]} $(clang_module_flags)"
    [[ -f $work/obj/flags && $(<"$work/obj/flags") == "$flags" ]] || echo "$flags" >"$work/obj/flags"
    # SwiftPM generates this map for the package build; the fuzz build needs its own. Every
    # compile names it (clang_module_flags), so it is written even when CDNNL is not built.
    printf 'module CDNNL {\n    header "%s"\n    link "dnnl"\n    link "gomp"\n    export *\n}\n' \
        "$root/Sources/CDNNL/include/cdnnl.h" >"$work/modules/CDNNL/module.modulemap.new"
    cmp -s "$work/modules/CDNNL/module.modulemap.new" "$work/modules/CDNNL/module.modulemap" ||
        mv "$work/modules/CDNNL/module.modulemap.new" "$work/modules/CDNNL/module.modulemap"
    rm -f "$work/modules/CDNNL/module.modulemap.new"
    local chosen=("$@") m t
    [[ ${#chosen[@]} -gt 0 ]] || chosen=("${targets[@]}")
    for t in "${chosen[@]}"; do is_target "$t" || die "unknown target '$t'"; done
    # The modules the chosen targets link, in dependency order, each built once.
    local needed=" $(for t in "${chosen[@]}"; do modules_of "$t"; done | tr '\n' ' ') "
    for m in CDNNL AtomicFiles Engine Checkpoints Imaging Models; do
        [[ $needed == *" $m "* ]] && build_module "$m"
    done
    for t in "${chosen[@]}"; do build_target "$t"; done
    echo "fuzz targets in $work/bin"
}

# --- seeds -----------------------------------------------------------------------------

# Hex of the first $2 bytes of file $1 from offset $3.
head_hex() { { od -An -tx1 -j "${3:-0}" -N "$2" "$1" 2>/dev/null || true; } | tr -d ' \n'; }

seed_one() {
    local t=$1 dir=$work/seeds/$1 f
    rm -rf "$dir"
    mkdir -p "$dir"
    # Every fixture is sorted by its content, as Checkpoint.load and ImageCodec do, not by name.
    shopt -s nullglob
    local fixtures=("$root"/Tests/Fixtures/*.pth "$root"/Tests/Fixtures/*.safetensors
        "$root"/Tests/Fixtures/hostile/* "$root"/Tests/Fixtures/crashes/* "$root"/Tests/CheckpointsTests/Fixtures/*
        "$root"/Tests/ImagingTests/Fixtures/* "$root"/Fuzz/findings/"$t"/*)
    for f in "${fixtures[@]}"; do
        [[ -f $f && -s $f ]] || continue
        local magic
        magic=$(head_hex "$f" 4)
        local keep=false
        case $t in
            checkpoint_zip) [[ $magic == 504b* ]] && keep=true ;;
            checkpoint_legacy | unpickler) [[ $magic == 80* ]] && keep=true ;;
            checkpoint_safetensors) [[ $(head_hex "$f" 1 8) == 7b ]] && keep=true ;;
            # Model checkpoints only: the .io.safetensors files are test images, not generators.
            architecture) [[ $f == "$root"/Tests/Fixtures/* && $f != *.io.safetensors ]] && keep=true ;;
            png) [[ $magic == 89504e47 ]] && keep=true ;;
            jpeg) [[ $magic == ffd8* ]] && keep=true ;;
            tiff) [[ $magic == 49492a00 || $magic == 4d4d002a || $magic == 49492b00 || $magic == 4d4d002b ]] && keep=true ;;
            webp) [[ $magic == 52494646 && $(head_hex "$f" 4 8) == 57454250 ]] && keep=true ;;
        esac
        # Findings committed for this target are seeds too, whatever their first bytes: once
        # fixed they guard against regressions. Until then they crash at start-up, hence the
        # switch to leave them out.
        if [[ $f == "$root"/Fuzz/findings/"$t"/* ]]; then
            [[ ${FUZZ_NO_FINDING_SEEDS:-0} == 1 ]] && keep=false || keep=true
        fi
        if $keep; then cp "$f" "$dir/$(basename "$(dirname "$f")")_$(basename "$f")"; fi
    done
    if [[ $t == architecture_keys ]]; then
        # Every fixture's state_dict as text lines; python3 reads the pickles without torch.
        if command -v python3 >/dev/null; then
            python3 "$root/Fuzz/statedict_lines.py" "$dir" "${fixtures[@]}"
        fi
    fi
    if [[ $t == unpickler ]]; then
        # The pickles inside the zip checkpoints; skipped quietly where python3 is missing.
        if command -v python3 >/dev/null; then
            python3 - "$dir" "${fixtures[@]}" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
for path in sys.argv[2:]:
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith("data.pkl"):
                    target = os.path.join(out, os.path.basename(path) + ".data.pkl")
                    with open(target, "wb") as f:
                        f.write(z.read(name))
    except Exception:
        pass
PY
        fi
    fi
    echo "$t: $(find "$dir" -type f | wc -l) seeds"
}

cmd_seed() {
    local t
    for t in "${targets[@]}"; do seed_one "$t"; done
}

# --- run -------------------------------------------------------------------------------

# Limits shared by every way of running a target. -rss_limit_mb catches slow growth (and
# leaks across runs); -malloc_limit_mb catches one oversized allocation at the moment it is
# made, with its stack. No input here is larger than 600 KB and none of the parsers inflates
# data, so an allocation over 512 MB can only come from a size the file declares but does not
# hold: an amplification bug, whatever the total. Images get 256 MB: with the library's own
# pixel limit (GANTRY_FUZZ_MAX_PIXELS=0) an RGB frame may reach 537 MB, and a JPEG of at most
# 256 KB cannot hold half that many pixels. Engine buffers are mmap'd, not malloc'd, so a
# network built too large shows only as the RSS limit. -timeout catches hangs and
# super-linear work (10 s per input, against a few ms for the largest fixture).
limits_of() {
    local malloc_mb=512
    case $1 in png | jpeg | tiff | webp) malloc_mb=256 ;; esac
    echo -rss_limit_mb=2048 -malloc_limit_mb=$malloc_mb -timeout=10
}

fuzz_env() {
    # Without this the Swift runtime's own crash reporter runs first on a trap, symbolicates
    # for a long time and can leave the fuzzer hanging instead of saving the input.
    export SWIFT_BACKTRACE=enable=no
    # Swift's runtime keeps metadata caches alive until exit; LeakSanitizer would report them.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1:symbolize=1}
}

dict_file() {
    local t=$1 out=$work/dict/$1.dict d
    mkdir -p "$work/dict"
    : >"$out"
    for d in $(dicts_of "$t"); do cat "$root/Fuzz/dict/$d.dict" >>"$out"; done
    echo "$out"
}

cmd_run() {
    local t=$1 seconds=$2
    is_target "$t" || die "unknown target '$t' (try: scripts/fuzz.sh list)"
    [[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || die "SECONDS must be a positive whole number"
    local bin=$work/bin/fuzz-$t
    [[ -x $bin ]] || die "$bin is missing: run scripts/fuzz.sh build first"
    seed_one "$t" >/dev/null
    local corpus=$work/corpus/$t findings=$work/findings/$t logs=$work/logs/$t
    mkdir -p "$corpus" "$findings" "$logs"
    local before
    before=$(find "$findings" -type f | wc -l)
    local start=$work/.run-start
    touch "$start"
    local dict
    dict=$(dict_file "$t")
    local stamp
    stamp=$(date +%Y%m%d-%H%M%S)
    fuzz_env
    echo "== $t for ${seconds}s (log: $logs/$stamp.log)"
    local rc=0
    # -jobs=1 -workers=1: a single fuzzing process (the machine is shared); libFuzzer then
    # writes its output to fuzz-0.log in the current folder, hence the cd.
    # shellcheck disable=SC2086
    (cd "$logs" && "$bin" -jobs=1 -workers=1 -max_total_time="$seconds" \
        $(limits_of "$t") -max_len="$(max_len_of "$t")" -dict="$dict" \
        -artifact_prefix="$findings/" -print_final_stats=1 ${FUZZ_EXTRA:-} \
        "$corpus" "$work/seeds/$t") >/dev/null 2>&1 || rc=$?
    [[ -f $logs/fuzz-0.log ]] && mv "$logs/fuzz-0.log" "$logs/$stamp.log"
    local log=$logs/$stamp.log
    local after
    after=$(find "$findings" -type f | wc -l)
    if [[ -f $log ]]; then
        # The last status line carries execs, coverage and corpus size.
        grep -E '^#[0-9]+' "$log" | tail -1 || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    fi
    if ((after > before)) || ((rc != 0)); then
        echo "!! $t: finding (libFuzzer exit $rc); inputs saved:"
        # From the log rather than the folder: an input found before keeps its old name and date.
        { [[ -f $log ]] && grep -oE '(Test unit written to|artifact written to) .*' "$log" | sed 's/^.* to /   /'; } ||
            find "$findings" -type f -newer "$start" -printf '   %p\n' 2>/dev/null || true
        if [[ -f $log ]]; then
            # The kind of finding, the Swift trap reason if any, and the first frame in Gantry's
            # own code: enough to tell a new finding from a known one without opening the log.
            grep -E '^SUMMARY' "$log" | head -1 || true
            grep -m1 -oE 'Swift runtime failure: [^/]*[^/ ]' "$log" || true
            echo "   top frames: $(top_frames <"$log")"
        fi
        return 1
    fi
    echo "   $t: no findings"
}

cmd_minimize() {
    local t=$1 input=$2 seconds=${3:-30}
    is_target "$t" || die "unknown target '$t'"
    [[ -f $input ]] || die "no such input: $input"
    fuzz_env
    mkdir -p "$root/Fuzz/findings/$t"
    local out
    out=$root/Fuzz/findings/$t/$(basename "$input")
    # -minimize_crash keeps only inputs that still crash, so the result reproduces the same
    # kind of failure; check its top frame with repro before committing it.
    "$work/bin/fuzz-$t" -minimize_crash=1 -max_total_time="$seconds" $(limits_of "$t") \
        -exact_artifact_path="$out" "$input" >"$work/logs/minimize-$t.log" 2>&1 || true
    [[ -f $out ]] || die "minimizing produced nothing; see $work/logs/minimize-$t.log"
    echo "$out ($(wc -c <"$out") bytes, from $(wc -c <"$input"))"
}

# The first two distinct frames in Gantry's sources of a libFuzzer report on stdin: the first
# is often a shared helper (a bounds-checked slice), the second the parser that called it.
top_frames() {
    local frames
    frames=$(grep -E ' in .*/Sources/' | grep -oE '[A-Za-z]+/[A-Za-z]+\.swift:[0-9]+' |
        awk '!seen[$0]++' | head -2 | paste -sd' ' || true)
    echo "${frames:--}"
}

# One line per input: the kind of failure and the first frame in Gantry's code, so a batch of
# findings can be grouped by bug.
cmd_triage() {
    local t=$1 f out kind frame
    shift
    is_target "$t" || die "unknown target '$t'"
    local files=("$@")
    [[ ${#files[@]} -gt 0 ]] || mapfile -t files < <(find "$work/findings/$t" -type f | sort)
    fuzz_env
    for f in "${files[@]}"; do
        out=$("$work/bin/fuzz-$t" $(limits_of "$t") "$f" 2>&1 || true)
        kind=$(grep -m1 -oE 'Swift runtime failure: [^/]*[^/ ]' <<<"$out" ||
            grep -m1 -oE 'ERROR: [A-Za-z]+: [^(]*[^( ]( \(malloc\([0-9]+\)\))?' <<<"$out" || true)
        frame=$(top_frames <<<"$out")
        printf '%s\t%s\t%s\n' "$(basename "$f")" "${kind:-no failure}" "$frame"
    done
}

cmd_repro() {
    local t=$1
    shift
    is_target "$t" || die "unknown target '$t'"
    [[ $# -gt 0 ]] || die "repro needs at least one input file"
    fuzz_env
    "$work/bin/fuzz-$t" $(limits_of "$t") "$@"
}

case ${1:-} in
    build)
        shift
        cmd_build "$@"
        ;;
    seed) cmd_seed ;;
    run)
        [[ $# -eq 3 ]] || { usage >&2; exit 2; }
        cmd_run "$2" "$3"
        ;;
    all)
        [[ $# -eq 2 ]] || { usage >&2; exit 2; }
        status=0
        for t in "${targets[@]}"; do cmd_run "$t" "$2" || status=1; done
        exit $status
        ;;
    repro)
        [[ $# -ge 3 ]] || { usage >&2; exit 2; }
        shift
        cmd_repro "$@"
        ;;
    minimize)
        [[ $# -eq 3 || $# -eq 4 ]] || { usage >&2; exit 2; }
        cmd_minimize "$2" "$3" "${4:-30}"
        ;;
    triage)
        [[ $# -ge 2 ]] || { usage >&2; exit 2; }
        shift
        cmd_triage "$@"
        ;;
    list) printf '%s\n' "${targets[@]}" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
